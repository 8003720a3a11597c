//! Grading: queues of sampled answers, blind by default, grades on the dataset's rubric, and blind
//! pairwise votes. In a blind queue nothing a reviewer receives depends on the model beyond the
//! answer text: items carry opaque ids, the order comes from a seed kept on the server, saving
//! reveals nothing, a judgement is final once the reviewer moves on, and the models are revealed
//! per queue when its owner closes it. A queue may ask for K judgements per item from reviewers
//! assigned to it: each item is then dealt to K of them, and each sees only their own items
//! (`reviewers`); agreement is measured where items overlap (`overlap`).

use super::error::AppError;
use super::types::{Grade, QueueView};
use crate::domain::quality::ShownAnswer;
use crate::domain::rubric::RubricField;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

mod judging;
pub use judging::*;
mod overlap;
mod reviewers;
pub use overlap::*;
pub use reviewers::*;

/// One answer to grade, as the reviewer sees it: no run, no model, no `custom_id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemView {
    /// Opaque token; says nothing about the model.
    pub item_id: String,
    pub kind: String,
    pub position: i64,
    /// The caller's items in the queue (every item when the queue has no K).
    pub total: i64,
    /// This item's place (1-based) among the caller's items.
    #[serde(default)]
    pub ordinal: i64,
    /// Positions of the caller's previous and next items (j / k).
    #[serde(default)]
    pub prev: Option<i64>,
    #[serde(default)]
    pub next: Option<i64>,
    pub done_by_me: i64,
    pub prompt: String,
    /// The extracted JSON shown the same way whatever wrapped it (or the text without JSON).
    pub answer: ShownAnswer,
    /// The second answer, for pairwise votes (sides already randomised).
    pub answer_b: Option<ShownAnswer>,
    pub rubric: Vec<RubricField>,
    /// What the answer says for each rubric field (path -> value).
    pub extracted: std::collections::BTreeMap<String, String>,
    pub schema_errors: Vec<String>,
    pub my_grade: Option<Grade>,
    pub my_vote: Option<String>,
    /// The caller's judgement of this item can no longer change: a blind queue, and they have
    /// judged another item since.
    pub locked: bool,
}

#[server]
pub async fn list_queues() -> Result<Vec<QueueView>, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::View).await?;
    Ok(crate::db::queues::list(&state()?.db, me.id).await?)
}

/// The launch form of a queue, as typed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: String,
    /// Run ids, comma-separated (or several `runs` checkboxes).
    #[serde(default)]
    pub runs: Vec<String>,
    #[serde(default)]
    pub sample_size: String,
    #[serde(default)]
    pub seed: String,
    #[serde(default)]
    pub unblind: Option<String>,
    /// K: grades (or votes) per item, each from a different assigned reviewer. Empty: every
    /// reviewer judges every item.
    #[serde(default)]
    pub grades_per_item: String,
    /// The assigned reviewers' names (several `reviewers` checkboxes, or comma-separated).
    #[serde(default)]
    pub reviewers: Vec<String>,
}

#[server]
pub async fn create_queue(form: QueueForm) -> Result<i64, AppError> {
    use super::guard::{caller, state, Permission};
    // Runners and admins make queues; reviewers only grade. A reviewer's own queue (its seed, its
    // close and reveal) would tell them who wrote the answers they also see in a shared queue.
    let me = caller()?;
    me.require(Permission::Run)?;
    let reads_answers = me.require(Permission::ReadAnswers).is_ok();
    let id = make_queue(&state()?.db, me.id, reads_answers, &form).await?;
    let detail = format!(
        "{} queue '{}' over runs {}",
        form.kind.trim(),
        form.name.trim(),
        form.runs.join(", ")
    );
    super::guard::audit(&me, "queue.create", &format!("queue {id}"), &detail).await;
    audit_assignment(&me, id, &form).await;
    Ok(id)
}

/// A fresh seed from the operating system's generator, for a queue made without one.
#[cfg(feature = "ssr")]
pub fn random_seed() -> u64 {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    OsRng.next_u64()
}

