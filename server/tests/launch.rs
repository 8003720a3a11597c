//! Managed launches with a fake `vllm serve` that fails like vLLM does under given settings:
//! each failure is recorded with its log, the run is retried with safer settings, the model load
//! time is kept apart, and the server is stopped afterwards. Commands are argument lists: a
//! model name is one argument, and only a model an admin listed is started.

mod common;

use app::domain::status::RunStatus;
use app::domain::views::LaunchOutcome;
use common::{fast_sim, spawn, TestApp};
use serde_json::json;
use std::time::Duration;

const FAKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake-vllm.sh");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

const MODEL: &str = "google/gemma-3-4b-it";

/// The fake server's command: `env` sets its variables, then the script with every placeholder.
fn fake_command(env: &[&str]) -> Vec<String> {
    let mut args = vec!["env".to_string(), format!("BAKEOFF_BIN={}", env!("CARGO_BIN_EXE_bakeoff"))];
    args.extend(env.iter().map(|e| e.to_string()));
    args.push(FAKE.to_string());
    args.extend(app::api::endpoints::command::split_template(
        "{model} --port {port} --gpu-memory-utilization {util} --max-model-len {max_model_len} --max-num-seqs {max_num_seqs} {eager}",
    ));
    args
}

async fn managed_with(app: &TestApp, args: &[String], models: &[&str]) -> (i64, u16) {
    let port = free_port();
    let models: Vec<String> = models.iter().map(|m| m.to_string()).collect();
    let id = app::api::endpoints::register_managed(&app.running.state, "fake gpu", &format!("http://127.0.0.1:{port}"), args, &models)
        .await
        .expect("endpoint");
    (id, port)
}

async fn managed(app: &TestApp, env: &str) -> (i64, u16) {
    let env: Vec<&str> = env.split_whitespace().collect();
    managed_with(app, &fake_command(&env), &[MODEL]).await
}

