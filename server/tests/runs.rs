//! Runs against the simulator, end to end over HTTP: counts, the concurrency bound, faults,
//! cancel, and bad launches.

mod common;

use app::domain::status::RunStatus;
use common::{fast_sim, spawn};
use serde_json::json;
use server::sim::answer::tokenize;
use server::sim::faults::FaultRates;
use server::sim::{ReasoningField, ReasoningMode, SimConfig};
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stores_every_request_and_respects_the_concurrency_bound() {
    let app = spawn(fast_sim()).await;
    let id = app.launch("sim-gemma-3-4b", json!({"requests": 200, "concurrency": 8})).await;
    let run = app.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed);
    assert!(run.simulated, "runs on the simulator are labelled simulated");
    assert_eq!(run.done_requests, 200);

    let records = app.records(id).await;
    let ids: HashSet<&str> = records.iter().filter_map(|r| r["custom_id"].as_str()).collect();
    assert_eq!(ids.len(), 200, "one record per request, none duplicated");

    let stats = app.sim_stats().await;
    assert_eq!(stats["requests"], 200);
    let peak = stats["peak_in_flight"].as_u64().expect("peak");
    assert!(peak <= 8, "never more than 8 in flight, saw {peak}");
    assert!(peak >= 2, "requests did overlap (peak {peak})");

    let s = run.summary.expect("summary");
    assert_eq!(s.outcomes.ok + s.outcomes.truncated, 200);
    assert!((s.success_rate - 1.0).abs() < 1e-12);
    // The server's usage is what is summed: equal to what the simulator generated.
    assert_eq!(s.completion_tokens, stats["generation_tokens_total"].as_u64().expect("tokens"));
    assert!(s.output_tokens_per_s > 0.0 && s.total_tokens_per_s > s.output_tokens_per_s);
    let ttft = s.ttft_ms.expect("ttft");
    assert!(ttft.p50 >= 5.0, "TTFT includes the simulated 5 ms prefill, got {}", ttft.p50);
    assert!(ttft.p50 <= ttft.p90 && ttft.p90 <= ttft.p99);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_injected_fault_is_counted_in_its_class_and_the_run_finishes() {
    let faults = FaultRates {
        http_500: 0.06,
        http_429: 0.06,
        stall: 0.05,
        drop: 0.06,
        malformed: 0.06,
        error_frame: 0.06,
        flat_errors: false,
        stall_for: Duration::from_secs(3600),
    };
    let app = spawn(SimConfig {
        faults,
        seed: 7,
        ..fast_sim()
    })
    .await;
    let id = app
        .launch("sim-qwen3-4b", json!({"requests": 300, "concurrency": 16, "timeout_s": 2}))
        .await;
    let run = app.wait_finished(id, Duration::from_secs(90)).await;
    assert_eq!(run.status, RunStatus::Completed);
    let s = run.summary.expect("summary");
    let stats = app.sim_stats().await;
    let f = |k: &str| stats["faults"][k].as_u64().expect("fault count");
    assert!(f("http_500") > 0 && f("stall") > 0 && f("drop") > 0 && f("malformed") > 0 && f("error_frame") > 0);
    assert_eq!(s.outcomes.http_status.get(&500).copied().unwrap_or(0), f("http_500"));
    assert_eq!(s.outcomes.http_status.get(&429).copied().unwrap_or(0), f("http_429"));
    assert_eq!(s.outcomes.http_error, f("http_500") + f("http_429"));
    assert_eq!(s.outcomes.timeout, f("stall"));
    assert_eq!(s.outcomes.connection_error, f("drop"));
    assert_eq!(s.outcomes.stream_error, f("malformed") + f("error_frame"));
    assert_eq!(s.outcomes.total(), 300, "failed requests stay in the counts");
    assert_eq!(s.requests, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flat_error_bodies_are_read_like_nested_ones() {
    let faults = FaultRates {
        http_500: 1.0,
        flat_errors: true,
        ..Default::default()
    };
    let app = spawn(SimConfig { faults, ..fast_sim() }).await;
    let id = app.launch("sim-qwen3-4b", json!({"requests": 3})).await;
    app.wait_finished(id, Duration::from_secs(20)).await;
    let records = app.records(id).await;
    assert!(records.iter().all(|r| r["outcome"] == "http_error" && r["http_status"] == 500));
    assert!(
        records.iter().all(|r| r["error"] == "simulated engine failure"),
        "{:?}",
        records[0]["error"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flat_error_frames_mid_stream_are_stream_errors() {
    let faults = FaultRates {
        error_frame: 1.0,
        flat_errors: true,
        ..Default::default()
    };
    let app = spawn(SimConfig { faults, ..fast_sim() }).await;
    let id = app.launch("sim-qwen3-4b", json!({"requests": 3})).await;
    app.wait_finished(id, Duration::from_secs(20)).await;
    let records = app.records(id).await;
    assert_eq!(records.len(), 3);
    for r in &records {
        assert_eq!(r["outcome"], "stream_error", "{r}");
        assert_eq!(r["error"], "error frame mid-stream: simulated engine error mid-stream", "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_run_stops_it_and_keeps_what_finished() {
    let slow = SimConfig {
        tpot: Duration::from_millis(20),
        ..fast_sim()
    };
    let app = spawn(slow).await;
    let id = app.launch("sim-gemma-3-4b", json!({"requests": 100, "concurrency": 2})).await;
    // Wait until it is running with at least one stored record.
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.run(id).await.done_requests < 1 {
        assert!(Instant::now() < deadline, "run never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = app.post_json(&format!("/api/runs/{id}/cancel"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let run = app.wait_finished(id, Duration::from_secs(10)).await;
    assert_eq!(run.status, RunStatus::Cancelled);
    assert!(run.done_requests >= 1 && run.done_requests < 100, "{}", run.done_requests);
    assert!(run.summary.is_some(), "a cancelled run still gets its summary");
    let (status, _) = app.post_json(&format!("/api/runs/{id}/cancel"), json!({})).await;
    assert_eq!(status, 409, "a finished run cannot be cancelled again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_launches_are_refused_at_their_fields_and_store_nothing() {
    let app = spawn(fast_sim()).await;
    let (status, v) = app
        .post_json(
            "/api/runs",
            json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-gemma-3-4b", "requests": 0, "concurrency": -1}),
        )
        .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = v["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert!(fields.contains(&"requests") && fields.contains(&"concurrency"), "{v}");

    let (status, v) = app
        .post_json(
            "/api/runs",
            json!({"endpoint_id": 1, "dataset_id": 1, "model": "gpt-9", "requests": 5, "concurrency": 1}),
        )
        .await;
    assert_eq!(status, 422);
    let msg = v["message"].as_str().expect("message");
    assert!(msg.contains("does not serve 'gpt-9'") && msg.contains("sim-gemma-3-4b"), "{msg}");

    let (status, v) = app
        .post_json(
            "/api/runs",
            json!({"endpoint_id": 99, "dataset_id": 1, "model": "x", "requests": 5, "concurrency": 1}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(v["message"].as_str().is_some_and(|m| m.contains("no endpoint 99")), "{v}");

    let runs = app.get_json("/api/runs").await;
    assert_eq!(runs.as_array().map(Vec::len), Some(0), "nothing was queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_queues_one_run_per_concurrency_level() {
    let app = spawn(fast_sim()).await;
    let (status, v) = app
        .post_json(
            "/api/runs",
            json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-llama-3.2-1b", "requests": 12, "concurrency": 1, "sweep": "1,4"}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let ids: Vec<i64> = v["run_ids"].as_array().expect("ids").iter().filter_map(|i| i.as_i64()).collect();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        let r = app.wait_finished(*id, Duration::from_secs(30)).await;
        assert_eq!(r.status, RunStatus::Completed);
        assert_eq!(r.sweep_id, Some(ids[0]));
    }
    assert_eq!(app.run(ids[1]).await.spec.expect("spec").load.concurrency, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_events_end_with_the_finished_state() {
    let app = spawn(fast_sim()).await;
    let id = app.launch("sim-llama-3.2-1b", json!({"requests": 10})).await;
    app.wait_finished(id, Duration::from_secs(30)).await;
    let text = app
        .http
        .get(app.url(&format!("/api/runs/{id}/events")))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    let events: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).expect("json"))
        .collect();
    assert_eq!(events.len(), 1, "a finished run sends its state once and ends the stream: {text}");
    assert_eq!(events[0]["status"], "completed");
    assert_eq!(events[0]["done"], 10);
    assert_eq!(events[0]["total"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_that_cannot_fit_fails_pre_flight_with_the_numbers() {
    // The demo's requests ask for 1000 tokens each: under a max_model_len of 1100 they pass the
    // launch's check (which refuses only a max_tokens leaving no room for any prompt), and their
    // prompts (about 330 tokens) make them too long for it, which the pre-flight counts.
    let app = spawn(SimConfig {
        max_model_len: 1100,
        ..fast_sim()
    })
    .await;
    let id = app.launch("sim-gemma-3-4b", json!({"requests": 5})).await;
    let run = app.wait_finished(id, Duration::from_secs(20)).await;
    assert_eq!(run.status, RunStatus::Failed);
    let err = run.error.expect("error");
    assert!(
        err.contains("does not fit") && err.contains("max_tokens 1000") && err.contains("max_model_len 1100"),
        "{err}"
    );
    assert!(err.contains("Lower max_tokens to at most"), "{err}");
    assert_eq!(run.done_requests, 0, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_metrics_are_scraped_and_integrity_is_assessed() {
    let slow = SimConfig {
        tpot: Duration::from_millis(4),
        ..fast_sim()
    };
    let app = spawn(slow).await;
    let id = app
        .launch("sim-qwen3-4b", json!({"requests": 40, "concurrency": 8, "rate": 20, "warmup": 4}))
        .await;
    let run = app.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed);
    let series = app.get_json(&format!("/api/runs/{id}/metrics")).await;
    let series = series.as_array().expect("series");
    assert!(series.len() >= 2, "scraped about once a second: {}", series.len());
    assert!(series.iter().all(|m| m["kv_cache_usage"].is_number() && m["running"].is_number()));
    let s = run.summary.expect("summary");
    assert_eq!(s.requests, 40);
    assert_eq!(s.warmup_requests, 4);
    let i = s.integrity.expect("integrity");
    // The simulator's generation counter agrees with the usage the client summed (warm-up included).
    assert_eq!(i.token_mismatch, Some(0.0), "{i:?}");
    assert_eq!(i.target_rate, Some(20.0));
    let lag = i.dispatch_lag_ms.expect("rate runs record dispatch lag");
    assert_eq!(lag.count, 40);
    assert!(lag.min >= 0.0);
    assert!(i.client_cpu_s.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maximum_duration_stops_sending_and_lets_requests_in_flight_finish() {
    let slow = SimConfig {
        tpot: Duration::from_millis(10),
        ..fast_sim()
    };
    let app = spawn(slow).await;
    let id = app
        .launch("sim-gemma-3-4b", json!({"requests": 500, "concurrency": 4, "max_duration_s": 2}))
        .await;
    let run = app.wait_finished(id, Duration::from_secs(30)).await;
    assert_eq!(run.status, RunStatus::Completed);
    let s = run.summary.expect("summary");
    assert!(s.requests > 0 && s.requests < 500, "{} requests", s.requests);
    assert_eq!(s.outcomes.ok + s.outcomes.truncated, s.requests, "the ones in flight finished");
}

/// Reasoning tokens before every answer in the reasoning tests, and the tokens of each request
/// (the answer is cut at `max_tokens`).
const THINK: u64 = 40;
const MAX_TOKENS: u64 = 64;

/// Run `model` on a simulator that reasons as `mode` says, and check the measurement against
/// what the simulator is known to send: `THINK` reasoning tokens, then the answer up to
/// `MAX_TOKENS` in all.
async fn check_reasoning_run(mode: ReasoningMode, model: &str, source: &str) {
    // Slow tokens (2 ms each at a batch of one): the reasoning lasts 80 ms or more, so its first
    // chunk and the answer's do not arrive in one read even on a busy machine.
    let app = spawn(SimConfig {
        reasoning: mode,
        tpot: Duration::from_millis(2),
        ..fast_sim()
    })
    .await;
    let n = 12u64;
    let id = app
        .launch(model, json!({"requests": n, "concurrency": 4, "max_tokens": MAX_TOKENS}))
        .await;
    let run = app.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed);
    let records = app.records(id).await;
    assert_eq!(records.len() as u64, n);
    let mut completion = 0;
    for r in &records {
        let ms = |k: &str| r[k].as_f64().unwrap_or_else(|| panic!("{k} in {r}"));
        assert_eq!(r["outcome"], "truncated", "every answer runs past max_tokens: {r}");
        let answer = r["response"].as_str().expect("answer");
        let reasoning = r["reasoning"].as_str().expect("reasoning kept");
        // The reasoning is kept apart: the answer holds none of it.
        assert!(reasoning.starts_with("Let me think") && !answer.contains("Let me think"), "{r}");
        assert_eq!(tokenize(reasoning).len() as u64, THINK);
        assert_eq!(r["reasoning_tokens"], THINK);
        assert_eq!(r["reasoning_tokens_source"], source);
        // The server's completion tokens count the reasoning; one token per chunk, every chunk counted.
        let tokens = THINK + tokenize(answer).len() as u64;
        assert_eq!((tokens, &r["completion_tokens"]), (MAX_TOKENS, &json!(MAX_TOKENS)), "{r}");
        assert_eq!(r["content_chunks"], tokens);
        completion += tokens;
        // TTFT at the first reasoning chunk; the answer's first token after the reasoning.
        assert!(ms("ttft_ms") < ms("answer_ttft_ms"), "{r}");
        assert!(ms("answer_ttft_ms") < ms("e2e_ms"), "{r}");
        // TPOT over every generated token, from the first one.
        let tpot = (ms("e2e_ms") - ms("ttft_ms")) / (tokens - 1) as f64;
        assert!((ms("tpot_ms") - tpot).abs() < 1e-6, "{r}");
    }
    let s = run.summary.expect("summary");
    assert_eq!(s.reasoning_tokens, n * THINK);
    assert_eq!(s.completion_tokens, n * MAX_TOKENS);
    assert_eq!(s.completion_tokens, completion);
    let stats = app.sim_stats().await;
    assert_eq!(s.completion_tokens, stats["generation_tokens_total"].as_u64().expect("tokens"));
    assert_eq!(s.reasoning_tokens_source.map(|x| x.label()), Some(source));
    let (ttft, answer) = (s.ttft_ms.expect("ttft"), s.answer_ttft_ms.expect("answer ttft"));
    assert!(ttft.min < answer.min && ttft.max < answer.max && ttft.mean < answer.mean);
    assert_eq!(ttft.count, answer.count);

    // The REST summary carries both TTFTs and the reasoning tokens, each with its definition.
    let v = app.get_json(&format!("/api/runs/{id}")).await;
    assert_eq!(v["summary"]["reasoning_tokens"], n * THINK);
    assert_eq!(v["summary"]["reasoning_tokens_source"], source);
    assert!(v["summary"]["answer_ttft_ms"]["p99"].is_number());
    for key in ["ttft", "answer_ttft", "reasoning_tokens"] {
        assert!(v["definitions"][key].is_string(), "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thinking_model_in_delta_reasoning_is_timed_from_its_first_reasoning_token() {
    let mode = ReasoningMode {
        field: ReasoningField::Reasoning,
        tokens: THINK as usize,
        usage_details: true,
        ..ReasoningMode::default()
    };
    check_reasoning_run(mode, "sim-qwen3-4b-thinking", "usage").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_vllm_reasoning_content_without_usage_details_is_counted() {
    let mode = ReasoningMode {
        all_models: true,
        field: ReasoningField::ReasoningContent,
        tokens: THINK as usize,
        usage_details: false,
    };
    check_reasoning_run(mode, "sim-gemma-3-4b", "counted").await;
}
