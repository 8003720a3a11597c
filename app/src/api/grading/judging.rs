//! Judging in a queue: grades and votes under the blind rules (nothing revealed on saving, a
//! judgement final once the reviewer moves on), and closing a queue, which reveals to each
//! reviewer who wrote what they judged.

use crate::api::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// After a grade or vote is stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    /// Who wrote the answer(s): only in a queue that is not blind, and only for roles that may
    /// see answers with their models. Blind queues reveal when they are closed.
    pub reveal: Option<String>,
    pub next_position: Option<i64>,
}

/// One item the caller judged in a closed queue, and who wrote it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RevealRow {
    pub position: i64,
    pub grade: Option<u8>,
    pub vote: Option<String>,
    /// "model (run #N)"; for a pairwise item, the left answer's.
    pub left: String,
    /// The right answer's, for a pairwise item.
    pub right: Option<String>,
    /// Not revealed yet: the same answer is still graded blind in another open queue (`left` says
    /// which); it is revealed when that queue closes.
    #[serde(default)]
    pub withheld: bool,
}

/// A grade as submitted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GradeInput {
    pub item_id: String,
    pub overall: u8,
    pub fields: std::collections::BTreeMap<String, String>,
    pub comment: String,
    pub gold: bool,
}

#[server(input = leptos::server_fn::codec::Json)]
pub async fn save_grade(grade: GradeInput) -> Result<Saved, AppError> {
    use crate::api::guard::{authorize, state, Permission};
    let me = authorize(Permission::Grade).await?;
    let reads_answers = me.require(Permission::ReadAnswers).is_ok();
    store_grade(&state()?.db, me.id, reads_answers, &grade).await
}

/// Store a grade (409 when the queue is closed, or when the grade is final in a blind queue).
#[cfg(feature = "ssr")]
pub async fn store_grade(db: &crate::db::Db, user_id: i64, reads_answers: bool, g: &GradeInput) -> Result<Saved, AppError> {
    if !(1..=5).contains(&g.overall) {
        return Err(AppError::validation(
            "overall",
            "give an overall grade from 1 (bad) to 5 (excellent): press a digit",
        ));
    }
    let item = crate::db::queues::item(db, &g.item_id).await?;
    dealt_to(db, &item, user_id).await?;
    if item.run_b.is_some() {
        return Err(AppError::validation("item", "this item is a pairwise comparison: vote instead"));
    }
    let rules = crate::db::queues::rules(db, item.queue_id).await?;
    shows_models_to(&rules, reads_answers)?;
    let rubric = match rules.dataset_id {
        Some(d) => crate::db::datasets::rubric(db, d).await?,
        None => Default::default(),
    };
    if let Some((field, why)) = crate::domain::rubric::grade_refusal(&rubric, &g.fields, g.comment.trim()) {
        return Err(AppError::validation(field, why));
    }
    let grade = crate::db::queues::Grade {
        overall: g.overall,
        fields: g.fields.clone(),
        comment: g.comment.trim().to_string(),
        gold: g.gold,
    };
    crate::db::queues::save_grade(db, &item, user_id, rules.blind, &grade).await?;
    let reveal = if !rules.blind && reads_answers {
        Some(format!("That answer was from {}.", run_label(db, item.run_id).await?))
    } else {
        None
    };
    Ok(Saved {
        reveal,
        next_position: crate::db::queues::next_open(db, item.queue_id, user_id).await?,
    })
}

#[server]
pub async fn save_vote(item_id: String, choice: String) -> Result<Saved, AppError> {
    use crate::api::guard::{authorize, state, Permission};
    let me = authorize(Permission::Grade).await?;
    let reads_answers = me.require(Permission::ReadAnswers).is_ok();
    store_vote(&state()?.db, me.id, reads_answers, &item_id, &choice).await
}

#[cfg(feature = "ssr")]
pub async fn store_vote(db: &crate::db::Db, user_id: i64, reads_answers: bool, item_id: &str, choice: &str) -> Result<Saved, AppError> {
    let Some(choice) = crate::domain::views::VoteChoice::parse(choice) else {
        return Err(AppError::validation(
            "choice",
            "vote a (left better), b (right better), tie, or both_bad",
        ));
    };
    let item = crate::db::queues::item(db, item_id).await?;
    dealt_to(db, &item, user_id).await?;
    let Some(run_b) = item.run_b else {
        return Err(AppError::validation("item", "this item is graded, not voted on"));
    };
    let rules = crate::db::queues::rules(db, item.queue_id).await?;
    shows_models_to(&rules, reads_answers)?;
    crate::db::queues::save_vote(db, &item, user_id, rules.blind, choice).await?;
    let reveal = if !rules.blind && reads_answers {
        let (left, right) = if item.swap { (run_b, item.run_id) } else { (item.run_id, run_b) };
        Some(format!(
            "Left was {}, right was {}.",
            run_label(db, left).await?,
            run_label(db, right).await?
        ))
    } else {
        None
    };
    Ok(Saved {
        reveal,
        next_position: crate::db::queues::next_open(db, item.queue_id, user_id).await?,
    })
}