async fn launch(app: &TestApp, endpoint: i64, engine: serde_json::Value) -> i64 {
    let mut body = json!({"endpoint_id": endpoint, "dataset_id": 1, "model": MODEL, "requests": 6, "concurrency": 3, "max_tokens": 64});
    for (k, v) in engine.as_object().expect("object") {
        body[k] = v.clone();
    }
    let (status, v) = app.post_json("/api/runs", body).await;
    assert_eq!(status, 201, "{v}");
    v["run_ids"][0].as_i64().expect("id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_too_long_start_is_retried_shorter_and_the_server_is_stopped() {
    let app = spawn(fast_sim()).await;
    let (endpoint, port) = managed(&app, "FAKE_KV_TOKENS=2048").await;
    let id = launch(&app, endpoint, json!({"max_model_len": 4096, "gpu_memory_utilization": 0.9})).await;
    let run = app.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let launches = app::db::planning::launches(&app.running.state.db, id).await.expect("launches");
    let outcomes: Vec<LaunchOutcome> = launches.iter().map(|l| l.outcome).collect();
    assert_eq!(outcomes, vec![LaunchOutcome::ContextTooLong, LaunchOutcome::Ready]);
    assert_eq!(launches[0].settings.max_model_len, 4096);
    assert_eq!(launches[1].settings.max_model_len, 2048, "the context vLLM said fits");
    assert!(launches[0].log.contains("larger than the maximum number of tokens"));
    let measured = launches[1].measured.clone().expect("read from the log");
    assert_eq!(measured.kv_tokens, Some(2048));
    assert_eq!(measured.weights_gib, Some(8.5781));
    let s = run.summary.expect("summary");
    assert!(s.model_load_time_s.is_some_and(|l| l > 0.0), "load time kept apart");
    assert_eq!(s.outcomes.ok + s.outcomes.truncated, 6);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the model server was stopped after the run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_memory_start_is_retried_in_eager_mode() {
    let app = spawn(fast_sim()).await;
    let (endpoint, _) = managed(&app, "FAKE_OOM_UNLESS_EAGER=1 FAKE_KV_TOKENS=8192").await;
    let id = launch(&app, endpoint, json!({"max_model_len": 2048})).await;
    let run = app.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let launches = app::db::planning::launches(&app.running.state.db, id).await.expect("launches");
    assert_eq!(
        launches.iter().map(|l| l.outcome).collect::<Vec<_>>(),
        vec![LaunchOutcome::OutOfMemory, LaunchOutcome::Ready]
    );
    assert!(!launches[0].settings.enforce_eager && launches[1].settings.enforce_eager);
    assert_eq!(launches[1].settings.max_num_seqs, 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_kv_memory_raises_the_utilisation_and_a_command_that_exits_shows_its_output() {
    let app = spawn(fast_sim()).await;
    let (endpoint, _) = managed(&app, "FAKE_NO_KV_BELOW_UTIL=0.92 FAKE_KV_TOKENS=8192").await;
    let id = launch(&app, endpoint, json!({"gpu_memory_utilization": 0.9, "max_model_len": 2048})).await;
    let run = app.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    let launches = app::db::planning::launches(&app.running.state.db, id).await.expect("launches");
    assert_eq!(launches[0].outcome, LaunchOutcome::NoKvMemory);
    assert!((launches[1].settings.gpu_memory_utilization - 0.95).abs() < 1e-9);

    let port = free_port();
    let bad = app::api::endpoints::register_managed(
        &app.running.state,
        "broken",
        &format!("http://127.0.0.1:{port}"),
        &[
            FAKE.to_string(),
            "{model}".into(),
            "--port".into(),
            "{port}".into(),
            "--bogus-flag".into(),
        ],
        &[MODEL.to_string()],
    )
    .await
    .expect("endpoint");
    let id = launch(&app, bad, json!({})).await;
    let run = app.wait_finished(id, Duration::from_secs(30)).await;
    assert_eq!(run.status, RunStatus::Failed);
    let err = run.error.expect("error");
    assert!(
        err.contains("exited") && err.contains("unrecognized arguments: --bogus-flag"),
        "{err}"
    );
    assert_eq!(
        app::db::planning::launches(&app.running.state.db, id)
            .await
            .expect("launches")
            .len(),
        1,
        "no retry for a non-memory failure"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_the_admin_did_not_list_is_refused_and_runs_nothing() {
    let app = spawn(fast_sim()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let pwned = dir.path().join("pwned");
    let (endpoint, _) = managed(&app, "").await;
    let injection = format!("x & touch {} & wait", pwned.display());
    let mut body = json!({"endpoint_id": endpoint, "dataset_id": 1, "model": injection, "requests": 2, "concurrency": 1});
    let (status, v) = app.post_json("/api/runs", body.clone()).await;
    assert_eq!(status, 422, "{v}");
    let message = v["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("model") && message.contains(MODEL),
        "names the allowed models: {v}"
    );
    assert_eq!(app.get_json("/api/runs").await.as_array().map(Vec::len), Some(0), "no run stored");

    // A runner is refused the same way.
    let rita = app.client_for("rita").await;
    body["model"] = json!(injection);
    let r = rita.post(app.url("/api/runs")).json(&body).send().await.expect("POST");
    assert_eq!(r.status(), 422);
    assert_eq!(app.get_json("/api/runs").await.as_array().map(Vec::len), Some(0));
    assert!(!pwned.exists(), "nothing ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_model_name_reaches_the_server_as_one_argument() {
    let app = spawn(fast_sim()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let pwned = dir.path().join("pwned");
    let seen = dir.path().join("model-argument");
    // Even a name an admin listed carelessly is one argument, never shell text.
    let model = format!("x & touch {} & wait", pwned.display());
    let args = fake_command(&[&format!("FAKE_MODEL_FILE={}", seen.display()), "FAKE_KV_TOKENS=4096"]);
    let (endpoint, _) = managed_with(&app, &args, &[&model]).await;
    let body = json!({"endpoint_id": endpoint, "dataset_id": 1, "model": model, "requests": 3, "concurrency": 1, "max_tokens": 16, "max_model_len": 2048});
    let (status, v) = app.post_json("/api/runs", body).await;
    assert_eq!(status, 201, "{v}");
    let id = v["run_ids"][0].as_i64().expect("id");
    let run = app.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    assert_eq!(
        std::fs::read_to_string(&seen).expect("the fake server wrote its model argument"),
        model
    );
    assert!(!pwned.exists(), "no shell ran the model name");
    let launches = app::db::planning::launches(&app.running.state.db, id).await.expect("launches");
    assert!(
        launches[0].command.contains(&format!("'{model}'")),
        "shown quoted: {}",
        launches[0].command
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_command_stored_before_argument_lists_is_never_run() {
    let app = spawn(fast_sim()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let pwned = dir.path().join("pwned");
    // What a runner could store before: a shell line.
    sqlx::query("UPDATE endpoints SET launch_template = ? WHERE id = 1")
        .bind(format!("touch {} ; vllm serve {{model}} --port {{port}}", pwned.display()))
        .execute(&app.running.state.db)
        .await
        .expect("old row");
    let (status, v) = app
        .post_json(
            "/api/runs",
            json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-llama-3.2-1b", "requests": 2, "concurrency": 1}),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(
        v["message"].as_str().is_some_and(|m| m.contains("an admin must enter it again")),
        "{v}"
    );
    assert_eq!(app.get_json("/api/runs").await.as_array().map(Vec::len), Some(0));
    let eps = app.get_json("/api/endpoints").await;
    assert_eq!(eps[0]["launch_args"], serde_json::Value::Null);
    assert!(eps[0]["legacy_launch_template"].as_str().is_some_and(|t| t.starts_with("touch")));
    let html = app
        .http
        .get(app.url("/endpoints"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    assert!(html.contains("not run until an admin enters it again"), "the page says so");
    assert!(!pwned.exists());
}
