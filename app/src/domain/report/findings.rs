//! The report's judgements, each only as strong as the data: "fastest" among runs at one load
//! (or each at its best, said so), "best quality" only when its interval clears the runner-up's,
//! and quality figures with their intervals and n.

use super::super::format;
use super::super::pareto::QualityMeasure;
use super::super::quality::RunQuality;
use super::super::stats::{clearly_best, describe_mean, describe_share, mean_interval_from, SMALL_SAMPLE};
use super::load::{comparable_sets, SpeedBasis, SpeedRun};
use super::ReportRun;

/// A run's quality in words, every figure from fewer than 30 samples with its interval and n:
/// "mean grade 3.40/5 (95% CI 2.61–4.19, n=5), 80% (8/10; 95% CI 49%–94%) schema-valid".
pub fn describe_quality(q: &RunQuality) -> String {
    if q.answered == 0 && q.mean_grade.is_none() {
        return "no answers to check".into();
    }
    let mut parts = Vec::new();
    if let Some(g) = q.mean_grade {
        let i = mean_interval_from(g, q.grade_ci, q.grades);
        parts.push(format!(
            "mean grade {}",
            describe_mean(g, i.as_ref(), q.grades).replacen(' ', "/5 ", 1)
        ));
    }
    if q.answered > 0 {
        match q.schema_valid {
            Some(v) => parts.push(format!("{} schema-valid", describe_share(v, q.answered))),
            None => parts.push(format!("{} with JSON", describe_share(q.json_found, q.answered))),
        }
        if q.handback > 0 {
            parts.push(format!("{} hand the task back", describe_share(q.handback, q.answered)));
        }
    }
    parts.join(", ")
}

/// The clearly best run on the common quality measure, and the measure; `None` when no run's
/// interval clears every other's.
pub fn best_quality<'a>(runs: &[&'a ReportRun]) -> (Option<&'a ReportRun>, Option<QualityMeasure>) {
    let qs: Vec<&RunQuality> = runs.iter().filter_map(|r| r.quality.as_ref()).collect();
    let Some(m) = QualityMeasure::common(&qs) else {
        return (None, None);
    };
    let rated: Vec<(&ReportRun, Option<super::super::stats::Interval>)> =
        runs.iter().filter_map(|r| Some((*r, m.estimate(r.quality.as_ref()?)?.1))).collect();
    let best = clearly_best(&rated.iter().map(|x| x.1).collect::<Vec<_>>()).map(|i| rated[i].0);
    (best, Some(m))
}

/// Runs ranked on one quality measure, with their estimates: (run, value, interval text).
pub fn quality_ranking<'a>(runs: &[&'a ReportRun], m: QualityMeasure) -> Vec<(&'a ReportRun, f64, String)> {
    let mut out: Vec<(&ReportRun, f64, String)> = runs
        .iter()
        .filter_map(|r| {
            let (v, i, n) = m.estimate(r.quality.as_ref()?)?;
            let text = match i {
                Some(i) if n < SMALL_SAMPLE || m == QualityMeasure::MeanGrade => {
                    format!("{} (95% CI {}–{}, n={n})", m.format(v), m.format(i.low), m.format(i.high))
                }
                Some(_) => format!("{} (n={})", m.format(v), format::int(n as f64)),
                None => format!("{} (n={n}: interval unknown)", m.format(v)),
            };
            Some((*r, v, text))
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// "Fastest" findings: in each set of runs the basis lets us compare, the fastest against the
/// slowest (total tok/s), with the load named. Runs are full runs with known timing.
pub fn speed_findings(runs: &[&ReportRun], basis: SpeedBasis) -> (Vec<String>, Vec<i64>) {
    let speed: Vec<SpeedRun> = runs
        .iter()
        .map(|r| SpeedRun {
            model: &r.model,
            tokens_per_s: r.summary.total_tokens_per_s,
            e2e_p90_ms: r.summary.e2e_ms.map(|d| d.p90),
            load: &r.load,
        })
        .collect();
    let sets = comparable_sets(&speed, basis);
    let mut findings = Vec::new();
    let mut fastest_ids = Vec::new();
    for set in &sets {
        let by = |i: &&usize| runs[**i].summary.total_tokens_per_s;
        let (Some(&f), Some(&s)) = (
            set.iter().max_by(|a, b| by(a).total_cmp(&by(b))),
            set.iter().min_by(|a, b| by(a).total_cmp(&by(b))),
        ) else {
            continue;
        };
        let (f, s) = (runs[f], runs[s]);
        if f.id == s.id || s.summary.total_tokens_per_s <= 0.0 {
            continue;
        }
        fastest_ids.push(f.id);
        let c = super::load::compare(&[(format!("run #{}", f.id), &f.load), (format!("run #{}", s.id), &s.load)]);
        let mut at = match basis {
            SpeedBasis::SameLoad => {
                let mut at = format!("both at the same load: {}", f.load.describe());
                if !c.unknown.is_empty() {
                    at.push_str(&format!("; not recorded: {}", c.unknown.join("; ")));
                }
                at
            }
            SpeedBasis::EachAtBest { .. } => format!("{}; loads: {} vs {}", basis.describe(), f.load.describe(), s.load.describe()),
        };
        // Issue 18: whatever the basis, the conditions they ran under (a warm prefix cache,
        // another vLLM) are named where they differ.
        if !c.conditions.is_empty() {
            at.push_str(&format!("; but conditions differ: {}", c.conditions.join("; ")));
        }
        findings.push(format!(
            "**Fastest:** {} — {:.1}x faster than {} ({} vs {} total tok/s; {at}).",
            f.title(),
            f.summary.total_tokens_per_s / s.summary.total_tokens_per_s,
            s.title(),
            format::int(f.summary.total_tokens_per_s),
            format::int(s.summary.total_tokens_per_s)
        ));
    }
    if sets.is_empty() && runs.len() >= 2 {
        findings.push(match basis {
            SpeedBasis::SameLoad => "**Speed:** no two of these runs are known to have been measured at the same load (see the load of each run above; a load not recorded is not the same as any), so no \"faster\" claim is made. Run them at one load, or ask for each at its best (`speed=best&p90_ms=N`).".into(),
            SpeedBasis::EachAtBest { .. } => format!("**Speed:** fewer than two models have a run within the latency target ({}).", basis.describe()),
        });
    }
    (findings, fastest_ids)
}
