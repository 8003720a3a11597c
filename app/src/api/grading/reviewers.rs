//! Several reviewers per item: a queue made with K grades per item deals each item to K of its
//! assigned reviewers (see [`crate::domain::dealing`]); each reviewer sees only their items. The
//! queue's maker or an admin adds and removes reviewers later: the items nobody has judged yet are
//! dealt again, every judgement made stays (and counts towards its item's K).

use crate::api::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Most judgements one item may ask for.
pub const MAX_GRADES_PER_ITEM: i64 = 20;

/// One reviewer's progress in a queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewerProgress {
    pub name: String,
    /// Items for them to judge.
    pub assigned: i64,
    pub judged: i64,
    pub remaining: i64,
    /// No longer one of the queue's reviewers (their judgements stay).
    pub removed: bool,
    /// The caller.
    pub me: bool,
}

/// A queue's progress, per reviewer and in all, and the agreement where items overlap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgressView {
    pub queue_id: i64,
    pub name: String,
    pub closed: bool,
    /// K (None: every reviewer judges every item).
    pub grades_per_item: Option<i64>,
    pub items: i64,
    /// Everyone's rows for the queue's maker and admins; the caller's own for anyone else.
    pub reviewers: Vec<ReviewerProgress>,
    /// All reviewers together.
    pub total: ReviewerProgress,
    /// The caller sees every reviewer's progress (and may add or remove reviewers while the
    /// queue is open and has K).
    pub sees_everyone: bool,
    /// The queue's maker no longer has an account (deleted): only admins see everyone's.
    pub maker_gone: bool,
    pub may_assign: bool,
    /// For the maker and admins, and for everyone once the queue is closed.
    pub agreement: Option<super::QueueAgreement>,
}

/// Users who may be assigned to a queue (their role may grade: reviewers and admins), by name.
#[server]
pub async fn reviewer_choices() -> Result<Vec<String>, AppError> {
    use crate::api::guard::{authorize, state, Permission};
    authorize(Permission::Run).await?;
    Ok(graders(&state()?.db).await?.into_iter().map(|(_, name)| name).collect())
}

/// Items a user still has to judge in one open queue (dealt to them, not judged yet).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenAssignment {
    pub queue: String,
    pub remaining: i64,
}

/// The open queues with items dealt to `user_id` that they have not judged: the Users page warns
/// before a role change that would leave those items with someone who may no longer grade.
#[server]
pub async fn open_assignments(user_id: i64) -> Result<Vec<OpenAssignment>, AppError> {
    use crate::api::guard::{authorize, state, Permission};
    authorize(Permission::Admin).await?;
    Ok(crate::db::queues::list(&state()?.db, user_id)
        .await?
        .into_iter()
        .filter(|q| !q.closed && q.grades_per_item.is_some() && q.mine > q.done_by_me)
        .map(|q| OpenAssignment {
            queue: q.name,
            remaining: q.mine - q.done_by_me,
        })
        .collect())
}

#[cfg(feature = "ssr")]
async fn graders(db: &crate::db::Db) -> Result<Vec<(i64, String)>, AppError> {
    use crate::domain::accounts::Permission;
    Ok(crate::db::users::list(db)
        .await?
        .into_iter()
        .filter(|u| u.role.allows(Permission::Grade))
        .map(|u| (u.id, u.name))
        .collect())
}

/// Names as typed (checkboxes, or one field with commas or spaces), trimmed, without repeats.
#[cfg_attr(not(feature = "ssr"), allow(dead_code))]
fn names(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in list
        .iter()
        .flat_map(|s| s.split([',', ' ', '\n']))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if !out.iter().any(|o| o == n) {
            out.push(n.to_string());
        }
    }
    out
}

/// The users named, each of whom must exist and have a role that grades; (id, name).
#[cfg(feature = "ssr")]
async fn resolve(db: &crate::db::Db, typed: &[String]) -> Result<Result<Vec<(i64, String)>, String>, AppError> {
    let users = crate::db::users::list(db).await?;
    let mut out = Vec::new();
    for n in names(typed) {
        match users.iter().find(|u| u.name == n) {
            None => return Ok(Err(format!("there is no user '{n}'"))),
            Some(u) if !u.role.allows(crate::domain::accounts::Permission::Grade) => {
                return Ok(Err(format!(
                    "'{n}' is a {}: only reviewers and admins grade (change their role on the Users page, or pick someone else)",
                    u.role.label()
                )))
            }
            Some(u) => out.push((u.id, u.name.clone())),
        }
    }
    Ok(Ok(out))
}

