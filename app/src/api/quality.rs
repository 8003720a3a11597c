//! Quality: automatic checks on every answer (stored per run), and the figures built on them.

#[cfg(feature = "ssr")]
use crate::domain::quality::RunQuality;

/// Run the automatic checks over a run's answers and store them (replacing earlier ones),
/// reading the records a page at a time.
#[cfg(feature = "ssr")]
pub async fn check_run(db: &crate::db::Db, run_id: i64) -> Result<usize, crate::db::DbError> {
    use crate::db::records::{Pages, Read};
    let checker = Checker::load(db, run_id).await?;
    crate::db::checks::clear(db, run_id).await?;
    let mut pages = Pages::new(run_id, Read::Everything);
    let mut n = 0;
    while let Some(page) = pages.next(db).await? {
        n += checker.check_page(db, &page).await?;
    }
    crate::db::checks::roll_up(db, run_id).await?;
    Ok(n)
}

/// What checking a run's answers needs: its dataset's schema and rubric.
#[cfg(feature = "ssr")]
pub struct Checker {
    run_id: i64,
    rubric: crate::domain::rubric::Rubric,
    validator: Option<jsonschema::Validator>,
}

#[cfg(feature = "ssr")]
impl Checker {
    pub async fn load(db: &crate::db::Db, run_id: i64) -> Result<Checker, crate::db::DbError> {
        use crate::domain::rubric::Rubric;
        let run = crate::db::runs::get(db, run_id).await?;
        let dataset_id = match run.spec.as_ref().map(|s| s.dataset_id) {
            Some(id) => Some(id),
            None => crate::db::runs::dataset_id(db, run_id).await?,
        };
        let (schema, rubric) = match dataset_id {
            Some(d) => (
                crate::db::datasets::answer_schema(db, d).await?,
                crate::db::datasets::rubric(db, d).await?,
            ),
            None => (None, Rubric::default()),
        };
        let validator = schema.as_ref().and_then(|s| {
            jsonschema::validator_for(s)
                .map_err(|e| tracing::warn!(run = run_id, "the dataset's schema does not compile: {e}"))
                .ok()
        });
        Ok(Checker { run_id, rubric, validator })
    }

    /// Check a page of records' answers (measured and answered ones) and store the checks.
    pub async fn check_page(
        &self,
        db: &crate::db::Db,
        records: &[crate::domain::record::RequestRecord],
    ) -> Result<usize, crate::db::DbError> {
        use crate::domain::quality::check_answer;
        let check_schema = self.validator.as_ref().map(|v| {
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
                    &self.rubric,
                    check_schema.as_ref().map(|f| f as &dyn Fn(&serde_json::Value) -> Vec<String>),
                )
            })
            .collect();
        crate::db::checks::append(db, self.run_id, &checks).await?;
        Ok(checks.len())
    }
}

/// A run's quality; `None` when it has no stored answers (e.g. an imported summary). Checks a
/// run that has answers but no checks yet.
#[cfg(feature = "ssr")]
pub async fn run_quality(db: &crate::db::Db, run_id: i64) -> Result<Option<RunQuality>, crate::db::DbError> {
    if !crate::db::checks::checked(db, run_id).await? {
        let answered = crate::db::records::answered_count(db, run_id).await?;
        if answered == 0 {
            return Ok(None);
        }
        check_run(db, run_id).await?;
    }
    let q = crate::db::checks::summary(db, run_id).await?;
    Ok((q.answered > 0).then_some(q))
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
    /// 95 % bootstrap interval (items resampled, fixed seed); `None` with too few items.
    #[serde(default)]
    pub interval: Option<crate::domain::stats::Interval>,
}

impl KappaRow {
    /// Kappa over `pairs` on a 5-point ordered scale (quadratic weights), with its interval.
    #[cfg(feature = "ssr")]
    fn quadratic(what: &str, between: String, pairs: &[(usize, usize)]) -> KappaRow {
        use crate::domain::agreement::{cohen_kappa, kappa_interval, Weights, KAPPA_RESAMPLES, KAPPA_SEED};
        KappaRow {
            what: what.into(),
            between,
            n: pairs.len(),
            kappa: cohen_kappa(pairs, 5, Weights::Quadratic),
            interval: kappa_interval(pairs, 5, Weights::Quadratic, KAPPA_RESAMPLES, KAPPA_SEED),
        }
    }
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
    use crate::domain::bradley_terry::{ratings_with_ci, win_probability, Vote};
    use crate::domain::candidates::RECOMMENDATIONS;
    use crate::domain::status::RunStatus;
    use std::collections::{BTreeMap, HashMap};

