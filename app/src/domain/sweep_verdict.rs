//! What a sweep's page concludes from its finished runs: the knee, the best setting within the
//! targets (named with its figures), the prefix cache's share across the steps, and how the
//! steps' captured conditions differ.

use super::conditions::{differ_note, setting_differences};
use super::format;
use super::goodput::percentile_name;
use super::saturation::{knee, Knee, KneeReason, Step, SweepPhase};
use super::status::RunStatus;
use super::views::RunView;

/// The knee of a sweep's finished runs: an automatic sweep's from its search steps; a sweep of
/// fixed levels read the same way, lowest level first.
pub fn sweep_knee(runs: &[RunView]) -> Option<Knee> {
    let auto: Vec<Step> = runs.iter().filter_map(Step::of).collect();
    if !auto.is_empty() {
        let mut search: Vec<&Step> = auto.iter().filter(|s| s.phase == SweepPhase::Search).collect();
        search.sort_by_key(|s| s.run_id);
        return knee(&search);
    }
    let mut fixed: Vec<Step> = runs
        .iter()
        .filter_map(|r| {
            let spec = r.spec.as_ref()?;
            Some(Step {
                run_id: r.id,
                concurrency: spec.load.concurrency,
                phase: SweepPhase::Search,
                status: r.status,
                output_tps: r.summary.as_ref().map(|s| s.output_tokens_per_s).unwrap_or(0.0),
                req_per_s: r.summary.as_ref().map(|s| s.requests_per_s).unwrap_or(0.0),
                rate: spec.load.rate,
                slo_met: r.summary.as_ref().and_then(|s| s.goodput.as_ref()).map(|g| g.met),
            })
        })
        .collect();
    fixed.sort_by_key(|s| s.concurrency);
    knee(&fixed.iter().collect::<Vec<_>>()).filter(|k| k.why != KneeReason::Limit)
}

/// The best setting of a sweep: with targets, among the completed runs that met their targets
/// at the percentile, the lightest load whose goodput (output tok/s) is within [`NEAR_BEST`] of
/// the most any of them reached (more concurrency for less than that buys latency, not work);
/// without targets the same on throughput. A load is as light as the requests it kept in flight
/// on average ([`in_flight`]). Named with its figures: "concurrency 24: 3,100 tok/s
/// goodput, p90 TTFT 1.7 s ≤ 2 s".
pub fn best_setting(runs: &[RunView]) -> Option<(i64, String)> {
    let done: Vec<&RunView> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Completed && r.summary.is_some())
        .collect();
    let level = |r: &RunView| r.spec.as_ref().map(|s| s.load_label()).unwrap_or_default();
    let served = |r: &RunView| r.summary.as_ref().map(in_flight).unwrap_or(0.0);
    let targets = done.iter().any(|r| r.summary.as_ref().is_some_and(|s| s.goodput.is_some()));
    let value = |r: &RunView| -> Option<f64> {
        let s = r.summary.as_ref()?;
        if targets {
            s.goodput.as_ref().filter(|g| g.met).map(|g| g.output_tokens_per_s)
        } else {
            Some(s.output_tokens_per_s)
        }
    };
    let mut within: Vec<(&RunView, f64)> = done.iter().filter_map(|r| Some((*r, value(r)?))).collect();
    within.sort_by(|(a, _), (b, _)| served(a).total_cmp(&served(b)));
    let (top, top_value) = within.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1))?;
    let (r, v) = within.iter().copied().find(|(_, v)| *v >= top_value * (1.0 - NEAR_BEST))?;
    let s = r.summary.as_ref()?;
    let ttft = |x: &RunView| {
        x.summary
            .as_ref()
            .and_then(|s| s.ttft_ms)
            .map(|d| super::goodput::short_ms(d.p90))
            .unwrap_or_default()
    };
    let more = if top.id != r.id {
        format!(
            "; {} reached {} at p90 TTFT {}, less than {} more",
            level(top),
            format::int(top_value),
            ttft(top),
            format::percent(NEAR_BEST)
        )
    } else {
        String::new()
    };
    let text = match s.goodput.as_ref().filter(|_| targets) {
        Some(g) => format!(
            "{}: {} tok/s goodput ({} req/s, {} of requests within every target), {}{more}",
            level(r),
            format::int(v),
            format::dec(g.requests_per_s, 2),
            format::percent(g.good_share),
            g.checks_text()
        ),
        None => format!(
            "{}: {} output tok/s, p90 TTFT {} (no targets were set: the most throughput){more}",
            level(r),
            format::int(v),
            ttft(r)
        ),
    };
    Some((r.id, text))
}

/// Requests in flight on average over a step (Little's law: requests served a second x mean
/// E2E latency), concurrency steps and rate steps alike. Past saturation a step serves no more
/// requests a second than the knee, but keeps more of them waiting: it is the heavier load.
/// Without latencies, the requests served a second.
pub fn in_flight(s: &super::summary::RunSummary) -> f64 {
    match &s.e2e_ms {
        Some(e2e) if e2e.mean > 0.0 => s.requests_per_s * e2e.mean / 1000.0,
        _ => s.requests_per_s,
    }
}

