//! The report: assembled from stored runs, prices and grades, rendered as Markdown or HTML.

use super::error::AppError;
pub use crate::domain::report::load::SpeedBasis;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Which report: the sheet applied, the monthly volume, and optionally the hybrid pair.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportOptions {
    pub sheet: Option<String>,
    pub volume: Option<f64>,
    pub screen: Option<i64>,
    pub judge: Option<i64>,
    /// Share judged, 0..=1.
    pub judge_share: Option<f64>,
}

pub const DEFAULT_VOLUME: f64 = 1_000_000.0;
pub const DEFAULT_JUDGE_SHARE: f64 = 0.2;

/// The report as an HTML fragment (for the page) or a whole document (`html`) or Markdown (`md`).
/// `speed`: how "faster" claims pick runs (by default only runs at the same load).
#[server]
pub async fn report_text(#[server(default)] options: ReportOptions, format: String, speed: Option<SpeedBasis>) -> Result<String, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::View).await?;
    // Reviewers grade blind: their report has no sample answers (which are named by model).
    let samples = me.require(Permission::ReadAnswers).is_ok();
    let doc = build_report_with(&state()?.db, &options, &chrono_now(), samples, speed.unwrap_or_default()).await?;
    Ok(match format.as_str() {
        "md" => doc.to_markdown(),
        "html" => doc.to_html("Bakeoff benchmark report"),
        _ => doc.to_html_fragment(),
    })
}

