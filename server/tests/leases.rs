//! Nothing lost, nothing sent twice, with the real binary: runs are held under leases (a second
//! `serve` on the same database measures none of the first one's runs), SIGTERM drains and puts
//! the run back in the queue, a managed model server left behind by a killed worker is stopped
//! before the run is relaunched, and a `bakeoff run` killed with -9 can be cancelled from the web
//! once its lease expires. Every count is read at the endpoint (`/sim/stats`) and in the database.

mod common;

use common::procs::*;

use app::db;
use app::domain::status::RunStatus;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DATASET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/fixtures/synthetic_100.jsonl");

async fn sim_stats(url: &str) -> Value {
    reqwest::get(format!("{url}/sim/stats"))
        .await
        .expect("stats")
        .json()
        .await
        .expect("json")
}

/// `bakeoff serve` without its simulator, with 2 s leases; its stderr goes to `log`.
struct Serve {
    proc: Proc,
    base: String,
    log: PathBuf,
}

impl Serve {
    async fn start(db: &Path, log: PathBuf, extra: &[&str]) -> Serve {
        let port = free_port();
        let child = Command::new(BIN)
            .args([
                "serve",
                "--no-sim",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--lease-s",
                "2",
                "--db",
            ])
            .arg(db)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start bakeoff serve");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        // Up means answering: 401 without a log-in is an answer.
        while reqwest::get(format!("{base}/api/runs")).await.is_err() {
            assert!(Instant::now() < deadline, "server did not come up: {}", read(&log));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Serve {
            proc: Proc(child),
            base,
            log,
        }
    }

    async fn client(&self) -> reqwest::Client {
        common::bearer_client(&self.base, "ops", PASSWORD).await
    }
}

async fn add_endpoint(http: &reqwest::Client, base: &str, body: Value) -> i64 {
    let r = http.post(format!("{base}/api/endpoints")).json(&body).send().await.expect("POST");
    let status = r.status();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 201, "{v}");
    v["id"].as_i64().expect("endpoint id")
}

