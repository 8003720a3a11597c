//! Provider Batch API runs (issue 14) against the simulator's `/v1/files` and `/v1/batches`,
//! over real HTTP with a real SQLite file: submitted once, polled, its answers (and failed
//! lines) stored as records, costed and summarized at job level; cancelled; resumed by another
//! server without being submitted again.

mod common;

use app::api::types::RunView;
use app::domain::spec::RunKind;
use app::domain::status::RunStatus;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn sim(turnaround_ms: u64, fail_rate: f64) -> server::sim::SimConfig {
    server::sim::SimConfig {
        batch_turnaround: Duration::from_millis(turnaround_ms),
        batch_fail_rate: fail_rate,
        ..common::fast_sim()
    }
}

async fn launch_batch(app: &common::TestApp, endpoint: i64, requests: u32) -> i64 {
    let (status, v) = app
        .post_json(
            "/api/runs",
            json!({"endpoint_id": endpoint, "dataset_id": 1, "model": "sim-llama-3.2-1b", "requests": requests,
                   "kind": "provider-batch", "max_tokens": 32}),
        )
        .await;
    assert_eq!(status, 201, "launch refused: {v}");
    v["run_ids"][0].as_i64().expect("run id")
}

/// Poll until the run's batch exists at the provider (its id is stored).
async fn wait_submitted(app: &common::TestApp, id: i64) -> RunView {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let run = app.run(id).await;
        if run.job.as_ref().is_some_and(|j| j.reference.is_some()) {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "run {id}'s batch was not submitted: {:?} {:?}",
            run.status,
            run.error
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_batch_is_submitted_polled_and_stored_with_job_level_figures() {
    let app = common::spawn(sim(800, 0.0)).await;
    let id = launch_batch(&app, 1, 20).await;
    let run = app.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    assert_eq!(run.kind(), RunKind::ProviderBatch);
    let s = run.summary.expect("summary");
    let job = s.job.clone().expect("the summary carries the job");
    assert_eq!(job.kind, RunKind::ProviderBatch);
    assert_eq!((job.total, job.completed, job.failed), (20, 20, 0));
    assert!(job.reference.as_deref().is_some_and(|r| r.starts_with("batch_")), "{job:?}");
    assert_eq!(job.final_status.as_deref(), Some("completed"));
    let turnaround = job.turnaround_s().expect("turnaround");
    // The provider's clock is in whole seconds: 0.8 s of work rounds to 0 or 1 s.
    assert!(turnaround <= 5.0, "{turnaround}");
    // Job-level figures: no per-request timing.
    assert!(s.ttft_ms.is_none() && s.tpot_ms.is_none() && s.e2e_ms.is_none());
    assert_eq!(s.requests, 20);
    assert_eq!(s.outcomes.ok + s.outcomes.truncated, 20);
    assert!(s.completion_tokens > 0 && s.prompt_tokens > 0);
    // Every answer is a record with its usage, under the run's custom ids.
    let records = app.records(id).await;
    assert_eq!(records.len(), 20);
    assert!(
        records.iter().all(|r| r["completion_tokens"].as_u64().is_some_and(|n| n > 0)),
        "{}",
        records[0]
    );
    let mut ids: Vec<&str> = records.iter().filter_map(|r| r["custom_id"].as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "each line once");
    // Answers are checked like any run's (quality roll-up exists).
    let quality: Value = app.get_json(&format!("/api/runs/{id}")).await;
    assert!(quality["run"]["job"]["reference"].is_string(), "{quality}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_the_provider_failed_are_stored_as_failed_records_and_counted() {
    let app = common::spawn(sim(300, 0.3)).await;
    let id = launch_batch(&app, 1, 20).await;
    let run = app.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let s = run.summary.expect("summary");
    let job = s.job.clone().expect("job");
    assert!(job.failed > 0 && job.failed < 20, "a 30 % failure rate on 20 lines: {job:?}");
    assert_eq!(job.completed + job.failed, 20);
    let records = app.records(id).await;
    assert_eq!(records.len(), 20, "answered and failed lines are all records");
    let failed = records
        .iter()
        .filter(|r| r["outcome"] != "ok" && r["outcome"] != "truncated")
        .count() as u64;
    assert_eq!(failed, job.failed, "the error file's lines are the failed records");
    // Each says why, from the error file's response body (it was thrown away).
    for r in records.iter().filter(|r| r["outcome"] != "ok" && r["outcome"] != "truncated") {
        assert!(r["error"].as_str().is_some_and(|e| e.contains("simulated failure")), "{r}");
    }
    assert_eq!(s.outcomes.failed(), job.failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_provider_batch_keeps_what_it_answered_and_ends_cancelled() {
    let app = common::spawn(sim(20_000, 0.0)).await;
    let id = launch_batch(&app, 1, 40).await;
    wait_submitted(&app, id).await;
    // Let part of it be answered (40 lines over 20 s: one every 0.5 s).
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.run(id).await.job.map(|j| j.completed).unwrap_or(0) < 2 {
        assert!(Instant::now() < deadline, "no line was answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, v) = app.post_json(&format!("/api/runs/{id}/cancel"), json!({})).await;
    assert!(status < 300, "cancel: {status} {v}");
    // The run goes on until its worker sees the request: the reply says so.
    assert_eq!(v["status"], "running", "{v}");
    assert_eq!(v["cancel_requested"], true, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| m.starts_with("cancel requested")), "{v}");
    let run = app.wait_finished(id, Duration::from_secs(30)).await;
    assert_eq!(run.status, RunStatus::Cancelled, "{:?}", run.error);
    let job = run.job.expect("job");
    assert_eq!(job.final_status.as_deref(), Some("cancelled"));
    assert!(job.completed >= 2 && job.completed < 40, "{job:?}");
    let records = app.records(id).await;
    assert_eq!(records.len() as u64, job.completed, "what it answered before the cancel is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_server_leaves_the_batch_to_the_next_one_which_polls_it_and_never_submits_again() {
    use server::serve::{OnRestart, WebOptions};
    let dir = tempfile::tempdir().expect("tmp");
    let first = common::spawn_leased(dir, sim(3_000, 0.0), OnRestart::Resume, WebOptions::default(), common::test_lease()).await;
    // The provider: the first server's simulator, registered as an endpoint of its own, so it
    // stays up (and keeps the batch) when the first server's worker stops.
    let (status, v) = first
        .post_json(
            "/api/endpoints",
            json!({"name": "provider", "base_url": first.sim_url().replace("127.0.0.1", "localhost")}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let endpoint = v["id"].as_i64().expect("endpoint id");
    let id = launch_batch(&first, endpoint, 12).await;
    let submitted = wait_submitted(&first, id).await.job.expect("job");
    first.running.drain().await;
    let pool = first.running.state.db.clone();
    assert_eq!(app::db::runs::status(&pool, id).await.expect("status"), RunStatus::Queued);
    let input = app::db::jobs::get(&pool, id).await.expect("job").expect("stored").input_file_id;

    let common::TestApp { running: _first, dir, .. } = first;
    let second = common::spawn_leased(dir, sim(3_000, 0.0), OnRestart::Resume, WebOptions::default(), common::test_lease()).await;
    let run = second.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let job = run.summary.and_then(|s| s.job).expect("job");
    assert_eq!(job.reference, submitted.reference, "the same batch, polled by the second server");
    assert_eq!(job.submitted_at, submitted.submitted_at);
    let pool = second.running.state.db.clone();
    let stored = app::db::jobs::get(&pool, id).await.expect("job").expect("stored");
    assert_eq!(stored.input_file_id, input, "the input was uploaded once");
    assert_eq!(second.records(id).await.len(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_runs_refuse_what_does_not_apply_and_say_what_to_fix() {
    let app = common::spawn(sim(100, 0.0)).await;
    let (status, v) = app
        .post_json(
            "/api/runs",
            json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-llama-3.2-1b", "requests": 5, "kind": "provider-batch",
                   "sweep": "1,4", "warmup": 3}),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    let text = v.to_string();
    assert!(text.contains("cannot be swept") && text.contains("no warm-up"), "{text}");
    let (status, v) = app
        .post_json(
            "/api/runs",
            json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-llama-3.2-1b", "requests": 5, "kind": "offline"}),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(v.to_string().contains("vllm run-batch"), "{v}");
    let (status, v) = app
        .post_json(
            "/api/runs",
            json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-llama-3.2-1b", "requests": 5, "kind": "nightly"}),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(v.to_string().contains("provider-batch"), "{v}");
    // More lines than a Batch API takes.
    let (status, v) = app
        .post_json(
            "/api/runs",
            json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-llama-3.2-1b", "requests": 50_001, "kind": "provider-batch"}),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(v.to_string().contains("at most 50000 lines"), "{v}");
    // An internal-only dataset (the demo's is) never goes to a provider's file storage, whatever
    // the endpoint's hosted flag says; only Bakeoff's own simulator is exempt.
    sqlx::query("UPDATE endpoints SET simulated = 0 WHERE id = 1")
        .execute(&app.running.state.db)
        .await
        .expect("not the simulator");
    let (status, v) = app
        .post_json(
            "/api/runs",
            json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-llama-3.2-1b", "requests": 5, "kind": "provider-batch"}),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(
        v.to_string().contains("internal only") && v.to_string().contains("file storage"),
        "{v}"
    );
}

/// Ctrl-C on `bakeoff batch` ends the run interrupted, and nobody resumes an interrupted run: the
/// batch is cancelled at the provider (it would have run on, paid for, with nobody to read it),
/// and what it answered is kept, with a note that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_on_bakeoff_batch_cancels_the_batch_at_the_provider() {
    use common::procs::{free_port, wait_port, Proc, BIN};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("tmp");
    let db_path = dir.path().join("batch.db");
    let port = free_port();
    let _sim = Proc(
        Command::new(BIN)
            .args(["sim", "--addr", &format!("127.0.0.1:{port}"), "--batch-turnaround-ms", "60000"])
            .stderr(Stdio::null())
            .spawn()
            .expect("sim"),
    );
    wait_port(port);
    let sim_url = format!("http://127.0.0.1:{port}");
    let pool = app::db::connect(&db_path).await.expect("db");
    let dataset = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/fixtures/synthetic_100.jsonl");
    let mut cli = Proc(
        Command::new(BIN)
            .args(["batch", "--endpoint", &sim_url, "--model", "sim-llama-3.2-1b", "--dataset", dataset])
            .args([
                "--requests",
                "10",
                "--max-tokens",
                "16",
                "--poll-s",
                "1",
                "--drain-timeout",
                "10",
                "--db",
            ])
            .arg(&db_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bakeoff batch"),
    );
    // Until the batch exists at the provider.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (id, batch) = loop {
        if let Some(r) = app::db::runs::list(&pool).await.expect("runs").last() {
            if let Some(reference) = app::db::runs::get(&pool, r.id).await.expect("run").job.and_then(|j| j.reference) {
                break (r.id, reference);
            }
        }
        assert!(Instant::now() < deadline, "the batch was not submitted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    cli.signal(libc::SIGINT);
    let status = cli.wait_exit(Duration::from_secs(30));
    assert!(!status.success(), "an interrupted batch is not a success");
    let run = app::db::runs::get(&pool, id).await.expect("run");
    assert_eq!(run.status, RunStatus::Interrupted);
    let at_provider: Value = reqwest::get(format!("{sim_url}/v1/batches/{batch}"))
        .await
        .expect("GET batch")
        .json()
        .await
        .expect("json");
    assert_eq!(at_provider["status"], "cancelled", "{at_provider}");
    let notes = run.job.map(|j| j.notes).unwrap_or_default();
    assert!(
        notes
            .iter()
            .any(|n| n.contains(&format!("provider batch {batch} cancelled at the provider"))),
        "{notes:?}"
    );
}
