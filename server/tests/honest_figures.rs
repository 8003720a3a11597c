//! Figures the data cannot carry are not shown as measured, over real HTTP: an imported OpenAI
//! Batch output (no times in the format) says its timing is unknown instead of showing zeros,
//! and runs under the report's 100-request line carry a small-sample note, with each percentile
//! shown only over enough requests.

mod common;

use common::{fast_sim, spawn, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

async fn page(app: &TestApp, path: &str) -> String {
    let r = app.http.get(app.url(path)).send().await.expect("GET");
    assert_eq!(r.status(), 200, "GET {path}");
    r.text().await.expect("html")
}

async fn import(app: &TestApp, filename: &str, body: String) -> (u16, Value) {
    let r = app
        .http
        .post(app.url(&format!("/api/import?filename={filename}")))
        .body(body)
        .send()
        .await
        .expect("POST");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_batch_output_says_its_timing_is_unknown_instead_of_zeros() {
    let app = spawn(fast_sim()).await;
    // As QA did it: a measured run, exported as an OpenAI Batch output, imported back.
    let measured = app.launch("sim-gemma-3-4b", json!({"requests": 6, "concurrency": 2})).await;
    app.wait_finished(measured, Duration::from_secs(60)).await;
    let output = app
        .http
        .get(app.url(&format!("/api/runs/{measured}/records?format=batch")))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("batch output");
    assert_eq!(output.lines().count(), 6, "{output}");
    let (status, v) = import(&app, &format!("run-{measured}-output.jsonl"), output.clone()).await;
    assert_eq!(status, 201, "{v}");
    let id = v["run_id"].as_i64().expect("run id");
    // The same file again, renamed: refused with the run that holds it, and nothing stored.
    let runs_before = app.get_json("/api/runs").await;
    let (status, again) = import(&app, "renamed.jsonl", output).await;
    assert_eq!(status, 409, "{again}");
    let message = again["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains(&format!("imported already, as run #{id}")), "{again}");
    assert_eq!(app.get_json("/api/runs").await, runs_before, "nothing stored by the refused import");

    // The JSON keeps its shape: the distributions are null, the rates plain numbers that
    // `timing_known: false` marks unknown.
    let v = app.get_json(&format!("/api/runs/{id}")).await;
    let s = &v["summary"];
    assert_eq!(s["timing_known"], json!(false), "{s}");
    assert_eq!(s["requests"], json!(6));
    for k in ["e2e_ms", "ttft_ms", "tpot_ms", "itl_ms"] {
        assert!(s[k].is_null(), "{k} made of the records' zeros: {}", s[k]);
    }
    assert!(s["output_tokens_per_s"].is_number() && s["wall_time_s"].is_number(), "{s}");

    // The run page says so where the zeros were, and draws no charts of them.
    let html = page(&app, &format!("/runs/{id}")).await;
    assert!(html.contains("timing not recorded (imported)"), "{html}");
    assert!(html.contains("No charts: timing not recorded (imported)"), "{html}");
    assert!(
        !html.contains(">0.0 s<") && !html.contains(">0.00<"),
        "a measured-looking zero remains"
    );

    // The runs list, and the compare page (no speed, not in the CDF charts, saying so).
    let list = page(&app, "/").await;
    assert!(list.contains("timing not recorded (imported)"), "runs list");
    assert!(
        list.contains(&format!("Not drawn: #{id} (timing not recorded (imported))")),
        "throughput chart"
    );
    let cmp = page(&app, &format!("/compare?run={measured}&run={id}")).await;
    assert!(
        cmp.contains(&format!("Not in the latency charts: #{id} (timing not recorded (imported)")),
        "compare leaves it out of the CDF charts"
    );
    assert!(
        !cmp.contains(&format!("Not in the latency charts: #{measured}")),
        "the measured run is drawn"
    );

    // The run summary `bakeoff export` writes beside the output is not importable: the
    // message says what it is and what to import instead. Nothing is stored.
    let exported = app.get_json(&format!("/api/runs/{measured}")).await.to_string();
    let (status, v) = import(&app, &format!("run-{measured}-summary.json"), exported).await;
    assert_eq!(status, 422, "{v}");
    let message = v.to_string();
    assert!(
        message.contains("is a Bakeoff run summary (from bakeoff export)")
            && message.contains(&format!("import run-{measured}-output.jsonl")),
        "{message}"
    );
    assert!(!message.contains("`model` is missing"), "{message}");
    assert_eq!(app.get_json("/api/runs").await.as_array().map(Vec::len), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_run_is_flagged_on_its_page_in_compare_and_in_its_sweep() {
    let app = spawn(fast_sim()).await;
    let small = app
        .launch("sim-gemma-3-4b", json!({"requests": 20, "concurrency": 4, "warmup": 0}))
        .await;
    let run = app.wait_finished(small, Duration::from_secs(60)).await;
    let n = run.summary.as_ref().map(|s| s.requests).expect("summary");
    assert_eq!(n, 20);

    let html = page(&app, &format!("/runs/{small}")).await;
    assert!(
        html.contains("small sample (20 requests): a smoke test, not a measurement"),
        "{html}"
    );
    assert!(
        html.contains("too few requests for a p99 (n = 20)"),
        "p99 of 20 requests is not shown"
    );
    assert!(html.contains("p90 of n = 20 requests"), "the p90 names its n");

    let cmp = page(&app, &format!("/compare?run={small}")).await;
    assert!(
        cmp.contains("small sample (20 requests): a smoke test, not a measurement"),
        "compare flags it"
    );
    assert!(cmp.contains("too few requests for a p99 (n = 20)"), "compare's p99 cell");

    // A sweep of 10 requests a step names what its best setting rests on, and hedges.
    let (status, v) = app
        .post_json(
            "/api/runs",
            json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-llama-3.2-1b", "requests": 10, "concurrency": 1, "warmup": 0, "sweep": "1,4"}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let sweep = v["sweep_id"].as_i64().expect("sweep id");
    for id in v["run_ids"].as_array().expect("ids") {
        app.wait_finished(id.as_i64().expect("id"), Duration::from_secs(60)).await;
    }
    let html = page(&app, &format!("/sweeps/{sweep}")).await;
    assert!(
        html.contains("from 10 requests per step: too few to rank the settings"),
        "the best setting is hedged: {html}"
    );

    // A run of 100 requests is a measurement: no note.
    let full = app
        .launch("sim-gemma-3-4b", json!({"requests": 100, "concurrency": 16, "warmup": 0}))
        .await;
    app.wait_finished(full, Duration::from_secs(60)).await;
    let html = page(&app, &format!("/runs/{full}")).await;
    assert!(
        !html.contains("small sample") && !html.contains("too few requests for a p99"),
        "{html}"
    );
}

/// A seed run summary imported alone (QA: its page read "0/5000 (0%)", "No requests finished
/// yet", and an output rate of 0 where the file gives only total tokens).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_summary_shows_no_progress_says_why_it_has_no_charts_and_no_zero_output_rate() {
    let app = spawn(fast_sim()).await;
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/fixtures/seed-metadata/");
    let mut ids = Vec::new();
    for file in ["llama32-1b-5k-2025-10-28.json", "batch-job-google-gemma-3-4b-it-10-2025-10-28.json"] {
        let text = std::fs::read_to_string(format!("{fixtures}{file}")).expect("fixture");
        let (status, v) = import(&app, file, text).await;
        assert_eq!(status, 201, "{v}");
        ids.push(v["run_id"].as_i64().expect("run id"));
    }
    let html = page(&app, &format!("/runs/{}", ids[0])).await;
    assert!(!html.contains("Run progress"), "an import arrived whole: no progress bar");
    assert!(html.contains("imported as a summary of totals"), "{html}");
    assert!(html.contains("Imported from llama32-1b-5k-2025-10-28.json"), "its notes: {html}");
    assert!(html.contains("Model load time (shown apart, as the file gives it)"), "{html}");
    let list = page(&app, "/").await;
    assert!(list.contains("5000/5000"), "the runs list counts its requests from the summary");
    let totals_only = page(&app, &format!("/runs/{}", ids[1])).await;
    assert!(totals_only.contains("unknown (only total tokens recorded)"), "{totals_only}");
    assert!(
        totals_only.contains("in all (the file gives no prompt/completion split)"),
        "{totals_only}"
    );
}
