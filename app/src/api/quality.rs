//! Quality: automatic checks on every answer (stored per run), and the figures built on them.

#[cfg(feature = "ssr")]
use crate::domain::quality::RunQuality;

/// Run the automatic checks over a run's answers and store them (replacing earlier ones).
#[cfg(feature = "ssr")]
pub async fn check_run(db: &crate::db::Db, run_id: i64) -> Result<usize, crate::db::DbError> {
    let records = crate::db::records::for_run(db, run_id).await?;
    check_records(db, run_id, &records).await
}

/// The same, for a run whose records the caller has loaded already.
#[cfg(feature = "ssr")]
pub async fn check_records(
    db: &crate::db::Db,
    run_id: i64,
    records: &[crate::domain::record::RequestRecord],
) -> Result<usize, crate::db::DbError> {
    use crate::domain::quality::check_answer;
    use crate::domain::rubric::Rubric;
    let run = crate::db::runs::get(db, run_id).await?;
    let dataset_id = match run.spec.as_ref().map(|s| s.dataset_id) {
        Some(id) => Some(id),
        None => {
            sqlx::query_scalar::<_, Option<i64>>("SELECT dataset_id FROM runs WHERE id = ?")
                .bind(run_id)
                .fetch_one(db)
                .await?
        }
    };
    let (schema, rubric) = match dataset_id {
        Some(d) => {
            let schema = crate::db::datasets::answer_schema(db, d).await?;
            let rubric: Option<String> = sqlx::query_scalar("SELECT rubric FROM datasets WHERE id = ?")
                .bind(d)
                .fetch_one(db)
                .await?;
            (
                schema,
                rubric
                    .and_then(|r| serde_json::from_str(&r).ok())
                    .and_then(|v: serde_json::Value| Rubric::from_value(&v))
                    .unwrap_or_default(),
            )
        }
        None => (None, Rubric::default()),
    };
    let validator = schema.as_ref().and_then(|s| {
        jsonschema::validator_for(s)
            .map_err(|e| tracing::warn!(run = run_id, "the dataset's schema does not compile: {e}"))
            .ok()
    });
    let check_schema = validator.as_ref().map(|v| {
        move |value: &serde_json::Value| -> Vec<String> {
            v.iter_errors(value)
                .take(5)
                .map(|e| {
                    format!(
                        "{}: {e}",
                        if e.instance_path.as_str().is_empty() {
                            "/"
                        } else {
                            e.instance_path.as_str()
                        }
                    )
                })
                .collect()
        }
    });
    let checks: Vec<_> = records
        .iter()
        .filter(|r| !r.warmup && r.outcome.answered())
        .map(|r| {
            check_answer(
                r,
                &rubric,
                check_schema.as_ref().map(|f| f as &dyn Fn(&serde_json::Value) -> Vec<String>),
            )
        })
        .collect();
    crate::db::checks::replace(db, run_id, &checks).await?;
    Ok(checks.len())
}

/// A run's quality; `None` when it has no stored answers (e.g. an imported summary). Checks a
/// run that has answers but no checks yet.
#[cfg(feature = "ssr")]
pub async fn run_quality(db: &crate::db::Db, run_id: i64) -> Result<Option<RunQuality>, crate::db::DbError> {
    if crate::db::checks::count(db, run_id).await? == 0 {
        let answered: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM request_records WHERE run_id = ? AND response <> ''")
            .bind(run_id)
            .fetch_one(db)
            .await?;
        if answered == 0 {
            return Ok(None);
        }
        check_run(db, run_id).await?;
    }
    Ok(Some(crate::db::checks::summary(db, run_id).await?))
}

