//! Sweep to saturation: raise the concurrency step by step (doubling from 1) until throughput
//! stops rising (less than [`MIN_GAIN`] more than the step before) or the run's targets break;
//! that level is the knee. Then measure `steps` evenly spaced request rates (Poisson arrivals)
//! between a light load (what concurrency 1 served) and the knee's requests per second. Each step is a run of the same sweep, planned from the steps measured before it, so
//! the worker plans the next step when one ends ([`plan`]). The sweep page reads the same steps
//! (`sweep_verdict`): the knee, the prefix cache's share, and the best setting within the targets.

use super::format;
use super::spec::RunSpec;
use super::status::RunStatus;
use super::summary::RunSummary;
use super::views::RunView;
use serde::{Deserialize, Serialize};

/// Evenly spaced request rates measured after the search when `auto` gives no number.
pub const DEFAULT_STEPS: u32 = 5;
pub const MAX_STEPS: u32 = 20;
/// The light load the search starts from and the spread begins at.
pub const START: u32 = 1;
/// The search stops doubling here even if throughput still rises.
pub const LIMIT: u32 = 1024;
/// A step that adds less than this share of throughput over the step before means saturation.
pub const MIN_GAIN: f64 = 0.10;

/// Which part of an automatic sweep a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SweepPhase {
    /// Doubling the concurrency to find where throughput stops rising.
    Search,
    /// One of the evenly spaced request rates between a light load and the knee.
    Spread,
}

/// The most steps the search can take: concurrency [`START`], doubled up to [`LIMIT`] (1, 2, 4,
/// ..., 1024: 11 steps).
pub const MAX_SEARCH_STEPS: u32 = LIMIT.ilog2() - START.ilog2() + 1;

/// The most runs an automatic sweep with `spread` rates can make: every search step up to
/// [`LIMIT`], then the `spread` rates (the worst case a cost preview must bound).
pub fn max_runs(spread: u32) -> u32 {
    MAX_SEARCH_STEPS + spread
}

/// Carried by every run of an automatic sweep (in its spec).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoSweep {
    /// Evenly spaced request rates to measure between the light load and the knee.
    pub steps: u32,
    pub phase: SweepPhase,
}

/// `auto` or `auto:N` (N evenly spaced request rates after the search): `Some(Ok(N))`; `None`
/// when the text is not an automatic sweep.
pub fn parse_auto(raw: &str) -> Option<Result<u32, String>> {
    let t = raw.trim().to_ascii_lowercase();
    let rest = t.strip_prefix("auto")?;
    if rest.is_empty() {
        return Some(Ok(DEFAULT_STEPS));
    }
    let n = rest.strip_prefix(':').or_else(|| rest.strip_prefix('=')).unwrap_or(rest).trim();
    Some(match n.parse::<u32>() {
        Ok(v) if (2..=MAX_STEPS).contains(&v) => Ok(v),
        _ => Err(format!(
            "An automatic sweep is 'auto' or 'auto:N', N being how many evenly spaced request rates to measure once saturation is found (2 to {MAX_STEPS}); '{}' is not",
            raw.trim()
        )),
    })
}

/// One measured (or queued) step, as the planner sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub run_id: i64,
    pub concurrency: u32,
    pub phase: SweepPhase,
    pub status: RunStatus,
    /// Output tok/s (completion tokens / wall time).
    pub output_tps: f64,
    /// Requests per second served (measured requests / wall time).
    pub req_per_s: f64,
    /// A spread step's request rate (Poisson arrivals); `None` for the search's concurrency steps.
    pub rate: Option<f64>,
    /// The run met its targets at their percentile; `None`: no targets.
    pub slo_met: Option<bool>,
}

impl Step {
    /// A run of an automatic sweep (`None` for runs of a sweep of fixed levels).
    pub fn of(r: &RunView) -> Option<Step> {
        Step::from_parts(r.id, r.status, r.spec.as_ref()?, r.summary.as_ref())
    }

