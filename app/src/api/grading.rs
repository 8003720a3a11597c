//! Grading: queues of sampled answers, blind by default (the model stays on the server until the
//! grade is saved), grades on the dataset's rubric, and blind pairwise votes.

use super::error::AppError;
use super::types::{Grade, QueueView};
use crate::domain::rubric::RubricField;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One answer to grade, as the reviewer sees it: no run, no model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemView {
    /// Opaque token; says nothing about the model.
    pub item_id: String,
    pub kind: String,
    pub position: i64,
    pub total: i64,
    pub done_by_me: i64,
    pub custom_id: String,
    pub prompt: String,
    pub answer: String,
    /// The second answer, for pairwise votes (sides already randomised).
    pub answer_b: Option<String>,
    pub rubric: Vec<RubricField>,
    /// What the answer says for each rubric field (path -> value).
    pub extracted: std::collections::BTreeMap<String, String>,
    pub schema_errors: Vec<String>,
    pub my_grade: Option<Grade>,
    pub my_vote: Option<String>,
}

/// Who wrote the answer(s), revealed once the reviewer's judgement is saved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Revealed {
    pub text: String,
    pub next_position: Option<i64>,
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
}

#[server]
pub async fn create_queue(form: QueueForm) -> Result<i64, AppError> {
    use super::guard::{caller, state, Permission};
    let me = caller()?;
    if me.require(Permission::Run).is_err() {
        me.require(Permission::Grade)?;
    }
    make_queue(&state()?.db, me.id, &form).await
}

