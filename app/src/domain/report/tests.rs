//! The report's claims from built inputs: "same load" only where the load is known to be the
//! same, conditions named whatever the speed basis, and smoke tests said to be smoke tests.

use super::load::{RunLoad, SpeedBasis};
use super::*;
use crate::domain::conditions::{Conditions, PrefixCacheUse};
use crate::domain::spec::{EngineSettings, LoadShape, RunKind, RunSpec, Sampling};
use crate::domain::stats::Distribution;

fn spec(concurrency: u32) -> RunSpec {
    RunSpec {
        name: "r".into(),
        endpoint_id: 1,
        dataset_id: 1,
        model: "m".into(),
        requests: 200,
        warmup: 0,
        load: LoadShape { concurrency, rate: None },
        sampling: Sampling {
            max_tokens: Some(512),
            temperature: None,
        },
        max_duration: None,
        request_timeout: std::time::Duration::from_secs(60),
        seed: 1,
        engine: EngineSettings::default(),
        notes: String::new(),
        slo: None,
        auto_sweep: None,
        kind: RunKind::Server,
    }
}

fn run(id: i64, model: &str, requests: u64, tok_s: f64, load: RunLoad) -> ReportRun {
    ReportRun {
        id,
        name: format!("run {id}"),
        model: model.into(),
        origin: String::new(),
        dataset: "demo".into(),
        summary: RunSummary {
            requests,
            timing_known: true,
            total_tokens_per_s: tok_s,
            output_tokens_per_s: tok_s / 2.0,
            wall_time_s: 10.0,
            e2e_ms: Some(Distribution {
                count: requests,
                p50: 800.0,
                p90: 1000.0,
                p99: 1200.0,
                ..Default::default()
            }),
            ..Default::default()
        },
        quality: None,
        sample: None,
        notes: Vec::new(),
        price_row: None,
        cost_per_request: None,
        gpu_month: None,
        load,
        kind: RunKind::Server,
        dataset_id: Some(1),
    }
}

fn markdown(runs: Vec<ReportRun>, speed_basis: SpeedBasis) -> String {
    build(&ReportInput {
        generated_at: "today".into(),
        runs,
        sheet: PriceSheet {
            id: 1,
            name: "sheet".into(),
            provider: "p".into(),
            source: "s".into(),
            dated: "d".into(),
            default_model_key: None,
            rows: Vec::new(),
        },
        monthly_volume: 1000.0,
        hybrid: None,
        claims: Vec::new(),
        speed_basis,
        charts: Vec::new(),
    })
    .to_markdown()
}

#[test]
fn runs_whose_load_is_not_recorded_are_listed_apart_and_never_called_faster_at_the_same_load() {
    let unknown = RunLoad::default();
    let md = markdown(
        vec![
            run(1, "a", 200, 790.0, unknown.clone()),
            run(2, "b", 200, 100.0, unknown.clone()),
            run(3, "c", 200, 300.0, RunLoad::from_spec(&spec(16))),
        ],
        SpeedBasis::SameLoad,
    );
    assert!(!md.contains("**Fastest:**") && !md.contains("x faster than"), "{md}");
    assert!(!md.contains("the slowest at this load"), "{md}");
    assert!(!md.contains("At load not recorded"), "no heading claims a load the runs lack: {md}");
    assert!(md.contains("Load not recorded, not compared: a (run #1), b (run #2) ("), "{md}");
}

#[test]
fn each_at_its_best_names_the_conditions_that_differ_as_the_same_load_does() {
    let cond = |hits: f64| Conditions {
        version: Some("bakeoff-sim-0.1.0".into()),
        prefix_cache: Some(PrefixCacheUse { queries: 1000.0, hits }),
        ..Default::default()
    };
    let warm = RunLoad::from_spec(&spec(16)).with_conditions(Some(cond(942.0)));
    let cold = RunLoad::from_spec(&spec(32)).with_conditions(Some(cond(377.0)));
    let md = markdown(
        vec![run(1, "a", 200, 900.0, warm), run(2, "b", 200, 300.0, cold)],
        SpeedBasis::EachAtBest { p90_target_ms: 2000.0 },
    );
    let fastest = md.lines().find(|l| l.contains("**Fastest:**")).expect("a fastest claim");
    assert!(fastest.contains("each model at its best"), "{fastest}");
    assert!(fastest.contains("but conditions differ: prefix-cache hit rate 94"), "{fastest}");
}

#[test]
fn a_report_of_smoke_tests_only_says_they_were_set_aside_not_that_quality_is_unmeasured() {
    let mut a = run(1, "a", 20, 500.0, RunLoad::from_spec(&spec(4)));
    a.quality = Some(crate::domain::quality::RunQuality {
        answered: 20,
        json_found: 19,
        ..Default::default()
    });
    let b = run(2, "b", 30, 400.0, RunLoad::from_spec(&spec(4)));
    let md = markdown(vec![a, b], SpeedBasis::SameLoad);
    assert!(!md.contains("quality is not measured"), "{md}");
    assert!(!md.contains("**Quality:** not measured"), "{md}");
    let comparison = md.split("## Performance comparison").nth(1).expect("the section");
    assert!(
        comparison
            .trim_start()
            .starts_with("Every run here (2) is a smoke test of fewer than 100 requests"),
        "{comparison}"
    );
    assert!(md.contains("launch them with at least 100 requests"), "{md}");
    assert!(md.contains("**Smoke tests only:**"), "{md}");
    assert!(!md.contains("| Model | Load | Wall time"), "no table of headers alone: {md}");
}
