//! Workers next to each GPU (issue 13), with the real binary on one SQLite file: a `bakeoff serve
//! --no-worker` serves the pages and queues runs; `bakeoff worker` processes measure the runs of
//! their endpoints only, start managed model servers only with `--allow-launch`, drain on SIGTERM
//! (the run back in the queue, exit 0), and show on `GET /api/workers` and the run page. Every
//! count is read at the endpoints (`/sim/stats`) and in the database.

mod common;

use common::procs::*;

use app::db;
use app::domain::status::RunStatus;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MODEL: &str = "sim-gemma-3-4b";

/// `bakeoff worker` with 2 s leases; its stderr goes to `log`.
fn start_worker(db: &Path, log: &Path, extra: &[&str]) -> Proc {
    let child = Command::new(BIN)
        .args(["worker", "--lease-s", "2", "--drain-timeout", "20", "--db"])
        .arg(db)
        .args(extra)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("start bakeoff worker");
    Proc(child)
}

/// Poll `/api/workers` until `name` is listed in `state`; returns its entry.
async fn wait_worker(web: &Web, name: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = web.workers().await.into_iter().find(|w| w["name"] == name);
        if let Some(w) = found.filter(|w| w["state"] == state) {
            return w;
        }
        assert!(Instant::now() < deadline, "worker {name} not {state}: {:?}", web.workers().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Poll page `path` until it holds `text` (it depends on heartbeats, which a loaded machine may
/// delay past a 2 s lease for a moment).
async fn wait_page(web: &Web, path: &str, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, page) = web.get(path).await;
        if status == 200 && page.contains(text) {
            return;
        }
        assert!(Instant::now() < deadline, "{path} never said '{text}'");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_measures_only_its_endpoints_runs_and_managed_ones_only_with_allow_launch() {
    let dir = tempfile::tempdir().expect("tmp");
    let db_path = db::pool::test_target(dir.path(), "two-boxes.db").await.expect("database");
    add_admin(&db_path);
    let (_sim_a, url_a) = start_sim("1");
    let (_sim_b, url_b) = start_sim("1");
    let web = Web::start(&db_path, dir.path().join("web.log")).await;
    assert!(
        read(&web.log).contains("--no-worker: this process measures no run"),
        "{}",
        read(&web.log)
    );
    let a = web.add_endpoint(json!({"name": "sim-a", "base_url": url_a})).await;
    let b = web.add_endpoint(json!({"name": "sim-b", "base_url": url_b})).await;
    let port = free_port();
    let gemma = "google/gemma-3-4b-it";
    let managed = web
        .add_endpoint(
            json!({"name": "managed", "base_url": format!("http://127.0.0.1:{port}"), "launch_args": fake_command(), "models": [gemma]}),
        )
        .await;
    // Queued first: a worker that ignored its filter would take these before the run on sim-a.
    let on_b = web.launch(b, MODEL, 20, json!({})).await;
    let on_managed = web
        .launch(managed, gemma, 12, json!({"max_tokens": 16, "max_model_len": 2048}))
        .await;
    let on_a = web.launch(a, MODEL, 40, json!({})).await;
    let pool = db::connect(&db_path).await.expect("db");

    // No worker yet: the run page says why the run waits.
    let (status, page) = web.get(&format!("/runs/{on_a}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("queued: waiting for a worker (none is alive)"),
        "the run page's status line"
    );
    assert!(web.workers().await.is_empty(), "serve --no-worker is no worker");

    let log = dir.path().join("worker-a.log");
    let mut worker = start_worker(&db_path, &log, &["--endpoint", "sim-a", "--name", "gpu-a-worker"]);
    let s = wait_status(&pool, on_a, Duration::from_secs(120), RunStatus::is_finished).await;
    assert_eq!(
        s,
        RunStatus::Completed,
        "{:?}\n{}",
        db::runs::get(&pool, on_a).await.expect("run").error,
        read(&log)
    );
    assert_each_custom_id_once(&pool, on_a, 40).await;
    assert_eq!(sim_requests(&url_a).await, 40, "exactly the run's requests reached sim-a");
    let view = db::runs::get(&pool, on_a).await.expect("run");
    let measured_by = format!("gpu-a-worker on {} (pid {})", server::worker::host_name(), worker.pid());
    assert_eq!(view.worker.as_deref(), Some(measured_by.as_str()), "measured by the worker process");
    let (_, page) = web.get(&format!("/runs/{on_a}")).await;
    assert!(page.contains(&measured_by), "the run page names the worker");

    // The runs queued before it are still queued: the worker passed them over at every claim.
    assert_eq!(db::runs::status(&pool, on_b).await.expect("status"), RunStatus::Queued);
    assert_eq!(db::runs::status(&pool, on_managed).await.expect("status"), RunStatus::Queued);
    assert_eq!(sim_requests(&url_b).await, 0, "nothing was sent to sim-b");
    // The page says which worker it waits for.
    let waits = "queued: waiting for a worker that takes runs on sim-b: 1 worker is alive, none does";
    wait_page(&web, &format!("/runs/{on_b}"), waits).await;

    let w = wait_worker(&web, "gpu-a-worker", "alive").await;
    assert_eq!(w["kind"], "worker");
    assert_eq!(w["pid"], worker.pid());
    assert_eq!(w["endpoints"], json!(["sim-a"]));
    assert_eq!(w["may_launch"], false);
    assert!(
        w["heartbeat_age_s"].as_i64().is_some_and(|s| (0..=2).contains(&s)),
        "a fresh heartbeat: {w}"
    );
    assert_eq!(w["runs"], json!([]), "it holds no run now");

    // A worker without --endpoint takes any endpoint's run, but, without --allow-launch, not the
    // managed one; a worker with --allow-launch does, starting the model server on this host.
    let any_log = dir.path().join("worker-any.log");
    let _any = start_worker(&db_path, &any_log, &["--name", "any-no-launch"]);
    let s = wait_status(&pool, on_b, Duration::from_secs(120), RunStatus::is_finished).await;
    assert_eq!(s, RunStatus::Completed, "{}", read(&any_log));
    assert_each_custom_id_once(&pool, on_b, 20).await;
    assert_eq!(db::runs::status(&pool, on_managed).await.expect("status"), RunStatus::Queued);
    let no_launch = wait_worker(&web, "any-no-launch", "alive").await;
    assert_eq!(
        (no_launch["endpoints"].clone(), no_launch["may_launch"].clone()),
        (json!("any"), json!(false))
    );
    // The managed run waits for a worker with --allow-launch.
    wait_page(&web, &format!("/runs/{on_managed}"), "may start its model server").await;

    let launch_log = dir.path().join("worker-launch.log");
    let _launcher = start_worker(
        &db_path,
        &launch_log,
        &["--endpoint", "managed", "--allow-launch", "--name", "launcher"],
    );
    let s = wait_status(&pool, on_managed, Duration::from_secs(120), RunStatus::is_finished).await;
    assert_eq!(
        s,
        RunStatus::Completed,
        "{:?}\n{}",
        db::runs::get(&pool, on_managed).await.expect("run").error,
        read(&launch_log)
    );
    assert_each_custom_id_once(&pool, on_managed, 12).await;
    assert!(db::runs::get(&pool, on_managed)
        .await
        .expect("run")
        .worker
        .is_some_and(|w| w.starts_with("launcher on ")));

    // SIGTERM to an idle worker: it exits 0 and the page lists it as stopped.
    worker.signal(libc::SIGTERM);
    let status = worker.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "a clean stop exits 0 ({status}): {}", read(&log));
    let w = wait_worker(&web, "gpu-a-worker", "stopped").await;
    assert!(w["stopped_at_s"].as_i64().is_some(), "{w}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_run_puts_the_run_back_in_the_queue_and_another_worker_finishes_it_exactly() {
    let dir = tempfile::tempdir().expect("tmp");
    let db_path = db::pool::test_target(dir.path(), "drain.db").await.expect("database");
    add_admin(&db_path);
    let (_sim, url) = start_sim("4");
    let web = Web::start(&db_path, dir.path().join("web.log")).await;
    let a = web.add_endpoint(json!({"name": "sim-a", "base_url": url})).await;
    let id = web.launch(a, MODEL, 200, json!({})).await;
    let pool = db::connect(&db_path).await.expect("db");

    let log = dir.path().join("first.log");
    let mut first = start_worker(&db_path, &log, &["--endpoint", "sim-a", "--name", "first"]);
    wait_records(&pool, id, 20).await;
    let w = wait_worker(&web, "first", "alive").await;
    assert_eq!(w["runs"][0]["id"], id, "the page lists the run it measures: {w}");
    assert_eq!(w["runs"][0]["url"], format!("/runs/{id}"));

    first.signal(libc::SIGTERM);
    let status = first.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "a clean stop exits 0 ({status}): {}", read(&log));
    assert_eq!(
        db::runs::status(&pool, id).await.expect("status"),
        RunStatus::Queued,
        "back in the queue"
    );
    let owner: Option<String> = sqlx::query_scalar("SELECT lease_owner FROM runs WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("lease");
    assert_eq!(owner, None, "the lease is released");
    let stored = db::records::count(&pool, id).await.expect("count");
    assert!(stored < 200, "stopped mid-way ({stored} stored)");
    assert_eq!(
        sim_requests(&url).await,
        u64::try_from(stored).expect("count"),
        "every request sent before the stop finished and was stored"
    );

    let second_log = dir.path().join("second.log");
    let second = start_worker(&db_path, &second_log, &["--name", "second"]);
    let s = wait_status(&pool, id, Duration::from_secs(120), RunStatus::is_finished).await;
    assert_eq!(s, RunStatus::Completed, "{}", read(&second_log));
    assert_each_custom_id_once(&pool, id, 200).await;
    assert_eq!(sim_requests(&url).await, 200, "exactly N requests reached the endpoint");
    let view = db::runs::get(&pool, id).await.expect("run");
    assert!(view.resumed);
    assert_eq!(view.takeovers, 0, "a released lease is resumed, not taken over");
    assert!(view.worker.is_some_and(|w| w.ends_with(&format!("(pid {})", second.pid()))));
}

#[test]
fn an_unknown_endpoint_name_is_refused_naming_the_endpoints_that_exist() {
    let dir = tempfile::tempdir().expect("tmp");
    let db_path = dir.path().join("names.db");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let pool = db::connect(&db_path).await.expect("db");
        for (name, url) in [("gpu-a", "http://gpu-a:8000"), ("gpu-b", "http://gpu-b:8000")] {
            db::endpoints::insert(&pool, name, url, false, &[]).await.expect("endpoint");
        }
        pool.close().await;
    });
    let log = dir.path().join("nosuch.log");
    let mut worker = start_worker(&db_path, &log, &["--endpoint", "nosuch"]);
    let status = worker.wait_exit(Duration::from_secs(30));
    let said = read(&log);
    assert!(!status.success(), "refused: {said}");
    assert!(
        said.contains("--endpoint nosuch: no endpoint has that name; the endpoints are: gpu-a, gpu-b"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_keeps_to_its_endpoint_allow_list_like_serve() {
    let dir = tempfile::tempdir().expect("tmp");
    let db_path = db::pool::test_target(dir.path(), "allow.db").await.expect("database");
    add_admin(&db_path);
    let (_sim, url) = start_sim("1");
    let web = Web::start(&db_path, dir.path().join("web.log")).await;
    let a = web.add_endpoint(json!({"name": "sim-a", "base_url": url})).await;
    let id = web.launch(a, MODEL, 5, json!({})).await;
    let pool = db::connect(&db_path).await.expect("db");
    // The web process allows any host; this worker only a network the endpoint is not in.
    let log = dir.path().join("worker.log");
    let _w = start_worker(&db_path, &log, &["--endpoint-allow", "10.9.9.0/24"]);
    let status = wait_status(&pool, id, Duration::from_secs(30), RunStatus::is_finished).await;
    assert_eq!(status, RunStatus::Failed, "{}", read(&log));
    let run = db::runs::get(&pool, id).await.expect("run");
    let error = run.error.unwrap_or_default();
    assert!(
        error.contains("127.0.0.1") && error.contains("allow"),
        "the refusal names the host and the list: {error}"
    );
    assert_eq!(sim_requests(&url).await, 0, "nothing was sent to a host the worker may not reach");
}