/// A heavier load must add more than this share of goodput to be named the best setting.
pub const NEAR_BEST: f64 = 0.05;

/// Why no setting is named although the sweep had targets.
pub fn none_within(runs: &[RunView]) -> Option<String> {
    let g = runs.iter().find_map(|r| r.summary.as_ref()?.goodput.as_ref())?;
    Some(format!(
        "No completed step met the targets ({}) at {}.",
        g.targets.describe(),
        percentile_name(g.targets.percentile)
    ))
}

/// The prefix cache's effect across the steps, which all send the same dataset: from the
/// second step on the cache holds its prompts. `None` without hit rates for two steps.
pub fn cache_note(runs: &[RunView]) -> Option<String> {
    let mut done: Vec<&RunView> = runs.iter().filter(|r| r.status == RunStatus::Completed).collect();
    done.sort_by_key(|r| r.id);
    let rates: Vec<(u32, f64)> = done
        .iter()
        .filter_map(|r| Some((r.spec.as_ref()?.load.concurrency, r.conditions.as_ref()?.prefix_cache?.hit_rate()?)))
        .collect();
    let ((c0, first), later) = rates.split_first()?;
    if later.is_empty() {
        return None;
    }
    let lo = later.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
    let hi = later.iter().map(|r| r.1).fold(f64::NEG_INFINITY, f64::max);
    let range = if (hi - lo).abs() < 0.0005 {
        format::percent((lo * 1000.0).round() / 1000.0)
    } else {
        format!(
            "{}–{}",
            format::percent((lo * 1000.0).round() / 1000.0),
            format::percent((hi * 1000.0).round() / 1000.0)
        )
    };
    Some(format!(
        "Every step sends the same dataset, so the prefix cache carries over: {} of prompt tokens hit the cache in the first step (concurrency {c0}), {range} in the later ones. Later steps' TTFT is partly the cache's, not the load's.",
        format::percent((first * 1000.0).round() / 1000.0)
    ))
}

