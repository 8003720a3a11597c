//! Price sheets, costs, the hybrid strategy and the report. The arithmetic is in `domain`, so the
//! browser recomputes costs and hybrid splits itself from what these return.

use super::error::AppError;
use crate::domain::cost::PriceSheet;
#[cfg(feature = "ssr")]
use crate::domain::hybrid::Screened;
use crate::domain::quality::RunQuality;
use crate::domain::summary::RunSummary;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
#[cfg(feature = "ssr")]
use std::collections::HashSet;

/// A run with what costing and ranking it needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostRun {
    pub id: i64,
    pub name: String,
    pub model: String,
    pub origin: String,
    pub dataset_id: Option<i64>,
    pub summary: RunSummary,
    pub quality: Option<RunQuality>,
    /// How the run reached its endpoint (hosted or not, the sheet linked to the endpoint, the
    /// retry policy and what it did); `None` for runs from before it was recorded, and imports.
    #[serde(default)]
    pub access: Option<crate::api::endpoints::access::RunAccess>,
    /// The load it was measured under (for like-for-like comparisons).
    #[serde(default)]
    pub load: crate::domain::report::load::RunLoad,
    /// Server mode, offline batch or provider batch: a provider batch is priced at batch prices.
    #[serde(default)]
    pub kind: crate::domain::spec::RunKind,
    /// The dataset's name ("" when not recorded), for tables grouped by dataset.
    #[serde(default)]
    pub dataset: String,
}

impl CostRun {
    /// The sheet that prices this run: its own when its endpoint was linked to one (a hosted
    /// provider's: the run's cost is its measured tokens at that sheet's prices, whatever sheet
    /// is chosen), else `chosen`.
    pub fn pricing_sheet<'a>(&self, chosen: &'a PriceSheet, sheets: &'a [PriceSheet]) -> &'a PriceSheet {
        self.own_sheet(sheets).unwrap_or(chosen)
    }

    /// The run's cost at `volume` requests a month: the price row applied (described, naming the
    /// run's own sheet when that is not `chosen`) and the figures. `None` when no row applies or
    /// the token split is unknown. A provider batch is priced at the sheet's batch price (or, where
    /// the sheet has none for its model, at the usual price, said so).
    pub fn priced(&self, chosen: &PriceSheet, sheets: &[PriceSheet], volume: f64) -> Option<(String, crate::domain::cost::RunCost)> {
        let sheet = self.pricing_sheet(chosen, sheets);
        let (row_text, figures) = self.priced_at(sheet, volume)?;
        let described = if sheet.id == chosen.id {
            row_text
        } else {
            format!("{row_text} — from its own sheet, {}", sheet.name)
        };
        Some((described, figures))
    }

    /// The run's cost under `sheet` itself (whatever sheet its endpoint is linked to): for charts
    /// that set every sheet side by side.
    pub fn priced_at(&self, sheet: &PriceSheet, volume: f64) -> Option<(String, crate::domain::cost::RunCost)> {
        use crate::domain::cost::{cost, Usage};
        let m = sheet.match_charged(&self.model, crate::domain::modes::price_kind(self.kind))?;
        let figures = cost(&Usage::from_summary(&self.summary)?, m.row, volume)?;
        Some((m.describe(), figures))
    }

    /// The sheet linked to the run's endpoint when it ran, if any (and it still exists).
    pub fn own_sheet<'a>(&self, sheets: &'a [PriceSheet]) -> Option<&'a PriceSheet> {
        let id = self.access.as_ref()?.price_sheet_id?;
        sheets.iter().find(|s| s.id == id)
    }
}

/// Server mode, offline batch and provider batch side by side over `runs` (issue 14): one table
/// per dataset with a batch run, each run priced per 100K requests at `chosen` (its own sheet when
/// its endpoint is linked to one; a provider batch at the batch price). Pure: the browser
/// recomputes it as the sheet changes.
pub fn mode_tables(runs: &[CostRun], chosen: &PriceSheet, sheets: &[PriceSheet]) -> Vec<crate::domain::modes::ModeTable> {
    use crate::domain::modes::{tables, ModeRun};
    let mode_runs: Vec<ModeRun> = runs
        .iter()
        .map(|r| ModeRun {
            id: r.id,
            name: &r.name,
            model: &r.model,
            dataset_id: r.dataset_id,
            dataset: &r.dataset,
            kind: r.kind,
            summary: &r.summary,
            quality: r.quality.as_ref(),
            cost: r.priced(chosen, sheets, 1e5).map(|(price, c)| (c.per_100k.0, price)),
            load: &r.load,
        })
        .collect();
    tables(&mode_runs)
}

