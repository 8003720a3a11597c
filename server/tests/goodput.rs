//! Issue 18 over real HTTP against the simulator: goodput with targets that split a run's
//! requests (the count checked request by request against the stored records), and the
//! conditions captured from the endpoint, shown as a difference between two runs (the prefix
//! cache cold on the first run over a dataset, warm on the second).

mod common;

use app::domain::status::RunStatus;
use common::{cached_sim, distinct_prompts, fast_sim, spawn};
use serde_json::{json, Value};
use server::sim::SimConfig;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goodput_counts_exactly_the_requests_within_the_targets() {
    // Four sequences decode at once: with eight in flight, every request after the first four
    // waits for a slot, so its TTFT is far above 300 ms while the first four are near 20 ms.
    let app = spawn(SimConfig {
        ttft: Duration::from_millis(20),
        tpot: Duration::from_millis(6),
        max_concurrency: 4,
        ..fast_sim()
    })
    .await;
    let id = app
        .launch(
            "sim-gemma-3-4b",
            json!({"requests": 24, "concurrency": 8, "max_tokens": 60,
                   "slo": {"ttft_ms": 300, "tpot_ms": null, "e2e_ms": 5000, "percentile": 90}}),
        )
        .await;
    let run = app.wait_finished(id, Duration::from_secs(120)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let s = run.summary.expect("summary");
    let g = s.goodput.clone().expect("goodput beside throughput");
    assert_eq!(
        (g.targets.ttft_ms, g.targets.e2e_ms, g.targets.percentile),
        (Some(300.0), Some(5000.0), 90.0)
    );

    // Request by request, from the stored records: answered, TTFT <= 300 ms, E2E <= 5 s.
    let records = app.records(id).await;
    let good: Vec<&Value> = records
        .iter()
        .filter(|r| {
            matches!(r["outcome"].as_str(), Some("ok" | "truncated"))
                && r["ttft_ms"].as_f64().is_some_and(|t| t <= 300.0)
                && r["e2e_ms"].as_f64().is_some_and(|t| t <= 5000.0)
        })
        .collect();
    assert_eq!(g.good_requests, good.len() as u64, "the same requests, counted exactly");
    assert!(
        g.good_requests >= 1 && g.good_requests < 24,
        "the targets split the requests: {} of 24 within them",
        g.good_requests
    );
    let tokens: u64 = good.iter().filter_map(|r| r["completion_tokens"].as_u64()).sum();
    // Divided by the run's measured wall time, exactly like throughput.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert!(close(g.requests_per_s, g.good_requests as f64 / s.wall_time_s), "{g:?}");
    assert!(close(g.output_tokens_per_s, tokens as f64 / s.wall_time_s), "{g:?}");
    assert!(close(g.good_share, g.good_requests as f64 / 24.0));
    // The run as a whole: its p90 TTFT (the summary's own) is far over 300 ms.
    let ttft = &g.at_percentile[0];
    assert_eq!(ttft.observed_ms, s.ttft_ms.map(|d| d.p90));
    assert!(!ttft.met && !g.met, "{g:?}");

    // The REST summary keeps its shape and adds the goodput, with its definition.
    let v = app.get_json(&format!("/api/runs/{id}")).await;
    assert_eq!(v["run"]["summary"]["goodput"]["good_requests"], json!(g.good_requests));
    assert!(v["run"]["summary"]["output_tokens_per_s"].is_number());
    let defs = v["definitions"].to_string();
    assert!(defs.contains("vLLM bench serve --goodput"), "{defs}");

    // The run page shows it next to throughput, with its definition.
    let html = app
        .http
        .get(app.url(&format!("/runs/{id}")))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    assert!(html.contains("Goodput (output tokens/s)") && html.contains("Targets met by the run"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_targets_are_refused_with_what_to_write() {
    let app = spawn(fast_sim()).await;
    for (slo, needle) in [
        (json!("ttft:fast"), "ttft must be a number of milliseconds"),
        (json!("itl:5"), "unknown target 'itl'"),
        (json!({"ttft_ms": -1}), "more than 0"),
        (json!({"percentile": 90}), "give at least one target"),
    ] {
        let (status, v) = app
            .post_json(
                "/api/runs",
                json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-gemma-3-4b", "requests": 4, "concurrency": 1, "slo": slo}),
            )
            .await;
        assert_eq!(status, 422, "{slo}: {v}");
        assert!(v.to_string().contains(needle), "{slo}: {v}");
    }
    let runs = app.get_json("/api/runs").await;
    assert_eq!(runs.as_array().map(Vec::len), Some(0), "nothing was queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_are_captured_and_a_warm_prefix_cache_is_named_on_compare() {
    let app = spawn(cached_sim()).await;
    let dataset = distinct_prompts(&app, "distinct", 100, 24).await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let id = app
            .launch(
                "sim-llama-3.2-1b",
                json!({"dataset_id": dataset, "requests": 100, "concurrency": 8}),
            )
            .await;
        let r = app.wait_finished(id, Duration::from_secs(120)).await;
        assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
        runs.push(r);
    }
    let (cold, warm) = (&runs[0], &runs[1]);
    let c = cold.conditions.clone().expect("conditions captured from the simulator");
    assert!(c.version.as_deref().is_some_and(|v| v.starts_with("bakeoff-sim-")), "{c:?}");
    assert_eq!(c.max_model_len, Some(4096));
    assert_eq!(c.model_root.as_deref(), Some("sim-llama-3.2-1b"));
    assert_eq!(c.prefix_caching(), Some(true));
    assert_eq!(
        c.info
            .get("cache_config_info")
            .and_then(|l| l.get("block_size"))
            .map(String::as_str),
        Some("16")
    );
    // The first run over the dataset finds nothing cached; the second finds its prompts there.
    let cold_use = c.prefix_cache.expect("prefix cache over the first run");
    assert!(cold_use.queries > 0.0);
    assert_eq!(cold_use.hits, 0.0);
    let warm_rate = warm
        .conditions
        .as_ref()
        .and_then(|c| c.prefix_cache)
        .and_then(|p| p.hit_rate())
        .expect("hit rate over the second run");
    assert!(warm_rate > 0.5, "the second run reused the cache: {warm_rate}");

    // Compared, the runs say their conditions differ, and why the second was faster.
    let html = app
        .http
        .get(app.url(&format!("/compare?run={}&run={}", cold.id, warm.id)))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    let needle = format!("prefix-cache hit rate 0% (#{}) vs", cold.id);
    assert!(html.contains(&needle), "compare names the hit rates: {needle}");
    assert!(html.contains(&format!("reused the cache #{} left", cold.id)), "and the reuse");
    // The report's like-for-like note says it too.
    let report = app
        .http
        .get(app.url("/api/report?format=md"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("md");
    assert!(
        report.contains("Conditions differ: prefix-cache hit rate 0%"),
        "the report notes it"
    );
    // The run page shows the conditions.
    let page = app
        .http
        .get(app.url(&format!("/runs/{}", warm.id)))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    assert!(page.contains("Conditions") && page.contains("Prefix-cache hit rate during the run"));
    // No launch command names a revision, and vLLM's API does not say it.
    assert!(page.contains("Model revision") && page.contains("not reported by the server"));
    // The costs page, which prices the runs side by side, says it too.
    let costs = app
        .http
        .get(app.url("/costs"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    let needle = format!("Conditions differ: prefix-cache hit rate 0% (#{}) vs", cold.id);
    assert!(costs.contains(&needle), "the costs page names the hit rates: {needle}");
}

/// The prefix-cache hit rate is the measured requests': warm-up requests prime the cache and are
/// left out. A cold cache, a warm-up over every prompt, then the same prompts measured: the run's
/// lookups are exactly its measured requests' prompt tokens, and every hit is theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prefix_cache_window_opens_after_the_warm_up() {
    let app = spawn(cached_sim()).await;
    let dataset = distinct_prompts(&app, "distinct", 8, 24).await;
    let counters = || async {
        let text = reqwest::get(format!("{}/metrics", app.sim_url()))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        app::domain::conditions::prefix_counters(&text).expect("prefix-cache counters")
    };
    let before = counters().await;
    let id = app
        .launch(
            "sim-llama-3.2-1b",
            json!({"dataset_id": dataset, "requests": 8, "warmup": 8, "concurrency": 2, "max_tokens": 8}),
        )
        .await;
    let run = app.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let after = counters().await;
    let measured: Vec<Value> = app
        .records(id)
        .await
        .into_iter()
        .filter(|r| r["warmup"].as_bool() != Some(true))
        .collect();
    assert_eq!(measured.len(), 8);
    let measured_tokens: f64 = measured.iter().filter_map(|r| r["prompt_tokens"].as_f64()).sum();
    let used = run.conditions.and_then(|c| c.prefix_cache).expect("prefix cache over the run");
    // The simulator saw the same 8 prompts twice: the warm-up's half of the lookups are not the run's.
    let (queries, hits) = (after.queries - before.queries, after.hits - before.hits);
    assert_eq!(used.queries, measured_tokens, "the measured requests' lookups only");
    assert_eq!(used.queries * 2.0, queries, "warm-up and measured requests send the same prompts");
    // The warm-up found a cold cache: every hit is a measured request's.
    assert!(hits > 0.0);
    assert_eq!(used.hits, hits);
    assert!(used.hit_rate().is_some_and(|r| r > 0.5), "{used:?}");
}

/// A managed endpoint whose launch command pins `--revision` records it with the conditions
/// (vLLM's API does not report it), and the run page shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revision_a_launch_command_pins_is_recorded() {
    const FAKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake-vllm.sh");
    const MODEL: &str = "google/gemma-3-4b-it";
    let app = spawn(fast_sim()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut args = vec![
        "env".to_string(),
        format!("BAKEOFF_BIN={}", env!("CARGO_BIN_EXE_bakeoff")),
        "FAKE_KV_TOKENS=8192".to_string(),
        FAKE.to_string(),
    ];
    args.extend(app::api::endpoints::command::split_template(
        "{model} --port {port} --revision 0a1b2c3 --tokenizer-revision=v1.2 --max-model-len {max_model_len}",
    ));
    let endpoint = app::api::endpoints::register_managed(
        &app.running.state,
        "fake gpu",
        &format!("http://127.0.0.1:{port}"),
        &args,
        &[MODEL.to_string()],
    )
    .await
    .expect("endpoint");
    let (status, v) = app
        .post_json(
            "/api/runs",
            json!({"endpoint_id": endpoint, "dataset_id": 1, "model": MODEL, "requests": 3, "concurrency": 1, "max_tokens": 8, "max_model_len": 2048}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let id = v["run_ids"][0].as_i64().expect("id");
    let run = app.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let c = run.conditions.expect("conditions");
    assert_eq!(
        (c.revision.as_deref(), c.tokenizer_revision.as_deref()),
        (Some("0a1b2c3"), Some("v1.2"))
    );
    let page = app
        .http
        .get(app.url(&format!("/runs/{id}")))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    assert!(page.contains("0a1b2c3 (--revision in the launch command)"), "the run page shows it");
}