    /// From a stored run's parts (`None` unless it is a step of an automatic sweep).
    pub fn from_parts(run_id: i64, status: RunStatus, spec: &RunSpec, summary: Option<&RunSummary>) -> Option<Step> {
        let auto = spec.auto_sweep.as_ref()?;
        Some(Step {
            run_id,
            concurrency: spec.load.concurrency,
            phase: auto.phase,
            status,
            output_tps: summary.map(|s| s.output_tokens_per_s).unwrap_or(0.0),
            req_per_s: summary.map(|s| s.requests_per_s).unwrap_or(0.0),
            rate: spec.load.rate,
            slo_met: summary.and_then(|s| s.goodput.as_ref()).map(|g| g.met),
        })
    }
}

/// Where throughput stopped rising, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Knee {
    pub concurrency: u32,
    pub why: KneeReason,
}

#[derive(Clone, Debug, PartialEq)]
pub enum KneeReason {
    /// Going from `from` to `to` added only `gain` (a share) of throughput.
    Flattened { from: u32, to: u32, gain: f64 },
    /// At `at` the run broke its targets (at their percentile).
    TargetsBroke { at: u32 },
    /// The search reached [`LIMIT`] still rising.
    Limit,
}

impl Knee {
    pub fn describe(&self) -> String {
        match &self.why {
            KneeReason::Flattened { from, to, gain } => format!(
                "saturation at concurrency {}: going from {from} to {to} added only {} throughput (less than {})",
                self.concurrency,
                format::percent(gain.max(0.0)),
                format::percent(MIN_GAIN)
            ),
            KneeReason::TargetsBroke { at } if *at == self.concurrency => {
                format!("even concurrency {at}, the lightest load, breaks the targets")
            }
            KneeReason::TargetsBroke { at } => format!("the targets hold up to concurrency {} and break at {at}", self.concurrency),
            KneeReason::Limit => format!("throughput still rose at concurrency {}, where the search stops", self.concurrency),
        }
    }
}

/// The knee from search steps in the order they ran (completed ones only); `None` while the
/// search should go on.
pub fn knee(search: &[&Step]) -> Option<Knee> {
    let done: Vec<&&Step> = search.iter().filter(|s| s.status == RunStatus::Completed).collect();
    for (k, s) in done.iter().enumerate() {
        let prev = k.checked_sub(1).map(|j| done[j]);
        if s.slo_met == Some(false) {
            return Some(Knee {
                concurrency: prev.map(|p| p.concurrency).unwrap_or(s.concurrency),
                why: KneeReason::TargetsBroke { at: s.concurrency },
            });
        }
        if let Some(p) = prev {
            if s.output_tps < p.output_tps * (1.0 + MIN_GAIN) {
                return Some(Knee {
                    concurrency: p.concurrency,
                    why: KneeReason::Flattened {
                        from: p.concurrency,
                        to: s.concurrency,
                        gain: if p.output_tps > 0.0 {
                            s.output_tps / p.output_tps - 1.0
                        } else {
                            0.0
                        },
                    },
                });
            }
        }
    }
    let last = done.last()?;
    (last.concurrency.saturating_mul(2) > LIMIT).then_some(Knee {
        concurrency: last.concurrency,
        why: KneeReason::Limit,
    })
}

/// `n` request rates evenly spaced from `light` to `top` (requests per second), rounded to two
/// significant figures' worth (0.01 req/s at the least), without repeats.
pub fn spread_rates(light: f64, top: f64, n: u32) -> Vec<f64> {
    let round = |r: f64| {
        let step = 10f64.powf((r.abs().max(0.01)).log10().floor() - 1.0).max(0.01);
        ((r / step).round() * step * 1e6).round() / 1e6
    };
    if !(light > 0.0 && top > light) {
        return vec![round(light.max(0.01))];
    }
    let n = n.max(2);
    let mut out: Vec<f64> = (0..n)
        .map(|i| round(light + (top - light) * f64::from(i) / f64::from(n - 1)))
        .collect();
    out.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    out
}

