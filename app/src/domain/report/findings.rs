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

/// Under this ratio two throughputs are "about as fast": no "1.0x faster".
pub const ABOUT_AS_FAST: f64 = 1.05;

/// "1.3x" when `fast` is at least [`ABOUT_AS_FAST`] times `slow`; `None`: about as fast.
pub fn times_faster(fast: f64, slow: f64) -> Option<String> {
    (slow > 0.0 && fast / slow >= ABOUT_AS_FAST).then(|| format!("{:.1}x", fast / slow))
}

/// The measure speed claims rank on, in words.
pub const SPEED_MEASURE: &str = "output tok/s, what a batch job pays for";

/// Output tok/s is known (an import with only total tokens has none): the run can be ranked.
pub fn output_known(r: &ReportRun) -> bool {
    r.summary.timing_known && r.summary.output_unknown().is_none()
}

fn titles(runs: &[&ReportRun]) -> String {
    let t: Vec<String> = runs.iter().map(|r| r.title()).collect();
    match t.as_slice() {
        [init @ .., last] if !init.is_empty() => format!("{} and {last}", init.join(", ")),
        _ => t.join(""),
    }
}

/// "Fastest" findings: in each set of runs the basis lets us compare (one load and one dataset,
/// or each model at its best over one dataset), the fastest against the slowest on output tok/s,
/// with the load and dataset named; runs within 5% of each other are "about as fast". Runs at one
/// load over different datasets are named as not compared. Runs are full runs with known timing.
pub fn speed_findings(runs: &[&ReportRun], basis: SpeedBasis) -> (Vec<String>, Vec<i64>) {
    let ranked: Vec<&ReportRun> = runs.iter().filter(|r| output_known(r)).copied().collect();
    let speed: Vec<SpeedRun> = ranked
        .iter()
        .map(|r| SpeedRun {
            model: &r.model,
            tokens_per_s: r.summary.output_tokens_per_s,
            e2e_p90_ms: r.summary.e2e_ms.map(|d| d.p90),
            load: &r.load,
        })
        .collect();
    let out = |r: &ReportRun| r.summary.output_tokens_per_s;
    let sets = comparable_sets(&speed, basis);
    let mut findings = Vec::new();
    let mut fastest_ids = Vec::new();
    for set in &sets {
        let mut members: Vec<&ReportRun> = set.iter().map(|&i| ranked[i]).collect();
        members.sort_by(|a, b| out(b).total_cmp(&out(a)).then(a.id.cmp(&b.id)));
        let (Some(&f), Some(&s)) = (members.first(), members.last()) else {
            continue;
        };
        if f.id == s.id || out(s) <= 0.0 {
            continue;
        }
        // Given in the order they ran, so a cache one left is said reused only by a later one.
        let mut pair = [f, s];
        pair.sort_by_key(|r| r.id);
        let c = super::load::compare(&pair.map(|r| (format!("run #{}", r.id), &r.load)));
        let mut at = match basis {
            SpeedBasis::SameLoad => {
                let mut at = format!(
                    "at the same load over the same dataset ({}): {}",
                    f.load.dataset_text(),
                    f.load.describe()
                );
                if !c.unknown.is_empty() {
                    at.push_str(&format!("; not recorded: {}", c.unknown.join("; ")));
                }
                at
            }
            SpeedBasis::EachAtBest { .. } => format!(
                "{}; dataset {}; loads: {} vs {}",
                basis.describe(),
                f.load.dataset_text(),
                f.load.describe(),
                s.load.describe()
            ),
        };
        // Issue 18: whatever the basis, the conditions they ran under (a warm prefix cache,
        // another vLLM) are named where they differ.
        if !c.conditions.is_empty() {
            at.push_str(&format!("; but conditions differ: {}", c.conditions.join("; ")));
        }
        let leaders: Vec<&ReportRun> = members
            .iter()
            .copied()
            .take_while(|r| times_faster(out(f), out(r)).is_none())
            .collect();
        let figures = |rs: &[&ReportRun]| rs.iter().map(|r| format::int(out(r))).collect::<Vec<_>>().join(" vs ");
        let Some(ratio) = times_faster(out(f), out(s)) else {
            findings.push(format!(
                "**Speed:** {} are about as fast as each other on {SPEED_MEASURE} ({} output tok/s, within {:.0}%; {at}): none is called faster.",
                titles(&members),
                figures(&members),
                (ABOUT_AS_FAST - 1.0) * 100.0
            ));
            continue;
        };
        fastest_ids.extend(leaders.iter().map(|r| r.id));
        let who = if leaders.len() == 1 {
            f.title()
        } else {
            format!(
                "{}, about as fast as each other ({} output tok/s)",
                titles(&leaders),
                figures(&leaders)
            )
        };
        findings.push(format!(
            "**Fastest:** {who} — {ratio} faster than {} on {SPEED_MEASURE} ({} vs {} output tok/s; {at}).",
            s.title(),
            format::int(out(f)),
            format::int(out(s))
        ));
    }
    // Runs at one load over different datasets: listed each with its dataset, never compared.
    if basis == SpeedBasis::SameLoad {
        let loads: Vec<&super::load::RunLoad> = ranked.iter().map(|r| &r.load).collect();
        for g in super::load::load_groups(&loads) {
            let apart = super::load::groups(&g.iter().map(|&i| loads[i]).collect::<Vec<_>>());
            if apart.len() < 2 {
                continue;
            }
            let each: Vec<String> = apart
                .iter()
                .map(|sub| {
                    let members: Vec<&ReportRun> = sub.iter().map(|&k| ranked[g[k]]).collect();
                    format!("{} over {}", titles(&members), members[0].load.dataset_text())
                })
                .collect();
            findings.push(format!(
                "**Not like for like:** {} were measured at one load ({}) but over different datasets: no \"faster\" claim between them.",
                each.join("; "),
                ranked[g[0]].load.describe()
            ));
        }
    }
    if sets.is_empty() && runs.len() >= 2 {
        findings.push(match basis {
            SpeedBasis::SameLoad => "**Speed:** no two of these runs are known to have been measured at the same load over the same dataset (see the load and dataset of each run above; a load not recorded is not the same as any), so no \"faster\" claim is made. Run them at one load over one dataset, or ask for each at its best (`speed=best&p90_ms=N`).".into(),
            SpeedBasis::EachAtBest { .. } => format!("**Speed:** fewer than two models have a run within the latency target over one dataset ({}).", basis.describe()),
        });
    }
    (findings, fastest_ids)
}
