//! Test harness: the whole app on port 0 with a temporary SQLite file and an in-process
//! simulator on port 0, driven over real HTTP.
#![allow(dead_code)]

pub mod procs;

use app::api::types::RunView;
use serde_json::{json, Value};
use server::serve::{self, OnRestart, Running, ServeOptions};
use server::sim::SimConfig;
use server::worker::{LeaseSettings, PreflightPolicy};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct TestApp {
    pub running: Running,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    /// The database's `--db` value: the file in `dir`, or a Postgres database when the tests run
    /// with BAKEOFF_TEST_PG (see [`db_target`]).
    pub db: PathBuf,
}

/// Short leases, so that tests see a dead worker's run taken over within seconds.
pub fn test_lease() -> LeaseSettings {
    LeaseSettings {
        lease: Duration::from_secs(2),
        drain_timeout: Duration::from_secs(5),
    }
}

/// A simulator fast enough for tests.
pub fn fast_sim() -> SimConfig {
    SimConfig {
        ttft: Duration::from_millis(5),
        tpot: Duration::from_micros(200),
        ..SimConfig::default()
    }
}

/// [`fast_sim`] with vLLM's prefix cache on (4,096 blocks; a fully cached prompt keeps a fifth of
/// its TTFT).
pub fn cached_sim() -> SimConfig {
    SimConfig {
        prefix_cache: server::sim::PrefixCacheConfig {
            capacity_blocks: 4096,
            cached_ttft_factor: 0.2,
        },
        ..fast_sim()
    }
}

/// Upload a dataset of `n` chat prompts that share no leading block (each starts with its own
/// number), each with `max_tokens`; returns its id.
pub async fn distinct_prompts(app: &TestApp, name: &str, n: usize, max_tokens: u32) -> i64 {
    let body: String = (0..n)
        .map(|i| {
            let text = format!(
                "Request {i:04}: summarise the following notes in one sentence. {}",
                "Notes about the weather, the harvest and the market. ".repeat(4)
            );
            format!(
                "{}\n",
                json!({"custom_id": format!("p{i}"), "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": "x", "max_tokens": max_tokens, "messages": [{"role": "user", "content": text}]}})
            )
        })
        .collect();
    let r = app
        .http
        .post(app.url(&format!("/api/datasets?name={name}")))
        .body(body)
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.expect("json")["id"].as_i64().expect("id")
}

pub async fn spawn(sim: SimConfig) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    spawn_at(dir, sim, OnRestart::Resume).await
}

pub async fn spawn_at(dir: tempfile::TempDir, sim: SimConfig, on_restart: OnRestart) -> TestApp {
    spawn_full(dir, sim, on_restart, Default::default()).await
}

/// The app with "Serve a team" options (TLS, proxies, sessions, endpoint policy).
pub async fn spawn_web(web: serve::WebOptions) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    spawn_full(dir, fast_sim(), OnRestart::Resume, web).await
}

pub async fn spawn_full(dir: tempfile::TempDir, sim: SimConfig, on_restart: OnRestart, web: serve::WebOptions) -> TestApp {
    spawn_leased(dir, sim, on_restart, web, test_lease()).await
}

/// [`spawn_full`] with its own lease length and drain timeout.
pub async fn spawn_leased(
    dir: tempfile::TempDir,
    sim: SimConfig,
    on_restart: OnRestart,
    web: serve::WebOptions,
    lease: LeaseSettings,
) -> TestApp {
    let tls = web.tls.is_some();
    let db = db_target(&dir).await;
    let running = serve::start(ServeOptions {
        addr: "127.0.0.1:0".parse().expect("addr"),
        db_path: db.clone(),
        site_root: PathBuf::from("target/site"),
        sim: Some((sim, "127.0.0.1:0".parse().expect("addr"))),
        on_restart,
        preflight: PreflightPolicy {
            health_timeout: Duration::from_secs(2),
            first_backoff: Duration::from_millis(50),
            launch_timeout: Duration::from_secs(30),
            launch_attempts: 3,
            batch_poll: Duration::from_millis(100),
        },
        web,
        lease,
    })
    .await
    .expect("app starts");
    let mut app = TestApp {
        running,
        dir,
        http: reqwest::Client::new(),
        db,
    };
    for (name, role) in [
        ("tester", "admin"),
        ("rita", "runner"),
        ("rev", "reviewer"),
        ("vic", "viewer"),
        ("rev2", "reviewer"),
    ] {
        // A restart on the same database finds them there.
        if app::db::users::credentials(&app.running.state.db, name)
            .await
            .expect("user")
            .is_some()
        {
            continue;
        }
        app::api::accounts::create_user(&app.running.state.db, name, role, PASSWORD)
            .await
            .expect("user");
    }
    if !tls {
        app.http = app.client_for("tester").await;
    }
    app
}

