//! Child processes of the real binary for the tests that need several processes on one database
//! (leases, workers): a `bakeoff sim` endpoint, an admin user, waits with deadlines.

use app::db;
use app::domain::status::RunStatus;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_bakeoff");
pub const PASSWORD: &str = "a long password";
pub const FAKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake-vllm.sh");

/// A child process killed (SIGKILL) when dropped, so a failing test leaves nothing behind.
pub struct Proc(pub Child);

impl Proc {
    pub fn pid(&self) -> i32 {
        i32::try_from(self.0.id()).expect("pid")
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// Wait (bounded) for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "process {} did not exit within {limit:?}", self.pid());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

pub fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `bakeoff sim` in its own process: the endpoint, counting every request it receives.
pub fn start_sim(tpot_ms: &str) -> (Proc, String) {
    let port = free_port();
    let child = Command::new(BIN)
        .args([
            "sim",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--ttft-ms",
            "5",
            "--tpot-ms",
            tpot_ms,
        ])
        .stderr(Stdio::null())
        .spawn()
        .expect("sim");
    wait_port(port);
    (Proc(child), format!("http://127.0.0.1:{port}"))
}

pub fn add_admin(db: &Path) {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(["user", "add", "ops", "--role", "admin", "--db"])
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bakeoff user add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "bakeoff user add: {}", String::from_utf8_lossy(&out.stderr));
}

pub async fn wait_status(pool: &db::Db, id: i64, limit: Duration, done: impl Fn(RunStatus) -> bool) -> RunStatus {
    let deadline = Instant::now() + limit;
    loop {
        let s = db::runs::status(pool, id).await.expect("status");
        if done(s) {
            return s;
        }
        assert!(Instant::now() < deadline, "run {id} still {s} after {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn wait_records(pool: &db::Db, id: i64, at_least: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while db::records::count(pool, id).await.expect("count") < at_least {
        assert!(Instant::now() < deadline, "run {id} made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn assert_each_custom_id_once(pool: &db::Db, id: i64, n: usize) {
    let records = db::records::for_run(pool, id).await.expect("records");
    let ids: HashSet<&str> = records.iter().map(|r| r.custom_id.as_str()).collect();
    assert_eq!((records.len(), ids.len()), (n, n), "run {id}: every request stored exactly once");
}

/// The fake `vllm serve` (a Bakeoff simulator behind vLLM's start-up lines) as an argument list.
pub fn fake_command() -> Vec<String> {
    let mut args = vec!["env".to_string(), format!("BAKEOFF_BIN={BIN}"), FAKE.to_string()];
    args.extend(app::api::endpoints::command::split_template(
        "{model} --port {port} --gpu-memory-utilization {util} --max-model-len {max_model_len} --max-num-seqs {max_num_seqs} {eager}",
    ));
    args
}

/// A port free on `host` (another loopback address, e.g. `127.0.0.2`, to stand for another machine).
pub fn free_port_on(host: &str) -> u16 {
    std::net::TcpListener::bind((host, 0))
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// [`start_sim`] listening on `host` (on Linux all of 127.0.0.0/8 reaches this machine, so each
/// address is a different GPU host to Bakeoff, which locks one measured run per host name).
pub fn start_sim_on(host: &str, tpot_ms: &str) -> (Proc, String) {
    let port = free_port_on(host);
    let child = Command::new(BIN)
        .args(["sim", "--addr", &format!("{host}:{port}"), "--ttft-ms", "5", "--tpot-ms", tpot_ms])
        .stderr(Stdio::null())
        .spawn()
        .expect("sim");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect((host, port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {host}:{port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    (Proc(child), format!("http://{host}:{port}"))
}

pub async fn sim_requests(url: &str) -> u64 {
    let v: Value = reqwest::get(format!("{url}/sim/stats"))
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    v["requests"].as_u64().expect("requests count")
}

/// `bakeoff serve --no-worker` without its simulator; its stderr goes to `log`.
pub struct Web {
    _proc: Proc,
    pub base: String,
    pub log: PathBuf,
    pub http: reqwest::Client,
}

impl Web {
    pub async fn start(db: &Path, log: PathBuf) -> Web {
        let port = free_port();
        let child = Command::new(BIN)
            .args([
                "serve",
                "--no-worker",
                "--no-sim",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--lease-s",
                "2",
                "--db",
            ])
            .arg(db)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start bakeoff serve --no-worker");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        // Up means answering: 401 without a log-in is an answer.
        while reqwest::get(format!("{base}/api/runs")).await.is_err() {
            assert!(Instant::now() < deadline, "server did not come up: {}", read(&log));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let http = super::bearer_client(&base, "ops", PASSWORD).await;
        Web {
            _proc: Proc(child),
            base,
            log,
            http,
        }
    }

    /// POST JSON that must answer 201 Created; the answer.
    async fn create(&self, path: &str, body: &Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .expect("POST");
        let status = r.status();
        let v: Value = r.json().await.expect("json");
        assert_eq!(status, 201, "{v}");
        v
    }

    pub async fn add_endpoint(&self, body: Value) -> i64 {
        self.create("/api/endpoints", &body).await["id"].as_i64().expect("endpoint id")
    }

    pub async fn launch(&self, endpoint: i64, model: &str, requests: u32, extra: Value) -> i64 {
        let mut body =
            json!({"endpoint_id": endpoint, "dataset_id": 1, "model": model, "requests": requests, "concurrency": 4, "max_tokens": 64});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.create("/api/runs", &body).await["run_ids"][0].as_i64().expect("run id")
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self.http.get(format!("{}{path}", self.base)).send().await.expect("GET");
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    pub async fn workers(&self) -> Vec<Value> {
        let (status, body) = self.get("/api/workers").await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        v.as_array().expect("a list of workers").clone()
    }
}

impl Web {
    /// Poll `GET /api/workers` until `n` workers are alive.
    pub async fn wait_alive(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let alive = self.workers().await.iter().filter(|w| w["state"] == "alive").count();
            if alive == n {
                return;
            }
            assert!(Instant::now() < deadline, "{alive} of {n} workers alive");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
