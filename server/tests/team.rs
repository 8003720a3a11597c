//! Serving a team: log-in over plain http on a LAN host name, https served by Bakeoff itself,
//! a TLS proxy in front, cross-site requests refused, the log-in back-off, idle sessions.

mod common;

use common::{fast_sim, spawn, spawn_web, PASSWORD};
use serde_json::{json, Value};
use server::serve::WebOptions;
use std::path::PathBuf;
use std::time::Duration;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Log in through the form (as a browser would, from `origin`); the Set-Cookie header.
async fn form_login(c: &reqwest::Client, url: &str, host: Option<&str>, origin: Option<&str>, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut req = c
        .post(url)
        .header("accept", "text/html")
        .form(&[("name", "vic"), ("password", PASSWORD), ("next", "/costs")]);
    if let Some(h) = host {
        req = req.header("host", h);
    }
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().await.expect("POST /api/login")
}

fn set_cookie(r: &reqwest::Response) -> String {
    r.headers()
        .get("set-cookie")
        .map(|v| v.to_str().expect("ascii").to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_plain_http_on_a_lan_name_the_cookie_is_not_secure_and_logs_in() {
    let app = spawn(fast_sim()).await;
    let port = app.running.addr.port();
    let host = format!("bakeoff.lan:{port}");
    let c = no_redirects();
    let r = form_login(&c, &app.url("/api/login"), Some(&host), Some(&format!("http://{host}")), &[]).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(r.headers()["location"], "/costs");
    let cookie = set_cookie(&r);
    for flag in ["bakeoff_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "a browser drops a Secure cookie over http: {cookie}");
    let session = cookie.split(';').next().expect("pair").to_string();
    let r = c.get(app.url("/api/runs")).header("cookie", &session).send().await.expect("GET");
    assert_eq!(r.status(), 200, "the cookie logs the browser in");

    // A forwarded "https" from a peer that is not a trusted proxy changes nothing.
    let r = form_login(&c, &app.url("/api/login"), Some(&host), None, &[("x-forwarded-proto", "https")]).await;
    assert!(!set_cookie(&r).contains("Secure"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_tls_proxy_the_cookie_is_secure_and_the_origin_is_the_public_one() {
    let app = spawn_web(WebOptions {
        web: app::state::WebConfig {
            trusted_proxies: vec!["127.0.0.0/8".parse().expect("net")],
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let c = no_redirects();
    let forwarded = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "bakeoff.example.lan"),
        ("x-forwarded-for", "10.20.30.40"),
    ];
    let r = form_login(&c, &app.url("/api/login"), None, Some("https://bakeoff.example.lan"), &forwarded).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    assert!(set_cookie(&r).contains("; Secure"), "{}", set_cookie(&r));
    // The proxy's own address as the origin is now cross-site.
    let own = format!("http://{}", app.running.addr);
    let r = form_login(&c, &app.url("/api/login"), None, Some(&own), &forwarded).await;
    assert_eq!(r.status(), 403);
}

fn tls_files() -> (PathBuf, PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    (dir.join("server.pem"), dir.join("server.key"), dir.join("ca.pem"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bakeoff_serves_https_itself_with_a_secure_cookie() {
    let (cert, key, ca) = tls_files();
    let app = spawn_web(WebOptions {
        tls: Some((cert, key)),
        web: app::state::WebConfig {
            tls: true,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    assert!(app.running.base_url().starts_with("https://"));
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).expect("ca")).expect("pem");
    let c = reqwest::Client::builder()
        .add_root_certificate(ca)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let base = app.running.base_url();
    let r = form_login(&c, &format!("{base}/api/login"), None, Some(&base), &[]).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let cookie = set_cookie(&r);
    assert!(cookie.contains("; Secure"), "{cookie}");
    let session = cookie.split(';').next().expect("pair").to_string();
    let r = c
        .get(format!("{base}/api/runs"))
        .header("cookie", &session)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("strict-transport-security"));
    // Plain http to the https port gets no answer a browser would take for Bakeoff.
    let plain = no_redirects().get(format!("http://{}/api/runs", app.running.addr)).send().await;
    assert!(plain.map(|r| r.status() != 200).unwrap_or(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_certificate_file_is_reported_at_start() {
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("cert.pem");
    std::fs::write(&bad, "not a certificate").expect("write");
    let err = server::serve::start(server::serve::ServeOptions {
        addr: "127.0.0.1:0".parse().expect("addr"),
        db_path: dir.path().join("b.db"),
        site_root: PathBuf::from("target/site"),
        sim: None,
        on_restart: server::serve::OnRestart::Resume,
        preflight: Default::default(),
        lease: Default::default(),
        web: WebOptions {
            tls: Some((bad.clone(), bad)),
            ..Default::default()
        },
    })
    .await
    .err()
    .expect("refused");
    assert!(format!("{err:#}").contains("TLS certificate"), "{err:#}");
}

/// A logged-in browser session (cookie) for `name`.
async fn cookie_for(app: &common::TestApp, name: &str) -> String {
    let r = no_redirects()
        .post(app.url("/api/login"))
        .header("accept", "text/html")
        .form(&[("name", name), ("password", PASSWORD), ("next", "/")])
        .send()
        .await
        .expect("login");
    set_cookie(&r).split(';').next().expect("pair").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_requests_with_the_cookie_are_refused() {
    let app = spawn(fast_sim()).await;
    let cookie = cookie_for(&app, "rita").await;
    let own = app.running.base_url();
    let c = no_redirects();
    let launch = json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-llama-3.2-1b", "requests": 2, "concurrency": 1});
    let before = app.get_json("/api/runs").await.as_array().map(Vec::len).unwrap_or(0);
    for origin in ["http://evil.example", "http://127.0.0.1:1", "null"] {
        let r = c
            .post(app.url("/api/runs"))
            .header("cookie", &cookie)
            .header("origin", origin)
            .json(&launch)
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), 403, "{origin}");
        let v: Value = r.json().await.expect("json");
        assert!(v["message"].as_str().is_some_and(|m| m.contains("cross-site")), "{v}");
    }
    // A form upload and a server function, from another site.
    let form = reqwest::multipart::Form::new()
        .text("name", "evil")
        .part("file", reqwest::multipart::Part::text("{}").file_name("x.jsonl"));
    let r = c
        .post(app.url("/datasets/upload"))
        .header("cookie", &cookie)
        .header("origin", "http://evil.example")
        .multipart(form)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 403);
    let r = c
        .post(app.url("/api/logout"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 403);
    let after = app.get_json("/api/runs").await.as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(before, after, "nothing was launched");
    // From Bakeoff's own pages the same request goes through; so does a script with a token.
    let r = c
        .post(app.url("/api/runs"))
        .header("cookie", &cookie)
        .header("origin", &own)
        .json(&launch)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 201);
    let rita = app.client_for("rita").await;
    let r = rita
        .post(app.url("/api/runs"))
        .header("origin", "http://evil.example")
        .json(&launch)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 201, "bearer-token clients are unaffected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_log_ins_back_off_and_say_when_to_try_again() {
    let app = spawn(fast_sim()).await;
    let c = no_redirects();
    let attempt = |password: &'static str| {
        c.post(app.url("/api/token"))
            .json(&json!({"name": "vic", "password": password}))
            .send()
    };
    for _ in 0..app::api::throttle::FREE_FAILURES {
        assert_eq!(attempt("wrong password").await.expect("POST").status(), 401);
    }
    let r = attempt(PASSWORD).await.expect("POST");
    assert_eq!(r.status(), 429, "even the right password waits");
    assert!(r.headers().contains_key("retry-after"));
    let v: Value = r.json().await.expect("json");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("try again in")), "{v}");
    // The address is slowed for other names too (one address guessing many names).
    let r = c
        .post(app.url("/api/token"))
        .json(&json!({"name": "rita", "password": PASSWORD}))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_ends_and_is_purged() {
    let app = spawn_web(WebOptions {
        web: app::state::WebConfig {
            session_idle: Duration::from_secs(600),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let cookie = cookie_for(&app, "vic").await;
    let c = no_redirects();
    assert_eq!(
        c.get(app.url("/api/runs"))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("GET")
            .status(),
        200
    );
    // Eleven minutes without a request.
    let db = &app.running.state.db;
    let now = app::api::accounts::now_secs();
    sqlx::query("UPDATE sessions SET last_seen = ?")
        .bind(now - 660)
        .execute(db)
        .await
        .expect("update");
    let r = c.get(app.url("/api/runs")).header("cookie", &cookie).send().await.expect("GET");
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "unauthorized", "the shape server functions read: {v}");
    let r = c.get(app.url("/costs")).header("cookie", &cookie).send().await.expect("GET");
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?next=%2Fcosts");
    let purged = app::db::users::purge_sessions(db, now, 600).await.expect("purge");
    assert!(purged >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_function_without_a_session_answers_the_error_shape_pages_read() {
    let app = spawn(fast_sim()).await;
    let path = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p)
        .find(|p| p.starts_with("/api/list_runs"))
        .expect("list_runs is registered");
    let r = no_redirects().post(app.url(path)).send().await.expect("POST");
    assert_eq!(r.status(), 401);
    let e: app::api::AppError = serde_json::from_str(&r.text().await.expect("body")).expect("an AppError");
    assert_eq!(e, app::api::AppError::Unauthorized);
    let r = no_redirects().post(app.url("/api/whoami")).send().await.expect("POST");
    assert_eq!(r.status(), 200, "the log-in page may ask who is logged in");
    assert_eq!(r.text().await.expect("body"), "null");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_error_comes_in_one_json_shape() {
    let app = spawn(fast_sim()).await;
    let shape = |v: &Value| v["error"].is_string() && v["message"].is_string() && v["fields"].is_array();
    // 404: no such route.
    let r = app.http.get(app.url("/api/nothing-here")).send().await.expect("GET");
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.expect("json");
    assert!(shape(&v) && v["message"].as_str().is_some_and(|m| m.contains("REST")), "{v}");
    // 405: the wrong method.
    let r = app.http.delete(app.url("/api/runs")).send().await.expect("DELETE");
    assert_eq!(r.status(), 405);
    assert!(shape(&r.json::<Value>().await.expect("json")));
    // 422: an upload without the dataset's name (?name=...), said on the field.
    let r = app.http.post(app.url("/api/datasets")).body("x").send().await.expect("POST");
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.expect("json");
    assert!(shape(&v) && v["message"].as_str().is_some_and(|m| m.contains("name")), "{v}");
    // 415 / 422: a JSON route sent something else.
    let r = app.http.post(app.url("/api/runs")).body("not json").send().await.expect("POST");
    assert!(r.status().is_client_error());
    assert!(shape(&r.json::<Value>().await.expect("json")));
    // 401 with no session, and a server function's own errors: the same shape.
    let r = no_redirects().get(app.url("/api/runs")).send().await.expect("GET");
    assert_eq!(r.status(), 401);
    assert!(shape(&r.json::<Value>().await.expect("json")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_without_a_log_in_and_tells_nothing_private() {
    let app = spawn(fast_sim()).await;
    let r = no_redirects().get(app.url("/healthz")).send().await.expect("GET");
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("body");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["status"], "ok");
    assert_eq!(v["database"], "ok");
    assert!(v["version"].as_str().is_some_and(|s| s.contains("commit")), "{v}");
    assert!(
        v["workers_alive"].as_i64().is_some_and(|n| n >= 1),
        "this serve's worker beats: {v}"
    );
    assert!(v["worker_heartbeat_age_s"].as_i64().is_some_and(|a| (0..60).contains(&a)), "{v}");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    for private in ["tester", "sim-", "Built-in", host.trim()] {
        assert!(private.is_empty() || !text.contains(private), "{private} in {text}");
    }
}

#[test]
fn the_version_names_the_commit_it_was_built_from() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bakeoff"))
        .arg("--version")
        .output()
        .expect("bakeoff --version");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.starts_with("bakeoff ") && text.contains("(commit "),
        "{text}"
    );
}
