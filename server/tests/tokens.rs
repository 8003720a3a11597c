//! API tokens over real HTTP and a real SQLite file: made by REST and by `bakeoff token create`,
//! used, listed with their last use, revoked and expired (401 saying so), capped by their
//! owner's role, gone with their owner, and not ended by the session idle limit.

mod common;

use common::call_fn;

use common::{bearer_client, fast_sim, spawn, spawn_web, TestApp, PASSWORD};
use serde_json::{json, Value};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_bakeoff");

fn with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().expect("header"));
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// (status, JSON body) of a request.
async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn make_token(app: &TestApp, client: &reqwest::Client, body: Value) -> Value {
    let (status, v) = send(client.post(app.url("/api/tokens")).json(&body)).await;
    assert_eq!(status, 201, "{v}");
    v
}

async fn user_id(app: &TestApp, name: &str) -> i64 {
    app::db::users::credentials(&app.running.state.db, name)
        .await
        .expect("query")
        .expect("user")
        .0
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_works_until_revoked_and_then_says_it_was() {
    let app = spawn(fast_sim()).await;
    let made = make_token(&app, &app.http, json!({"name": "nightly", "role": "runner", "expires_days": 30})).await;
    let token = made["token"].as_str().expect("token").to_string();
    assert!(token.starts_with("bk_") && token.len() == 67, "{token}");
    assert_eq!(made["role"], "runner");
    assert!(made["expires_at"].as_str().is_some_and(|e| e.ends_with('Z')), "{made}");
    let id = made["id"].as_i64().expect("id");

    // Listed without the token, not yet used.
    let r = app.http.get(app.url("/api/tokens")).send().await.expect("GET");
    let text = r.text().await.expect("body");
    assert!(!text.contains(&token), "the list never holds a token");
    let list: Value = serde_json::from_str(&text).expect("json");
    let row = list
        .as_array()
        .and_then(|l| l.iter().find(|t| t["id"] == id))
        .expect("listed")
        .clone();
    assert_eq!(
        (row["name"].as_str(), row["owner"].as_str(), row["state"].as_str()),
        (Some("nightly"), Some("tester"), Some("active"))
    );
    assert_eq!(row["hint"].as_str(), Some(&token[..7]));
    assert!(row["last_used_at"].is_null());
    let stored: String = sqlx::query_scalar("SELECT token_hash FROM api_tokens WHERE id = ?")
        .bind(id)
        .fetch_one(&app.running.state.db)
        .await
        .expect("row");
    assert_eq!(stored, app::api::accounts::token_hash(&token), "stored only as its hash");

    // Used: the script acts as its owner with the token's role (runner, though tester is admin).
    let script = with_token(&token);
    let (status, _) = send(script.get(app.url("/api/runs"))).await;
    assert_eq!(status, 200);
    let (status, _) = send(script.get(app.url("/api/audit"))).await;
    assert_eq!(status, 403, "a runner token reads no audit log, whoever owns it");
    let (status, _) = send(app.http.get(app.url("/api/audit"))).await;
    assert_eq!(status, 200, "its admin owner does");
    let row = app::db::tokens::get(&app.running.state.db, id).await.expect("token");
    assert!(row.last_used_at.is_some(), "the use is noted");

    // A token makes no token at all (a leaked one could make itself a twin that outlives its
    // revocation or expiry), over REST or the server function; a password session does.
    for body in [json!({"name": "x", "role": "admin"}), json!({"name": "twin"})] {
        let (status, v) = send(script.post(app.url("/api/tokens")).json(&body)).await;
        assert_eq!(status, 403, "{v}");
        assert!(v["message"].as_str().is_some_and(|m| m.contains("may not make API tokens")), "{v}");
    }
    let (status, body) = call_fn(&app, &script, "create_token", "name=twin").await;
    assert_eq!(status, 403, "{body}");
    let twins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE name = 'twin'")
        .fetch_one(&app.running.state.db)
        .await
        .expect("count");
    assert_eq!(twins, 0);

    // Logging out with a token ends nothing (it is no session) and writes no log-out.
    let (status, body) = call_fn(&app, &script, "logout", "").await;
    assert!(status < 400, "{status} {body}");
    assert_eq!(send(script.get(app.url("/api/runs"))).await.0, 200);
    let logouts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'logout'")
        .fetch_one(&app.running.state.db)
        .await
        .expect("count");
    assert_eq!(logouts, 0);

    // Someone else's token is not theirs to revoke.
    let rita = app.client_for("rita").await;
    let (status, _) = send(rita.delete(app.url(&format!("/api/tokens/{id}")))).await;
    assert_eq!(status, 404);
    let (status, v) = send(app.http.delete(app.url(&format!("/api/tokens/{id}")))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["state"], "revoked");

    let r = script.get(app.url("/api/runs")).send().await.expect("GET");
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "unauthorized");
    assert!(
        v["message"].as_str().is_some_and(|m| m.starts_with("this API token was revoked")),
        "{v}"
    );
    // A page asked with it answers the same, not a redirect to the log-in form.
    assert_eq!(script.get(app.url("/costs")).send().await.expect("GET").status(), 401);
    // An unknown bk_ token is told apart from a revoked one.
    let (status, v) = send(with_token("bk_0000").get(app.url("/api/runs"))).await;
    assert_eq!(status, 401);
    assert!(v["message"].as_str().is_some_and(|m| m.contains("unknown API token")), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_and_tokens_beyond_their_owners_role_are_refused_and_owners_take_theirs_along() {
    let app = spawn(fast_sim()).await;
    let db = &app.running.state.db;
    // Expired: made for a day, then that day is over.
    let made = make_token(&app, &app.http, json!({"name": "short", "expires_days": "1"})).await;
    let short = with_token(made["token"].as_str().expect("token"));
    assert_eq!(send(short.get(app.url("/api/runs"))).await.0, 200);
    sqlx::query("UPDATE api_tokens SET expires_at = CAST(strftime('%s', 'now') AS INTEGER) - 5 WHERE id = ?")
        .bind(made["id"].as_i64())
        .execute(db)
        .await
        .expect("expire");
    let (status, v) = send(short.get(app.url("/api/runs"))).await;
    assert_eq!(status, 401);
    assert!(
        v["message"].as_str().is_some_and(|m| m.starts_with("this API token expired on ")),
        "{v}"
    );

    // Rita (runner) makes a runner token; she is made a viewer: it acts as a viewer.
    let rita = app.client_for("rita").await;
    let made = make_token(&app, &rita, json!({"name": "ritas"})).await;
    assert_eq!(made["role"], "runner", "the default role is the maker's");
    let ritas = with_token(made["token"].as_str().expect("token"));
    let rita_id = user_id(&app, "rita").await;
    let launch = json!({"endpoint_id": 1, "dataset_id": 1, "model": "nope", "requests": 1, "concurrency": 1});
    let (status, v) = send(ritas.post(app.url("/api/runs")).json(&launch)).await;
    assert_eq!(status, 422, "a runner may launch (and is told the model is wrong): {v}");
    let (status, body) = call_fn(&app, &app.http, "set_user_role", &format!("id={rita_id}&role=viewer")).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = send(ritas.post(app.url("/api/runs")).json(&launch)).await;
    assert_eq!(status, 403, "now a viewer's token");
    assert_eq!(send(ritas.get(app.url("/api/runs"))).await.0, 200);
    // Made a reviewer: no role is within both runner and reviewer, so the token stops.
    let (status, body) = call_fn(&app, &app.http, "set_user_role", &format!("id={rita_id}&role=reviewer")).await;
    assert_eq!(status, 200, "{body}");
    let (status, v) = send(ritas.get(app.url("/api/runs"))).await;
    assert_eq!(status, 401);
    assert!(v["message"].as_str().is_some_and(|m| m.contains("its owner, now reviewer")), "{v}");

    // Admins list everyone's tokens with their owner; others only their own.
    let all = app.get_json("/api/tokens").await;
    assert!(all.as_array().is_some_and(|l| l.iter().any(|t| t["owner"] == "rita")), "{all}");
    let (_, mine) = send(rita.get(app.url("/api/tokens"))).await;
    assert!(
        mine.as_array()
            .is_some_and(|l| !l.is_empty() && l.iter().all(|t| t["owner"] == "rita")),
        "{mine}"
    );

    // A deleted user's tokens stop working, and go with the user.
    let (status, body) = call_fn(&app, &app.http, "add_user", "name=temp&role=runner&password=correct+horse+battery").await;
    assert_eq!(status, 200, "{body}");
    let temp = bearer_client(&app.running.base_url(), "temp", PASSWORD).await;
    let made = make_token(&app, &temp, json!({"name": "temp's"})).await;
    let temps = with_token(made["token"].as_str().expect("token"));
    assert_eq!(send(temps.get(app.url("/api/runs"))).await.0, 200);
    let temp_id = user_id(&app, "temp").await;
    let (status, body) = call_fn(&app, &app.http, "delete_user", &format!("id={temp_id}&confirm=true")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(send(temps.get(app.url("/api/runs"))).await.0, 401);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE user_id = ?")
        .bind(temp_id)
        .fetch_one(db)
        .await
        .expect("count");
    assert_eq!(left, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_not_ended_by_the_session_idle_limit() {
    let mut web = server::serve::WebOptions::default();
    web.web.session_idle = std::time::Duration::from_secs(60);
    let app = spawn_web(web).await;
    let db = &app.running.state.db;
    let made = make_token(&app, &app.http, json!({"name": "idle"})).await;
    let script = with_token(made["token"].as_str().expect("token"));
    assert_eq!(send(script.get(app.url("/api/runs"))).await.0, 200);
    // Two hours without a request, for the session and the token alike.
    sqlx::query("UPDATE sessions SET last_seen = last_seen - 7200")
        .execute(db)
        .await
        .expect("age sessions");
    sqlx::query("UPDATE api_tokens SET last_used_at = last_used_at - 7200, created_at = created_at - 7200")
        .execute(db)
        .await
        .expect("age tokens");
    assert_eq!(send(app.http.get(app.url("/api/runs"))).await.0, 401, "the idle session ended");
    assert_eq!(send(script.get(app.url("/api/runs"))).await.0, 200, "the token did not");
    let used = app::db::tokens::get(db, made["id"].as_i64().expect("id")).await.expect("token");
    assert!(
        used.last_used_at.is_some_and(|t| t > app::api::accounts::now_secs() - 60),
        "the late use is noted: {used:?}"
    );
}

fn cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).stdin(Stdio::null()).output().expect("bakeoff runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_makes_lists_and_revokes_tokens_a_running_server_accepts() {
    let app = spawn(fast_sim()).await;
    let db = common::db_path(&app.dir);
    let db = db.to_str().expect("utf-8 path");
    // Two admins (the first start's `admin` and `tester`): whose token it is must be said.
    let (ok, _, err) = cli(&["token", "create", "ci", "--db", db]);
    assert!(!ok);
    assert!(err.contains("there are 2 admins") && err.contains("--user NAME"), "{err}");
    let (ok, _, err) = cli(&["token", "create", "ci", "--user", "rita", "--role", "admin", "--db", db]);
    // The operator is no user: the message names the user and their role.
    assert!(
        !ok && err.contains("rita is a runner: a token cannot have a higher role than its user") && !err.contains("you are"),
        "{err}"
    );
    let (ok, _, err) = cli(&["token", "create", "ci", "--user", "nobody", "--db", db]);
    assert!(!ok && err.contains("no user named 'nobody'"), "{err}");

    let (ok, out, err) = cli(&[
        "token",
        "create",
        "ci",
        "--user",
        "rita",
        "--role",
        "viewer",
        "--expires",
        "7",
        "--db",
        db,
    ]);
    assert!(ok, "{err}");
    let token = out.trim().to_string();
    assert!(
        token.starts_with("bk_") && !out.trim().contains('\n'),
        "only the token on stdout: {out}"
    );
    assert!(err.contains("Authorization: Bearer") && err.contains("shown only now"), "{err}");
    let script = with_token(&token);
    assert_eq!(send(script.get(app.url("/api/runs"))).await.0, 200);
    let launch = json!({"endpoint_id": 1, "dataset_id": 1, "model": "x", "requests": 1, "concurrency": 1});
    assert_eq!(send(script.post(app.url("/api/runs")).json(&launch)).await.0, 403, "a viewer token");

    let (ok, out, _) = cli(&["token", "list", "--user", "rita", "--db", db]);
    assert!(ok);
    let line = out.lines().find(|l| l.contains("\tci\t")).expect("listed");
    assert!(
        line.contains("rita\tviewer\tactive") && !line.contains("last used -"),
        "used once: {line}"
    );
    assert!(!out.contains(&token));
    let id = line.split('\t').next().expect("id");

    let (ok, _, err) = cli(&["token", "revoke", id, "--db", db]);
    assert!(ok, "{err}");
    let (status, v) = send(script.get(app.url("/api/runs"))).await;
    assert_eq!(status, 401);
    assert!(v["message"].as_str().is_some_and(|m| m.contains("revoked")), "{v}");
    let (ok, _, err) = cli(&["token", "revoke", id, "--db", db]);
    assert!(ok && err.contains("already revoked"), "{err}");
    let (ok, _, err) = cli(&["token", "revoke", "999", "--db", db]);
    assert!(!ok && err.contains("no API token 999"), "{err}");
    // The command line's actions are in the audit log as "cli".
    let actors: Vec<(String, String)> = sqlx::query_as("SELECT actor_name, action FROM audit_log WHERE action LIKE 'token.%' ORDER BY id")
        .fetch_all(&app.running.state.db)
        .await
        .expect("audit");
    assert_eq!(
        actors,
        vec![
            ("cli".to_string(), "token.create".to_string()),
            ("cli".to_string(), "token.revoke".to_string())
        ]
    );
}
