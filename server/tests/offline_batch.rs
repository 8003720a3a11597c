//! Offline vLLM batch runs (issue 14) with a stand-in `vllm run-batch` (tests/fake-vllm-run-batch):
//! the admin's launch list runs the job on the worker's host, every output line becomes a record,
//! the job is timed with the model load apart, a failing job fails the run with its log's end,
//! a cancel stops the process, and an endpoint that cannot run a batch job is refused.

mod common;

use app::domain::status::Outcome;
use app::domain::status::RunStatus;
use app::domain::views::LaunchOutcome;
use common::{fast_sim, spawn, TestApp};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const FAKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake-vllm-run-batch");
const MODEL: &str = "google/gemma-3-4b-it";
const NEEDS: &str =
    "an offline batch run needs a managed endpoint whose launch list runs `vllm run-batch -i {input} -o {output} --model {model}`";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The stand-in's command: `env` sets its variables, then the script with the batch placeholders.
fn batch_command(env: &[String]) -> Vec<String> {
    let mut args = vec!["env".to_string()];
    args.extend(env.iter().cloned());
    args.push(FAKE.to_string());
    args.extend(app::api::endpoints::command::split_template(
        "run-batch -i {input} -o {output} --model {model} --max-model-len {max_model_len} {eager}",
    ));
    args
}

async fn managed(app: &TestApp, name: &str, args: &[String]) -> i64 {
    app::api::endpoints::register_managed(
        &app.running.state,
        name,
        &format!("http://127.0.0.1:{}", free_port()),
        args,
        &[MODEL.to_string()],
    )
    .await
    .expect("endpoint")
}

/// A dataset of three requests, one of which the stand-in fails.
async fn dataset(app: &TestApp) -> i64 {
    let body: String = ["a", "b", "c-fail"]
        .iter()
        .map(|id| {
            json!({"custom_id": id, "method": "POST", "url": "/v1/chat/completions",
                   "body": {"model": "x", "stream": true, "messages": [{"role": "user", "content": format!("Say hello to {id} in JSON")}]}})
            .to_string()
                + "\n"
        })
        .collect();
    let r = app
        .http
        .post(app.url("/api/datasets?name=offline-three"))
        .body(body)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.expect("json");
    v["id"].as_i64().expect("dataset id")
}