    let rec_index = |s: &str| RECOMMENDATIONS.iter().position(|r| r.eq_ignore_ascii_case(s.trim()));
    let mut out = QualityPicture::default();
    let mut labels: HashMap<i64, String> = HashMap::new();
    // The model's recommendation for the answers reviewers graded (not every answer of every run).
    let model_recs: HashMap<(i64, String), usize> = crate::db::checks::graded_recommendations(db)
        .await?
        .into_iter()
        .filter_map(|(k, rec)| Some((k, rec_index(&rec)?)))
        .collect();
    for r in crate::db::runs::list(db).await? {
        if !matches!(r.status, RunStatus::Completed | RunStatus::Imported | RunStatus::Cancelled) {
            continue;
        }
        let Some(q) = run_quality(db, r.id).await? else { continue };
        let label = format!("#{} {}", r.id, r.model);
        labels.insert(r.id, label.clone());
        // Counted once when the run's answers were checked, not again on every view.
        let counts = crate::db::checks::recommendations(db, r.id).await?;
        out.runs.push(QualityRow {
            id: r.id,
            label,
            origin: r.origin_label().to_string(),
            output_tps: r.summary.as_ref().filter(|s| s.timing_known).map(|s| s.output_tokens_per_s),
            quality: q,
            recommendations: counts,
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
    for (custom, a, b, _, _) in &votes {
        for r in [*a, *b] {
            if let std::collections::hash_map::Entry::Vacant(e) = lengths.entry((r, custom.clone())) {
                let n = crate::db::records::answer_length(db, r, custom).await?;
                e.insert(n);
            }
        }
    }
    for (custom, a, b, swap, choice) in &votes {
        let (left, right) = if *swap { (*b, *a) } else { (*a, *b) };
        let Some(score_left) = choice.score_a() else {
            out.both_bad += 1;
            continue;
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
            out.reviewers
                .push(KappaRow::quadratic("overall grade (quadratic weights)", between.clone(), &overall));
            out.reviewers
                .push(KappaRow::quadratic("recommendation (quadratic weights)", between, &recs));
        }
    }
    let mut per_run: BTreeMap<i64, Vec<(usize, usize)>> = BTreeMap::new();
    for (c, r, _, g) in &grades {
        if let (Some(m), Some(h)) = (model_recs.get(&(*r, c.clone())), human_rec(*r, c, g)) {
            per_run.entry(*r).or_default().push((*m, h));
        }
    }
    for (run, pairs) in per_run {
        out.model_vs_human.push(KappaRow::quadratic(
            "recommendation (quadratic weights)",
            format!("{} and the reviewers", labels.get(&run).cloned().unwrap_or(format!("run #{run}"))),
            &pairs,
        ));
    }
    Ok(out)
}

/// Answers listed per page.
pub const ANSWERS_SHOWN: usize = 50;

/// One page of a run's checked answers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AnswerPage {
    pub rows: Vec<crate::domain::quality::AnswerCheck>,
    /// Answers matching the filter, on every page.
    pub total: u64,
    /// 0-based.
    pub page: u32,
    /// The dataset's rubric fields shown as columns (label, path), the recommendation apart: an
    /// uploaded rubric's own fields, not the demo's.
    #[serde(default)]
    pub columns: Vec<(String, String)>,
}

/// A run's checked answers for its page, a page at a time (read from the database page by
/// page): filter by the extracted recommendation or a problem.
#[server]
pub async fn run_answers(run_id: i64, recommendation: String, problem: String, page: u32) -> Result<AnswerPage, AppError> {
    use super::guard::{authorize, state, Permission};
    // The extracted fields of each answer beside its item and run: not for blind reviewers.
    authorize(Permission::ReadAnswers).await?;
    let db = &state()?.db;
    // A run in the trash is not found (nor checked again).
    let run = crate::db::runs::get(db, run_id).await?;
    run_quality(db, run_id).await?;
    let rubric = match run.spec.as_ref().map(|s| s.dataset_id) {
        Some(d) => crate::db::datasets::rubric(db, d).await?,
        None => Default::default(),
    };
    let columns = rubric
        .fields
        .iter()
        .filter(|f| f.path != "recommendation")
        .map(|f| (f.label.clone(), f.path.clone()))
        .collect();
    let (rows, total) = crate::db::checks::page(
        db,
        run_id,
        &recommendation,
        &problem,
        ANSWERS_SHOWN as u32,
        u64::from(page) * ANSWERS_SHOWN as u64,
    )
    .await?;
    Ok(AnswerPage {
        rows,
        total,
        page,
        columns,
    })
}

#[server]
pub async fn run_quality_summary(run_id: i64) -> Result<Option<Quality>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    let db = &state()?.db;
    // A run's answers are checked as it closes: a run still going shows none yet (checking
    // its first answers on every view would cost as much as the run's own writes).
    if !crate::db::runs::get(db, run_id).await?.status.is_finished() {
        return Ok(None);
    }
    Ok(run_quality(db, run_id).await?)
}

/// One item's answers from several runs, for reading them side by side (not blind).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemAnswers {
    pub items: Vec<String>,
    pub prompt: String,
    pub answers: Vec<(String, String, Option<crate::domain::quality::AnswerCheck>)>,
}

/// At most this many items are offered to read side by side.
pub const SIDE_BY_SIDE_ITEMS: u32 = 1_000;

#[server]
pub async fn side_by_side(run_ids: Vec<i64>, custom_id: Option<String>) -> Result<ItemAnswers, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::ReadAnswers).await?;
    let db = &state()?.db;
    let mut runs = Vec::new();
    for id in &run_ids {
        runs.push(crate::db::runs::get(db, *id).await?);
        run_quality(db, *id).await?;
    }
    // The items every run answered (the first ones by id, however big the runs).
    let items = crate::db::checks::common_items(db, &run_ids, SIDE_BY_SIDE_ITEMS).await?;
    let chosen = match custom_id {
        Some(c) if crate::db::checks::common_items_include(db, &run_ids, &c).await? => c,
        _ => items.first().cloned().unwrap_or_default(),
    };
    let mut per_run = Vec::new();
    for run in runs {
        let check = crate::db::checks::get(db, run.id, &chosen).await?;
        per_run.push((run, check));
    }
    let mut answers = Vec::new();
    let mut prompt = String::new();
    for (run, check) in per_run {
        let text = crate::db::records::answer(db, run.id, &chosen).await?.unwrap_or_default();
        if prompt.is_empty() {
            if let Some(d) = run.spec.as_ref().map(|s| s.dataset_id) {
                let base = crate::domain::dataset::base_id(&chosen);
                prompt = crate::db::datasets::item(db, d, base)
                    .await?
                    .map(|i| i.prompt_text())
                    .unwrap_or_default();
            }
        }
        answers.push((format!("#{} {}", run.id, run.model), text, check));
    }
    Ok(ItemAnswers { items, prompt, answers })
}
