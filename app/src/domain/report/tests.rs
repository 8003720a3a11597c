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

fn sheet() -> PriceSheet {
    PriceSheet {
        id: 1,
        name: "sheet".into(),
        provider: "p".into(),
        source: "s".into(),
        dated: "d".into(),
        default_model_key: None,
        rows: Vec::new(),
    }
}

fn markdown(runs: Vec<ReportRun>, speed_basis: SpeedBasis) -> String {
    build(&ReportInput {
        generated_at: "today".into(),
        runs,
        sheet: sheet(),
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

/// A run at concurrency 4, max tokens 64, over `dataset` (id, name), with these output and total
/// throughputs.
fn at_c4(id: i64, model: &str, dataset: (i64, &str), output: f64, total: f64) -> ReportRun {
    let mut s = spec(4);
    s.dataset_id = dataset.0;
    s.sampling.max_tokens = Some(64);
    let mut load = RunLoad::from_spec(&s);
    load.dataset = super::load::DatasetRef::new(Some(dataset.0), dataset.1);
    let mut r = run(id, model, 200, total, load);
    r.summary.output_tokens_per_s = output;
    r.dataset = dataset.1.into();
    r.dataset_id = Some(dataset.0);
    r
}

#[test]
fn runs_at_one_load_over_other_datasets_are_never_called_faster_and_are_listed_with_their_datasets() {
    // QA's runs: #2 and #3 over synthetic_100.jsonl (mean prompt 209 tokens), #6 over the demo
    // (269): #6's larger total is its longer prompts, and on output #3 is ahead of it.
    let md = markdown(
        vec![
            at_c4(2, "llama", (2, "synthetic_100.jsonl"), 982.0, 4197.0),
            at_c4(3, "llama", (2, "synthetic_100.jsonl"), 1057.0, 4517.0),
            at_c4(6, "gemma", (1, "demo"), 1049.0, 5453.0),
        ],
        SpeedBasis::SameLoad,
    );
    let fastest: Vec<&str> = md.lines().filter(|l| l.contains("**Fastest:**")).collect();
    assert_eq!(fastest.len(), 1, "{md}");
    assert!(
        fastest[0].starts_with("- **Fastest:** llama (run #3) — 1.1x faster than llama (run #2) on output tok/s, what a batch job pays for (1,057 vs 982 output tok/s; at the same load over the same dataset (synthetic_100.jsonl)"),
        "{}",
        fastest[0]
    );
    assert!(!md.contains("gemma (run #6) — FASTEST"), "#6 is compared with no run: {md}");
    assert!(md.contains("### llama (run #3) — FASTEST AT ITS LOAD"), "{md}");
    assert!(
        md.contains("**Not like for like:** llama (run #2) and llama (run #3) over synthetic_100.jsonl; gemma (run #6) over demo were measured at one load (concurrency 4 · max tokens 64"),
        "{md}"
    );
    assert!(
        md.contains("Not like for like: different datasets (run #2, run #3 over synthetic_100.jsonl; run #6 over demo)"),
        "{md}"
    );
    assert!(!md.contains("All these runs were measured at the same load"), "{md}");
    // The ranking is per load and dataset, on output tok/s.
    assert!(
        md.contains("At concurrency 4 · max tokens 64 · engine settings not recorded, over synthetic_100.jsonl:"),
        "{md}"
    );
    assert!(
        md.contains("1. llama (run #3) — 1,057 output tok/s, 4,517 total tok/s (1.1x the slowest here)"),
        "{md}"
    );
}

#[test]
fn faster_is_ranked_on_output_tokens_not_on_total() {
    // #1 sends longer prompts' worth of total tokens but generates fewer.
    let md = markdown(
        vec![
            at_c4(1, "a", (1, "demo"), 900.0, 9000.0),
            at_c4(2, "b", (1, "demo"), 1200.0, 5000.0),
        ],
        SpeedBasis::SameLoad,
    );
    let fastest = md.lines().find(|l| l.contains("**Fastest:**")).expect("a claim");
    assert!(
        fastest.starts_with("- **Fastest:** b (run #2) — 1.3x faster than a (run #1) on output tok/s"),
        "{fastest}"
    );
}

#[test]
fn throughputs_within_five_percent_are_about_as_fast_not_one_point_zero_x_faster() {
    let md = markdown(
        vec![
            at_c4(1, "a", (1, "demo"), 9207.0, 12000.0),
            at_c4(2, "b", (1, "demo"), 8776.0, 11000.0),
        ],
        SpeedBasis::SameLoad,
    );
    assert!(!md.contains("1.0x"), "{md}");
    assert!(!md.contains("**Fastest:**") && !md.contains("FASTEST"), "{md}");
    let speed = md.lines().find(|l| l.contains("**Speed:**")).expect("a speed finding");
    assert!(
        speed.starts_with("- **Speed:** a (run #1) and b (run #2) are about as fast as each other on output tok/s, what a batch job pays for (9,207 vs 8,776 output tok/s, within 5%;"),
        "{speed}"
    );
    assert!(md.contains("(about as fast as the slowest here)"), "{md}");
    // Two leaders within 5% of each other, both well ahead of a third: both lead, said so.
    let md = markdown(
        vec![
            at_c4(1, "a", (1, "demo"), 9207.0, 12000.0),
            at_c4(2, "b", (1, "demo"), 8776.0, 11000.0),
            at_c4(3, "c", (1, "demo"), 3000.0, 5000.0),
        ],
        SpeedBasis::SameLoad,
    );
    let fastest = md.lines().find(|l| l.contains("**Fastest:**")).expect("a claim");
    assert!(
        fastest.starts_with("- **Fastest:** a (run #1) and b (run #2), about as fast as each other (9,207 vs 8,776 output tok/s) — 3.1x faster than c (run #3)"),
        "{fastest}"
    );
}

/// A priced run at max tokens `max`, over dataset 1, with `truncated` of its 200 answers cut off.
fn priced(id: i64, model: &str, max: u32, per_100k: f64, truncated: u64) -> ReportRun {
    let mut s = spec(4);
    s.sampling.max_tokens = Some(max);
    let mut load = RunLoad::from_spec(&s);
    load.dataset = super::load::DatasetRef::new(Some(1), "demo");
    let mut r = run(id, model, 200, 1000.0, load);
    r.cost_per_request = Some(Usd(per_100k / 1e5));
    r.summary.outcomes.truncated = truncated;
    r
}

#[test]
fn the_cheapest_is_named_only_against_runs_asked_the_same_work() {
    // QA: a sweep step at max tokens 64, every answer cut off, was "74% cheaper" than a run that
    // wrote full answers at 512.
    let md = markdown(
        vec![
            priced(1, "gemma", 512, 9.31, 0),
            priced(2, "llama", 512, 4.05, 0),
            priced(8, "cut", 64, 2.35, 200),
        ],
        SpeedBasis::SameLoad,
    );
    let line = md.lines().find(|l| l.contains("**Cheapest:**")).expect("a cheapest claim");
    assert!(line.contains("llama (run #2) — 56% cheaper than gemma (run #1)"), "{line}");
    assert!(line.contains("same dataset") && line.contains("max tokens 512"), "{line}");
    assert!(!md.contains("CHEAPEST") || md.contains("llama (run #2) — CHEAPEST"), "{md}");
    // Two runs asked different work: no saving is claimed.
    let md = markdown(
        vec![priced(1, "gemma", 512, 9.31, 0), priced(8, "cut", 64, 2.35, 200)],
        SpeedBasis::SameLoad,
    );
    assert!(!md.contains("**Cheapest:**") && !md.contains("CHEAPEST"), "{md}");
    assert!(md.contains("no two priced runs are known to have been asked the same work"), "{md}");
    // The same work, but one cut its answers off: said.
    let md = markdown(
        vec![priced(1, "gemma", 64, 9.31, 0), priced(8, "cut", 64, 2.35, 150)],
        SpeedBasis::SameLoad,
    );
    let line = md.lines().find(|l| l.contains("**Cheapest:**")).expect("a cheapest claim");
    assert!(line.contains("run #8 cut 75% of its answers off at max tokens"), "{line}");
    assert!(!line.contains("priced at one rate"), "no price rows given: {line}");
    // Both at the sheet's one rate for unlisted models: cheaper only for fewer tokens (QA).
    let fallback = "gpt-oss-20b: $0.04 in / $0.2 out per 1M tokens (the sheet's rate for models it does not list)";
    let (mut a, mut b) = (priced(1, "gemma", 512, 9.31, 0), priced(2, "llama", 512, 4.05, 0));
    a.price_row = Some(fallback.into());
    b.price_row = Some(fallback.into());
    let md = markdown(vec![a, b], SpeedBasis::SameLoad);
    let line = md.lines().find(|l| l.contains("**Cheapest:**")).expect("a cheapest claim");
    assert!(
        line.contains("both are priced at one rate (gpt-oss-20b") && line.contains("the difference is only in the tokens each wrote"),
        "{line}"
    );
}

#[test]
fn a_run_alone_at_its_load_or_over_no_recorded_dataset_is_ranked_against_none() {
    let lone = at_c4(2, "llama", (2, "synthetic_100.jsonl"), 982.0, 4197.0);
    let mut no_dataset = at_c4(5, "gemma", (1, "x"), 500.0, 2000.0);
    no_dataset.load.dataset = None;
    let md = markdown(vec![lone, no_dataset], SpeedBasis::SameLoad);
    assert!(!md.contains("- 1. "), "a group of one is no ranking: {md}");
    assert!(
        md.contains("over synthetic_100.jsonl: only llama (run #2) — 982 output tok/s, 4,197 total tok/s (no other run"),
        "{md}"
    );
    assert!(!md.contains("over not recorded:"), "ranked nowhere, listed once: {md}");
    assert!(md.contains("Dataset not recorded, not compared: gemma (run #5)"), "{md}");
}

#[test]
fn a_hybrid_across_unlike_work_with_an_unrated_judge_says_both() {
    use crate::domain::hybrid::{hybrid_at, HybridInput};
    let point = hybrid_at(
        &HybridInput {
            volume: 1000.0,
            screen_cost_per_request: 3.66e-5,
            judge_cost_per_request: 9.49e-5,
            groups: Vec::new(),
        },
        0.2,
    );
    let mut input = ReportInput {
        generated_at: "today".into(),
        runs: vec![
            run(2, "llama-1b", 200, 1000.0, RunLoad::default()),
            run(3, "llama-3b", 200, 500.0, RunLoad::default()),
        ],
        sheet: sheet(),
        monthly_volume: 1000.0,
        hybrid: Some(HybridSection {
            screen: "llama-1b (run #2)".into(),
            judge: "llama-3b (run #3)".into(),
            point,
            positives_are: String::new(),
            same_model: false,
            unlike: true,
            judge_unrated: true,
        }),
        claims: Vec::new(),
        speed_basis: SpeedBasis::SameLoad,
        charts: Vec::new(),
    };
    let md = build(&input).to_markdown();
    assert!(md.contains("the saving is an estimate across different work"), "{md}");
    assert!(md.contains("No quality is measured for the judge"), "{md}");
    if let Some(h) = input.hybrid.as_mut() {
        (h.unlike, h.judge_unrated) = (false, false);
    }
    let md = build(&input).to_markdown();
    assert!(
        !md.contains("across different work") && !md.contains("No quality is measured for the judge"),
        "{md}"
    );
}

#[test]
fn a_reasoning_run_shows_its_answer_ttft_and_its_reasoning_tokens_and_no_usage_is_no_zero_rate() {
    let mut r = run(1, "thinker", 200, 1000.0, RunLoad::from_spec(&spec(4)));
    r.summary.ttft_ms = Some(Distribution {
        count: 200,
        p50: 12.5,
        p90: 20.0,
        p99: 30.0,
        ..Default::default()
    });
    r.summary.answer_ttft_ms = Some(Distribution {
        count: 200,
        p50: 258.0,
        p90: 300.0,
        p99: 350.0,
        ..Default::default()
    });
    r.summary.reasoning_tokens = 9600;
    r.summary.reasoning_tokens_source = Some(crate::domain::record::TokenSource::Usage);
    let mut no_usage = run(2, "mute", 200, 0.0, RunLoad::from_spec(&spec(4)));
    no_usage.summary.output_tokens_per_s = 0.0;
    no_usage.summary.usage_unknown = 200;
    let md = markdown(vec![r, no_usage], SpeedBasis::SameLoad);
    assert!(md.contains("| Answer TTFT p50 / p90 / p99 | 258 ms / 300 ms / 350 ms |"), "{md}");
    assert!(
        md.contains("| Reasoning tokens | 9,600 (the server's usage), 48 a request, part of the completion tokens |"),
        "{md}"
    );
    assert!(
        md.contains("| Output tok/s | unknown (no completion count: the server sent no token usage) |"),
        "{md}"
    );
}

#[test]
fn a_rate_without_a_concurrency_cap_is_said_so_not_as_the_placeholder_cap() {
    let mut s = spec(crate::domain::spec::MAX_CONCURRENCY);
    s.load.rate = Some(2.5);
    assert_eq!(
        RunLoad::from_spec(&s).shape.as_deref(),
        Some("2.5 req/s (Poisson), no cap in flight")
    );
    let mut capped = spec(16);
    capped.load.rate = Some(2.5);
    assert_eq!(
        RunLoad::from_spec(&capped).shape.as_deref(),
        Some("2.5 req/s (Poisson), at most 16 in flight")
    );
}
