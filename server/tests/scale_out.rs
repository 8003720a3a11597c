//! Team scale-out on one SQLite file (issue 13's tests, without Postgres), with the real binary:
//! a `bakeoff serve --no-worker` queues runs, `bakeoff worker` processes measure them. Three
//! workers measure six runs on six GPU hosts at once, each run by exactly one worker; a worker
//! killed with -9 mid-run is taken over by another once its lease expires, with no request lost
//! and none stored twice. Every count is read at the endpoints (`/sim/stats`) and in the database.

mod common;

use common::procs::*;

use app::db;
use app::domain::status::RunStatus;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MODEL: &str = "sim-gemma-3-4b";

/// `bakeoff worker` for any endpoint, with 2 s leases; its stderr goes to `log`.
fn start_worker(db: &Path, log: &Path, name: &str) -> Proc {
    let child = Command::new(BIN)
        .args(["worker", "--lease-s", "2", "--name", name, "--db"])
        .arg(db)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("start bakeoff worker");
    Proc(child)
}

/// The run's status, its lease holder's pid and the lease's expiry (unix s, the database's clock).
async fn lease_of(pool: &db::Db, id: i64) -> (RunStatus, Option<i64>, Option<i64>) {
    sqlx::query_as("SELECT status, lease_pid, lease_expires_at FROM runs WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("lease")
}

fn logs(dir: &Path, names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("--- {n}\n{}", read(&dir.join(format!("{n}.log")))))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_measure_six_runs_on_six_gpu_hosts_at_once_each_run_once_and_exactly() {
    const REQUESTS: u32 = 150;
    let dir = tempfile::tempdir().expect("tmp");
    let db_path = db::pool::test_target(dir.path(), "six.db").await.expect("database");
    add_admin(&db_path);
    // Six endpoints on six host names: six GPUs, so six locks.
    let sims: Vec<(Proc, String)> = (2..=7).map(|i| start_sim_on(&format!("127.0.0.{i}"), "2")).collect();
    let web = Web::start(&db_path, dir.path().join("web.log")).await;
    let mut endpoints = Vec::new();
    for (i, (_, url)) in sims.iter().enumerate() {
        endpoints.push(web.add_endpoint(json!({"name": format!("gpu-{}", i + 2), "base_url": url})).await);
    }
    let pool = db::connect(&db_path).await.expect("db");
    let gpus: Vec<Option<String>> =
        sqlx::query_scalar("SELECT gpu FROM endpoint_gpus WHERE endpoint_id IN (SELECT CAST(value AS BIGINT) FROM json_each($1))")
            .bind(json!(endpoints).to_string())
            .fetch_all(&pool)
            .await
            .expect("gpus");
    let distinct: BTreeSet<_> = gpus.iter().flatten().collect();
    assert_eq!(distinct.len(), 6, "one GPU lock per endpoint: {gpus:?}");

    let names = ["w1", "w2", "w3"];
    let workers: Vec<Proc> = names
        .iter()
        .map(|n| start_worker(&db_path, &dir.path().join(format!("{n}.log")), n))
        .collect();
    let pids: BTreeMap<i64, &str> = workers.iter().zip(names).map(|(w, n)| (i64::from(w.pid()), n)).collect();
    // All three poll the queue before the runs exist, so any of them may claim any run.
    web.wait_alive(3).await;
    let mut runs = Vec::new();
    for e in &endpoints {
        runs.push(web.launch(*e, MODEL, REQUESTS, json!({"concurrency": 4})).await);
    }

    // Watch the runs until they end: how many run at once, and who holds each one's lease.
    let mut most_at_once = 0;
    let mut holders: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut running = 0;
        let mut finished = 0;
        for id in &runs {
            let (status, pid, _) = lease_of(&pool, *id).await;
            if status == RunStatus::Running {
                running += 1;
                holders.entry(*id).or_default().extend(pid);
            }
            finished += usize::from(status.is_finished());
        }
        most_at_once = most_at_once.max(running);
        if finished == runs.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{finished} of 6 runs finished after 60 s\n{}",
            logs(dir.path(), &["w1", "w2", "w3", "web"])
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut measured: BTreeMap<&str, usize> = BTreeMap::new();
    for ((id, (_, url)), e) in runs.iter().zip(&sims).zip(&endpoints) {
        let view = db::runs::get(&pool, *id).await.expect("run");
        assert_eq!(view.status, RunStatus::Completed, "run {id} on endpoint {e}: {:?}", view.error);
        assert_each_custom_id_once(&pool, *id, REQUESTS as usize).await;
        assert_eq!(
            sim_requests(url).await,
            u64::from(REQUESTS),
            "{url} received exactly its run's requests"
        );
        assert_eq!(
            (view.takeovers, view.resumed),
            (0, false),
            "run {id} was measured once, from start to end"
        );
        let seen = holders.get(id).cloned().unwrap_or_default();
        assert_eq!(seen.len(), 1, "run {id} had one holder while it ran: {seen:?}");
        let (_, pid, _) = lease_of(&pool, *id).await;
        let pid = pid.expect("the holder is kept after the run");
        assert!(seen.contains(&pid), "run {id}: held by {seen:?}, ended by {pid}");
        let name = pids
            .get(&pid)
            .unwrap_or_else(|| panic!("run {id} measured by pid {pid}, none of the workers {pids:?}"));
        let by = format!("{name} on {} (pid {pid})", server::worker::host_name());
        assert_eq!(view.worker.as_deref(), Some(by.as_str()));
        *measured.entry(name).or_default() += 1;
    }
    assert_eq!(most_at_once, 6, "the six runs on six GPUs ran at the same time");
    // Which worker measured what is the claims' race (each claims every run whose GPU is free);
    // the tally shows in the test's output.
    eprintln!("runs measured per worker: {measured:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_run_is_taken_over_after_its_lease_expires_with_nothing_lost_or_stored_twice() {
    const REQUESTS: i64 = 200;
    let dir = tempfile::tempdir().expect("tmp");
    let db_path = db::pool::test_target(dir.path(), "kill.db").await.expect("database");
    add_admin(&db_path);
    let (_sim, url) = start_sim("4");
    let web = Web::start(&db_path, dir.path().join("web.log")).await;
    let endpoint = web.add_endpoint(json!({"name": "gpu", "base_url": url})).await;
    let id = web.launch(endpoint, MODEL, REQUESTS as u32, json!({"concurrency": 8})).await;
    let pool = db::connect(&db_path).await.expect("db");

    let mut a = start_worker(&db_path, &dir.path().join("a.log"), "worker-a");
    let a_pid = i64::from(a.pid());
    wait_records(&pool, id, 20).await;
    a.signal(libc::SIGKILL);
    let status = a.wait_exit(Duration::from_secs(10));
    assert!(!status.success(), "killed: {status}");

    // A is gone: what it stored stays, its lease runs out by itself.
    let stored = db::records::count(&pool, id).await.expect("count");
    assert!(stored < REQUESTS, "killed mid-run ({stored} stored)");
    let (s, holder, expires) = lease_of(&pool, id).await;
    assert_eq!((s, holder), (RunStatus::Running, Some(a_pid)), "still A's run");
    let expires = expires.expect("A's lease expiry");

    let b = start_worker(&db_path, &dir.path().join("b.log"), "worker-b");
    // Until B holds the lease, B has sent nothing: the endpoint's count read before a look that
    // still finds A's lease is what A sent (read as late as that, so A's last bytes are in).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sent_by_a = sim_requests(&url).await;
    loop {
        let sent = sim_requests(&url).await;
        let (_, holder, _) = lease_of(&pool, id).await;
        if holder != Some(a_pid) {
            break;
        }
        sent_by_a = sent;
        assert!(Instant::now() < deadline, "nobody took the run over: {}", logs(dir.path(), &["b"]));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = wait_status(&pool, id, Duration::from_secs(60), RunStatus::is_finished).await;
    assert_eq!(s, RunStatus::Completed, "{}", logs(dir.path(), &["b", "a"]));

    // 0 lost, 0 stored twice.
    assert_each_custom_id_once(&pool, id, REQUESTS as usize).await;
    let view = db::runs::get(&pool, id).await.expect("run");
    assert_eq!(view.takeovers, 1);
    assert!(view.resumed);
    let note = view.takeover_note.clone().unwrap_or_default();
    assert!(
        note.contains(&format!("from worker-a on {} (pid {a_pid})", server::worker::host_name())),
        "the take-over names A: {note}"
    );
    assert!(
        view.worker
            .as_deref()
            .is_some_and(|w| w.starts_with("worker-b on ") && w.ends_with(&format!("(pid {})", b.pid()))),
        "finished by B: {:?}",
        view.worker
    );
    // Only after the lease expired (live while the database's clock <= its expiry).
    let at = note
        .strip_prefix("taken over at ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("the note starts with when: {note}"));
    let at_s: Option<i64> = sqlx::query_scalar("SELECT CAST(strftime('%s', $1) AS INTEGER)")
        .bind(at)
        .fetch_one(&pool)
        .await
        .expect("time");
    assert!(
        at_s.is_some_and(|t| t > expires),
        "taken over at {at} ({at_s:?}), A's lease ran to {expires}"
    );

    // The endpoint got every request once, plus those A had sent but not stored, sent again by B.
    let total = sim_requests(&url).await;
    let unstored_by_a = sent_by_a
        .checked_sub(u64::try_from(stored).expect("count"))
        .unwrap_or_else(|| panic!("A stored {stored} records but the endpoint got only {sent_by_a} requests"));
    assert_eq!(
        total,
        sent_by_a + u64::try_from(REQUESTS - stored).expect("count"),
        "B sent exactly the requests A had not stored ({stored} stored, {sent_by_a} sent by A)"
    );
    assert!(total >= REQUESTS as u64);
    eprintln!("A stored {stored}, sent {sent_by_a} ({unstored_by_a} sent again by B); the endpoint got {total}");
}