/// A new queue's K and reviewers, checked (errors go to `errs`, by field); None without K.
#[cfg(feature = "ssr")]
pub(super) async fn reviewing(
    db: &crate::db::Db,
    k: &str,
    reviewers: &[String],
    errs: &mut crate::domain::errors::FieldErrors,
) -> Result<Option<crate::db::queues::Reviewing>, AppError> {
    let picked = match resolve(db, reviewers).await? {
        Ok(p) => p,
        Err(msg) => {
            errs.push("reviewers", msg);
            return Ok(None);
        }
    };
    let k = match k.trim() {
        "" if picked.is_empty() => return Ok(None),
        "" => {
            errs.push(
                "grades_per_item",
                "say how many grades each item needs (1 for one reviewer per item, 2 or more to measure agreement), or assign no reviewers to let everyone grade everything",
            );
            return Ok(None);
        }
        s => match s.parse::<i64>() {
            Ok(k) if (1..=MAX_GRADES_PER_ITEM).contains(&k) => k,
            _ => {
                errs.push(
                    "grades_per_item",
                    format!("grades per item is a whole number from 1 to {MAX_GRADES_PER_ITEM} (or empty), got '{s}'"),
                );
                return Ok(None);
            }
        },
    };
    if (picked.len() as i64) < k {
        let e = crate::domain::dealing::DealError::TooFewReviewers {
            k: k as usize,
            n: picked.len(),
        };
        errs.push("reviewers", e.to_string());
        return Ok(None);
    }
    Ok(Some(crate::db::queues::Reviewing {
        grades_per_item: k,
        reviewers: picked.into_iter().map(|(id, _)| id).collect(),
    }))
}

/// "queue.assign" for a queue made with reviewers.
#[cfg(feature = "ssr")]
pub(super) async fn audit_assignment(me: &crate::api::guard::Caller, queue_id: i64, form: &super::QueueForm) {
    let picked = names(&form.reviewers);
    if !picked.is_empty() {
        let detail = format!("{} grades per item; reviewers: {}", form.grades_per_item.trim(), picked.join(", "));
        crate::api::guard::audit(me, "queue.assign", &format!("queue {queue_id}"), &detail).await;
    }
}

/// Why the caller may not have the item at `position` (it is dealt to others).
#[cfg(feature = "ssr")]
pub(super) async fn not_yours(db: &crate::db::Db, queue_id: i64, user_id: i64, position: i64) -> Result<AppError, AppError> {
    if let Some(closed) = crate::db::reviewers::revealed_in(db, queue_id, position, user_id).await? {
        return Ok(AppError::Forbidden(format!(
            "you judged this same answer in queue '{}', whose reveal told you its model: it is not yours to judge blind again (open your next item instead)",
            crate::domain::dataset::clip(&closed)
        )));
    }
    let mine = crate::db::reviewers::around(db, queue_id, user_id, position).await?.count;
    Ok(AppError::Forbidden(if mine == 0 {
        "you are not one of this queue's reviewers: its maker or an admin can assign you".into()
    } else {
        "that item is dealt to other reviewers: open your next item instead".into()
    }))
}

/// Add and remove reviewers (names; commas or spaces between several) of a queue with K: its
/// maker or an admin. The items nobody has judged are dealt again.
#[server]
pub async fn change_reviewers(
    queue_id: i64,
    #[server(default)] add: String,
    #[server(default)] remove: String,
) -> Result<Vec<String>, AppError> {
    use crate::api::guard::{authorize, state, Permission};
    let me = authorize(Permission::Run).await?;
    let db = state()?.db;
    super::may_change_queue(&db, &me, queue_id).await?;
    let (now, detail) = reassign(&db, queue_id, &add, &remove).await?;
    crate::api::guard::audit(&me, "queue.assign", &format!("queue {queue_id}"), &detail).await;
    Ok(now)
}

