//! Issue 18 over real HTTP against the simulator: goodput with targets that split a run's
//! requests (the count checked request by request against the stored records), and the
//! conditions captured from the endpoint, shown as a difference between two runs (the prefix
//! cache cold on the first run over a dataset, warm on the second).

mod common;

use app::domain::status::RunStatus;
use common::{fast_sim, spawn, TestApp};
use serde_json::{json, Value};
use server::sim::{PrefixCacheConfig, SimConfig};
use std::time::Duration;

/// Upload a dataset of `n` chat prompts that share no leading block (each starts with its own
/// number), and return its id.
async fn distinct_prompts(app: &TestApp, name: &str, n: usize) -> i64 {
    let body: String = (0..n)
        .map(|i| {
            let text = format!(
                "Request {i:04}: summarise the following notes in one sentence. {}",
                "Notes about the weather, the harvest and the market. ".repeat(4)
            );
            format!(
                "{}\n",
                json!({"custom_id": format!("p{i}"), "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": "x", "max_tokens": 24, "messages": [{"role": "user", "content": text}]}})
            )
        })
        .collect();
    let r = app
        .http
        .post(app.url(&format!("/api/datasets?name={name}")))
        .body(body)
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.expect("json")["id"].as_i64().expect("id")
}

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
    let app = spawn(SimConfig {
        prefix_cache: PrefixCacheConfig {
            capacity_blocks: 4096,
            cached_ttft_factor: 0.2,
        },
        ..fast_sim()
    })
    .await;
    let dataset = distinct_prompts(&app, "distinct", 100).await;
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
}