/// Launch an offline run; `Ok(run id)` or `Err((status, body))` when the launch is refused.
async fn launch(app: &TestApp, endpoint: i64, dataset: i64, requests: u32) -> Result<i64, (u16, Value)> {
    let (status, v) = app
        .post_json(
            "/api/runs",
            json!({"endpoint_id": endpoint, "dataset_id": dataset, "model": MODEL, "requests": requests,
                   "kind": "offline", "max_tokens": 64}),
        )
        .await;
    match status {
        201 => Ok(v["run_ids"][0].as_i64().expect("id")),
        _ => Err((status, v)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_job_stores_every_line_and_is_timed_without_its_model_load() {
    let app = spawn(fast_sim()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let seen_args = dir.path().join("args");
    let endpoint = managed(
        &app,
        "gpu box (batch)",
        &batch_command(&[
            format!("FAKE_RUN_BATCH_ARGS_FILE={}", seen_args.display()),
            // The engine's shutdown after the answers are written is not the job's time.
            "FAKE_RUN_BATCH_SHUTDOWN=1.5".into(),
        ]),
    )
    .await;
    let ds = dataset(&app).await;
    // Seven requests over three items: the dataset cycles (a, b, c-fail, a~2, b~2, c-fail~2, a~3).
    let id = launch(&app, endpoint, ds, 7).await.expect("launched");
    let run = app.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);

    let records = app::db::records::for_run(&app.running.state.db, id).await.expect("records");
    let mut ids: Vec<(u32, String)> = records.iter().map(|r| (r.idx, r.custom_id.clone())).collect();
    ids.sort();
    let expected = ["a", "b", "c-fail", "a~2", "b~2", "c-fail~2", "a~3"];
    assert_eq!(
        ids,
        expected
            .iter()
            .enumerate()
            .map(|(i, c)| (i as u32, c.to_string()))
            .collect::<Vec<_>>(),
        "one record per line, at its place in the run"
    );
    for r in &records {
        if r.custom_id.contains("fail") {
            assert_eq!(r.outcome, Outcome::HttpError, "{r:?}");
            assert_eq!(r.http_status, Some(400));
            assert!(r.error.as_deref().is_some_and(|e| e.contains("fake failure")), "{r:?}");
        } else {
            assert_eq!(r.outcome, Outcome::Ok, "{r:?}");
            assert_eq!(r.completion_tokens.map(|t| t.0), Some(20));
            assert!(r.prompt_tokens.is_some_and(|t| t.0 > 0));
            assert!(r.response.contains("\"answer\""), "the answer text: {}", r.response);
            assert!(r.ttft.is_none() && r.itl.is_empty(), "no per-token timing");
        }
    }

    let s = run.summary.expect("summary");
    let job = s.job.clone().expect("the job's timing in the summary");
    let load = job.load_time_s.expect("model load");
    assert!(load > 0.2 && load < 5.0, "the stand-in loads for 0.3 s: {load}");
    let turnaround = job.turnaround_s().expect("turnaround");
    assert!(
        (s.wall_time_s - (turnaround - load)).abs() < 1e-6 && s.wall_time_s > 0.0,
        "wall time {} = process {turnaround} - load {load}",
        s.wall_time_s
    );
    assert_eq!(s.model_load_time_s, Some(load));
    assert!(
        s.wall_time_s < 1.2,
        "the job ends when the log says the outputs are written, not 1.5 s later at the exit: {}",
        s.wall_time_s
    );
    assert!(s.output_tokens_per_s > 0.0 && s.total_tokens_per_s > 0.0);
    assert!(s.ttft_ms.is_none() && s.e2e_ms.is_none(), "no per-request timing");
    assert_eq!(
        (job.total, job.completed, job.failed),
        (7, 5, 2),
        "completed as a provider counts it: failed lines apart"
    );
    assert_eq!(job.final_status.as_deref(), Some("exit 0"));
    assert!(job.notes.is_empty(), "{:?}", job.notes);

    // The quality checks ran over the answers (each one a JSON object).
    let quality = app::db::checks::summary(&app.running.state.db, id).await.expect("quality");
    assert_eq!((quality.answered, quality.json_found), (5, 5));

    // The command ran as the admin wrote it, with the job's files, recorded like a launch.
    let args = std::fs::read_to_string(&seen_args).expect("the stand-in wrote its arguments");
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(args[..2], ["run-batch", "-i"]);
    assert!(args[2].ends_with("input.jsonl") && args[4].ends_with("output.jsonl"), "{args:?}");
    assert_eq!(args[5..], ["--model", MODEL, "--max-model-len", "4096"]);
    assert!(!std::path::Path::new(args[2]).exists(), "the job's temporary files are removed");
    let launches = app::db::planning::launches(&app.running.state.db, id).await.expect("launches");
    assert_eq!(launches.len(), 1);
    assert_eq!(launches[0].outcome, LaunchOutcome::Ready);
    assert!(launches[0].command.contains("run-batch -i /"), "{}", launches[0].command);
    assert!(launches[0].log.contains("Model loading took 1.0 GiB"), "{}", launches[0].log);
    assert_eq!(launches[0].load_time_s, Some(load));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_exits_with_an_error_fails_the_run_and_keeps_its_log_with_the_launch() {
    let app = spawn(fast_sim()).await;
    let endpoint = managed(&app, "gpu box (broken)", &batch_command(&["FAKE_RUN_BATCH_EXIT=3".into()])).await;
    let id = launch(&app, endpoint, 1, 4).await.expect("launched");
    let run = app.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Failed);
    let error = run.error.expect("error");
    // The error says how it ended and where the log is; the log (which can hold answers) is
    // not copied into the error, which everyone sees beside the model.
    assert!(
        error.contains("exit 3") && error.contains("Model server starts") && !error.contains("fake run-batch failure"),
        "the exit and where the log is: {error}"
    );
    assert_eq!(app::db::records::count(&app.running.state.db, id).await.expect("count"), 0);
    let launches = app::db::planning::launches(&app.running.state.db, id).await.expect("launches");
    assert!(launches[0].log.contains("fake run-batch failure"));
    assert_ne!(launches[0].outcome, LaunchOutcome::Ready);
    let job = app::db::jobs::get(&app.running.state.db, id)
        .await
        .expect("job")
        .expect("a job row");
    assert_eq!(job.job.final_status.as_deref(), Some("exit 3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_stops_its_process_and_the_run_ends_cancelled() {
    let app = spawn(fast_sim()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let pid_file = dir.path().join("pid");
    let endpoint = managed(
        &app,
        "gpu box (slow)",
        &batch_command(&[
            "FAKE_RUN_BATCH_SLEEP=0.25".into(),
            "FAKE_RUN_BATCH_WRITE_AT_END=1".into(),
            format!("FAKE_RUN_BATCH_PID_FILE={}", pid_file.display()),
        ]),
    )
    .await;
    // 60 lines at 0.25 s each: 15 s if nothing stops it.
    let id = launch(&app, endpoint, 1, 60).await.expect("launched");
    let started = Instant::now();
    // Wait until the job is under way: as with vLLM, the output file is written at the end, so
    // its row counts the lines done from the log's progress bar.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job = app::db::jobs::get(&app.running.state.db, id).await.expect("job");
        if job.is_some_and(|j| j.job.completed >= 2 && j.job.started_at.is_some()) {
            break;
        }
        assert!(Instant::now() < deadline, "the job never showed progress");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = std::fs::read_to_string(&pid_file).expect("pid file");
    let proc_dir = std::path::PathBuf::from(format!("/proc/{}", pid.trim()));
    assert!(proc_dir.exists(), "the job runs");
    let (status, v) = app.post_json(&format!("/api/runs/{id}/cancel"), json!({})).await;
    assert!(status < 300, "{v}");
    let run = app.wait_finished(id, Duration::from_secs(30)).await;
    assert_eq!(run.status, RunStatus::Cancelled, "{:?}", run.error);
    assert!(
        started.elapsed() < Duration::from_secs(14),
        "stopped, not run to its end: {:?}",
        started.elapsed()
    );
    assert!(!proc_dir.exists(), "the job's process is gone");
    let job = app::db::jobs::get(&app.running.state.db, id)
        .await
        .expect("job")
        .expect("a job row");
    assert!(
        job.job.final_status.as_deref().is_some_and(|s| s.starts_with("cancelled")),
        "{:?}",
        job.job.final_status
    );
    assert!(job.job.completed >= 2 && job.job.completed < 60, "{}", job.job.completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_cannot_run_a_batch_job_is_refused_with_what_it_needs() {
    let app = spawn(fast_sim()).await;
    // A managed endpoint whose list starts a server, and the simulator (no list at all).
    let serve = vec![
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake-vllm.sh").to_string(),
        "{model}".into(),
        "--port".into(),
        "{port}".into(),
    ];
    let server_list = managed(&app, "gpu box (server)", &serve).await;
    for (endpoint, model) in [(server_list, MODEL), (1, "sim-llama-3.2-1b")] {
        let (status, v) = app
            .post_json(
                "/api/runs",
                json!({"endpoint_id": endpoint, "dataset_id": 1, "model": model, "requests": 2, "kind": "offline"}),
            )
            .await;
        // Refused at launch, or failed by the worker before anything runs: either way, said.
        let message = if status == 201 {
            let id = v["run_ids"][0].as_i64().expect("id");
            let run = app.wait_finished(id, Duration::from_secs(30)).await;
            assert_eq!(run.status, RunStatus::Failed);
            assert!(app::db::planning::launches(&app.running.state.db, id)
                .await
                .expect("launches")
                .is_empty());
            run.error.unwrap_or_default()
        } else {
            assert_eq!(status, 422, "{v}");
            v["message"].as_str().unwrap_or_default().to_string()
        };
        assert!(
            message.to_lowercase().contains(&NEEDS.to_lowercase()),
            "endpoint {endpoint}: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_job_is_stopped_and_runs_again_from_the_start_when_resumed() {
    let first = spawn(fast_sim()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let pid_file = dir.path().join("pid");
    let endpoint = managed(
        &first,
        "gpu box (drained)",
        &batch_command(&[
            "FAKE_RUN_BATCH_SLEEP=0.1".into(),
            format!("FAKE_RUN_BATCH_PID_FILE={}", pid_file.display()),
        ]),
    )
    .await;
    let id = launch(&first, endpoint, 1, 12).await.expect("launched");
    let pool = first.running.state.db.clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    while app::db::jobs::get(&pool, id)
        .await
        .expect("job")
        .is_none_or(|j| j.job.completed < 2)
    {
        assert!(Instant::now() < deadline, "the job never showed progress");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = std::fs::read_to_string(&pid_file).expect("pid file");
    first.running.drain().await;
    assert_eq!(app::db::runs::status(&pool, id).await.expect("status"), RunStatus::Queued);
    assert!(
        !std::path::Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "the drained job's process is gone"
    );
    assert_eq!(
        app::db::records::count(&pool, id).await.expect("count"),
        0,
        "records are stored only when a job ends well"
    );

    // Another server on the same database resumes the run: the job starts again from the start.
    let common::TestApp {
        running: _first,
        dir: db_dir,
        ..
    } = first;
    let second = common::spawn_at(db_dir, fast_sim(), server::serve::OnRestart::Resume).await;
    let run = second.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let pool = second.running.state.db.clone();
    assert_eq!(app::db::records::count(&pool, id).await.expect("count"), 12);
    let job = app::db::jobs::get(&pool, id).await.expect("job").expect("a job row");
    assert_eq!(
        (job.job.total, job.job.completed, job.job.final_status.as_deref()),
        (12, 12, Some("exit 0"))
    );
    let launches = app::db::planning::launches(&pool, id).await.expect("launches");
    assert_eq!(launches.len(), 2, "the drained job and the one that ran to its end");
    assert_eq!(launches[1].attempt, 2);
}