/// What the worker does after a step ends.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Queue a step: a search step at `concurrency`, or a spread step at `rate` requests per
    /// second with at most `concurrency` in flight.
    Run {
        concurrency: u32,
        rate: Option<f64>,
        phase: SweepPhase,
    },
    /// A step is still queued or running.
    Wait,
    Done,
}

/// The next step of an automatic sweep, from its steps so far (in the order they ran). A step
/// that did not complete (failed, cancelled, interrupted) ends the sweep.
pub fn plan(steps: &[Step], spread: u32) -> Plan {
    if steps.iter().any(|s| !s.status.is_finished()) {
        return Plan::Wait;
    }
    if steps.iter().any(|s| s.status != RunStatus::Completed) {
        return Plan::Done;
    }
    let search: Vec<&Step> = steps.iter().filter(|s| s.phase == SweepPhase::Search).collect();
    let Some(last) = search.last() else {
        return Plan::Run {
            concurrency: START,
            rate: None,
            phase: SweepPhase::Search,
        };
    };
    let Some(k) = knee(&search) else {
        return Plan::Run {
            concurrency: last.concurrency.saturating_mul(2).min(LIMIT),
            rate: None,
            phase: SweepPhase::Search,
        };
    };
    // From what the lightest load served to what the knee served, in requests per second, with
    // room in flight for twice the knee's concurrency (the rate, not the cap, sets the load).
    let served = |c: u32| search.iter().find(|s| s.concurrency == c).map(|s| s.req_per_s).unwrap_or(0.0);
    let rates = spread_rates(served(START), served(k.concurrency), spread);
    let done = steps.iter().filter(|s| s.phase == SweepPhase::Spread).count();
    match rates.get(done) {
        Some(rate) if *rate > 0.0 => Plan::Run {
            concurrency: k.concurrency.saturating_mul(2).clamp(START, LIMIT),
            rate: Some(*rate),
            phase: SweepPhase::Spread,
        },
        _ => Plan::Done,
    }
}

/// How many runs the sweep will have in all, once its knee is found (the search steps and the
/// request rates planned from them); `None` while the search goes on. `steps` in the order they
/// ran, as for [`plan`].
pub fn planned_runs(steps: &[Step], spread: u32) -> Option<usize> {
    let search: Vec<&Step> = steps.iter().filter(|s| s.phase == SweepPhase::Search).collect();
    let k = knee(&search)?;
    let served = |c: u32| search.iter().find(|s| s.concurrency == c).map(|s| s.req_per_s).unwrap_or(0.0);
    let rates = spread_rates(served(START), served(k.concurrency), spread);
    let search_runs = search.iter().filter(|s| s.status == RunStatus::Completed).count();
    Some(search_runs + rates.iter().filter(|r| **r > 0.0).count())
}

/// The first step of an automatic sweep: the search's first level, with the launch's warm-up
/// (the only warm-up of the sweep).
pub fn first_step(spec: &RunSpec, steps: u32) -> RunSpec {
    let mut s = spec.clone();
    s.name = base_name(spec);
    step_spec(&s, START, SweepPhase::Search, steps, true)
}

/// The spec of a later step at `concurrency` (and, for a spread step, `rate`), from the sweep's
/// first step: no warm-up.
pub fn next_step(first: &RunSpec, concurrency: u32, rate: Option<f64>, phase: SweepPhase) -> RunSpec {
    let steps = first.auto_sweep.as_ref().map(|a| a.steps).unwrap_or(DEFAULT_STEPS);
    let mut s = step_spec(first, concurrency, phase, steps, false);
    if let Some(r) = rate {
        s.load.rate = Some(r);
        s.name = format!("{} @ {} req/s", base_name(first), format::dec(r, 2));
    }
    s
}

/// The sweep's name without the step's level ("m @ concurrency 4 (finding saturation)" -> "m").
fn base_name(spec: &RunSpec) -> String {
    let name = if spec.name.is_empty() { &spec.model } else { &spec.name };
    name.split(" @ ").next().unwrap_or(name).to_string()
}