/// Sample answers and store the queue. Shared by the page and the tests.
#[cfg(feature = "ssr")]
pub async fn make_queue(db: &crate::db::Db, user_id: i64, form: &QueueForm) -> Result<i64, AppError> {
    use crate::domain::errors::FieldErrors;
    use crate::domain::rng::SplitMix64;
    use crate::domain::sampling::{shuffle, stratified_sample};
    use std::collections::{HashMap, HashSet};
    let mut errs = FieldErrors::default();
    let name = form.name.trim();
    if name.is_empty() {
        errs.push("name", "name the queue (e.g. 'gemma vs llama, week 1')");
    }
    let kind = match form.kind.as_str() {
        "grade" | "" => "grade",
        "pairwise" => "pairwise",
        other => {
            errs.push("kind", format!("kind must be grade or pairwise, got '{other}'"));
            "grade"
        }
    };
    let runs: Vec<i64> = form
        .runs
        .iter()
        .flat_map(|s| s.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect::<Vec<_>>();
    let runs: Vec<i64> = runs
        .iter()
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if runs.is_empty() || (kind == "pairwise" && runs.len() < 2) {
        errs.push(
            "runs",
            if kind == "pairwise" {
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
    let seed = form.seed.trim().parse::<u64>().unwrap_or(1);
    errs.into_result(()).map_err(AppError::Validation)?;

    // Items every chosen run answered, stratified by the first run's recommendation.
    let mut common: Option<HashSet<String>> = None;
    let mut strata: HashMap<String, String> = HashMap::new();
    let mut dataset = None;
    for (k, r) in runs.iter().enumerate() {
        let view = crate::db::runs::get(db, *r)
            .await
            .map_err(|_| AppError::validation("runs", format!("no run {r}")))?;
        dataset = dataset.or(view.spec.as_ref().map(|s| s.dataset_id));
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
        if kind == "grade" {
            for r in &runs {
                items.push(crate::db::queues::NewItem {
                    id: super::accounts::new_token().0[..24].to_string(),
                    custom_id: id.clone(),
                    run_id: *r,
                    run_b: None,
                    swap: false,
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
                    });
                }
            }
        }
    }
    shuffle(&mut items, &mut g);
    Ok(crate::db::queues::create(db, name, kind, form.unblind.is_none(), dataset, size, seed, user_id, &runs, &items).await?)
}

/// The item at `position`, or the caller's next ungraded one.
#[server]
pub async fn grading_item(queue_id: i64, position: Option<i64>) -> Result<Option<ItemView>, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Grade).await?;
    load_item(&state()?.db, me.id, queue_id, position).await
}

#[cfg(feature = "ssr")]
pub async fn load_item(db: &crate::db::Db, user_id: i64, queue_id: i64, position: Option<i64>) -> Result<Option<ItemView>, AppError> {
    use crate::db::queues;
    let q = queues::get(db, queue_id, user_id).await?;
    let pos = match position {
        Some(p) => Some(p),
        None => queues::next_open(db, queue_id, user_id).await?,
    };
    let Some(pos) = pos else { return Ok(None) };
    let Some(item) = queues::item_at(db, queue_id, pos).await? else {
        return Ok(None);
    };
    let answer_of = |run: i64| {
        let custom = item.custom_id.clone();
        async move {
            let recs = crate::db::records::for_run(db, run).await?;
            Ok::<_, crate::db::DbError>(
                recs.into_iter()
                    .find(|r| r.custom_id == custom)
                    .map(|r| r.response)
                    .unwrap_or_default(),
            )
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
    let dataset: Option<i64> = sqlx::query_scalar("SELECT dataset_id FROM queues WHERE id = ?")
        .bind(queue_id)
        .fetch_one(db)
        .await
        .map_err(crate::db::DbError::from)?;
    let (prompt, rubric) = match dataset {
        Some(d) => {
            let items = crate::db::datasets::items(db, d).await?;
            let base = item.custom_id.split('~').next().unwrap_or(&item.custom_id).to_string();
            let prompt = items
                .iter()
                .find(|i| i.custom_id == base)
                .map(|i| i.prompt_text())
                .unwrap_or_default();
            let rubric: Option<String> = sqlx::query_scalar("SELECT rubric FROM datasets WHERE id = ?")
                .bind(d)
                .fetch_one(db)
                .await
                .map_err(crate::db::DbError::from)?;
            let rubric = rubric
                .and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok())
                .and_then(|v| crate::domain::rubric::Rubric::from_value(&v))
                .unwrap_or_default();
            (prompt, rubric)
        }
        None => (String::new(), Default::default()),
    };
    let check = crate::db::checks::for_run(db, item.run_id)
        .await?
        .into_iter()
        .find(|c| c.custom_id == item.custom_id);
    Ok(Some(ItemView {
        item_id: item.id.clone(),
        kind: q.kind.clone(),
        position: pos,
        total: q.items,
        done_by_me: q.done_by_me,
        custom_id: item.custom_id.clone(),
        prompt,
        answer,
        answer_b,
        rubric: rubric.fields,
        extracted: if item.run_b.is_none() {
            check.as_ref().map(|c| c.fields.clone()).unwrap_or_default()
        } else {
            Default::default()
        },
        schema_errors: if item.run_b.is_none() {
            check.map(|c| c.schema_errors).unwrap_or_default()
        } else {
            Vec::new()
        },
        my_grade: queues::my_grade(db, &item.id, user_id).await?,
        my_vote: queues::my_vote(db, &item.id, user_id).await?,
    }))
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
pub async fn save_grade(grade: GradeInput) -> Result<Revealed, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Grade).await?;
    store_grade(&state()?.db, me.id, &grade).await
}

#[cfg(feature = "ssr")]
pub async fn store_grade(db: &crate::db::Db, user_id: i64, g: &GradeInput) -> Result<Revealed, AppError> {
    if !(1..=5).contains(&g.overall) {
        return Err(AppError::validation(
            "overall",
            "give an overall grade from 1 (bad) to 5 (excellent): press a digit",
        ));
    }
    let item = crate::db::queues::item(db, &g.item_id).await?;
    if item.run_b.is_some() {
        return Err(AppError::validation("item", "this item is a pairwise comparison: vote instead"));
    }
    let grade = crate::db::queues::Grade {
        overall: g.overall,
        fields: g.fields.clone(),
        comment: g.comment.trim().to_string(),
        gold: g.gold,
    };
    crate::db::queues::save_grade(db, &g.item_id, user_id, &grade).await?;
    let run = crate::db::runs::get(db, item.run_id).await?;
    Ok(Revealed {
        text: format!("That answer was from {} (run #{}).", run.model, run.id),
        next_position: crate::db::queues::next_open(db, item.queue_id, user_id).await?,
    })
}

#[server]
pub async fn save_vote(item_id: String, choice: String) -> Result<Revealed, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Grade).await?;
    store_vote(&state()?.db, me.id, &item_id, &choice).await
}

#[cfg(feature = "ssr")]
pub async fn store_vote(db: &crate::db::Db, user_id: i64, item_id: &str, choice: &str) -> Result<Revealed, AppError> {
    if !["a", "b", "tie", "both_bad"].contains(&choice) {
        return Err(AppError::validation(
            "choice",
            "vote a (left better), b (right better), tie, or both_bad",
        ));
    }
    let item = crate::db::queues::item(db, item_id).await?;
    let Some(run_b) = item.run_b else {
        return Err(AppError::validation("item", "this item is graded, not voted on"));
    };
    crate::db::queues::save_vote(db, item_id, user_id, choice).await?;
    let (left, right) = if item.swap { (run_b, item.run_id) } else { (item.run_id, run_b) };
    let l = crate::db::runs::get(db, left).await?;
    let r = crate::db::runs::get(db, right).await?;
    Ok(Revealed {
        text: format!("Left was {} (run #{}), right was {} (run #{}).", l.model, l.id, r.model, r.id),
        next_position: crate::db::queues::next_open(db, item.queue_id, user_id).await?,
    })
}