/// The hybrid strategy's starting pair (screen, judge), over one dataset: the split reads the
/// items both runs answered, so runs over different datasets make no pair. Per dataset, the
/// cheapest run screens and the best-quality run of another model judges (never one model
/// screening and judging itself; unpriced runs: the first two of different models); the dataset
/// whose screen is cheapest wins. With `screen` given, the best-quality run of another model over
/// its dataset judges. `None` when no two runs share a dataset. `cost`: a run's cost per request
/// (infinite when not priced). Pure: the costs page picks it in the browser, the report on the
/// server.
pub fn hybrid_default(runs: &[CostRun], cost: impl Fn(&CostRun) -> f64, screen: Option<i64>) -> Option<(i64, i64)> {
    // Chosen by Bakeoff, a screen or judge should have written its answers: a pair of runs that
    // did is preferred to one with a run that cut most of them off at max tokens (a sweep step at
    // 64 tokens, cheap for writing less); only without such a pair are those considered.
    let cut_off = |r: &CostRun| r.quality.as_ref().is_some_and(|q| q.truncated * 2 > q.answered);
    if screen.is_none() {
        if let Some(pair) = pick_pair(runs, |r| !cut_off(r), &cost, None) {
            return Some(pair);
        }
    }
    pick_pair(runs, |_| true, &cost, screen)
}

/// [`hybrid_default`] among the runs `keep` keeps.
fn pick_pair(
    runs: &[CostRun],
    keep: impl Fn(&CostRun) -> bool,
    cost: &impl Fn(&CostRun) -> f64,
    screen: Option<i64>,
) -> Option<(i64, i64)> {
    use crate::domain::hybrid::default_pair;
    use crate::domain::report::load::DatasetRef;
    let dataset = |r: &CostRun| DatasetRef::new(r.dataset_id, &r.dataset);
    let mut by_dataset: Vec<(DatasetRef, Vec<&CostRun>)> = Vec::new();
    for r in runs.iter().filter(|r| keep(r)) {
        let Some(d) = dataset(r) else { continue };
        match by_dataset.iter_mut().find(|g| g.0.same(&d)) {
            Some(g) => g.1.push(r),
            None => by_dataset.push((d, vec![r])),
        }
    }
    let candidates = |g: &[&CostRun]| -> Vec<(i64, String, f64, Option<f64>)> {
        g.iter()
            .map(|r| (r.id, r.model.clone(), cost(r), r.quality.as_ref().and_then(|q| q.score())))
            .collect()
    };
    let same_model = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    if let Some(id) = screen {
        let s = runs.iter().find(|r| r.id == id)?;
        let d = dataset(s)?;
        let (_, group) = by_dataset.iter().find(|g| g.0.same(&d))?;
        let judge = candidates(group)
            .into_iter()
            .filter(|c| c.0 != s.id && !same_model(&c.1, &s.model))
            .max_by(|a, b| a.3.unwrap_or(-1.0).total_cmp(&b.3.unwrap_or(-1.0)).then(b.2.total_cmp(&a.2)))?;
        return Some((s.id, judge.0));
    }
    by_dataset
        .iter()
        .filter_map(|(_, g)| {
            let priced = default_pair(&candidates(g));
            let pair = priced.or_else(|| {
                let first = g.first()?;
                let other = g.iter().skip(1).find(|r| !same_model(&r.model, &first.model)).or(g.get(1))?;
                Some((first.id, other.id))
            })?;
            let screen_cost = g.iter().find(|r| r.id == pair.0).map(|r| cost(r)).unwrap_or(f64::INFINITY);
            Some((priced.is_none(), screen_cost, pair))
        })
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
        .map(|(_, _, pair)| pair)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostTables {
    pub runs: Vec<CostRun>,
    pub sheets: Vec<PriceSheet>,
}

#[server]
pub async fn cost_data() -> Result<CostTables, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    Ok(load_cost_data(&state()?.db).await?)
}