/// Sample answers and store the queue. Shared by the page and the tests. A maker who may not
/// read answers with their models (a reviewer) makes only blind queues over two or more models:
/// a queue over one model would tell them who wrote every answer.
#[cfg(feature = "ssr")]
pub async fn make_queue(db: &crate::db::Db, user_id: i64, reads_answers: bool, form: &QueueForm) -> Result<i64, AppError> {
    use crate::domain::errors::FieldErrors;
    use crate::domain::rng::SplitMix64;
    use crate::domain::sampling::{shuffle, stratified_sample};
    use std::collections::{HashMap, HashSet};
    if !reads_answers && form.unblind.is_some() {
        return Err(AppError::Forbidden(
            "reviewers grade blind: only a runner or an admin can make a queue that shows the model".into(),
        ));
    }
    let mut errs = FieldErrors::default();
    let name = form.name.trim();
    match super::runs::one_line(name, 200) {
        Ok(_) => {}
        Err(m) if m == "required" => errs.push("name", "name the queue (e.g. 'screening prompts, week 1')"),
        Err(m) => errs.push("name", m),
    }
    use crate::domain::views::QueueKind;
    let kind = QueueKind::parse(form.kind.as_str()).unwrap_or_else(|| {
        errs.push("kind", format!("kind must be grade or pairwise, got '{}'", form.kind));
        QueueKind::Grade
    });
    let runs: Vec<i64> = form
        .runs
        .iter()
        .flat_map(|s| s.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect::<std::collections::BTreeSet<i64>>()
        .into_iter()
        .collect();
    if runs.is_empty() || (kind == QueueKind::Pairwise && runs.len() < 2) {
        errs.push(
            "runs",
            if kind == QueueKind::Pairwise {
                "pick at least two runs to compare"
            } else {
                "pick at least one run"
            },
        );
    }
    let size = match form.sample_size.trim().parse::<usize>() {
        Ok(n) if (1..=5000).contains(&n) => n,
        _ => {
            errs.push(
                "sample_size",
                format!(
                    "sample size must be a whole number from 1 to 5000, got '{}'",
                    form.sample_size.trim()
                ),
            );
            0
        }
    };
    let seed = match form.seed.trim() {
        "" => random_seed(),
        s => s.parse::<u64>().unwrap_or_else(|_| {
            errs.push(
                "seed",
                format!("the seed is a whole number (or leave it empty for a random one), got '{s}'"),
            );
            0
        }),
    };
    let reviewing = reviewing(db, &form.grades_per_item, &form.reviewers, &mut errs).await?;
    errs.into_result(()).map_err(AppError::Validation)?;

    // Items every chosen run answered, stratified by the first run's recommendation.
    let mut common: Option<HashSet<String>> = None;
    let mut strata: HashMap<String, String> = HashMap::new();
    let mut dataset = None;
    let mut models = HashSet::new();
    for (k, r) in runs.iter().enumerate() {
        let view = crate::db::runs::get(db, *r)
            .await
            .map_err(|_| AppError::validation("runs", format!("no run {r}")))?;
        dataset = dataset.or(view.spec.as_ref().map(|s| s.dataset_id));
        models.insert(view.model.clone());
        super::quality::run_quality(db, *r).await?;
        let checks = crate::db::checks::for_run(db, *r).await?;
        let ids: HashSet<String> = checks.iter().map(|c| c.custom_id.clone()).collect();
        if k == 0 {
            for c in &checks {
                let s = c.recommendation.clone().unwrap_or_else(|| {
                    if c.handback {
                        "hands back".into()
                    } else if c.json_form.is_none() {
                        "no JSON".into()
                    } else {
                        "other".into()
                    }
                });
                strata.insert(c.custom_id.clone(), s);
            }
        }
        common = Some(match common {
            None => ids,
            Some(c) => c.intersection(&ids).cloned().collect(),
        });
    }
    let mut pool: Vec<(String, String)> = common
        .unwrap_or_default()
        .into_iter()
        .map(|id| {
            let s = strata.get(&id).cloned().unwrap_or_default();
            (id, s)
        })
        .collect();
    pool.sort();
    if !reads_answers && models.len() < 2 {
        return Err(AppError::validation(
            "runs",
            "pick runs of at least two different models: a queue over one model would not be blind",
        ));
    }
    if pool.is_empty() {
        return Err(AppError::validation(
            "runs",
            "the runs have no answered item in common: run them on the same dataset",
        ));
    }
    let sample = stratified_sample(&pool, size, seed);
    let mut g = SplitMix64::new(seed ^ 0x9a11);
    let mut items = Vec::new();
    for id in &sample {
        if kind == QueueKind::Grade {
            for r in &runs {
                items.push(crate::db::queues::NewItem {
                    id: super::accounts::new_token().0[..24].to_string(),
                    custom_id: id.clone(),
                    run_id: *r,
                    run_b: None,
                    swap: false,
                    judges: Vec::new(),
                });
            }
        } else {
            for (i, a) in runs.iter().enumerate() {
                for b in &runs[i + 1..] {
                    items.push(crate::db::queues::NewItem {
                        id: super::accounts::new_token().0[..24].to_string(),
                        custom_id: id.clone(),
                        run_id: *a,
                        run_b: Some(*b),
                        swap: g.chance(0.5),
                        judges: Vec::new(),
                    });
                }
            }
        }
    }
    shuffle(&mut items, &mut g);
    if let Some(r) = &reviewing {
        // Not to a reviewer who has seen who wrote the answer (a closed queue's reveal).
        let answers: Vec<_> = items.iter().map(|it| (it.custom_id.clone(), it.run_id, it.run_b)).collect();
        let barred = crate::db::reviewers::barred(&answers, &crate::db::reviewers::seen_answers(db).await?);
        let dealt = crate::domain::dealing::deal_barred(items.len(), &r.reviewers, r.grades_per_item as usize, &[], &barred, seed)
            .map_err(|e| AppError::validation("grades_per_item", e.to_string()))?;
        for (it, judges) in items.iter_mut().zip(dealt) {
            it.judges = judges;
        }
    }
    Ok(crate::db::queues::create(
        db,
        name,
        kind,
        form.unblind.is_none(),
        dataset,
        size,
        seed,
        user_id,
        &runs,
        &items,
        reviewing.as_ref(),
    )
    .await?)
}

/// The item at `position`, or the caller's next ungraded one.
#[server]
pub async fn grading_item(queue_id: i64, position: Option<i64>) -> Result<Option<ItemView>, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Grade).await?;
    let db = &state()?.db;
    let reads_answers = me.require(Permission::ReadAnswers).is_ok();
    judging::shows_models_to(&crate::db::queues::rules(db, queue_id).await?, reads_answers)?;
    load_item(db, me.id, queue_id, position).await
}

