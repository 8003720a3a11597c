//! Bakeoff in front of real nginx (Debian's `nginx-light`, installed by scripts/setup.sh) that
//! proxies the simulator, as teams run vLLM behind a gateway: plain http streaming, https with
//! the endpoint's own CA, a location that wants `Authorization: Bearer`, one that answers gzip,
//! and one that adds `Retry-After` to the simulator's 429s.
//!
//! nginx runs as an ordinary child process with a generated configuration in a temporary
//! directory, listening on free 127.0.0.1 ports. Without nginx these tests fail and say to run
//! scripts/setup.sh; `BAKEOFF_SKIP_NGINX=1` skips them (loudly).

mod common;

use common::{fast_sim, spawn, TestApp};
use serde_json::{json, Value};
use server::sim::{self, faults::FaultRates, SimConfig, SimHandle};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const KEY: &str = "sekrit";
const MODEL: &str = "sim-llama-3.2-1b";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");

/// nginx, killed (the process this test started) when dropped.
struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
    http: u16,
    https: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    fn http(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }

    /// The request lines nginx logged so far.
    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The nginx binary, or `None` when the tests are to be skipped (`BAKEOFF_SKIP_NGINX=1`).
fn nginx_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("nginx")).collect::<Vec<_>>())
        .unwrap_or_default();
    let found = on_path.into_iter().chain([PathBuf::from("/usr/sbin/nginx")]).find(|p| p.is_file());
    if found.is_none() && std::env::var("BAKEOFF_SKIP_NGINX").as_deref() == Ok("1") {
        eprintln!("\n*** SKIPPED: nginx is not installed and BAKEOFF_SKIP_NGINX=1: the nginx tests did not run ***\n");
        return None;
    }
    Some(found.expect(
        "nginx is not installed: run scripts/setup.sh (it installs Debian's nginx-light), or set BAKEOFF_SKIP_NGINX=1 to skip these tests",
    ))
}