/// Change the reviewers and deal again; the reviewers' names after, and what changed in words.
#[cfg(feature = "ssr")]
pub async fn reassign(db: &crate::db::Db, queue_id: i64, add: &str, remove: &str) -> Result<(Vec<String>, String), AppError> {
    use crate::db::{queues, reviewers};
    let rules = queues::rules(db, queue_id).await?;
    if rules.closed {
        return Err(AppError::Conflict(queues::CLOSED.into()));
    }
    let Some(k) = rules.grades_per_item else {
        return Err(AppError::validation(
            "add",
            "this queue lets every reviewer grade every item (it was made without grades per item): make a new queue with grades per item to assign reviewers",
        ));
    };
    let mut current = reviewers::list(db, queue_id).await?;
    let added = resolve(db, &[add.to_string()]).await?.map_err(|m| AppError::validation("add", m))?;
    let removed = names(&[remove.to_string()]);
    if added.is_empty() && removed.is_empty() {
        return Err(AppError::validation("add", "name a reviewer to add or to remove"));
    }
    for r in &removed {
        if !current.iter().any(|(_, n)| n == r) {
            return Err(AppError::validation(
                "remove",
                format!("'{r}' is not one of this queue's reviewers"),
            ));
        }
    }
    current.retain(|(_, n)| !removed.contains(n));
    for a in &added {
        if !current.contains(a) {
            current.push(a.clone());
        }
    }
    let ids: Vec<i64> = current.iter().map(|(id, _)| *id).collect();
    let judged = reviewers::judged(db, queue_id).await?;
    let kept: Vec<_> = judged.iter().map(|(_, who)| who.clone()).collect();
    let answers = reviewers::answers(db, queue_id).await?;
    let barred = reviewers::barred(&answers, &reviewers::seen_answers(db).await?);
    let dealt = crate::domain::dealing::deal_barred(judged.len(), &ids, k as usize, &kept, &barred, rules.seed as u64).map_err(|e| {
        AppError::validation(
            if removed.is_empty() { "add" } else { "remove" },
            format!("{e} (the queue asks for {k} grades per item)"),
        )
    })?;
    let assignments: Vec<(String, i64)> = judged
        .iter()
        .zip(dealt)
        .flat_map(|((item, _), judges)| judges.into_iter().map(move |u| (item.clone(), u)))
        .collect();
    reviewers::replace(db, queue_id, &ids, &assignments).await?;
    let mut now: Vec<String> = current.into_iter().map(|(_, n)| n).collect();
    now.sort();
    let mut words = Vec::new();
    if !added.is_empty() {
        words.push(format!(
            "added {}",
            added.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    if !removed.is_empty() {
        words.push(format!("removed {}", removed.join(", ")));
    }
    words.push(format!("{k} grades per item; reviewers now: {}", now.join(", ")));
    Ok((now, words.join("; ")))
}

/// Progress per reviewer, and agreement where items overlap.
#[server]
pub async fn queue_progress(queue_id: i64) -> Result<ProgressView, AppError> {
    use crate::api::guard::{authorize, state, Permission};
    let me = authorize(Permission::View).await?;
    let is_admin = me.require(Permission::Admin).is_ok();
    let may_run = me.require(Permission::Run).is_ok();
    progress(&state()?.db, me.id, is_admin, may_run, queue_id).await
}

#[cfg(feature = "ssr")]
pub async fn progress(db: &crate::db::Db, user_id: i64, is_admin: bool, may_run: bool, queue_id: i64) -> Result<ProgressView, AppError> {
    use crate::db::{queues, reviewers};
    let q = queues::get(db, queue_id, user_id).await?;
    let rules = queues::rules(db, queue_id).await?;
    let sees_everyone = is_admin || rules.created_by == Some(user_id);
    let rows: Vec<ReviewerProgress> = reviewers::progress(db, queue_id, rules.grades_per_item.is_some())
        .await?
        .into_iter()
        .map(|r| ReviewerProgress {
            remaining: (r.assigned - r.judged).max(0),
            name: r.name,
            assigned: r.assigned,
            judged: r.judged,
            removed: !r.current,
            me: r.user_id == user_id,
        })
        .collect();
    let total = ReviewerProgress {
        name: "all reviewers".into(),
        assigned: rows.iter().map(|r| r.assigned).sum(),
        judged: rows.iter().map(|r| r.judged).sum(),
        remaining: rows.iter().map(|r| r.remaining).sum(),
        removed: false,
        me: false,
    };
    let agreement = if sees_everyone || rules.closed {
        Some(super::queue_agreement(db, queue_id, q.kind).await?)
    } else {
        None
    };
    Ok(ProgressView {
        queue_id,
        name: q.name,
        closed: rules.closed,
        grades_per_item: rules.grades_per_item,
        items: q.items,
        reviewers: rows.into_iter().filter(|r| sees_everyone || r.me).collect(),
        total,
        sees_everyone,
        maker_gone: rules.created_by.is_none(),
        may_assign: sees_everyone && may_run && !rules.closed && rules.grades_per_item.is_some(),
        agreement,
    })
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn names_split_on_commas_and_spaces_without_repeats() {
        let typed = vec!["ana, bob".to_string(), " carl ana".to_string(), String::new()];
        assert_eq!(names(&typed), vec!["ana", "bob", "carl"]);
    }
}