use super::error::AppError;
use crate::domain::quality::RunQuality as Quality;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QualityRow {
    pub id: i64,
    pub label: String,
    pub origin: String,
    pub quality: Quality,
    pub output_tps: Option<f64>,
    /// How often each recommendation was given (the extracted field as a column).
    pub recommendations: Vec<(String, u64)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BtRow {
    pub label: String,
    pub strength: f64,
    pub low: f64,
    pub high: f64,
    pub votes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KappaRow {
    pub what: String,
    pub between: String,
    pub n: usize,
    pub kappa: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QualityPicture {
    pub runs: Vec<QualityRow>,
    pub bradley_terry: Vec<BtRow>,
    pub both_bad: u64,
    pub length_note: Option<String>,
    pub reviewers: Vec<KappaRow>,
    pub model_vs_human: Vec<KappaRow>,
}

#[server]
pub async fn quality_overview() -> Result<QualityPicture, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    Ok(overview(&state()?.db).await?)
}

/// Everything the quality page shows, from checks, grades and votes.
#[cfg(feature = "ssr")]
pub async fn overview(db: &crate::db::Db) -> Result<QualityPicture, crate::db::DbError> {
    use crate::domain::agreement::{cohen_kappa, Weights};
    use crate::domain::bradley_terry::{ratings_with_ci, win_probability, Vote};
    use crate::domain::candidates::RECOMMENDATIONS;
    use crate::domain::status::RunStatus;
    use std::collections::{BTreeMap, HashMap};

    let rec_index = |s: &str| RECOMMENDATIONS.iter().position(|r| r.eq_ignore_ascii_case(s.trim()));
    let mut out = QualityPicture::default();
    let mut labels: HashMap<i64, String> = HashMap::new();
    let mut model_recs: HashMap<(i64, String), usize> = HashMap::new();
    for r in crate::db::runs::list(db).await? {
        if !matches!(r.status, RunStatus::Completed | RunStatus::Imported | RunStatus::Cancelled) {
            continue;
        }
        let Some(q) = run_quality(db, r.id).await? else { continue };
        let label = format!("#{} {}", r.id, r.model);
        labels.insert(r.id, label.clone());
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for c in crate::db::checks::for_run(db, r.id).await? {
            let key = c.recommendation.clone().unwrap_or_else(|| "(none)".into());
            *counts.entry(key).or_default() += 1;
            if let Some(i) = c.recommendation.as_deref().and_then(rec_index) {
                model_recs.insert((r.id, c.custom_id.clone()), i);
            }
        }
        out.runs.push(QualityRow {
            id: r.id,
            label,
            origin: r.origin_label().to_string(),
            output_tps: r.summary.as_ref().filter(|s| s.timing_known).map(|s| s.output_tokens_per_s),
            quality: q,
            recommendations: counts.into_iter().collect(),
        });
    }

    // Blind pairwise votes -> Bradley-Terry.
    let votes = crate::db::queues::all_votes(db).await?;
    let mut index: BTreeMap<i64, usize> = BTreeMap::new();
    let mut bt_votes = Vec::new();
    let mut lengths: HashMap<(i64, String), usize> = HashMap::new();
    let mut decisive_longer_won = (0u64, 0u64, 0.0f64);
    for (_, a, b, _, _) in &votes {
        for r in [*a, *b] {
            let n = index.len();
            index.entry(r).or_insert(n);
        }
    }
    for &r in index.keys() {
        for rec in crate::db::records::for_run(db, r).await? {
            lengths.insert((r, rec.custom_id.clone()), rec.response.len());
        }
    }
    for (custom, a, b, swap, choice) in &votes {
        let (left, right) = if *swap { (*b, *a) } else { (*a, *b) };
        let score_left = match choice.as_str() {
            "a" => 1.0,
            "b" => 0.0,
            "tie" => 0.5,
            _ => {
                out.both_bad += 1;
                continue;
            }
        };
        bt_votes.push((
            Vote {
                a: index[&left],
                b: index[&right],
                score_a: score_left,
            },
            lengths.get(&(left, custom.clone())).copied().unwrap_or(0),
            lengths.get(&(right, custom.clone())).copied().unwrap_or(0),
        ));
    }
    let plain: Vec<Vote> = bt_votes.iter().map(|v| v.0).collect();
    if let Some(rated) = ratings_with_ci(&plain, index.len(), 300, 11) {
        let strengths: Vec<f64> = rated.iter().map(|r| r.strength).collect();
        for (run, i) in &index {
            let r = &rated[*i];
            let n = plain.iter().filter(|v| v.a == *i || v.b == *i).count() as u64;
            out.bradley_terry.push(BtRow {
                label: labels.get(run).cloned().unwrap_or(format!("run #{run}")),
                strength: r.strength,
                low: r.low,
                high: r.high,
                votes: n,
            });
        }
        out.bradley_terry.sort_by(|a, b| b.strength.total_cmp(&a.strength));
        // Length bias: how often the longer answer won decisive votes, against what the ratings predict.
        for (v, la, lb) in &bt_votes {
            if v.score_a == 0.5 || la == lb {
                continue;
            }
            let (longer, shorter, longer_won) = if la > lb {
                (v.a, v.b, v.score_a == 1.0)
            } else {
                (v.b, v.a, v.score_a == 0.0)
            };
            decisive_longer_won.0 += 1;
            decisive_longer_won.1 += u64::from(longer_won);
            decisive_longer_won.2 += win_probability(&strengths, longer, shorter);
        }
        let (n, won, expected) = decisive_longer_won;
        if n >= 10 {
            let (share, predicted) = (won as f64 / n as f64, expected / n as f64);
            if share - predicted > 0.1 {
                out.length_note = Some(format!(
                    "The longer answer won {:.0}% of {n} decisive votes, but the ratings alone predict {:.0}%: reviewers may be rewarding length more than quality.",
                    share * 100.0,
                    predicted * 100.0
                ));
            }
        }
    }

    // Agreement between reviewers, and between each model and the reviewers.
    let grades = crate::db::queues::all_grades(db).await?;
    let users: HashMap<i64, String> = crate::db::users::list(db).await?.into_iter().map(|u| (u.id, u.name)).collect();
    let human_rec = |run: i64, custom: &str, g: &crate::api::types::Grade| -> Option<usize> {
        match g.fields.get("recommendation").map(String::as_str) {
            Some("correct") => model_recs.get(&(run, custom.to_string())).copied(),
            Some("incorrect") | None | Some("") => None,
            Some(v) => rec_index(v),
        }
    };
    let mut by_item: BTreeMap<(String, i64), Vec<(i64, &crate::api::types::Grade)>> = BTreeMap::new();
    for (c, r, u, g) in &grades {
        by_item.entry((c.clone(), *r)).or_default().push((*u, g));
    }
    let reviewer_ids: Vec<i64> = {
        let mut v: Vec<i64> = grades.iter().map(|g| g.2).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    for (i, a) in reviewer_ids.iter().enumerate() {
        for b in &reviewer_ids[i + 1..] {
            let mut overall = Vec::new();
            let mut recs = Vec::new();
            for ((custom, run), gs) in &by_item {
                let ga = gs.iter().find(|x| x.0 == *a).map(|x| x.1);
                let gb = gs.iter().find(|x| x.0 == *b).map(|x| x.1);
                if let (Some(ga), Some(gb)) = (ga, gb) {
                    overall.push((usize::from(ga.overall.clamp(1, 5)) - 1, usize::from(gb.overall.clamp(1, 5)) - 1));
                    if let (Some(x), Some(y)) = (human_rec(*run, custom, ga), human_rec(*run, custom, gb)) {
                        recs.push((x, y));
                    }
                }
            }
            if overall.is_empty() {
                continue;
            }
            let between = format!(
                "{} and {}",
                users.get(a).cloned().unwrap_or_default(),
                users.get(b).cloned().unwrap_or_default()
            );
            out.reviewers.push(KappaRow {
                what: "overall grade (quadratic weights)".into(),
                between: between.clone(),
                n: overall.len(),
                kappa: cohen_kappa(&overall, 5, Weights::Quadratic),
            });
            out.reviewers.push(KappaRow {
                what: "recommendation (quadratic weights)".into(),
                between,
                n: recs.len(),
                kappa: cohen_kappa(&recs, 5, Weights::Quadratic),
            });
        }
    }
    let mut per_run: BTreeMap<i64, Vec<(usize, usize)>> = BTreeMap::new();
    for (c, r, _, g) in &grades {
        if let (Some(m), Some(h)) = (model_recs.get(&(*r, c.clone())), human_rec(*r, c, g)) {
            per_run.entry(*r).or_default().push((*m, h));
        }
    }
    for (run, pairs) in per_run {
        out.model_vs_human.push(KappaRow {
            what: "recommendation (quadratic weights)".into(),
            between: format!("{} and the reviewers", labels.get(&run).cloned().unwrap_or(format!("run #{run}"))),
            n: pairs.len(),
            kappa: cohen_kappa(&pairs, 5, Weights::Quadratic),
        });
    }
    Ok(out)
}

/// At most this many answers are listed at once (filter to narrow).
pub const ANSWERS_SHOWN: usize = 50;

/// A run's checked answers for its page: filter by the extracted recommendation or a problem.
#[server]
pub async fn run_answers(
    run_id: i64,
    recommendation: String,
    problem: String,
) -> Result<Vec<crate::domain::quality::AnswerCheck>, AppError> {
    use super::guard::{authorize, state, Permission};
    // The extracted fields of each answer beside its item and run: not for blind reviewers.
    authorize(Permission::ReadAnswers).await?;
    let db = &state()?.db;
    run_quality(db, run_id).await?;
    Ok(crate::db::checks::for_run(db, run_id)
        .await?
        .into_iter()
        .filter(|c| recommendation.is_empty() || c.recommendation.as_deref().unwrap_or("(none)") == recommendation)
        .filter(|c| match problem.as_str() {
            "no_json" => c.json_form.is_none(),
            "invalid" => c.schema_valid == Some(false),
            "handback" => c.handback,
            "truncated" => c.truncated,
            _ => true,
        })
        .take(ANSWERS_SHOWN)
        .collect())
}

#[server]
pub async fn run_quality_summary(run_id: i64) -> Result<Option<Quality>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    Ok(run_quality(&state()?.db, run_id).await?)
}

/// One item's answers from several runs, for reading them side by side (not blind).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemAnswers {
    pub items: Vec<String>,
    pub prompt: String,
    pub answers: Vec<(String, String, Option<crate::domain::quality::AnswerCheck>)>,
}

#[server]
pub async fn side_by_side(run_ids: Vec<i64>, custom_id: Option<String>) -> Result<ItemAnswers, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::ReadAnswers).await?;
    let db = &state()?.db;
    let mut items: Option<Vec<String>> = None;
    let mut per_run = Vec::new();
    for id in &run_ids {
        let run = crate::db::runs::get(db, *id).await?;
        run_quality(db, *id).await?;
        let checks = crate::db::checks::for_run(db, *id).await?;
        let ids: Vec<String> = checks.iter().map(|c| c.custom_id.clone()).collect();
        items = Some(match items {
            None => ids,
            Some(prev) => prev.into_iter().filter(|i| ids.contains(i)).collect(),
        });
        per_run.push((run, checks));
    }
    let items = items.unwrap_or_default();
    let chosen = custom_id
        .filter(|c| items.contains(c))
        .or_else(|| items.first().cloned())
        .unwrap_or_default();
    let mut answers = Vec::new();
    let mut prompt = String::new();
    for (run, checks) in per_run {
        let records = crate::db::records::for_run(db, run.id).await?;
        let text = records
            .iter()
            .find(|r| r.custom_id == chosen)
            .map(|r| r.response.clone())
            .unwrap_or_default();
        if prompt.is_empty() {
            if let Some(d) = run.spec.as_ref().map(|s| s.dataset_id) {
                let base = crate::domain::dataset::base_id(&chosen);
                prompt = crate::db::datasets::items(db, d)
                    .await?
                    .into_iter()
                    .find(|i| i.custom_id == base)
                    .map(|i| i.prompt_text())
                    .unwrap_or_default();
            }
        }
        answers.push((
            format!("#{} {}", run.id, run.model),
            text,
            checks.into_iter().find(|c| c.custom_id == chosen),
        ));
    }
    Ok(ItemAnswers { items, prompt, answers })
}