async fn launch(http: &reqwest::Client, base: &str, body: Value) -> i64 {
    let r = http.post(format!("{base}/api/runs")).json(&body).send().await.expect("POST");
    let status = r.status();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 201, "{v}");
    v["run_ids"][0].as_i64().expect("run id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_on_the_same_database_measures_none_of_the_first_ones_runs() {
    let dir = tempfile::tempdir().expect("tmp");
    let db_path = dir.path().join("two.db");
    add_admin(&db_path);
    let (_sim, sim_url) = start_sim("4");
    let a = Serve::start(&db_path, dir.path().join("a.log"), &[]).await;
    let http = a.client().await;
    let endpoint = add_endpoint(&http, &a.base, json!({"name": "gpu", "base_url": sim_url})).await;
    let run =
        json!({"endpoint_id": endpoint, "dataset_id": 1, "model": "sim-gemma-3-4b", "requests": 150, "concurrency": 8, "max_tokens": 64});
    let first = launch(&http, &a.base, run.clone()).await;
    let second = launch(&http, &a.base, run).await;
    let pool = db::connect(&db_path).await.expect("db");
    wait_records(&pool, first, 10).await;

    let b = Serve::start(&db_path, dir.path().join("b.log"), &[]).await;
    for id in [first, second] {
        let s = wait_status(&pool, id, Duration::from_secs(120), RunStatus::is_finished).await;
        assert_eq!(s, RunStatus::Completed);
        assert_each_custom_id_once(&pool, id, 150).await;
    }
    let said = read(&b.log);
    assert!(
        said.contains("another Bakeoff worker is active"),
        "the second serve says so: {said}"
    );
    assert!(said.contains(&format!("pid {}", a.proc.pid())), "and names the first: {said}");

    let stats = sim_stats(&sim_url).await;
    assert_eq!(stats["requests"], 300, "the endpoint got exactly the runs' requests, none twice");
    assert!(
        stats["peak_in_flight"].as_u64().is_some_and(|p| p <= 8),
        "one run at a time on the endpoint's GPU: {stats}"
    );
    let view = db::runs::get(&pool, first).await.expect("run");
    assert_eq!(view.takeovers, 0);
    assert!(
        view.worker
            .as_deref()
            .is_some_and(|w| w.ends_with(&format!("(pid {})", a.proc.pid()))),
        "measured by the first serve: {:?}",
        view.worker
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_run_and_a_restart_sends_each_request_exactly_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let db_path = dir.path().join("term.db");
    add_admin(&db_path);
    let (_sim, sim_url) = start_sim("4");
    let mut a = Serve::start(&db_path, dir.path().join("a.log"), &["--drain-timeout", "20"]).await;
    let http = a.client().await;
    let endpoint = add_endpoint(&http, &a.base, json!({"name": "gpu", "base_url": sim_url})).await;
    let id = launch(
        &http,
        &a.base,
        json!({"endpoint_id": endpoint, "dataset_id": 1, "model": "sim-gemma-3-4b", "requests": 200, "concurrency": 8, "max_tokens": 64}),
    )
    .await;
    let pool = db::connect(&db_path).await.expect("db");
    wait_records(&pool, id, 30).await;

    a.proc.signal(libc::SIGTERM);
    let status = a.proc.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "a clean stop exits 0 ({status}): {}", read(&a.log));
    assert_eq!(
        db::runs::status(&pool, id).await.expect("status"),
        RunStatus::Queued,
        "back in the queue"
    );
    let stored = db::records::count(&pool, id).await.expect("count");
    assert!(stored < 200, "stopped mid-way ({stored} stored)");
    assert_eq!(
        sim_stats(&sim_url).await["requests"],
        stored,
        "every request sent before the stop finished and was stored"
    );

    let _b = Serve::start(&db_path, dir.path().join("b.log"), &[]).await;
    let s = wait_status(&pool, id, Duration::from_secs(120), RunStatus::is_finished).await;
    assert_eq!(s, RunStatus::Completed);
    assert_each_custom_id_once(&pool, id, 200).await;
    assert_eq!(
        sim_stats(&sim_url).await["requests"],
        200,
        "exactly N requests reached the endpoint"
    );
    let view = db::runs::get(&pool, id).await.expect("run");
    assert!(view.resumed);
    assert_eq!(view.takeovers, 0, "a released lease is resumed, not taken over");
}

/// A process is running (not gone, not a zombie).
fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').and_then(|i| s[i + 1..].split_whitespace().next().map(|st| st != "Z")))
        .unwrap_or(false)
}