#[cfg(feature = "ssr")]
pub fn chrono_now() -> String {
    // SystemTime -> UTC "YYYY-MM-DD HH:MM" without a date crate (days-from-civil, Hinnant).
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

/// Assemble and build the report document, with a sample answer per run.
#[cfg(feature = "ssr")]
pub async fn build_report(db: &crate::db::Db, options: &ReportOptions, now: &str) -> Result<crate::domain::doc::Doc, AppError> {
    build_report_for(db, options, now, true).await
}

/// The report, with or without the sample answers (left out for readers who grade blind).
/// "Faster" claims compare runs at the same load only.
#[cfg(feature = "ssr")]
pub async fn build_report_for(
    db: &crate::db::Db,
    options: &ReportOptions,
    now: &str,
    samples: bool,
) -> Result<crate::domain::doc::Doc, AppError> {
    build_report_with(db, options, now, samples, SpeedBasis::SameLoad).await
}

/// The report with the basis of its "faster" claims chosen.
#[cfg(feature = "ssr")]
pub async fn build_report_with(
    db: &crate::db::Db,
    options: &ReportOptions,
    now: &str,
    samples: bool,
    speed_basis: SpeedBasis,
) -> Result<crate::domain::doc::Doc, AppError> {
    use super::cost::{hybrid_default, CostRun};
    use crate::charts::{cost_bars, monthly_lines, throughput_bars, ThroughputBar};
    use crate::domain::claims::{check, Subject, SEED_REPORT};
    use crate::domain::hybrid::{default_pair, hybrid_at, HybridInput};
    use crate::domain::report::{build, HybridSection, ReportInput, ReportRun};
    if let SpeedBasis::EachAtBest { p90_target_ms } = speed_basis {
        if !(p90_target_ms.is_finite() && p90_target_ms > 0.0) {
            return Err(AppError::validation(
                "p90_ms",
                "the latency target must be a positive number of milliseconds",
            ));
        }
    }

    let data = super::cost::load_cost_data(db).await?;
    let sheet = match &options.sheet {
        Some(name) => data.sheets.iter().find(|s| &s.name == name).cloned().ok_or_else(|| {
            AppError::validation(
                "sheet",
                format!(
                    "no price sheet '{name}'; there are: {}",
                    data.sheets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )
        })?,
        None => data
            .sheets
            .first()
            .cloned()
            .ok_or_else(|| AppError::validation("sheet", "no price sheets"))?,
    };
    let volume = options.volume.unwrap_or(DEFAULT_VOLUME);
    if !(volume.is_finite() && volume > 0.0) {
        return Err(AppError::validation(
            "volume",
            "the monthly volume must be a positive number of requests",
        ));
    }
    let mut runs = Vec::new();
    for r in &data.runs {
        // A hosted run is priced by its own sheet (its provider's), the others by the one applied;
        // a provider batch at the sheet's batch price.
        let own = r.own_sheet(&data.sheets);
        let priced = r.priced(&sheet, &data.sheets, volume);
        let sample = if samples {
            crate::db::records::first_answer(db, r.id).await?
        } else {
            None
        };
        let mut notes = crate::db::runs::provenance(db, r.id)
            .await?
            .map(|p| {
                let mut n = vec![format!("Imported from {} ({}).", p.file, p.format)];
                n.extend(p.notes);
                n
            })
            .unwrap_or_default();
        if r.origin == "simulated" {
            notes.push("Simulated: measured against Bakeoff's built-in vLLM simulator.".into());
        }
        if let Some(a) = &r.access {
            notes.extend(hosted_notes(a, own.map(|s| s.name.as_str())));
        }
        if let Some(i) = r.summary.integrity.as_ref().filter(|i| !i.client_bottleneck.is_empty()) {
            notes.push(format!(
                "The client may have been the bottleneck: {}.",
                i.client_bottleneck.join("; ")
            ));
        }
        let dataset = crate::db::runs::get(db, r.id).await?.dataset_name;
        runs.push(ReportRun {
            id: r.id,
            name: r.name.clone(),
            model: r.model.clone(),
            origin: r.origin.clone(),
            dataset,
            summary: r.summary.clone(),
            quality: r.quality.clone(),
            sample,
            notes,
            price_row: priced.as_ref().map(|(described, _)| described.clone()).or_else(|| {
                // No cost (the token split is unknown): still say which row would apply.
                let run_sheet = r.pricing_sheet(&sheet, &data.sheets);
                let m = run_sheet.match_charged(&r.model, crate::domain::modes::price_kind(r.kind))?;
                Some(match own {
                    Some(s) if s.id != sheet.id => format!("{} — from its own sheet, {}", m.describe(), s.name),
                    _ => m.describe(),
                })
            }),
            cost_per_request: priced.as_ref().map(|(_, c)| c.per_request),
            gpu_month: priced.and_then(|(_, c)| c.gpu_month),
            load: r.load.clone(),
            kind: r.kind,
            dataset_id: r.dataset_id,
        });
    }

    let full: Vec<&ReportRun> = runs.iter().filter(|r| r.summary.requests >= 100).collect();
    // The hybrid pair: given, or over one dataset (the split reads the items both runs answered)
    // the cheapest screens and the best run of another model judges (never one model screening
    // and judging itself). Where no two priced runs share a dataset, the pair of the whole list
    // (the section then says what the screen loses is unknown).
    let priced_full: Vec<CostRun> = data
        .runs
        .iter()
        .filter(|c| full.iter().any(|r| r.id == c.id && r.cost_per_request.is_some()))
        .cloned()
        .collect();
    let cost_of = |c: &CostRun| {
        runs.iter()
            .find(|r| r.id == c.id)
            .and_then(|r| r.cost_per_request)
            .map(|u| u.0)
            .unwrap_or(f64::INFINITY)
    };
    let candidates: Vec<(i64, String, f64, Option<f64>)> = full
        .iter()
        .filter_map(|r| {
            Some((
                r.id,
                r.model.clone(),
                r.cost_per_request?.0,
                r.quality.as_ref().and_then(|q| q.score()),
            ))
        })
        .collect();
    let pair =
        hybrid_default(&priced_full, cost_of, options.screen.filter(|_| options.judge.is_none())).or_else(|| default_pair(&candidates));
    let find = |id: i64| runs.iter().find(|r| r.id == id);
    let screen = options.screen.and_then(find).or_else(|| pair.and_then(|p| find(p.0)));
    let judge = options.judge.and_then(find).or_else(|| {
        let s = screen?;
        if options.screen.is_none() || pair.is_some_and(|p| p.0 == s.id) {
            return pair.and_then(|p| find(p.1));
        }
        // A screen chosen by hand over no dataset another run shares: the best-quality run of
        // another model judges it.
        candidates
            .iter()
            .filter(|c| !c.1.eq_ignore_ascii_case(&s.model))
            .max_by(|a, b| a.3.unwrap_or(-1.0).total_cmp(&b.3.unwrap_or(-1.0)).then(a.2.total_cmp(&b.2)))
            .and_then(|c| find(c.0))
    });
    let hybrid = match (screen, judge) {
        (Some(s), Some(j)) if s.id != j.id => {
            let items = super::cost::load_hybrid_data(db, s.id, j.id).await.ok();
            let input = HybridInput {
                volume,
                screen_cost_per_request: s.cost_per_request.map(|c| c.0).unwrap_or(0.0),
                judge_cost_per_request: j.cost_per_request.map(|c| c.0).unwrap_or(0.0),
                groups: items.as_ref().map(|h| h.groups.clone()).unwrap_or_default(),
            };
            Some(HybridSection {
                screen: format!("{} (run #{})", s.model, s.id),
                judge: format!("{} (run #{})", j.model, j.id),
                point: hybrid_at(&input, options.judge_share.unwrap_or(DEFAULT_JUDGE_SHARE)),
                positives_are: items.map(|h| h.positives_are).unwrap_or_default(),
                same_model: s.model.eq_ignore_ascii_case(&j.model),
                unlike: !matches!((&s.load.dataset, &j.load.dataset), (Some(a), Some(b)) if a.same(b)),
                judge_unrated: options.judge.is_none() && j.quality.as_ref().and_then(|q| q.score()).is_none(),
            })
        }
        _ => None,
    };

    let imported: Vec<&ReportRun> = runs.iter().filter(|r| r.origin == "imported").collect();
    let price_pair = |m: &str| sheet.row_for(m).and_then(|r| Some((r.input_per_m?, r.output_per_m?)));
    let subjects: Vec<Subject> = imported
        .iter()
        .map(|r| Subject {
            model: &r.model,
            summary: &r.summary,
            cost_per_100k: r.cost_per_request.map(|c| c.0 * 1e5),
            prices: price_pair(&r.model),
        })
        .collect();
    let claims = check(SEED_REPORT, &subjects);

    // Charts.
    let mut charts = Vec::new();
    let bars: Vec<ThroughputBar> = full
        .iter()
        .filter(|r| r.summary.timing_known)
        .map(|r| ThroughputBar {
            label: format!("#{} {}", r.id, r.model),
            output_tps: r.summary.output_tokens_per_s,
            total_tps: r.summary.total_tokens_per_s,
        })
        .collect();
    charts.push((
        "Throughput: output and total tokens per second".to_string(),
        throughput_bars(&bars, 1200, 440),
    ));
    let models: Vec<String> = full.iter().map(|r| format!("#{} {}", r.id, r.model)).collect();
    let sheet_names: Vec<String> = data.sheets.iter().map(|s| s.name.clone()).collect();
    let matrix: Vec<Vec<Option<f64>>> = full
        .iter()
        .map(|r| {
            let run = data.runs.iter().find(|c| c.id == r.id);
            data.sheets
                .iter()
                .map(|s| run.and_then(|c| c.priced_at(s, volume)).map(|(_, c)| c.per_100k.0))
                .collect()
        })
        .collect();
    charts.push((
        "Cost per 100K requests by model and price sheet".to_string(),
        cost_bars(&models, &sheet_names, &matrix, 1200, 440),
    ));
    let priced: Vec<&&ReportRun> = full.iter().filter(|r| r.cost_per_request.is_some()).collect();
    charts.push((
        format!("Monthly cost by volume ({})", sheet.name),
        monthly_lines(
            &priced.iter().map(|r| format!("#{} {}", r.id, r.model)).collect::<Vec<_>>(),
            &priced.iter().filter_map(|r| r.cost_per_request.map(|c| c.0)).collect::<Vec<_>>(),
            volume,
            1200,
            420,
        ),
    ));
    let scatter_in: Vec<crate::domain::pareto::ParetoRun> = full
        .iter()
        .filter(|r| r.summary.timing_known)
        .filter_map(|r| {
            Some(crate::domain::pareto::ParetoRun {
                label: format!("#{} {}", r.id, r.model),
                output_tps: r.summary.output_tokens_per_s,
                quality: r.quality.clone()?,
                cost_per_request: r.cost_per_request?.0,
                load: r.load.clone(),
            })
        })
        .collect();
    let pareto = crate::domain::pareto::pareto_view(&scatter_in);
    charts.push((
        format!("Speed x quality x cost, with the Pareto frontier. {}", pareto.caption()),
        crate::charts::speed_quality_cost(&pareto, 1200, 560),
    ));

    Ok(build(&ReportInput {
        generated_at: now.to_string(),
        runs,
        sheet,
        monthly_volume: volume,
        hybrid,
        claims,
        speed_basis,
        charts,
    }))
}

/// What a run's access adds to the report: a hosted run's own price sheet, and what its retry
/// policy did (rate-limited answers sent again are not among its records).
pub fn hosted_notes(a: &crate::api::endpoints::access::RunAccess, own_sheet: Option<&str>) -> Vec<String> {
    let mut notes = Vec::new();
    match (a.hosted, own_sheet) {
        (true, Some(s)) => notes.push(format!(
            "Hosted{}: its cost is its measured tokens at the prices of its own sheet, {s}, whatever sheet the report applies.",
            a.provider.as_deref().map(|p| format!(" ({p})")).unwrap_or_default()
        )),
        (true, None) => notes.push("Hosted: no price sheet is linked to its endpoint, so the report's sheet prices it.".into()),
        (false, Some(s)) => notes.push(format!("Priced by the sheet linked to its endpoint, {s}.")),
        (false, None) => {}
    }
    if !a.retry.is_off() {
        notes.push(format!(
            "Retry policy: {}; {} request(s) sent again, {} of them after a 429.",
            a.retry.describe(),
            a.retries_made,
            a.rate_limited
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::endpoints::access::{RetryPolicy, RunAccess};

    #[test]
    fn a_hosted_run_says_which_sheet_prices_it_and_what_its_retries_did() {
        let a = RunAccess {
            hosted: true,
            price_sheet_id: Some(2),
            price_sheet: Some("Parasail (later listing)".into()),
            provider: Some("Parasail".into()),
            retry: RetryPolicy::retries(3),
            retries_made: 5,
            rate_limited: 4,
        };
        let notes = hosted_notes(&a, Some("Parasail (later listing)"));
        assert!(notes[0].contains("Hosted (Parasail)") && notes[0].contains("own sheet, Parasail (later listing)"));
        assert!(notes[1].contains("5 request(s) sent again, 4 of them after a 429"), "{notes:?}");
        let plain = RunAccess::default();
        assert!(
            hosted_notes(&plain, None).is_empty(),
            "a self-hosted run without a sheet or retries adds nothing"
        );
    }
}