/// nginx in front of `sim` (and of `limited`, the simulator that answers 429s, at /limited/).
fn start_nginx(bin: &Path, sim: &str, limited: Option<&str>) -> Nginx {
    let dir = tempfile::tempdir().expect("tmp");
    let (http, https, gz) = (free_port(), free_port(), free_port());
    let sim = sim.trim_start_matches("http://");
    let limited = limited
        .map(|l| l.trim_start_matches("http://").to_string())
        .unwrap_or_else(|| sim.to_string());
    let d = dir.path().display();
    let conf = format!(
        r#"
events {{ worker_connections 1024; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    # As for vLLM: pass the event stream on as it comes, over kept-alive connections.
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_buffering off;
    proxy_read_timeout 60s;

    server {{
        listen 127.0.0.1:{http};
        location / {{ proxy_pass http://{sim}; }}
        location /keyed/ {{
            if ($http_authorization != "Bearer {KEY}") {{ return 401 '{{"error":{{"message":"bad key"}}}}'; }}
            proxy_pass http://{sim}/;
        }}
        # Bakeoff asks for identity, and nginx compresses only for a client that accepts gzip:
        # this location asks an inner server (below) for gzip on Bakeoff's behalf and passes the
        # compressed answer on as it is, so Bakeoff really receives gzip.
        location /gz/ {{
            proxy_set_header Accept-Encoding gzip;
            proxy_pass http://127.0.0.1:{gz}/;
        }}
        location /limited/ {{
            add_header Retry-After 1 always;
            proxy_pass http://{limited}/;
        }}
    }}

    server {{
        listen 127.0.0.1:{https} ssl;
        ssl_certificate {FIXTURES}/server.pem;
        ssl_certificate_key {FIXTURES}/server.key;
        location / {{ proxy_pass http://{sim}; }}
        # A hosted provider's shape: https, a key, the OpenAI API under /v1 and nothing else.
        location /provider/v1/ {{
            if ($http_authorization != "Bearer {KEY}") {{ return 401 '{{"error":{{"message":"bad key"}}}}'; }}
            proxy_pass http://{sim}/v1/;
        }}
    }}

    server {{
        listen 127.0.0.1:{gz};
        gzip on;
        gzip_types text/event-stream application/json;
        gzip_min_length 0;
        gzip_proxied any;
        gzip_http_version 1.0;
        location / {{ proxy_pass http://{sim}; }}
    }}
}}
"#
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).expect("conf");
    let globals = format!("daemon off; master_process off; pid {d}/nginx.pid; error_log stderr;");
    let mut child = Command::new(bin)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .args(["-e", "stderr", "-g", &globals])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nginx starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", gz)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("nginx exited ({status}): {err}");
        }
        assert!(Instant::now() < deadline, "nginx did not listen within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    Nginx { child, dir, http, https }
}

/// Everything the server logs (all levels), kept to look for secrets in.
fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .try_init();
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Add an endpoint through the REST API: (status, answer).
async fn add(app: &TestApp, body: Value) -> (u16, Value) {
    app.post_json("/api/endpoints", body).await
}

/// Launch a run of `requests` on endpoint `id` and wait for its end.
async fn run_on(app: &TestApp, id: i64, requests: u32) -> app::api::types::RunView {
    let (status, v) = app
        .post_json(
            "/api/runs",
            json!({"endpoint_id": id, "dataset_id": 1, "model": MODEL, "requests": requests, "concurrency": 4, "max_tokens": 24}),
        )
        .await;
    assert_eq!(status, 201, "launch: {v}");
    let run = v["run_ids"][0].as_i64().expect("run id");
    app.wait_finished(run, Duration::from_secs(120)).await
}

fn answered(run: &app::api::types::RunView) -> u64 {
    let o = &run.summary.as_ref().expect("summary").outcomes;
    o.ok + o.truncated
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_and_https_through_nginx_stream_every_answer() {
    let Some(bin) = nginx_binary() else { return };
    let app = spawn(fast_sim()).await;
    let nginx = start_nginx(&bin, &app.sim_url(), None);

    let (status, v) = add(&app, json!({"name": "via nginx", "base_url": nginx.http("")})).await;
    assert_eq!(status, 201, "{v}");
    let plain = v["id"].as_i64().expect("id");

    let https = format!("https://localhost:{}/v1", nginx.https);
    let (status, v) = add(&app, json!({"name": "nginx https, no CA", "base_url": https})).await;
    assert_eq!(status, 422, "the test CA is not trusted without being given: {v}");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("CA certificate")), "{v}");
    assert!(
        v["message"].as_str().is_some_and(|m| !m.contains("Is the server running there")),
        "the server is there; its certificate is the problem: {v}"
    );
    // Plain http to the TLS port: say to write https.
    let (status, v) = add(
        &app,
        json!({"name": "nginx tls port as http", "base_url": format!("http://localhost:{}/v1", nginx.https)}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("this port speaks https")), "{v}");

    let ca = std::fs::read_to_string(format!("{FIXTURES}/ca.pem")).expect("ca");
    let (status, v) = add(&app, json!({"name": "nginx https", "base_url": https, "ca_cert": ca})).await;
    assert_eq!(status, 201, "{v}");
    let tls = v["id"].as_i64().expect("id");
    let eps = app.get_json("/api/endpoints").await;
    let stored = eps.as_array().and_then(|l| l.iter().find(|e| e["id"] == tls)).expect("stored");
    assert_eq!(stored["base_url"], format!("https://localhost:{}", nginx.https));
    assert_eq!(stored["has_ca_cert"], true);

    // A gateway that passes on only the OpenAI API answers /health with 404: /v1/models decides.
    let (status, v) = add(
        &app,
        json!({"name": "no /health", "base_url": format!("https://localhost:{}/provider", nginx.https), "ca_cert": ca, "api_key": KEY}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let log = nginx.access_log();
    assert!(log.contains("GET /provider/health HTTP/1.1\" 404"), "asked, and not there: {log}");

    for id in [plain, tls] {
        let run = run_on(&app, id, 20).await;
        assert_eq!(run.status, app::domain::status::RunStatus::Completed, "{:?}", run.error);
        assert_eq!(answered(&run), 20, "endpoint {id}: {:?}", run.summary.map(|s| s.outcomes));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_gated_location_needs_the_key_and_the_key_is_never_shown_or_logged() {
    let Some(bin) = nginx_binary() else { return };
    let log = captured_log();
    let app = spawn(fast_sim()).await;
    let nginx = start_nginx(&bin, &app.sim_url(), None);
    let keyed = nginx.http("/keyed");

    let (status, v) = add(&app, json!({"name": "keyed", "base_url": keyed})).await;
    assert_eq!(status, 422, "{v}");
    let m = v["message"].as_str().unwrap_or_default();
    assert!(m.contains("401") && m.contains("API key"), "a clear 401 message: {v}");

    let (status, v) = add(&app, json!({"name": "keyed", "base_url": keyed, "api_key": KEY})).await;
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_i64().expect("id");
    assert!(!v.to_string().contains(KEY));

    let run = run_on(&app, id, 20).await;
    assert_eq!(answered(&run), 20, "{:?}", run.summary.as_ref().map(|s| &s.outcomes));

    // Without the key, a measured request is an HTTP error that says what is missing.
    let m = server::client::Client::new()
        .send(
            &format!("{keyed}/v1/chat/completions"),
            bytes::Bytes::from(json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": true}).to_string()),
            Duration::from_secs(10),
        )
        .await;
    assert_eq!((m.outcome, m.http_status), (app::domain::status::Outcome::HttpError, Some(401)));
    let e = m.error.unwrap_or_default();
    assert!(e.contains("API key") && e.contains("bad key"), "{e}");

    // A wrong key is checked before it replaces the stored one.
    let r = app
        .http
        .post(app.url(<app::api::endpoints::SetEndpointAccess as leptos::server_fn::ServerFn>::PATH))
        .form(&[("id", id.to_string()), ("api_key", "wrong".into())])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 422);
    let run = run_on(&app, id, 4).await;
    assert_eq!(answered(&run), 4, "the stored key still works");

    // Nowhere to be seen: the API, the pages, the run's API answers, the report, the export, the log.
    let mut seen = vec![
        app.get_json("/api/endpoints").await.to_string(),
        app.get_json(&format!("/api/runs/{}", run.id)).await.to_string(),
    ];
    let eps = app.get_json("/api/endpoints").await;
    let stored = eps.as_array().and_then(|l| l.iter().find(|e| e["id"] == id)).expect("stored");
    assert_eq!(stored["has_api_key"], true);
    for who in ["tester", "rita", "vic"] {
        let c = app.client_for(who).await;
        for path in [
            "/endpoints".to_string(),
            format!("/api/runs/{}/records", run.id),
            "/api/report?format=md".into(),
        ] {
            seen.push(c.get(app.url(&path)).send().await.expect("GET").text().await.expect("text"));
        }
    }
    let out = tempfile::tempdir().expect("tmp");
    let (records, summary) = server::headless::export(&common::db_path(&app.dir), run.id, out.path())
        .await
        .expect("export");
    seen.push(std::fs::read_to_string(records).expect("records"));
    seen.push(std::fs::read_to_string(summary).expect("summary"));
    assert!(seen[2].contains("keyed"), "the endpoints page lists the endpoint");
    for (i, text) in seen.iter().enumerate() {
        assert!(!text.contains(KEY), "answer {i} shows the key");
    }
    let logged = String::from_utf8_lossy(&log.lock().unwrap_or_else(|p| p.into_inner())).to_string();
    assert!(logged.contains("run started"), "the log was captured");
    assert!(!logged.contains(KEY), "the log holds the key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_run_takes_the_key_from_the_environment_and_never_stores_it() {
    let Some(bin) = nginx_binary() else { return };
    let app = spawn(fast_sim()).await;
    let nginx = start_nginx(&bin, &app.sim_url(), None);
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("cli.db");
    let dataset = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/fixtures/synthetic_100.jsonl");
    let run = |key: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bakeoff"));
        cmd.args(["run", "--endpoint", &nginx.http("/keyed"), "--model", MODEL, "--dataset", dataset])
            .args(["--requests", "6", "--concurrency", "2", "--max-tokens", "16", "--json", "--db"])
            .arg(&db)
            .env_remove("BAKEOFF_API_KEY")
            .env("RUST_LOG", "trace");
        if let Some(k) = key {
            cmd.env("BAKEOFF_API_KEY", k);
        }
        cmd.output().expect("bakeoff run")
    };
    let refused = run(None);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("401") && err.contains("--api-key-env"), "{err}");

    let ok = run(Some(KEY));
    let (out, err) = (String::from_utf8_lossy(&ok.stdout), String::from_utf8_lossy(&ok.stderr));
    assert!(ok.status.success(), "{err}");
    let v: Value = serde_json::from_str(&out).expect("json summary");
    assert_eq!(
        v["summary"]["outcomes"]["ok"].as_u64().unwrap_or(0) + v["summary"]["outcomes"]["truncated"].as_u64().unwrap_or(0),
        6,
        "{v}"
    );
    assert!(!err.contains(KEY), "the CLI's log holds the key");

    let pool = app::db::connect(&db).await.expect("db");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM endpoints WHERE api_key IS NOT NULL")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(stored, 0, "the key from BAKEOFF_API_KEY is not written");
    pool.close().await;
    for file in std::fs::read_dir(dir.path()).expect("dir") {
        // The last connection removes the -wal and -shm files as it closes, which may be just
        // after the listing: a file gone holds nothing.
        let bytes = match std::fs::read(file.expect("entry").path()) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            read => read.expect("read"),
        };
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "a database file holds the key"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_answer_from_the_gateway_is_decoded() {
    let Some(bin) = nginx_binary() else { return };
    let app = spawn(fast_sim()).await;
    let nginx = start_nginx(&bin, &app.sim_url(), None);
    // The location really answers gzip to a client that asks for identity.
    let r = reqwest::Client::new()
        .get(nginx.http("/gz/v1/models"))
        .header("accept-encoding", "identity")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.headers().get("content-encoding").and_then(|v| v.to_str().ok()), Some("gzip"));
    let r = reqwest::Client::new()
        .post(nginx.http("/gz/v1/chat/completions"))
        .header("accept-encoding", "identity")
        .json(&json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": true, "max_tokens": 8}))
        .send()
        .await
        .expect("POST");
    assert_eq!(
        r.headers().get("content-encoding").and_then(|v| v.to_str().ok()),
        Some("gzip"),
        "the streams are compressed too"
    );

    let (status, v) = add(&app, json!({"name": "gzip", "base_url": nginx.http("/gz")})).await;
    assert_eq!(status, 201, "the checks decode gzip: {v}");
    let run = run_on(&app, v["id"].as_i64().expect("id"), 20).await;
    assert_eq!(answered(&run), 20, "{:?}", run.summary.as_ref().map(|s| &s.outcomes));
}

async fn limited_sim() -> SimHandle {
    let config = SimConfig {
        faults: FaultRates {
            http_429: 0.3,
            ..Default::default()
        },
        ..fast_sim()
    };
    sim::start(config, "127.0.0.1:0".parse().expect("addr")).await.expect("sim")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_answers_are_counted_apart_with_their_retry_after_and_retried_when_asked() {
    let Some(bin) = nginx_binary() else { return };
    let app = spawn(fast_sim()).await;
    let limited = limited_sim().await;
    let nginx = start_nginx(&bin, &app.sim_url(), Some(&limited.base_url()));
    let (status, v) = add(&app, json!({"name": "limited", "base_url": nginx.http("/limited")})).await;
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_i64().expect("id");

    let run = run_on(&app, id, 40).await;
    let outcomes = run.summary.as_ref().expect("summary").outcomes.clone();
    let limited_count = outcomes.http_status.get(&429).copied().unwrap_or(0);
    assert!(limited_count > 0, "some answers were rate-limited: {outcomes:?}");
    assert_eq!(outcomes.ok + outcomes.truncated + limited_count, 40, "{outcomes:?}");
    let records = app.records(run.id).await;
    let with_429: Vec<&Value> = records.iter().filter(|r| r["http_status"] == 429).collect();
    assert_eq!(with_429.len() as u64, limited_count);
    assert!(
        with_429
            .iter()
            .all(|r| r["error"].as_str().is_some_and(|e| e.contains("Retry-After: 1"))),
        "{:?}",
        with_429.first()
    );

    // With a retry policy, the same endpoint answers every request; the policy and what it did
    // are recorded with the run.
    let r = app
        .http
        .post(app.url(<app::api::endpoints::SetEndpointAccess as leptos::server_fn::ServerFn>::PATH))
        .form(&[("id", id.to_string()), ("retries", "8".into())])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let retried = run_on(&app, id, 40).await;
    assert_eq!(answered(&retried), 40, "{:?}", retried.summary.as_ref().map(|s| &s.outcomes));
    let access = app::db::endpoints::run_accesses(&app.running.state.db).await.expect("run access");
    assert_eq!(access[&run.id].retry.max_retries, 0, "retries are off by default");
    let a = &access[&retried.id];
    assert_eq!(a.retry.max_retries, 8);
    assert!(a.retries_made > 0 && a.rate_limited == a.retries_made, "{a:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hosted_provider_over_https_with_a_key_is_priced_by_its_own_sheet() {
    use app::domain::cost::{PriceKind, PriceRow};
    use app::domain::prices::{LATER_SHEET, SEED_SHEET};
    let Some(bin) = nginx_binary() else { return };
    let app = spawn(fast_sim()).await;
    let nginx = start_nginx(&bin, &app.sim_url(), None);
    let db = &app.running.state.db;
    // The provider's listing prices the simulated model.
    let sheet = app::db::prices::by_name(db, LATER_SHEET).await.expect("sheet");
    let row = PriceRow {
        id: 0,
        model_key: MODEL.into(),
        kind: PriceKind::Serverless,
        input_per_m: Some(0.05),
        output_per_m: Some(0.33),
        usd_per_hour: None,
        self_hosted: None,
        note: String::new(),
    };
    app::db::prices::add_row(db, sheet.id, &row).await.expect("row");

    let ca = std::fs::read_to_string(format!("{FIXTURES}/ca.pem")).expect("ca");
    let base = format!("https://localhost:{}/provider/v1", nginx.https);
    let (status, v) = add(
        &app,
        json!({"name": "provider", "base_url": base, "ca_cert": ca, "api_key": KEY, "hosted": true, "price_sheet": LATER_SHEET}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_i64().expect("id");
    // The demo dataset is internal only (candidate profiles): allowed to leave for this test.
    let r = app
        .http
        .put(app.url("/api/datasets/1/internal_only"))
        .json(&json!({"internal_only": false}))
        .send()
        .await
        .expect("clear the flag");
    assert_eq!(r.status(), 200);
    let run = run_on(&app, id, 100).await;
    assert_eq!(answered(&run), 100, "{:?}", run.summary.as_ref().map(|s| &s.outcomes));

    // Pre-flight asked for nothing a provider lacks: no /health, /tokenize or /metrics.
    let log = nginx.access_log();
    assert!(log.contains("/provider/v1/models"), "{log}");
    for absent in ["/health", "/tokenize", "/metrics"] {
        assert!(!log.contains(absent), "{absent} was requested: {log}");
    }
    assert_eq!(app.get_json(&format!("/api/runs/{}/metrics", run.id)).await, json!([]));

    // Its cost is its measured tokens at its own sheet's prices, whatever sheet is applied.
    let data = app::api::cost::load_cost_data(db).await.expect("costs");
    let costed = data.runs.iter().find(|r| r.id == run.id).expect("costed");
    let seed = data.sheets.iter().find(|s| s.name == SEED_SHEET).expect("seed sheet");
    assert_eq!(costed.pricing_sheet(seed, &data.sheets).name, LATER_SHEET);
    let a = costed.access.as_ref().expect("access");
    assert!(a.hosted && a.provider.is_some());
    let s = &costed.summary;
    let n = (s.requests as f64).max(1.0);
    let expected = (s.prompt_tokens as f64 / n * 0.05 + s.completion_tokens as f64 / n * 0.33) / 1e6;
    let usage = app::domain::cost::Usage::from_summary(s).expect("usage");
    let priced = app::domain::cost::cost(&usage, sheet_row(costed.pricing_sheet(seed, &data.sheets)), 1e6).expect("priced");
    assert!(
        (priced.per_request.0 - expected).abs() < 1e-12,
        "{} vs {expected}",
        priced.per_request.0
    );
    let report = app
        .http
        .get(app.url(&format!(
            "/api/report?format=md&sheet={}",
            app::domain::format::percent_encode(SEED_SHEET)
        )))
        .send()
        .await
        .expect("report")
        .text()
        .await
        .expect("text");
    assert!(report.contains(&format!("prices of its own sheet, {LATER_SHEET}")), "{report}");
    assert!(
        report.contains(&format!(
            "{MODEL}: $0.05 in / $0.33 out per 1M tokens (serverless per token) — from its own sheet, {LATER_SHEET}"
        )),
        "the cost table prices it by its own sheet: {report}"
    );
    assert!(!report.contains(KEY));
}

fn sheet_row(sheet: &app::domain::cost::PriceSheet) -> &app::domain::cost::PriceRow {
    sheet.row_for(MODEL).expect("a row for the model")
}