async fn model_servers(pool: &db::Db, id: i64) -> Vec<(i64, Option<String>)> {
    sqlx::query_as("SELECT pgid, stopped_at FROM model_servers WHERE run_id = ? ORDER BY id")
        .bind(id)
        .fetch_all(pool)
        .await
        .expect("model servers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_server_left_by_a_killed_serve_is_stopped_before_the_run_is_relaunched() {
    let dir = tempfile::tempdir().expect("tmp");
    let db_path = dir.path().join("orphan.db");
    add_admin(&db_path);
    let mut a = Serve::start(&db_path, dir.path().join("a.log"), &[]).await;
    let http = a.client().await;
    let port = free_port();
    let model = "google/gemma-3-4b-it";
    let endpoint = add_endpoint(
        &http,
        &a.base,
        json!({"name": "fake gpu", "base_url": format!("http://127.0.0.1:{port}"), "launch_args": fake_command(), "models": [model]}),
    )
    .await;
    let id = launch(
        &http,
        &a.base,
        json!({"endpoint_id": endpoint, "dataset_id": 1, "model": model, "requests": 300, "concurrency": 2, "max_tokens": 32, "max_model_len": 2048}),
    )
    .await;
    let pool = db::connect(&db_path).await.expect("db");
    wait_records(&pool, id, 20).await;
    a.proc.0.kill().expect("kill -9"); // SIGKILL: no shutdown code runs
    a.proc.wait_exit(Duration::from_secs(10));
    let servers = model_servers(&pool, id).await;
    assert_eq!(servers.len(), 1, "written down when spawned");
    let orphan = servers[0].0;
    assert!(alive(orphan), "the model server outlived its worker");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(), "and still serves");

    let _b = Serve::start(&db_path, dir.path().join("b.log"), &[]).await;
    // Once a second model server is written down, the orphan must already be gone.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = model_servers(&pool, id).await.len();
        let orphan_alive = alive(orphan);
        if n >= 2 {
            assert!(!orphan_alive, "the orphan was stopped before the relaunch");
            break;
        }
        assert!(Instant::now() < deadline, "the run was not relaunched");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = wait_status(&pool, id, Duration::from_secs(120), RunStatus::is_finished).await;
    assert_eq!(s, RunStatus::Completed, "{:?}", db::runs::get(&pool, id).await.expect("run").error);
    assert_each_custom_id_once(&pool, id, 300).await;
    let view = db::runs::get(&pool, id).await.expect("run");
    assert_eq!(view.takeovers, 1, "taken over once its lease expired");
    assert!(view
        .takeover_note
        .as_deref()
        .is_some_and(|n| n.contains(&format!("pid {}", a.proc.pid()))));
    let servers = model_servers(&pool, id).await;
    assert_eq!(servers.len(), 2);
    assert!(
        servers.iter().all(|(_, stopped)| stopped.is_some()),
        "both recorded as stopped: {servers:?}"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "nothing left serving");
}

fn cli_run(db: &Path, sim_url: &str, extra: &[&str]) -> Proc {
    let child = Command::new(BIN)
        .args(["run", "--endpoint", sim_url, "--model", "sim-gemma-3-4b", "--dataset", DATASET])
        .args([
            "--requests",
            "100",
            "--concurrency",
            "4",
            "--max-tokens",
            "64",
            "--lease-s",
            "2",
            "--db",
        ])
        .arg(db)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bakeoff run");
    Proc(child)
}