/// Every test user's password.
pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    /// A client logged in as `name` (a bearer token from POST /api/token).
    pub async fn client_for(&self, name: &str) -> reqwest::Client {
        bearer_client(&self.running.base_url(), name, PASSWORD).await
    }
}

/// The database of the app in `dir`: its SQLite file, or with BAKEOFF_TEST_PG a Postgres database
/// of its own, made once per `dir` (a restart on the same `dir` finds the same database).
pub async fn db_target(dir: &tempfile::TempDir) -> PathBuf {
    let remembered = dir.path().join("postgres-url");
    if let Ok(url) = std::fs::read_to_string(&remembered) {
        return PathBuf::from(url);
    }
    let target = app::db::pool::test_target(dir.path(), "bakeoff.db").await.expect("database");
    if target != db_path(dir) {
        std::fs::write(&remembered, target.to_string_lossy().as_bytes()).expect("remember the database");
    }
    target
}

pub fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("bakeoff.db")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.running.base_url(), path)
    }

    pub fn sim_url(&self) -> String {
        self.running.sim.as_ref().expect("sim").base_url()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.http.get(self.url(path)).send().await.expect("GET");
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.expect("json")
    }

    /// POST JSON; returns (status, body).
    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.post(self.url(path)).json(&body).send().await.expect("POST");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Launch through the REST API with the demo dataset on the built-in simulator.
    pub async fn launch(&self, model: &str, extra: Value) -> i64 {
        let mut body = json!({"endpoint_id": 1, "dataset_id": 1, "model": model, "requests": 20, "concurrency": 4});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let (status, v) = self.post_json("/api/runs", body).await;
        assert_eq!(status, 201, "launch failed: {v}");
        v["run_ids"][0].as_i64().expect("run id")
    }

    pub async fn run(&self, id: i64) -> RunView {
        serde_json::from_value(self.get_json(&format!("/api/runs/{id}")).await["run"].clone()).expect("run view")
    }

    /// Poll the API until the run has finished (bounded: fails the test after `limit`).
    pub async fn wait_finished(&self, id: i64, limit: Duration) -> RunView {
        let deadline = Instant::now() + limit;
        loop {
            let r = self.run(id).await;
            if r.status.is_finished() {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "run {id} did not finish within {limit:?} (status {}, {}/{})",
                r.status,
                r.done_requests,
                r.total_requests
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn records(&self, id: i64) -> Vec<Value> {
        let text = self
            .http
            .get(self.url(&format!("/api/runs/{id}/records")))
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("text");
        text.lines().map(|l| serde_json::from_str(l).expect("record line")).collect()
    }

    pub async fn sim_stats(&self) -> Value {
        reqwest::get(format!("{}/sim/stats", self.sim_url()))
            .await
            .expect("stats")
            .json()
            .await
            .expect("json")
    }
}

/// A client that sends `name`'s token (from POST /api/token) with every request, and does not
/// follow redirects.
pub async fn bearer_client(base: &str, name: &str, password: &str) -> reqwest::Client {
    let r: Value = reqwest::Client::new()
        .post(format!("{base}/api/token"))
        .json(&json!({"name": name, "password": password}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let token = r["token"].as_str().expect("token in the answer");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().expect("header"));
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        // A request no answer comes to fails, naming its URL, instead of holding the suite until
        // CI's time limit (a rare hang was seen twice: see the closing note of session 5).
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .expect("client")
}

/// POST a server function's form as `c`; (status, body).
pub async fn post_form(c: &reqwest::Client, app: &TestApp, path: &str, form: &[(&str, String)]) -> (u16, String) {
    let r = c
        .post(app.url(path))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .expect("POST");
    (r.status().as_u16(), r.text().await.expect("body"))
}

/// A server function's path (`/api/NAME` plus its hash).
pub fn server_fn_path(name: &str) -> String {
    server::serve::route_list()
        .into_iter()
        .map(|(_, p)| p)
        .find(|p| p.trim_start_matches("/api/").trim_end_matches(|c: char| c.is_ascii_digit()) == name)
        .unwrap_or_else(|| panic!("no server function {name}"))
}

/// Call the server function `name` with an encoded form; (status, body).
pub async fn call_fn(app: &TestApp, client: &reqwest::Client, name: &str, form: &str) -> (u16, String) {
    let r = client
        .post(app.url(&server_fn_path(name)))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(form.to_string())
        .send()
        .await
        .expect("POST");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}