/// The compare page's batch section (issue 14): the compared runs costed, with every sheet; `None`
/// when none of them is a batch job (nothing is costed then).
#[server]
pub async fn compare_modes(#[server(default)] ids: Vec<i64>) -> Result<Option<CostTables>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    let db = &state()?.db;
    // The compare page compares up to 8 runs.
    let mut ids = ids;
    ids.sort_unstable();
    ids.dedup();
    ids.truncate(8);
    let mut any_batch = false;
    for id in ids.iter() {
        match crate::db::runs::get(db, *id).await {
            Ok(r) => any_batch |= crate::domain::modes::kind_of(&r).is_batch(),
            Err(crate::db::DbError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if !any_batch {
        return Ok(None);
    }
    Ok(Some(load_cost_data_for(db, Some(&ids)).await?))
}

/// Finished runs (measured or imported) with summaries and quality, and every price sheet.
#[cfg(feature = "ssr")]
pub async fn load_cost_data(db: &crate::db::Db) -> Result<CostTables, crate::db::DbError> {
    load_cost_data_for(db, None).await
}

/// [`load_cost_data`] over the runs `only` names (all when `None`).
#[cfg(feature = "ssr")]
pub async fn load_cost_data_for(db: &crate::db::Db, only: Option<&[i64]>) -> Result<CostTables, crate::db::DbError> {
    use crate::domain::status::RunStatus;
    let mut runs = Vec::new();
    let mut accesses = crate::db::endpoints::run_accesses(db).await?;
    for r in crate::db::runs::list(db).await? {
        if !matches!(r.status, RunStatus::Completed | RunStatus::Imported) || only.is_some_and(|ids| !ids.contains(&r.id)) {
            continue;
        }
        let Some(summary) = r.summary.clone() else { continue };
        let quality = crate::api::quality::run_quality(db, r.id).await?;
        runs.push(CostRun {
            id: r.id,
            name: r.name.clone(),
            model: r.model.clone(),
            origin: r.origin_label().to_string(),
            dataset_id: r
                .spec
                .as_ref()
                .map(|s| s.dataset_id)
                .or(if r.dataset_name.is_empty() { None } else { Some(-1) }),
            summary,
            quality,
            access: accesses.remove(&r.id),
            load: crate::domain::report::load::RunLoad::of_view(&r),
            kind: crate::domain::modes::kind_of(&r),
            dataset: r.dataset_name.clone(),
        });
    }
    runs.reverse();
    Ok(CostTables {
        runs,
        sheets: crate::db::prices::list(db).await?,
    })
}

/// What the hybrid view needs from two runs over the same dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HybridItems {
    /// The items both runs answered, grouped by the screen's score (a handful of groups, whatever
    /// the runs' size).
    pub groups: Vec<crate::domain::hybrid::ScoreGroup>,
    /// Which items are the positives: filled only by [`load_hybrid_items`] (the server's own
    /// checks and tests), never sent.
    #[serde(skip)]
    pub positive_ids: std::collections::HashSet<String>,
    pub positives_are: String,
    pub common_items: usize,
}

#[server]
pub async fn hybrid_data(screen_id: i64, judge_id: i64) -> Result<HybridItems, AppError> {
    use super::guard::{authorize, state, Permission};
    // Per-item answers of a chosen run (its extracted recommendations): not for blind reviewers.
    authorize(Permission::ReadAnswers).await?;
    load_hybrid_data(&state()?.db, screen_id, judge_id).await
}

/// Score each item by the screener's recommendation (Strong Yes = 4 ... Strong No = 0; no usable
/// answer = unscored) and take the judge's Strong Yes items as the positives. Counted in SQL by
/// recommendation pair (two runs of 100,000 answers read in one pass of key lookups, nothing per
/// item sent out of SQLite); only the items a reviewer graded are read one by one.
#[cfg(feature = "ssr")]
pub async fn load_hybrid_data(db: &crate::db::Db, screen_id: i64, judge_id: i64) -> Result<HybridItems, AppError> {
    let overrides = hybrid_start(db, screen_id, judge_id).await?;
    // (screen's recommendation, judge's) -> items.
    let mut cells: std::collections::HashMap<(Option<usize>, Option<usize>), usize> = std::collections::HashMap::new();
    for (s, j, n) in crate::db::checks::hybrid_counts_stored(db, screen_id, judge_id).await? {
        *cells.entry((rec_index(s.as_deref()), rec_index(j.as_deref()))).or_default() += n as usize;
    }
    let mut humans = 0usize;
    if !overrides.is_empty() {
        let ids: Vec<String> = overrides.keys().cloned().collect();
        // Reviewers' labels of the judge's answers, counted over all it measured; applied to the
        // items both runs measured.
        humans = crate::db::records::measured_among(db, judge_id, &ids).await?;
        for (custom_id, s, j) in crate::db::checks::hybrid_items(db, screen_id, judge_id, Some(&ids)).await? {
            let (s, j) = (rec_index(s.as_deref()), rec_index(j.as_deref()));
            let Some(human) = overrides.get(&custom_id) else { continue };
            if let Some(n) = cells.get_mut(&(s, j)) {
                *n -= 1;
            }
            *cells.entry((s, human.apply(j))).or_default() += 1;
        }
    }
    let cells: Vec<(Option<f64>, bool, usize)> = cells.into_iter().map(|((s, j), n)| (score_of(s), j == Some(0), n)).collect();
    hybrid_finish(crate::domain::hybrid::group_counts(cells), HashSet::new(), humans)
}

/// The same, item by item, with the positives' ids (the server's own checks and tests: it must
/// agree with [`load_hybrid_data`]).
#[cfg(feature = "ssr")]
pub async fn load_hybrid_items(db: &crate::db::Db, screen_id: i64, judge_id: i64) -> Result<HybridItems, AppError> {
    let overrides = hybrid_start(db, screen_id, judge_id).await?;
    let mut screened = Vec::new();
    let mut positives = HashSet::new();
    let ids: Vec<String> = overrides.keys().cloned().collect();
    let humans = crate::db::records::measured_among(db, judge_id, &ids).await?;
    for (custom_id, s, j) in crate::db::checks::hybrid_items(db, screen_id, judge_id, None).await? {
        let mut j = rec_index(j.as_deref());
        if let Some(human) = overrides.get(&custom_id) {
            j = human.apply(j);
        }
        if j == Some(0) {
            positives.insert(custom_id.clone());
        }
        screened.push(Screened {
            custom_id,
            score: score_of(rec_index(s.as_deref())),
        });
    }
    let groups = crate::domain::hybrid::group(&screened, &positives);
    hybrid_finish(groups, positives, humans)
}

/// A recommendation's place in the scale (Strong Yes = 0).
#[cfg(feature = "ssr")]
fn rec_index(r: Option<&str>) -> Option<usize> {
    use crate::domain::candidates::RECOMMENDATIONS;
    r.and_then(|r| RECOMMENDATIONS.iter().position(|x| x.eq_ignore_ascii_case(r)))
}

/// The screen's score of a recommendation: Strong Yes = 4 ... Strong No = 0.
#[cfg(feature = "ssr")]
fn score_of(i: Option<usize>) -> Option<f64> {
    i.map(|i| (4 - i) as f64)
}

/// What a reviewer said about one of the judge's answers.
#[cfg(feature = "ssr")]
enum Human {
    /// "correct": the judge's recommendation stands.
    Keeps,
    /// "incorrect": the judge's recommendation is dropped.
    Drops,
    /// A recommendation given instead.
    Gives(Option<usize>),
}

#[cfg(feature = "ssr")]
impl Human {
    fn apply(&self, judge: Option<usize>) -> Option<usize> {
        match self {
            Human::Keeps => judge,
            Human::Drops => None,
            Human::Gives(r) => *r,
        }
    }
}

/// Check the pair, make sure both runs' answers are checked, and read the reviewers' verdicts on
/// the judge's answers (a reviewer's recommendation wins: "correct" keeps the judge's,
/// "incorrect" drops it, a value replaces it).
#[cfg(feature = "ssr")]
async fn hybrid_start(db: &crate::db::Db, screen_id: i64, judge_id: i64) -> Result<std::collections::HashMap<String, Human>, AppError> {
    if screen_id == judge_id {
        return Err(AppError::validation(
            "judge",
            "pick two different runs: one screens, the other judges",
        ));
    }
    for id in [screen_id, judge_id] {
        // A run in the trash is not found; one closed before its answers were checked is
        // checked now, once.
        crate::db::runs::get(db, id).await?;
        super::quality::run_quality(db, id).await?;
    }
    let mut overrides = std::collections::HashMap::new();
    for (custom, run, _, g) in crate::db::queues::all_grades(db).await? {
        if run != judge_id {
            continue;
        }
        let verdict = match g.fields.get("recommendation").map(String::as_str) {
            Some("correct") => Human::Keeps,
            Some("incorrect") => Human::Drops,
            Some(v) if !v.is_empty() => Human::Gives(rec_index(Some(v))),
            _ => continue,
        };
        overrides.insert(custom, verdict);
    }
    Ok(overrides)
}

#[cfg(feature = "ssr")]
fn hybrid_finish(
    groups: Vec<crate::domain::hybrid::ScoreGroup>,
    positive_ids: HashSet<String>,
    humans: usize,
) -> Result<HybridItems, AppError> {
    let common_items: usize = groups.iter().map(|g| g.items).sum();
    if common_items == 0 {
        return Err(AppError::validation(
            "judge",
            "the two runs share no items (custom_id): run both on the same dataset",
        ));
    }
    let positives_are = if humans > 0 {
        format!("rated Strong Yes (by a reviewer for {humans} graded item(s), by the judge for the rest)")
    } else {
        "the judge rated Strong Yes".into()
    };
    Ok(HybridItems {
        common_items,
        groups,
        positive_ids,
        positives_are,
    })
}

/// A price row as typed in the form (every figure a string, so mistakes are named).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PriceForm {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub sheet_id: String,
    #[serde(default)]
    pub model_key: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub input_per_m: String,
    #[serde(default)]
    pub output_per_m: String,
    #[serde(default)]
    pub usd_per_hour: String,
    #[serde(default)]
    pub hardware_usd: String,
    #[serde(default)]
    pub years: String,
    #[serde(default)]
    pub watts: String,
    #[serde(default)]
    pub usd_per_kwh: String,
    #[serde(default)]
    pub hours_per_day: String,
    #[serde(default)]
    pub note: String,
}

impl PriceForm {
    /// Validate into a row; every problem is named at its field, with the range allowed
    /// (`domain::cost::limits`: beyond it a figure is a typing mistake, not a price).
    pub fn parse(&self) -> Result<(i64, crate::domain::cost::PriceRow), crate::domain::errors::FieldErrors> {
        use crate::domain::cost::limits::{self, Range};
        use crate::domain::cost::{PriceKind, PriceRow, SelfHosted};
        let mut errs = crate::domain::errors::FieldErrors::default();
        let mut num = |field: &str, raw: &str, required: bool, range: Range| -> Option<f64> {
            let raw = raw.trim();
            if raw.is_empty() {
                if required {
                    errs.push(field, format!("required: {}", range.describe()));
                }
                return None;
            }
            let checked = match raw.trim_start_matches('$').trim().parse::<f64>() {
                Ok(v) => range.check(v, raw),
                Err(_) => Err(format!("must be a number {}, got '{}'", range.describe(), limits::shortened(raw))),
            };
            checked.map_err(|m| errs.push(field, m)).ok()
        };
        let kind = match self.kind.as_str() {
            "serverless" => Some(PriceKind::Serverless),
            "batch" => Some(PriceKind::Batch),
            "dedicated" => Some(PriceKind::Dedicated),
            "self_hosted" => Some(PriceKind::SelfHosted),
            _ => None,
        };
        let per_token = kind.is_some_and(PriceKind::per_token);
        let input = num("input_per_m", &self.input_per_m, per_token, limits::PER_M_TOKENS);
        let output = num("output_per_m", &self.output_per_m, per_token, limits::PER_M_TOKENS);
        let hourly = num(
            "usd_per_hour",
            &self.usd_per_hour,
            kind == Some(PriceKind::Dedicated),
            limits::PER_HOUR,
        );
        let sh = kind == Some(PriceKind::SelfHosted);
        let hw = num("hardware_usd", &self.hardware_usd, sh, limits::HARDWARE_USD);
        let years = num("years", &self.years, sh, limits::YEARS);
        let watts = num("watts", &self.watts, sh, limits::WATTS);
        let kwh = num("usd_per_kwh", &self.usd_per_kwh, sh, limits::USD_PER_KWH);
        let hours = num("hours_per_day", &self.hours_per_day, sh, limits::HOURS_PER_DAY);
        if kind.is_none() {
            errs.push("kind", "choose serverless, batch, dedicated or self_hosted");
        }
        if self.model_key.trim().is_empty() {
            errs.push("model_key", "name the model (or tier) this price is for; * for any model");
        }
        let sheet_id = self.sheet_id.trim().parse::<i64>().unwrap_or(0);
        errs.clone().into_result(())?;
        let Some(kind) = kind else { return Err(errs) };
        Ok((
            sheet_id,
            PriceRow {
                id: self.id.trim().parse().unwrap_or(0),
                model_key: self.model_key.trim().to_string(),
                kind,
                input_per_m: input,
                output_per_m: output,
                usd_per_hour: hourly,
                self_hosted: match (hw, years, watts, kwh, hours) {
                    (Some(hardware_usd), Some(years), Some(watts), Some(usd_per_kwh), Some(hours_per_day)) if sh => Some(SelfHosted {
                        hardware_usd,
                        years,
                        watts,
                        usd_per_kwh,
                        hours_per_day,
                    }),
                    _ => None,
                },
                note: self.note.trim().to_string(),
            },
        ))
    }
}

/// Add a price row (no id) or change one (with its id).
#[server]
pub async fn save_price(form: PriceForm) -> Result<i64, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Run).await?;
    let (sheet_id, row) = form.parse().map_err(AppError::Validation)?;
    let db = &state()?.db;
    let (id, what) = if row.id > 0 {
        crate::db::prices::update_row(db, &row).await?;
        (row.id, "changed")
    } else {
        if sheet_id <= 0 {
            return Err(AppError::validation("sheet_id", "choose the sheet to add the price to"));
        }
        (crate::db::prices::add_row(db, sheet_id, &row).await?, "added")
    };
    let detail = format!("{what} the {} price of {}", form.kind.trim(), form.model_key.trim());
    super::guard::audit(&me, "price.save", &format!("price {id} (sheet {})", form.sheet_id.trim()), &detail).await;
    Ok(id)
}