#[cfg(feature = "ssr")]
pub async fn load_item(db: &crate::db::Db, user_id: i64, queue_id: i64, position: Option<i64>) -> Result<Option<ItemView>, AppError> {
    use crate::db::queues;
    use crate::domain::quality::shown_answer;
    let rules = queues::rules(db, queue_id).await?;
    if rules.closed {
        return Err(AppError::Conflict(queues::CLOSED.into()));
    }
    let q = queues::get(db, queue_id, user_id).await?;
    if rules.grades_per_item.is_some() && q.mine == 0 {
        return Err(not_yours(db, queue_id, user_id, 0).await?);
    }
    let pos = match position {
        Some(p) => Some(p),
        None => queues::next_open(db, queue_id, user_id).await?,
    };
    let Some(pos) = pos else { return Ok(None) };
    let Some(item) = queues::item_at(db, queue_id, pos).await? else {
        return Ok(None);
    };
    if !crate::db::reviewers::is_mine(db, &item.id, user_id).await? {
        return Err(not_yours(db, queue_id, user_id, pos).await?);
    }
    let around = crate::db::reviewers::around(db, queue_id, user_id, pos).await?;
    // One answer read by its item: a run of 100,000 requests is not read whole per item shown.
    let answer_of = |run: i64| {
        let custom = item.custom_id.clone();
        async move {
            let text = crate::db::records::answer(db, run, &custom).await?;
            Ok::<_, crate::db::DbError>(text.map(|t| shown_answer(&t)).unwrap_or_default())
        }
    };
    let a = answer_of(item.run_id).await?;
    let b = match item.run_b {
        Some(rb) => Some(answer_of(rb).await?),
        None => None,
    };
    let (answer, answer_b) = match b {
        Some(b) if item.swap => (b, Some(a)),
        other => (a, other),
    };
    let (prompt, rubric) = match rules.dataset_id {
        Some(d) => {
            let base = crate::domain::dataset::base_id(&item.custom_id);
            let prompt = crate::db::datasets::item(db, d, base)
                .await?
                .map(|i| i.prompt_text())
                .unwrap_or_default();
            let rubric = crate::db::datasets::rubric(db, d).await?;
            (prompt, rubric)
        }
        None => (String::new(), Default::default()),
    };
    // The checks depend on the answer text only (the rubric and schema are the dataset's).
    let check = match item.run_b {
        None => crate::db::checks::get(db, item.run_id, &item.custom_id).await?,
        Some(_) => None,
    };
    Ok(Some(ItemView {
        item_id: item.id.clone(),
        kind: q.kind.as_str().to_string(),
        position: pos,
        total: around.count,
        ordinal: around.ordinal,
        prev: around.prev,
        next: around.next,
        done_by_me: q.done_by_me,
        prompt,
        answer,
        answer_b,
        rubric: rubric.fields,
        extracted: check.as_ref().map(|c| c.fields.clone()).unwrap_or_default(),
        schema_errors: check.map(|c| c.schema_errors).unwrap_or_default(),
        my_grade: queues::my_grade(db, &item.id, user_id).await?,
        my_vote: queues::my_vote(db, &item.id, user_id).await?.map(|c| c.as_str().to_string()),
        locked: rules.blind && queues::moved_on_from(db, &item, user_id).await?,
    }))
}