/// How the completed steps' captured conditions differ (vLLM restarted with other settings
/// between steps, ...), as "Conditions differ: ..."; their prefix-cache hit rates are left to
/// [`cache_note`], which explains them. `None` when they do not differ.
pub fn conditions_note(runs: &[RunView]) -> Option<String> {
    let mut done: Vec<&RunView> = runs.iter().filter(|r| r.status == RunStatus::Completed).collect();
    done.sort_by_key(|r| r.id);
    let labelled: Vec<(String, Option<&super::conditions::Conditions>)> =
        done.iter().map(|r| (format!("#{}", r.id), r.conditions.as_ref())).collect();
    differ_note(&setting_differences(&labelled))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finished run of a sweep at concurrency `c` with this throughput and, with targets,
    /// its goodput and whether it met them.
    fn view(id: i64, c: u32, tps: f64, goodput: Option<(f64, bool)>) -> RunView {
        use crate::domain::goodput::Goodput;
        let spec = crate::domain::spec::LaunchForm {
            endpoint_id: "1".into(),
            dataset_id: "1".into(),
            model: "m".into(),
            requests: "10".into(),
            concurrency: c.to_string(),
            ..Default::default()
        }
        .parse()
        .expect("spec");
        let summary = crate::domain::summary::RunSummary {
            output_tokens_per_s: tps,
            goodput: goodput.map(|(g, met)| Goodput {
                targets: crate::domain::goodput::Slo {
                    ttft_ms: Some(2000.0),
                    tpot_ms: None,
                    e2e_ms: None,
                    percentile: 90.0,
                },
                good_requests: 9,
                good_share: 0.9,
                requests_per_s: 1.0,
                output_tokens_per_s: g,
                at_percentile: vec![crate::domain::goodput::PercentileCheck {
                    metric: crate::domain::goodput::SloMetric::Ttft,
                    target_ms: 2000.0,
                    observed_ms: Some(if met { 1700.0 } else { 2500.0 }),
                    met,
                }],
                met,
            }),
            ..Default::default()
        };
        serde_json::from_value(serde_json::json!({
            "id": id, "name": "r", "status": "completed", "model": "m", "endpoint_name": "e", "dataset_name": "d",
            "simulated": true, "sweep_id": 1, "spec": spec, "total_requests": 10, "done_requests": 10,
            "summary": summary, "resumed": false, "created_at": "now",
        }))
        .expect("run view")
    }

    /// [`view`] with conditions: vLLM `version` and a prefix-cache use over the run.
    fn with_conditions(mut r: RunView, version: &str, queries: f64, hits: f64) -> RunView {
        use crate::domain::conditions::{Conditions, PrefixCacheUse};
        r.conditions = Some(Conditions {
            version: Some(version.into()),
            prefix_cache: Some(PrefixCacheUse { queries, hits }),
            ..Default::default()
        });
        r
    }

    #[test]
    fn the_cache_note_gives_the_first_steps_hit_rate_and_the_later_ones_range() {
        let runs = vec![
            with_conditions(view(3, 4, 300.0, None), "0.32.0", 1000.0, 960.0),
            with_conditions(view(1, 1, 100.0, None), "0.32.0", 1000.0, 0.0),
            with_conditions(view(2, 2, 200.0, None), "0.32.0", 1000.0, 950.0),
        ];
        assert_eq!(
            cache_note(&runs).as_deref(),
            Some("Every step sends the same dataset, so the prefix cache carries over: 0% of prompt tokens hit the cache in the first step (concurrency 1), 95%–96% in the later ones. Later steps' TTFT is partly the cache's, not the load's.")
        );
        // One rate for every later step; a step still running does not count.
        let mut same = runs.clone();
        same[0] = with_conditions(view(3, 4, 300.0, None), "0.32.0", 1000.0, 950.0);
        assert!(cache_note(&same).is_some_and(|n| n.contains(", 95% in the later ones")));
        let mut running = runs.clone();
        running[0].status = RunStatus::Running;
        running[2].status = RunStatus::Running;
        assert_eq!(cache_note(&running), None, "a single completed step has nothing to compare");
        // No hit rates (a server without prefix-cache counters): no note.
        assert_eq!(cache_note(&[view(1, 1, 100.0, None), view(2, 2, 200.0, None)]), None);
    }

    #[test]
    fn steps_whose_conditions_differ_say_so_and_leave_the_hit_rates_to_the_cache_note() {
        let same = vec![
            with_conditions(view(1, 1, 100.0, None), "0.32.0", 1000.0, 0.0),
            with_conditions(view(2, 2, 200.0, None), "0.32.0", 1000.0, 950.0),
        ];
        assert_eq!(conditions_note(&same), None, "only the hit rates differ: the cache note's");
        let restarted = vec![
            same[0].clone(),
            with_conditions(view(2, 2, 200.0, None), "0.33.0", 1000.0, 950.0),
            view(3, 4, 300.0, None),
        ];
        assert_eq!(
            conditions_note(&restarted).as_deref(),
            Some("Conditions differ: vLLM 0.32.0 (#1) vs 0.33.0 (#2); conditions not captured for #3 (a hosted endpoint, a batch job, an import, or a run from before Bakeoff captured them).")
        );
    }

    #[test]
    fn the_best_setting_is_the_lightest_load_near_the_most_goodput_within_the_targets() {
        let runs = vec![
            view(1, 8, 1000.0, Some((950.0, true))),
            view(2, 16, 2000.0, Some((1900.0, true))),
            view(3, 24, 3100.0, Some((3100.0, true))),
            view(4, 32, 3150.0, Some((3140.0, true))),  // 1.3% more than 24: latency, not work
            view(5, 64, 3200.0, Some((1000.0, false))), // broke the targets
        ];
        let (id, text) = best_setting(&runs).expect("best");
        assert_eq!(id, 3);
        assert!(
            text.starts_with("concurrency 24: 3,100 tok/s goodput (1.00 req/s, 90% of requests within every target), p90 TTFT 1.7 s ≤ 2 s; concurrency 32 reached 3,140"),
            "{text}"
        );
        // None within the targets: no best setting, and why.
        let broken = vec![view(1, 8, 1000.0, Some((100.0, false)))];
        assert_eq!(best_setting(&broken), None);
        assert!(none_within(&broken).is_some_and(|m| m.contains("TTFT ≤ 2,000 ms")));
        // Without targets, the same rule on throughput.
        let plain = vec![view(1, 8, 1000.0, None), view(2, 16, 1990.0, None), view(3, 32, 2000.0, None)];
        assert_eq!(best_setting(&plain).map(|b| b.0), Some(2));
    }

    #[test]
    fn past_the_knee_the_same_requests_a_second_with_more_waiting_is_the_heavier_load() {
        // The demo's sweep: concurrency 32 and 64 both serve 92 req/s (64 a hair less), but at
        // 64 requests wait for a slot (mean E2E 492 ms against 291 ms).
        let step = |id: i64, c: u32, req_s: f64, tps: f64, e2e_mean: f64| {
            let mut r = view(id, c, tps, Some((tps, true)));
            let s = r.summary.as_mut().expect("summary");
            s.requests_per_s = req_s;
            s.e2e_ms = crate::domain::stats::Distribution::of(&[e2e_mean]);
            r
        };
        let runs = vec![
            step(1, 16, 59.59, 3813.7, 244.0),
            step(2, 32, 92.09, 5893.6, 291.0),
            step(3, 64, 92.08, 5893.3, 492.0),
        ];
        assert_eq!(best_setting(&runs).map(|b| b.0), Some(2), "the knee, not the queue behind it");
        let s = runs[2].summary.as_ref().expect("summary");
        assert!((in_flight(s) - 92.08 * 0.492).abs() < 1e-9);
    }
}