#[server]
pub async fn delete_price(id: i64) -> Result<(), AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Run).await?;
    crate::db::prices::delete_row(&state()?.db, id).await?;
    super::guard::audit(&me, "price.delete", &format!("price {id}"), "price row deleted").await;
    Ok(())
}

/// A new, empty sheet (its rows are added one by one).
#[server]
pub async fn add_sheet(name: String, provider: String, source: String, dated: String) -> Result<i64, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Run).await?;
    let mut errs = crate::domain::errors::FieldErrors::default();
    for (field, v, max) in [
        ("name", &name, 200),
        ("provider", &provider, 200),
        ("source", &source, 2000),
        ("dated", &dated, 200),
    ] {
        match super::runs::one_line(v, max) {
            Ok(_) => {}
            Err(m) if m == "required" => errs.push(field, "required: every price sheet says who, where from and when"),
            Err(m) => errs.push(field, m),
        }
    }
    if !dated.trim().is_empty() {
        if let Err(m) = crate::domain::cost::limits::check_dated(&dated) {
            errs.push("dated", m);
        }
    }
    errs.into_result(()).map_err(AppError::Validation)?;
    let sheet = PriceSheet {
        id: 0,
        name: name.trim().into(),
        provider: provider.trim().into(),
        source: source.trim().into(),
        dated: dated.trim().into(),
        default_model_key: None,
        rows: vec![],
    };
    let id = crate::db::prices::insert(&state()?.db, &sheet, false).await?;
    let detail = format!(
        "'{}' by {}, dated {}, from {}",
        sheet.name, sheet.provider, sheet.dated, sheet.source
    );
    super::guard::audit(&me, "price.sheet_add", &format!("price sheet {id}"), &detail).await;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::endpoints::access::RunAccess;
    use crate::domain::cost::{PriceKind, PriceRow};

    fn sheet(id: i64, name: &str, input: f64, output: f64) -> PriceSheet {
        PriceSheet {
            id,
            name: name.into(),
            provider: "p".into(),
            source: "s".into(),
            dated: "d".into(),
            default_model_key: Some("*".into()),
            rows: vec![PriceRow {
                id,
                model_key: "*".into(),
                kind: PriceKind::Serverless,
                input_per_m: Some(input),
                output_per_m: Some(output),
                usd_per_hour: None,
                self_hosted: None,
                note: String::new(),
            }],
        }
    }

    fn run(own: Option<i64>) -> CostRun {
        CostRun {
            id: 1,
            name: "r".into(),
            model: "m".into(),
            origin: String::new(),
            dataset_id: None,
            summary: RunSummary {
                requests: 10,
                prompt_tokens: 1_000,
                completion_tokens: 500,
                mean_prompt_tokens: Some(100.0),
                mean_completion_tokens: Some(50.0),
                ..Default::default()
            },
            quality: None,
            access: own.map(|id| RunAccess {
                hosted: true,
                price_sheet_id: Some(id),
                ..Default::default()
            }),
            load: Default::default(),
            kind: Default::default(),
            dataset: String::new(),
        }
    }

    fn gpt_oss(id: i64, kind: crate::domain::spec::RunKind) -> CostRun {
        CostRun {
            id,
            model: "openai/gpt-oss-20b".into(),
            dataset_id: Some(1),
            dataset: "candidates".into(),
            kind,
            ..run(None)
        }
    }

    #[test]
    fn a_provider_batch_costs_half_the_same_tokens_as_a_server_run_and_says_so() {
        use crate::domain::spec::RunKind;
        let sheets = crate::domain::prices::starting_sheets();
        let later = &sheets[1];
        let (_, server) = gpt_oss(1, RunKind::Server).priced(later, &sheets, 1e6).expect("priced");
        let (described, batch) = gpt_oss(2, RunKind::ProviderBatch).priced(later, &sheets, 1e6).expect("priced");
        assert!(
            (batch.per_100k.0 * 2.0 - server.per_100k.0).abs() < 1e-12,
            "{batch:?} vs {server:?}"
        );
        assert!(described.contains("batch per token"), "{described}");
        // An offline batch on the GPU is no provider job: the usual row.
        let (_, offline) = gpt_oss(3, RunKind::Offline).priced(later, &sheets, 1e6).expect("priced");
        assert_eq!(offline.per_100k, server.per_100k);
        // The seed sheet has no batch rows: the serverless price, said so.
        let (described, seed) = gpt_oss(2, RunKind::ProviderBatch).priced(&sheets[0], &sheets, 1e6).expect("priced");
        assert!(described.contains("has no batch price for openai/gpt-oss-20b"), "{described}");
        let (_, seed_server) = gpt_oss(1, RunKind::Server).priced(&sheets[0], &sheets, 1e6).expect("priced");
        assert_eq!(seed.per_100k, seed_server.per_100k);
    }

    #[test]
    fn the_kinds_over_one_dataset_are_one_table_priced_at_the_chosen_sheet() {
        use crate::domain::spec::RunKind;
        let sheets = crate::domain::prices::starting_sheets();
        let runs = [
            gpt_oss(3, RunKind::ProviderBatch),
            gpt_oss(1, RunKind::Server),
            gpt_oss(2, RunKind::Offline),
            CostRun {
                dataset_id: Some(9),
                ..gpt_oss(4, RunKind::Server)
            },
        ];
        let t = mode_tables(&runs, &sheets[1], &sheets);
        assert_eq!(t.len(), 1);
        let ids: Vec<i64> = t[0].rows.iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        // 100 prompt x $0.03 + 50 completion x $0.15 per 1M = $1.05 per 100K; batch half.
        assert_eq!(t[0].rows[0].cost_per_100k, "$1.05");
        assert_eq!(t[0].rows[2].cost_per_100k, "$0.53");
        assert!(mode_tables(&runs[1..2], &sheets[1], &sheets).is_empty(), "no batch run, no table");
    }

    /// A run with answers over a dataset (an id above 0; an import: its name), at a cost per
    /// request, with a mean grade.
    fn answered(id: i64, model: &str, dataset: (Option<i64>, &str), cost: f64, grade: f64) -> (CostRun, f64) {
        let run = CostRun {
            id,
            model: model.into(),
            dataset_id: dataset.0,
            dataset: dataset.1.into(),
            quality: Some(RunQuality {
                answered: 100,
                mean_grade: Some(grade),
                grades: 10,
                ..Default::default()
            }),
            ..run(None)
        };
        (run, cost)
    }

    #[test]
    fn the_hybrid_starts_from_two_runs_over_one_dataset_or_none() {
        // QA's pair: the cheapest run (#27, synthetic) and the best (#1, demo) share no item.
        let runs = [
            answered(27, "llama-1b", (Some(2), "synthetic_100.jsonl"), 1e-6, 2.0),
            answered(1, "gemma", (Some(1), "demo"), 5e-6, 4.5),
            answered(5, "llama-1b", (Some(1), "demo"), 2e-6, 2.5),
            answered(9, "qwen", (Some(2), "synthetic_100.jsonl"), 3e-6, 3.0),
        ];
        let (list, costs): (Vec<CostRun>, Vec<f64>) = runs.into_iter().unzip();
        let cost = |r: &CostRun| list.iter().position(|x| x.id == r.id).map(|i| costs[i]).unwrap_or(f64::INFINITY);
        // Per dataset: synthetic (#27 screens at $1e-6, #9 judges) beats demo (#5 at $2e-6).
        assert_eq!(hybrid_default(&list, cost, None), Some((27, 9)));
        // Without #9, synthetic has no pair: demo's #5 screens, #1 judges.
        let no_nine: Vec<CostRun> = list.iter().filter(|r| r.id != 9).cloned().collect();
        assert_eq!(hybrid_default(&no_nine, cost, None), Some((5, 1)));
        // A screen chosen by hand: the judge comes from its dataset.
        assert_eq!(hybrid_default(&list, cost, Some(5)), Some((5, 1)));
        assert_eq!(hybrid_default(&list, cost, Some(27)), Some((27, 9)));
        // No two runs share a dataset: no pair at all (the page says to pick two).
        let apart = [list[0].clone(), list[1].clone()];
        assert_eq!(hybrid_default(&apart, cost, None), None);
        assert_eq!(hybrid_default(&apart, cost, Some(27)), None);
        // Imports meet by their dataset's name.
        let imports = [
            answered(40, "a", (Some(-1), "batch_5k.jsonl"), 1e-6, 2.0).0,
            answered(41, "b", (Some(-1), "batch_5k.jsonl"), 4e-6, 4.0).0,
        ];
        assert_eq!(hybrid_default(&imports, |_| f64::INFINITY, None), Some((40, 41)));
        // A run that cut most answers off at max tokens (QA: a sweep step at 64 tokens, the
        // cheapest of all) is not chosen to screen while a pair of runs that wrote theirs exists;
        // chosen by hand it still is, and so it is when every pair has such a run.
        let mut cut = list.clone();
        if let Some(q) = cut.iter_mut().find(|r| r.id == 27).and_then(|r| r.quality.as_mut()) {
            q.truncated = 100;
        }
        assert_eq!(hybrid_default(&cut, cost, None), Some((5, 1)));
        assert_eq!(hybrid_default(&cut, cost, Some(27)), Some((27, 9)));
        let only_cut: Vec<CostRun> = cut.iter().filter(|r| r.id == 27 || r.id == 9).cloned().collect();
        assert_eq!(hybrid_default(&only_cut, cost, None), Some((27, 9)));
    }

    fn form(kind: &str) -> PriceForm {
        PriceForm {
            sheet_id: "1".into(),
            model_key: "m".into(),
            kind: kind.into(),
            ..Default::default()
        }
    }

    fn message(e: &crate::domain::errors::FieldErrors, field: &str) -> String {
        e.for_field(field)
            .unwrap_or_else(|| panic!("no message for {field}: {e}"))
            .to_string()
    }

    #[test]
    fn nonsense_per_token_prices_are_refused_with_the_range_allowed() {
        let e = PriceForm {
            input_per_m: "5000000".into(),
            output_per_m: "1e300".into(),
            ..form("serverless")
        }
        .parse()
        .expect_err("refused");
        assert_eq!(
            message(&e, "input_per_m"),
            "must be from 0 to 10,000 ($ per 1M tokens), got '5000000'"
        );
        assert_eq!(
            message(&e, "output_per_m"),
            "must be from 0 to 10,000 ($ per 1M tokens), got '1e300'"
        );
        let e = PriceForm {
            input_per_m: "-1".into(),
            output_per_m: "abc".into(),
            ..form("serverless")
        }
        .parse()
        .expect_err("refused");
        assert_eq!(message(&e, "input_per_m"), "must be from 0 to 10,000 ($ per 1M tokens), got '-1'");
        assert_eq!(
            message(&e, "output_per_m"),
            "must be a number from 0 to 10,000 ($ per 1M tokens), got 'abc'"
        );
        let (_, row) = PriceForm {
            input_per_m: "$0".into(),
            output_per_m: "10000".into(),
            ..form("serverless")
        }
        .parse()
        .expect("the bounds themselves are prices");
        assert_eq!((row.input_per_m, row.output_per_m), (Some(0.0), Some(10_000.0)));
    }

    #[test]
    fn a_dedicated_gpu_at_0_an_hour_or_over_1_000_is_refused() {
        for typed in ["0", "1000.5"] {
            let e = PriceForm {
                usd_per_hour: typed.into(),
                ..form("dedicated")
            }
            .parse()
            .expect_err(typed);
            assert!(
                message(&e, "usd_per_hour").starts_with("must be more than 0 and at most 1,000 ($ per GPU-hour)"),
                "{e}"
            );
        }
        let e = form("dedicated").parse().expect_err("no price");
        assert!(message(&e, "usd_per_hour").starts_with("required: more than 0"), "{e}");
        let (_, row) = PriceForm {
            usd_per_hour: "2.5".into(),
            ..form("dedicated")
        }
        .parse()
        .expect("priced");
        assert_eq!(row.hourly(), Some(2.5));
    }

    #[test]
    fn a_self_hosted_gpu_used_0_hours_a_day_is_refused_not_priced_at_hardware_0() {
        let owned = |hours: &str| PriceForm {
            hardware_usd: "30000".into(),
            years: "3".into(),
            watts: "700".into(),
            usd_per_kwh: "0.12".into(),
            hours_per_day: hours.into(),
            ..form("self_hosted")
        };
        for typed in ["0", "0.5", "25"] {
            let e = owned(typed).parse().expect_err(typed);
            assert!(
                message(&e, "hours_per_day").starts_with("must be from 1 to 24 (hours a day)"),
                "{e}"
            );
        }
        let (_, row) = owned("8").parse().expect("priced");
        // 30000 / (3 x 365 x 8 h) + 0.7 kW x $0.12
        let hourly = row.hourly().expect("hourly");
        assert!((hourly - (30_000.0 / 8_760.0 + 0.084)).abs() < 1e-9, "{hourly}");
        let e = PriceForm {
            years: "0".into(),
            watts: "1e9".into(),
            ..owned("8")
        }
        .parse()
        .expect_err("no life");
        assert!(
            message(&e, "years").starts_with("must be more than 0 and at most 30 (years)"),
            "{e}"
        );
        assert!(message(&e, "watts").starts_with("must be from 0 to 100,000 (W)"), "{e}");
    }

    #[test]
    fn a_hosted_run_is_priced_by_its_own_sheet_whatever_sheet_is_chosen() {
        let sheets = [sheet(1, "chosen", 1.0, 1.0), sheet(2, "provider", 0.1, 0.2)];
        let (described, c) = run(Some(2)).priced(&sheets[0], &sheets, 1e6).expect("priced");
        // 100 prompt x $0.1/1M + 50 completion x $0.2/1M
        assert!((c.per_request.0 - 2e-5).abs() < 1e-15, "{}", c.per_request.0);
        assert!(described.contains("from its own sheet, provider"), "{described}");
        let (described, c) = run(None).priced(&sheets[0], &sheets, 1e6).expect("priced");
        assert!((c.per_request.0 - 1.5e-4).abs() < 1e-15);
        assert!(!described.contains("own sheet"));
        // A sheet since deleted: the chosen one applies.
        assert_eq!(run(Some(9)).pricing_sheet(&sheets[0], &sheets).name, "chosen");
    }
}