fn step_spec(from: &RunSpec, concurrency: u32, phase: SweepPhase, steps: u32, warm: bool) -> RunSpec {
    let mut s = from.clone();
    s.load.concurrency = concurrency;
    s.load.rate = None;
    if !warm {
        s.warmup = 0;
    }
    s.name = format!(
        "{} @ concurrency {concurrency}{}",
        base_name(from),
        match phase {
            SweepPhase::Search => " (finding saturation)",
            SweepPhase::Spread => "",
        }
    );
    s.auto_sweep = Some(AutoSweep { steps, phase });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: i64, c: u32, phase: SweepPhase, tps: f64, met: Option<bool>) -> Step {
        Step {
            run_id: id,
            concurrency: c,
            phase,
            status: RunStatus::Completed,
            output_tps: tps,
            // 100 output tokens a request.
            req_per_s: tps / 100.0,
            rate: None,
            slo_met: met,
        }
    }

    fn run(concurrency: u32, rate: Option<f64>, phase: SweepPhase) -> Plan {
        Plan::Run { concurrency, rate, phase }
    }
    use SweepPhase::{Search, Spread};

    #[test]
    fn auto_and_auto_n_parse_and_other_text_is_not_auto() {
        assert_eq!(parse_auto("auto"), Some(Ok(DEFAULT_STEPS)));
        assert_eq!(parse_auto(" AUTO:8 "), Some(Ok(8)));
        assert!(matches!(parse_auto("auto:1"), Some(Err(_))));
        assert!(matches!(parse_auto("auto:x"), Some(Err(_))));
        assert!(matches!(parse_auto("automatic"), Some(Err(_))), "a typo is not a list of levels");
        assert_eq!(parse_auto("1,4,16"), None);
        let Some(Err(m)) = parse_auto("auto:99") else {
            panic!("auto:99 is refused")
        };
        assert!(m.contains("request rates") && !m.contains("levels"), "{m}");
    }

    #[test]
    fn the_longest_sweep_is_every_doubling_up_to_the_limit_then_the_spread() {
        assert_eq!(MAX_SEARCH_STEPS, 11, "1, 2, 4, ..., 1024");
        assert_eq!(max_runs(5), 16);
        // The planner agrees: a search that never flattens runs exactly that many steps.
        let mut steps: Vec<Step> = Vec::new();
        while let Plan::Run { concurrency, rate, phase } = plan(&steps, 5) {
            let tps = match phase {
                SweepPhase::Search => 100.0 * f64::from(concurrency),
                SweepPhase::Spread => rate.unwrap_or(0.0) * 100.0,
            };
            let mut s = step(steps.len() as i64 + 1, concurrency, phase, tps, None);
            s.rate = rate;
            steps.push(s);
            assert!(steps.len() <= 64, "the sweep ends");
        }
        assert_eq!(
            steps.len() as u32,
            max_runs(5),
            "{:?}",
            steps.iter().map(|s| s.concurrency).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_search_doubles_from_one_until_throughput_flattens() {
        assert_eq!(plan(&[], 5), run(1, None, Search));
        let mut s = vec![step(1, 1, Search, 100.0, None), step(2, 2, Search, 190.0, None)];
        assert_eq!(plan(&s, 5), run(4, None, Search));
        s.push(step(3, 4, Search, 360.0, None));
        s.push(step(4, 8, Search, 650.0, None));
        s.push(step(5, 16, Search, 700.0, None)); // +7.7%: flattened
        let search: Vec<&Step> = s.iter().collect();
        let k = knee(&search).expect("knee");
        assert_eq!(k.concurrency, 8);
        assert!(matches!(k.why, KneeReason::Flattened { from: 8, to: 16, .. }));
        // Spread in 5 rates from what concurrency 1 served (1 req/s) to what the knee served
        // (6.5 req/s), at most 16 in flight: 1, 2.4 (2.375), 3.8 (3.75), 5.1 (5.125), 6.5.
        assert_eq!(spread_rates(1.0, 6.5, 5), vec![1.0, 2.4, 3.8, 5.1, 6.5]);
        assert_eq!(plan(&s, 5), run(16, Some(1.0), Spread));
        for (i, r) in [1.0, 2.4, 3.8, 5.1].into_iter().enumerate() {
            let mut st = step(6 + i as i64, 16, Spread, r * 100.0, None);
            st.rate = Some(r);
            s.push(st);
        }
        assert_eq!(plan(&s, 5), run(16, Some(6.5), Spread));
        s.push(step(10, 16, Spread, 650.0, None));
        assert_eq!(plan(&s, 5), Plan::Done);
        assert_eq!(planned_runs(&s, 5), Some(10), "5 search steps and 5 rates");
        assert_eq!(planned_runs(&s[..3], 5), None, "the search goes on: the total is not known yet");
    }

    #[test]
    fn broken_targets_end_the_search_at_the_level_before() {
        let s = vec![
            step(1, 1, Search, 100.0, Some(true)),
            step(2, 2, Search, 200.0, Some(true)),
            step(3, 4, Search, 400.0, Some(false)),
        ];
        let k = knee(&s.iter().collect::<Vec<_>>()).expect("knee");
        assert_eq!((k.concurrency, &k.why), (2, &KneeReason::TargetsBroke { at: 4 }));
        assert_eq!(k.describe(), "the targets hold up to concurrency 2 and break at 4");
        // Spread from 1 to 2 req/s (what concurrency 1 and 2 served), at most 4 in flight.
        assert_eq!(plan(&s, 5), run(4, Some(1.0), Spread));
        assert_eq!(spread_rates(1.0, 2.0, 5), vec![1.0, 1.3, 1.5, 1.8, 2.0]);
    }

    #[test]
    fn a_step_still_running_waits_and_a_cancelled_one_ends_the_sweep() {
        let mut s = vec![step(1, 1, Search, 100.0, None)];
        s[0].status = RunStatus::Running;
        assert_eq!(plan(&s, 5), Plan::Wait);
        s[0].status = RunStatus::Cancelled;
        assert_eq!(plan(&s, 5), Plan::Done);
    }

    #[test]
    fn the_search_stops_at_its_limit() {
        let s: Vec<Step> = (0..=10)
            .map(|i| step(i, 1 << i, Search, 100.0 * f64::from(1u32 << i), None))
            .collect();
        let k = knee(&s.iter().collect::<Vec<_>>()).expect("knee");
        assert_eq!((k.concurrency, k.why), (1024, KneeReason::Limit));
    }

    #[test]
    fn spread_rates_are_even_rounded_and_unique() {
        assert_eq!(spread_rates(2.0, 30.0, 3), vec![2.0, 16.0, 30.0]);
        assert_eq!(spread_rates(0.5, 0.5, 5), vec![0.5], "a knee at the lightest load: one rate");
        assert_eq!(spread_rates(120.0, 480.0, 4), vec![120.0, 240.0, 360.0, 480.0]);
        assert_eq!(spread_rates(0.01, 0.012, 5), vec![0.01], "no repeats at the rounding floor");
        // A spread step's name says its rate; a later step's base name drops it again.
        let first = crate::domain::spec::LaunchForm {
            endpoint_id: "1".into(),
            dataset_id: "1".into(),
            model: "m".into(),
            requests: "10".into(),
            concurrency: "1".into(),
            ..Default::default()
        }
        .parse()
        .expect("spec");
        let first = first_step(&first, 5);
        let s = next_step(&first, 16, Some(2.4), Spread);
        assert_eq!((s.load.concurrency, s.load.rate, s.warmup), (16, Some(2.4), 0));
        assert_eq!(s.name, "m @ 2.40 req/s");
        assert_eq!(next_step(&s, 4, None, Search).name, "m @ concurrency 4 (finding saturation)");
    }
}