/// Refuse a judgement of an item dealt to other reviewers (a queue with K).
#[cfg(feature = "ssr")]
async fn dealt_to(db: &crate::db::Db, item: &crate::db::queues::ItemRow, user_id: i64) -> Result<(), AppError> {
    if crate::db::reviewers::is_mine(db, &item.id, user_id).await? {
        Ok(())
    } else {
        Err(super::not_yours(db, item.queue_id, user_id, item.position).await?)
    }
}

/// "model (run #N)".
#[cfg(feature = "ssr")]
async fn run_label(db: &crate::db::Db, run_id: i64) -> Result<String, AppError> {
    let run = crate::db::runs::get(db, run_id).await?;
    Ok(format!("{} (run #{})", run.model, run.id))
}

/// A queue that shows the model while grading is judged only by those who may read answers with
/// their models: a reviewer grades blind, and a grade there would count in the figures at once,
/// telling them which model wrote the answer they just judged.
#[cfg(feature = "ssr")]
pub fn shows_models_to(rules: &crate::db::queues::QueueRules, reads_answers: bool) -> Result<(), AppError> {
    if rules.blind || reads_answers {
        return Ok(());
    }
    Err(AppError::Forbidden(
        "this queue shows the model while grading: reviewers grade blind queues only (an admin grades this one)".into(),
    ))
}

/// Close a queue: grading stops, and each reviewer sees who wrote what they judged. Only the
/// queue's maker or an admin may, and only while they may make queues: a maker since made a
/// reviewer would unblind the answers they also see in other queues.
#[server]
pub async fn close_queue(queue_id: i64) -> Result<(), AppError> {
    use crate::api::guard::{authorize, state, Permission};
    let me = authorize(Permission::Run).await?;
    let is_admin = me.require(Permission::Admin).is_ok();
    shut_queue(&state()?.db, me.id, is_admin, queue_id).await?;
    let detail = "closed: grading stopped, and each reviewer now sees which model wrote what they judged";
    crate::api::guard::audit(&me, "queue.reveal", &format!("queue {queue_id}"), detail).await;
    Ok(())
}

#[cfg(feature = "ssr")]
pub async fn shut_queue(db: &crate::db::Db, user_id: i64, is_admin: bool, queue_id: i64) -> Result<(), AppError> {
    let rules = crate::db::queues::rules(db, queue_id).await?;
    if !is_admin && rules.created_by != Some(user_id) {
        return Err(AppError::Forbidden("only the queue's maker or an admin may close it".into()));
    }
    Ok(crate::db::queues::close(db, queue_id).await?)
}

/// Who wrote each answer the caller judged in a closed queue (409 while it is open).
#[server]
pub async fn queue_reveal(queue_id: i64) -> Result<Vec<RevealRow>, AppError> {
    use crate::api::guard::{authorize, state, Permission};
    let me = authorize(Permission::View).await?;
    reveal(&state()?.db, me.id, queue_id).await
}

#[cfg(feature = "ssr")]
pub async fn reveal(db: &crate::db::Db, user_id: i64, queue_id: i64) -> Result<Vec<RevealRow>, AppError> {
    use std::collections::HashMap;
    let rules = crate::db::queues::rules(db, queue_id).await?;
    if !rules.closed {
        return Err(AppError::Conflict(
            "the models are revealed when the queue's maker closes it".into(),
        ));
    }
    let mut labels: HashMap<i64, String> = HashMap::new();
    let mut out = Vec::new();
    for j in crate::db::queues::judged_by(db, queue_id, user_id).await? {
        if let Some(other) = j.held_by {
            out.push(RevealRow {
                position: j.position,
                grade: j.overall.map(|g| g.clamp(0, 5) as u8),
                vote: j.choice.map(|c| c.as_str().to_string()),
                left: format!(
                    "withheld until queue '{}' closes: the same answer is still graded blind there",
                    crate::domain::dataset::clip(&other)
                ),
                right: None,
                withheld: true,
            });
            continue;
        }
        for r in std::iter::once(j.run_id).chain(j.run_b) {
            if let std::collections::hash_map::Entry::Vacant(e) = labels.entry(r) {
                e.insert(run_label(db, r).await?);
            }
        }
        let (left, right) = match j.run_b {
            Some(b) if j.swap => (b, Some(j.run_id)),
            other => (j.run_id, other),
        };
        out.push(RevealRow {
            position: j.position,
            grade: j.overall.map(|g| g.clamp(0, 5) as u8),
            vote: j.choice.map(|c| c.as_str().to_string()),
            left: labels.get(&left).cloned().unwrap_or_default(),
            right: right.and_then(|r| labels.get(&r).cloned()),
            withheld: false,
        });
    }
    Ok(out)
}