/// Move a grading queue with its items, grades and votes to the trash (`dry_run`: only say what
/// would go). Only its maker or an admin may.
#[server]
pub async fn delete_queue(queue_id: i64, #[server(default)] dry_run: bool) -> Result<super::runs::Removal, AppError> {
    use super::guard::{authorize, state, Permission};
    use super::trash::{delete, TrashKind};
    let me = authorize(Permission::Run).await?;
    let state = state()?;
    may_change_queue(&state.db, &me, queue_id).await?;
    delete(&state, &super::audit::actor_here(&me), TrashKind::Queue, queue_id, dry_run).await
}

/// Rename a grading queue (its maker or an admin).
#[server]
pub async fn rename_queue(queue_id: i64, name: String) -> Result<(), AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Run).await?;
    let db = state()?.db;
    may_change_queue(&db, &me, queue_id).await?;
    let name = super::runs::checked_name(&name)?;
    crate::db::queues::rename(&db, queue_id, &name).await?;
    super::audit::renamed(&db, &super::audit::actor_here(&me), "queue", queue_id, &name).await;
    Ok(())
}

/// Queues are changed by their maker or an admin.
#[cfg(feature = "ssr")]
pub(crate) async fn may_change_queue(db: &crate::db::Db, me: &super::guard::Caller, queue_id: i64) -> Result<(), AppError> {
    let rules = crate::db::queues::rules(db, queue_id).await?;
    if rules.created_by != Some(me.id) && me.require(super::guard::Permission::Admin).is_err() {
        return Err(AppError::Forbidden("only the queue's maker or an admin may change it".into()));
    }
    Ok(())
}
