//! `GET /healthz` for probes and service managers: no log-in, the database reachable, the
//! workers' heartbeat age, the version with its commit, and nothing private about this server.
//! `bakeoff --version` names the commit the binary was built from.

mod common;

use common::{fast_sim, spawn};
use serde_json::{json, Value};
use std::time::Duration;

fn anonymous() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_needs_no_log_in_and_names_nothing_private() {
    let app = spawn(fast_sim()).await;
    // Private things this server holds: a run's name, users, the database path, endpoint URLs.
    let run_name = "quarterly-secret-eval-7431";
    let id = app.launch("sim-gemma-3-4b", json!({"name": run_name, "requests": 4})).await;
    app.wait_finished(id, Duration::from_secs(60)).await;
    let db_path = common::db_path(&app.dir).display().to_string();
    let endpoints = app.get_json("/api/endpoints").await;
    let mut private: Vec<String> = vec![run_name.into(), db_path.clone(), "bakeoff.db".into()];
    private.extend(["tester", "rita", "rev2", "vic", "sim-gemma-3-4b"].map(String::from));
    for e in endpoints.as_array().expect("endpoints") {
        for key in ["name", "base_url"] {
            private.push(e[key].as_str().expect("endpoint field").to_string());
        }
    }
    let sim = app.sim_url();
    private.push(sim.trim_start_matches("http://").to_string());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    if host.trim().len() >= 4 {
        private.push(host.trim().to_string());
    }

    let r = anonymous().get(app.url("/healthz")).send().await.expect("GET /healthz");
    assert_eq!(r.status(), 200, "no log-in needed");
    let text = r.text().await.expect("body");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(v["database"], "ok", "the database answered: {v}");
    let age = v["worker_heartbeat_age_s"].as_i64().unwrap_or(-1);
    assert!((0..30).contains(&age), "this serve's worker beats every few seconds: {v}");
    assert!(v["workers_alive"].as_i64().is_some_and(|n| n >= 1), "{v}");
    let commit = v["commit"].as_str().expect("commit");
    assert_eq!(
        v["version"].as_str().expect("version"),
        format!("{} (commit {commit})", env!("CARGO_PKG_VERSION")),
    );
    assert_eq!(commit, server::health::COMMIT);
    for p in &private {
        assert!(!text.contains(p.as_str()), "/healthz shows '{p}': {text}");
    }

    // The database gone: 503, still nothing private, still no log-in.
    app.running.state.db.close().await;
    let r = anonymous().get(app.url("/healthz")).send().await.expect("GET /healthz");
    assert_eq!(r.status(), 503);
    let text = r.text().await.expect("body");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["database"], "unreachable", "{v}");
    assert_eq!(v["commit"], commit, "{v}");
    for p in &private {
        assert!(!text.contains(p.as_str()), "/healthz shows '{p}': {text}");
    }
}

/// What build.rs says the binary is built from, computed again here from git.
fn expected_commit() -> Option<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "--short=12", "HEAD"])?;
    let status = git(&[
        "--no-optional-locks",
        "status",
        "--porcelain",
        "--",
        "server/src",
        "server/build.rs",
        "server/Cargo.toml",
        "app/src",
        "app/migrations",
        "app/Cargo.toml",
        "Cargo.lock",
    ])?;
    Some(if status.is_empty() { head } else { format!("{head}+dirty") })
}

#[test]
fn the_version_is_the_commit_of_the_checkout_it_was_built_from() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bakeoff"))
        .arg("--version")
        .output()
        .expect("bakeoff --version");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(text, format!("bakeoff {}", server::health::VERSION));
    if std::env::var_os("BAKEOFF_COMMIT").is_some() {
        return; // given by the builder, not read from git
    }
    match expected_commit() {
        // Cargo rebuilt the binary for this test run: HEAD and the tree are those it was built from
        // (unless something is committed or edited while the tests run).
        Some(commit) => assert_eq!(
            text,
            format!("bakeoff {} (commit {commit})", env!("CARGO_PKG_VERSION")),
            "build.rs must track HEAD, its branch and the sources (a commit after the build shows here)"
        ),
        None => assert!(text.ends_with("(commit unknown)"), "{text}"),
    }
}
