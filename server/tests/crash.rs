//! kill -9 of the server mid-run, then a restart: the run resumes where it stopped, keyed by
//! custom_id, with no record lost or duplicated.

mod common;

use app::db;
use app::domain::status::RunStatus;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn start(db: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bakeoff"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--sim-addr", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(["--ttft-ms", "5", "--tpot-ms", "1.5", "--lease-s", "2"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bakeoff")
}

async fn wait_up(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    // Up means answering: 401 without a log-in is an answer.
    while http.get(format!("{base}/api/runs")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn add_user(db: &std::path::Path) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_bakeoff"))
        .args(["user", "add", "ops", "--role", "runner", "--db"])
        .arg(db)
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("bakeoff user add");
    child.stdin.take().expect("stdin").write_all(b"a long password\n").expect("write");
    assert!(child.wait().expect("wait").success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_way_resumes_without_losing_or_duplicating_records() {
    let dir = tempfile::tempdir().expect("tmp");
    let db_path = dir.path().join("crash.db");
    add_user(&db_path);
    let http = reqwest::Client::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(&db_path, port);
    wait_up(&http, &base).await;
    let http = common::bearer_client(&base, "ops", "a long password").await;

    let r: Value = http
        .post(format!("{base}/api/runs"))
        .json(&json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-gemma-3-4b", "requests": 300, "concurrency": 8}))
        .send()
        .await
        .expect("launch")
        .json()
        .await
        .expect("json");
    let id = r["run_ids"][0].as_i64().expect("id");

    let pool = db::connect(&db_path).await.expect("db");
    let deadline = Instant::now() + Duration::from_secs(60);
    while db::records::count(&pool, id).await.expect("count") < 40 {
        assert!(Instant::now() < deadline, "the run made no progress");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill().expect("kill -9"); // SIGKILL: no shutdown code runs
    server.wait().expect("reaped");

    assert_eq!(
        db::runs::status(&pool, id).await.expect("status"),
        RunStatus::Running,
        "left running by the dead process"
    );
    let before: HashMap<String, Duration> = db::records::for_run(&pool, id)
        .await
        .expect("records")
        .into_iter()
        .map(|r| (r.custom_id, r.e2e))
        .collect();
    assert!(before.len() >= 40 && before.len() < 300, "killed mid-way ({} stored)", before.len());

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(&db_path, port);
    wait_up(&http, &base).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = db::runs::status(&pool, id).await.expect("status");
        if s.is_finished() {
            assert_eq!(s, RunStatus::Completed);
            break;
        }
        assert!(Instant::now() < deadline, "the resumed run did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill().expect("stop");
    server.wait().expect("reaped");

    let after = db::records::for_run(&pool, id).await.expect("records");
    assert_eq!(after.len(), 300, "every request exactly once");
    let ids: HashSet<&str> = after.iter().map(|r| r.custom_id.as_str()).collect();
    assert_eq!(ids.len(), 300, "no duplicates");
    for r in &after {
        if let Some(e2e) = before.get(&r.custom_id) {
            assert_eq!(*e2e, r.e2e, "{} was kept as first stored, not re-sent", r.custom_id);
        }
    }
    let run = db::runs::get(&pool, id).await.expect("run");
    assert!(run.resumed);
    assert_eq!(run.summary.expect("summary").requests, 300);
}