async fn first_run(pool: &db::Db) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(r) = db::runs::list(pool).await.expect("runs").last() {
            return r.id;
        }
        assert!(Instant::now() < deadline, "no run was queued");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_bakeoff_run_is_cancelled_from_the_web_once_its_lease_expires() {
    let dir = tempfile::tempdir().expect("tmp");
    let db_path = dir.path().join("cli.db");
    add_admin(&db_path);
    let (_sim, sim_url) = start_sim("4");
    let serve = Serve::start(&db_path, dir.path().join("serve.log"), &[]).await;
    let http = serve.client().await;
    let mut cli = cli_run(&db_path, &sim_url, &[]);
    let pool = db::connect(&db_path).await.expect("db");
    let id = first_run(&pool).await;
    wait_records(&pool, id, 8).await;
    cli.0.kill().expect("kill -9");
    cli.wait_exit(Duration::from_secs(10));
    assert_eq!(
        db::runs::status(&pool, id).await.expect("status"),
        RunStatus::Running,
        "left running"
    );

    let r = http
        .post(format!("{}/api/runs/{id}/cancel", serve.base))
        .send()
        .await
        .expect("cancel");
    assert_eq!(r.status(), 200);
    let s = wait_status(&pool, id, Duration::from_secs(20), RunStatus::is_finished).await;
    assert_eq!(
        s,
        RunStatus::Cancelled,
        "cancelled once the dead run's lease expired, no restart needed"
    );
    let sent = sim_stats(&sim_url).await["requests"].as_u64().expect("count");
    let view = db::runs::get(&pool, id).await.expect("run");
    assert_eq!(view.takeovers, 0, "the serve never adopted a run asked to cancel");
    assert!(sent < 100, "nothing more was sent for it ({sent})");
    assert!(view.summary.is_some(), "what was stored is summarised");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_on_bakeoff_run_drains_and_marks_the_run_interrupted() {
    let dir = tempfile::tempdir().expect("tmp");
    let db_path = dir.path().join("int.db");
    let (_sim, sim_url) = start_sim("4");
    let pool = db::connect(&db_path)
        .await
        .expect("db (created and migrated before the CLI opens it)");
    let mut cli = cli_run(&db_path, &sim_url, &["--drain-timeout", "20"]);
    let id = first_run(&pool).await;
    wait_records(&pool, id, 8).await;
    cli.signal(libc::SIGINT);
    let status = cli.wait_exit(Duration::from_secs(30));
    assert!(!status.success(), "an interrupted run is not a success");
    assert_eq!(db::runs::status(&pool, id).await.expect("status"), RunStatus::Interrupted);
    let stored = db::records::count(&pool, id).await.expect("count");
    assert!(stored < 100, "stopped mid-way ({stored})");
    assert_eq!(
        sim_stats(&sim_url).await["requests"],
        stored,
        "the requests in flight finished and were stored"
    );
    // Terminal: no worker adopts it.
    let w = server::worker::Leases::new(Default::default(), server::worker::AfterDrain::Requeue, true).0;
    assert!(db::leases::claim_next(&pool, &w.holder, 30, true).await.expect("claim").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_still_in_flight_at_the_drain_timeout_are_not_stored_and_are_sent_again_on_resume() {
    use server::serve::{OnRestart, WebOptions};
    use server::worker::LeaseSettings;
    let sim = server::sim::SimConfig {
        ttft: Duration::from_millis(5),
        tpot: Duration::from_millis(3),
        ..server::sim::SimConfig::default()
    };
    let no_drain = LeaseSettings {
        lease: Duration::from_secs(2),
        drain_timeout: Duration::ZERO,
    };
    let dir = tempfile::tempdir().expect("tmp");
    let first = common::spawn_leased(dir, sim.clone(), OnRestart::Resume, WebOptions::default(), no_drain).await;
    let id = first
        .launch("sim-gemma-3-4b", json!({"requests": 100, "concurrency": 8, "max_tokens": 64}))
        .await;
    let pool = first.running.state.db.clone();
    wait_records(&pool, id, 16).await;
    first.running.drain().await;
    assert_eq!(db::runs::status(&pool, id).await.expect("status"), RunStatus::Queued);
    let stored = db::records::count(&pool, id).await.expect("count");
    let sent = first.sim_stats().await["requests"].as_i64().expect("count");
    assert!(sent > stored, "requests were in flight at the stop ({sent} sent, {stored} stored)");
    assert!(stored < 100);

    // The same database, another server. The first one stays up, its worker stopped, and its
    // simulator stays the built-in endpoint (the second one's waits as a standby).
    let first_sim = first.sim_url();
    let common::TestApp { running: _first, dir, .. } = first;
    let second = common::spawn_leased(dir, sim, OnRestart::Resume, WebOptions::default(), common::test_lease()).await;
    let run = second.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed);
    let pool = second.running.state.db.clone();
    assert_each_custom_id_once(&pool, id, 100).await;
    let records = db::records::for_run(&pool, id).await.expect("records");
    assert!(
        records.iter().all(|r| r.outcome.answered()),
        "an aborted request left no error record"
    );
    assert_eq!(second.sim_stats().await["requests"], 0, "the standby simulator was not used");
    assert_eq!(
        sim_stats(&first_sim).await["requests"].as_i64().expect("count") - sent,
        100 - stored,
        "the resumer sent exactly what was not stored, the aborted ones included"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_keeps_the_first_ones_simulator_and_takes_the_endpoint_over_when_it_stops() {
    let dir = tempfile::tempdir().expect("tmp");
    let db_path = dir.path().join("sim.db");
    add_admin(&db_path);
    let sim_addr = format!("127.0.0.1:{}", free_port());
    let with_sim_at = |log: &str, sim_addr: &str| {
        let port = free_port();
        let child = Command::new(BIN)
            .args([
                "serve",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--sim-addr",
                sim_addr,
                "--lease-s",
                "2",
                "--db",
            ])
            .arg(&db_path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join(log)).expect("log"))
            .spawn()
            .expect("serve");
        (Proc(child), port)
    };
    let with_sim = |log: &str| with_sim_at(log, &sim_addr);
    let (mut a, a_port) = with_sim("a.log");
    wait_port(a_port);
    let pool = db::connect(&db_path).await.expect("db");
    let builtin = |pool: db::Db| async move {
        db::endpoints::list(&pool)
            .await
            .expect("endpoints")
            .into_iter()
            .find(|e| e.builtin)
            .map(|e| e.base_url)
    };
    let first = format!("http://{sim_addr}");
    assert_eq!(builtin(pool.clone()).await.as_deref(), Some(first.as_str()));

    let (_b, b_port) = with_sim("b.log");
    wait_port(b_port);
    let said = read(&dir.path().join("b.log"));
    assert!(said.contains("stays the built-in endpoint"), "{said}");
    assert_eq!(builtin(pool.clone()).await.as_deref(), Some(first.as_str()), "not re-pointed");
    // A third serve with a simulator address of its own: the endpoint stays with the live one
    // (QA: it moved to the newcomer's simulator).
    let other = format!("127.0.0.1:{}", free_port());
    let (_c, c_port) = with_sim_at("c.log", &other);
    wait_port(c_port);
    let said = read(&dir.path().join("c.log"));
    assert!(said.contains("stays the built-in endpoint"), "{said}");
    assert_eq!(builtin(pool.clone()).await.as_deref(), Some(first.as_str()), "not re-pointed");

    a.signal(libc::SIGTERM);
    assert!(a.wait_exit(Duration::from_secs(30)).success());
    let moved = builtin(pool.clone()).await.expect("built-in endpoint");
    assert_ne!(moved, first, "handed over before the first serve stopped");
    assert!(
        sim_stats(&moved).await["requests"].is_u64(),
        "the second serve's simulator answers there"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_on_different_gpu_hosts_go_in_parallel_and_one_host_measures_one_run_at_a_time() {
    let sim = server::sim::SimConfig {
        ttft: Duration::from_millis(5),
        tpot: Duration::from_millis(2),
        ..server::sim::SimConfig::default()
    };
    let app = common::spawn(sim.clone()).await;
    // Another server on another address (127.0.0.2: localhost is 127.0.0.1's name, one host):
    // another GPU as far as the locks go.
    let other = server::sim::start(sim, "127.0.0.2:0".parse().expect("addr")).await.expect("sim");
    let (status, v) = app
        .post_json(
            "/api/endpoints",
            json!({"name": "other gpu", "base_url": format!("http://127.0.0.2:{}", other.addr.port())}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let other_id = v["id"].as_i64().expect("id");
    let load = json!({"requests": 120, "concurrency": 4, "max_tokens": 64});
    let here = app.launch("sim-gemma-3-4b", load.clone()).await;
    let queued_behind = app.launch("sim-gemma-3-4b", load.clone()).await;
    let mut there_body = load;
    there_body["endpoint_id"] = json!(other_id);
    let there = app.launch("sim-gemma-3-4b", there_body).await;

    let pool = app.running.state.db.clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = |id| db::runs::status(&pool, id);
        let (a, b, c) = (
            s(here).await.expect("s"),
            s(queued_behind).await.expect("s"),
            s(there).await.expect("s"),
        );
        if a == RunStatus::Running && c == RunStatus::Running {
            assert_eq!(b, RunStatus::Queued, "the second run on the first GPU waits");
            break;
        }
        assert!(b != RunStatus::Running || a.is_finished(), "two runs at once on one GPU");
        assert!(Instant::now() < deadline, "runs on two GPUs never ran together ({a}, {b}, {c})");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for id in [here, queued_behind, there] {
        assert_eq!(app.wait_finished(id, Duration::from_secs(60)).await.status, RunStatus::Completed);
    }
    assert_eq!(
        app.sim_stats().await["peak_in_flight"],
        4,
        "never more than one run's requests on one GPU"
    );
}
