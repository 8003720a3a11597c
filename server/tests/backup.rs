//! `bakeoff db backup` while `serve` runs and a run is writing, as a user would do it: the
//! binary, a real SQLite file, real HTTP. The backup passes `bakeoff db check`, holds a
//! consistent state (no record without its run, nothing the live database lacks afterwards), and a
//! server started on it (the restore: the file copied into place) serves the run. Also `db check`
//! on a database newer than the binary, and a refused overwrite.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_bakeoff");
const PASSWORD: &str = "backup test password";

fn bakeoff(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).env_remove("BAKEOFF_DB").env_remove("BAKEOFF_ADDR");
    c
}

/// Run a `bakeoff` command to its end: (success, stdout, stderr).
fn run(args: &[&str]) -> (bool, String, String) {
    let out = bakeoff(args).output().expect("run bakeoff");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn add_admin(db: &Path) {
    let mut child = bakeoff(&["user", "add", "ops", "--role", "admin", "--db"])
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("user add");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .expect("password");
    let out = child.wait_with_output().expect("user add");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `bakeoff serve` in its own process; killed when dropped (stopped with SIGTERM by `stop`).
struct Serve {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Serve {
    fn start(db: &Path, dir: &Path, label: &str) -> Serve {
        let log = dir.join(format!("{label}.log"));
        let child = bakeoff(&[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--sim-addr",
            "127.0.0.1:0",
            "--ttft-ms",
            "5",
            "--tpot-ms",
            "5",
        ])
        .args(["--drain-timeout", "2", "--site-root"])
        .arg(dir.join("no-site"))
        .arg("--db")
        .arg(db)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("serve");
        let mut serve = Serve {
            child,
            url: String::new(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = std::fs::read_to_string(&serve.log).unwrap_or_default();
            if let Some(rest) = text.lines().find_map(|l| l.strip_prefix("Bakeoff is serving on ")) {
                serve.url = rest.split_whitespace().next().expect("url").to_string();
                return serve;
            }
            assert!(serve.child.try_wait().expect("wait").is_none(), "serve stopped:\n{text}");
            assert!(Instant::now() < deadline, "serve did not start within a minute:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, as a service manager stops it, and wait for the clean stop.
    fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid.
        let pid = i32::try_from(self.child.id()).expect("pid");
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "serve did not stop within 30 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn token_client(url: &str) -> reqwest::Client {
    let v: Value = reqwest::Client::new()
        .post(format!("{url}/api/token"))
        .json(&json!({"name": "ops", "password": PASSWORD}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let token = v["token"].as_str().expect("token");
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().expect("header"));
    reqwest::Client::builder().default_headers(h).build().expect("client")
}

async fn get_run(http: &reqwest::Client, url: &str, id: i64) -> Value {
    let r = http.get(format!("{url}/api/runs/{id}")).send().await.expect("GET run");
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.expect("json")["run"].clone()
}

async fn counts(db: &Path) -> Vec<(String, i64)> {
    let pool = app::db::maintenance::open_existing(db).await.expect("open");
    let c = app::db::maintenance::table_counts(&pool).await.expect("counts");
    pool.close().await;
    c
}

/// (custom_id, e2e_us, response) of a run's records.
async fn records_of(db: &Path, run: i64) -> Vec<(String, i64, String)> {
    let pool = app::db::maintenance::open_existing(db).await.expect("open");
    let r = sqlx::query_as("SELECT custom_id, e2e_us, response FROM request_records WHERE run_id = ? ORDER BY custom_id")
        .bind(run)
        .fetch_all(&pool)
        .await
        .expect("records");
    pool.close().await;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_a_run_writes_is_consistent_and_serves_the_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let live = dir.path().join("live.db");
    add_admin(&live);
    let serve = Serve::start(&live, dir.path(), "live");
    let http = token_client(&serve.url).await;

    // A run long enough to still be writing when the backup is taken (each answer ~1 s).
    let r = http
        .post(format!("{}/api/runs", serve.url))
        .json(
            &json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-gemma-3-4b", "requests": 200,
                      "concurrency": 2, "max_tokens": 200, "name": "written during the backup"}),
        )
        .send()
        .await
        .expect("launch");
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.expect("json")["run_ids"][0].as_i64().expect("id");
    let deadline = Instant::now() + Duration::from_secs(60);
    while get_run(&http, &serve.url, id).await["done_requests"].as_i64().unwrap_or(0) < 2 {
        assert!(Instant::now() < deadline, "no request of run {id} was stored within a minute");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let backup = dir.path().join("backups/bakeoff-backup.db");
    let (ok, _, stderr) = run(&["db", "backup", backup.to_str().expect("path"), "--db", live.to_str().expect("path")]);
    assert!(!ok && stderr.contains("does not exist"), "a missing directory is named: {stderr}");
    std::fs::create_dir(dir.path().join("backups")).expect("mkdir");
    let (ok, stdout, stderr) = run(&["db", "backup", backup.to_str().expect("path"), "--db", live.to_str().expect("path")]);
    assert!(ok, "backup failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("backed up") && stdout.contains("tables") && stdout.contains("request_records"),
        "says the size and the tables: {stdout}"
    );
    // Still running once the backup is done: it was taken while the run wrote.
    let during = get_run(&http, &serve.url, id).await;
    assert_eq!(during["status"], "running", "{during}");

    // An existing backup is not overwritten unless asked.
    let (ok, _, stderr) = run(&["db", "backup", backup.to_str().expect("path"), "--db", live.to_str().expect("path")]);
    assert!(!ok && stderr.contains("--force"), "{stderr}");
    let second = dir.path().join("backups/second.db");
    let (ok, _, stderr) = run(&["db", "backup", second.to_str().expect("path"), "--db", live.to_str().expect("path")]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run(&[
        "db",
        "backup",
        second.to_str().expect("path"),
        "--force",
        "--db",
        live.to_str().expect("path"),
    ]);
    assert!(ok, "--force replaces it: {stderr}");
    // Readable by its owner only (it holds password hashes and endpoint keys).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&second).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // Never over the live database's own write-ahead log, even with --force.
    let wal = format!("{}-wal", live.to_str().expect("path"));
    let (ok, _, stderr) = run(&["db", "backup", &wal, "--force", "--db", live.to_str().expect("path")]);
    assert!(!ok && stderr.contains("own -wal file"), "{stderr}");

    // The backup is sound, and in a state the live database passed through.
    let (ok, stdout, stderr) = run(&["db", "check", "--db", backup.to_str().expect("path")]);
    assert!(ok, "db check of the backup:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("integrity: ok") && stdout.contains("up to date") && stdout.contains("no problems found"),
        "{stdout}"
    );
    let pool = app::db::maintenance::open_existing(&backup).await.expect("open the backup");
    let orphans: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM request_records WHERE run_id NOT IN (SELECT id FROM runs)")
        .fetch_one(&pool)
        .await
        .expect("orphans");
    assert_eq!(orphans, 0, "every record belongs to a run in the backup");
    pool.close().await;
    let in_backup = records_of(&backup, id).await;
    assert!(!in_backup.is_empty(), "the backup holds the records stored before it");

    // The run goes on writing after the backup.
    let deadline = Instant::now() + Duration::from_secs(60);
    while get_run(&http, &serve.url, id).await["done_requests"].as_i64().unwrap_or(0) <= in_backup.len() as i64 {
        assert!(
            Instant::now() < deadline,
            "run {id} stored nothing after the backup within a minute"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Stop the run; then the live database holds everything the backup holds (counted while
    // serve still runs: a clean stop deletes its row in `workers`).
    let r = http
        .post(format!("{}/api/runs/{id}/cancel", serve.url))
        .send()
        .await
        .expect("cancel");
    assert!(r.status().is_success(), "{}", r.status());
    let deadline = Instant::now() + Duration::from_secs(30);
    while get_run(&http, &serve.url, id).await["status"] != "cancelled" {
        assert!(Instant::now() < deadline, "run {id} was not cancelled within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let live_counts: std::collections::BTreeMap<String, i64> = counts(&live).await.into_iter().collect();
    for (table, n) in counts(&backup).await {
        let l = live_counts
            .get(&table)
            .copied()
            .unwrap_or_else(|| panic!("{table} is not in the live database"));
        assert!(n <= l, "{table}: {n} rows in the backup, {l} in the live database afterwards");
    }
    let live_records = records_of(&live, id).await;
    assert!(live_records.len() > in_backup.len(), "the run went on writing after the backup");
    for r in &in_backup {
        assert!(live_records.contains(r), "record {} differs from the live database's", r.0);
    }
    serve.stop();

    // Restore: the backup copied into place (no -wal, no -shm), and serve started on it.
    let restored = dir.path().join("restored.db");
    std::fs::copy(&backup, &restored).expect("copy");
    let serve = Serve::start(&restored, dir.path(), "restored");
    let http = token_client(&serve.url).await;
    let run_view = get_run(&http, &serve.url, id).await;
    assert_eq!(run_view["name"], "written during the backup", "{run_view}");
    let text = http
        .get(format!("{}/api/runs/{id}/records", serve.url))
        .send()
        .await
        .expect("records")
        .text()
        .await
        .expect("body");
    assert_eq!(
        text.lines().count(),
        in_backup.len(),
        "the restored server serves the backed-up records"
    );
    let page = http
        .get(format!("{}/runs/{id}", serve.url))
        .send()
        .await
        .expect("GET the run's page");
    assert_eq!(page.status(), 200);
    assert!(
        page.text().await.expect("html").contains("written during the backup"),
        "the run's page"
    );
    serve.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_check_refuses_a_database_newer_than_the_binary_and_names_the_problem() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("newer.db");
    let db = app::db::connect(&path).await.expect("create");
    // A migration from a later release this binary does not carry.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .execute(&db)
    .await
    .expect("insert");
    db.close().await;
    let (ok, stdout, stderr) = run(&["db", "check", "--db", path.to_str().expect("path")]);
    assert!(!ok, "a newer database is a problem:\n{stdout}");
    assert!(
        stderr.contains("newer than this binary") && stderr.contains("9999 from the future"),
        "{stderr}"
    );

    // `serve` (and every command that migrates) refuses it with the same words.
    let err = app::db::connect(&path).await.expect_err("a newer database is refused");
    assert!(
        err.to_string().contains("upgraded by a newer Bakeoff") && err.to_string().contains("9999"),
        "{err}"
    );

    let (ok, _, stderr) = run(&["db", "check", "--db", dir.path().join("missing.db").to_str().expect("path")]);
    assert!(!ok && stderr.contains("no database file at"), "{stderr}");
    assert!(!dir.path().join("missing.db").exists(), "db check creates nothing");
}
