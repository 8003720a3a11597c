//! The audit log over real HTTP and a real SQLite file: each action the issue names, done through
//! the REST API, the server functions and the command line, then read back from `GET /api/audit`
//! (JSON lines, admins only) with the right actor and target, and never a secret.

mod common;

use common::call_fn;

use common::{bearer_client, fast_sim, spawn, TestApp, PASSWORD};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_bakeoff");

/// Call a server function that must succeed; its answer as JSON.
async fn ok_fn(app: &TestApp, client: &reqwest::Client, name: &str, form: &str) -> Value {
    let (status, body) = call_fn(app, client, name, form).await;
    assert!(status < 400, "{name}: {status} {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Every entry `GET /api/audit` gives for `query`, checking the answer's type.
async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.http.get(app.url(&format!("/api/audit{query}"))).send().await.expect("GET");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let text = r.text().await.expect("body");
    text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

fn id(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_leaves_one_entry_with_its_actor_and_target_and_only_admins_read_them() {
    let app = spawn(fast_sim()).await;
    let admin = &app.http;
    let base = app.running.base_url();

    // Log-ins: a failure (the name tried, no user), a success, a log-out.
    let (status, _) = send(
        reqwest::Client::new()
            .post(app.url("/api/token"))
            .json(&json!({"name": "vic", "password": "not the password"})),
    )
    .await;
    assert_eq!(status, 401);
    let rita = app.client_for("rita").await;
    let vic = app.client_for("vic").await;
    ok_fn(&app, &vic, "logout", "").await;

    // API tokens.
    let (status, made) = send(rita.post(app.url("/api/tokens")).json(&json!({"name": "audit"}))).await;
    assert_eq!(status, 201, "{made}");
    let token = made["token"].as_str().expect("token").to_string();
    let token_id = id(&made, "id");
    assert_eq!(send(rita.delete(app.url(&format!("/api/tokens/{token_id}")))).await.0, 200);

    // Users: create, role, own password, delete (pages); password reset (command line).
    ok_fn(&app, admin, "add_user", "name=audited&role=viewer&password=correct+horse+battery").await;
    let audited_id = app::db::users::credentials(&app.running.state.db, "audited")
        .await
        .expect("query")
        .expect("user")
        .0
        .id;
    ok_fn(&app, admin, "set_user_role", &format!("id={audited_id}&role=reviewer")).await;
    let audited = bearer_client(&base, "audited", PASSWORD).await;
    let new_password = "a brand new passphrase";
    ok_fn(
        &app,
        &audited,
        "change_password",
        "current=correct+horse+battery&new_password=a+brand+new+passphrase&repeat=a+brand+new+passphrase",
    )
    .await;
    ok_fn(&app, admin, "delete_user", &format!("id={audited_id}&confirm=true")).await;
    let mut passwd = Command::new(BIN)
        .args(["user", "passwd", "vic", "--db"])
        .arg(&app.db)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bakeoff user passwd");
    passwd
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"reset by the admin 1\n")
        .expect("password");
    assert!(passwd.wait().expect("exit").success());

    // Endpoints: create (REST), edit how it is reached and its launch command (pages), rename (REST).
    let (status, v) = send(
        rita.post(app.url("/api/endpoints"))
            .json(&json!({"name": "audit-sim", "base_url": app.sim_url().replace("127.0.0.1", "localhost")})),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let endpoint = id(&v, "id");
    let secret = "sk-audit-secret-123";
    ok_fn(
        &app,
        admin,
        "set_endpoint_access",
        &format!("id={endpoint}&api_key={secret}&retries=1"),
    )
    .await;
    ok_fn(
        &app,
        admin,
        "set_launch_template",
        &format!("endpoint_id={endpoint}&template=vllm+serve+%7Bmodel%7D+--port+%7Bport%7D&models=m1"),
    )
    .await;
    assert_eq!(
        send(
            admin
                .patch(app.url(&format!("/api/endpoints/{endpoint}")))
                .json(&json!({"name": "audit-sim-2"}))
        )
        .await
        .0,
        200
    );

    // A dataset: upload (REST), rename (page).
    let line = json!({"custom_id": "a1", "method": "POST", "url": "/v1/chat/completions",
                      "body": {"model": "x", "messages": [{"role": "user", "content": "hello"}]}});
    let (status, v) = send(rita.post(app.url("/api/datasets?name=audit-ds")).body(format!("{line}\n"))).await;
    assert_eq!(status, 201, "{v}");
    let dataset = id(&v, "id");
    ok_fn(&app, admin, "rename_dataset", &format!("id={dataset}&name=audit-ds-2")).await;

    // Runs: launch (REST and page), cancel (REST), rename (REST), import (REST).
    let (status, v) = send(rita.post(app.url("/api/runs")).json(
        &json!({"endpoint_id": 1, "dataset_id": 1, "model": "sim-llama-3.2-1b", "requests": 4, "concurrency": 2, "name": "audit launch"}),
    ))
    .await;
    assert_eq!(status, 201, "{v}");
    let run = v["run_ids"][0].as_i64().expect("run");
    app.wait_finished(run, Duration::from_secs(60)).await;
    let v = ok_fn(
        &app,
        &rita,
        "launch_run",
        "form[model]=sim-llama-3.2-1b&form[endpoint_id]=1&form[dataset_id]=1&form[requests]=5000&form[concurrency]=1&form[name]=long+one",
    )
    .await;
    let long = v["run_ids"][0].as_i64().expect("run");
    let (status, v) = send(rita.post(app.url(&format!("/api/runs/{long}/cancel")))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        send(
            rita.patch(app.url(&format!("/api/runs/{run}")))
                .json(&json!({"name": "audited run"}))
        )
        .await
        .0,
        200
    );
    let output = "{\"id\":\"1\",\"custom_id\":\"a\",\"response\":{\"status_code\":200,\"body\":{\"model\":\"m\",\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}},\"error\":null}\n";
    let (status, v) = send(rita.post(app.url("/api/import?filename=out.jsonl")).body(output)).await;
    assert_eq!(status, 201, "{v}");
    let imported = id(&v, "run_id");

    // A grading queue: create, rename, close (which reveals).
    let queue = ok_fn(
        &app,
        admin,
        "create_queue",
        &format!("form[name]=audit+q&form[kind]=grade&form[runs][0]={run}&form[sample_size]=2"),
    )
    .await
    .as_i64()
    .expect("queue id");
    ok_fn(&app, admin, "rename_queue", &format!("queue_id={queue}&name=audit+q+2")).await;
    ok_fn(&app, admin, "close_queue", &format!("queue_id={queue}")).await;

    // Prices: a sheet and a row.
    let sheet = ok_fn(
        &app,
        admin,
        "add_sheet",
        "name=Audit+sheet&provider=acme&source=acme.example%2Fprices&dated=2025-01-01",
    )
    .await
    .as_i64()
    .expect("sheet id");
    let price = ok_fn(
        &app,
        admin,
        "save_price",
        &format!("form[sheet_id]={sheet}&form[model_key]=m&form[kind]=serverless&form[input_per_m]=0.1&form[output_per_m]=0.2"),
    )
    .await
    .as_i64()
    .expect("price id");

    let entries = audit(&app, "").await;
    let ids: Vec<i64> = entries.iter().map(|e| id(e, "id")).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let token_target = format!("token {token_id} (audit) of rita");
    let expected: Vec<(&str, &str, String)> = vec![
        ("login.failed", "vic", "user vic".into()),
        ("login", "rita", "user rita".into()),
        ("logout", "vic", "user vic".into()),
        ("token.create", "rita", token_target.clone()),
        ("token.revoke", "rita", token_target),
        ("user.create", "tester", "user audited".into()),
        ("user.role", "tester", "user audited".into()),
        ("user.password_change", "audited", "user audited".into()),
        ("user.delete", "tester", "user audited".into()),
        ("user.password_reset", "cli", "user vic".into()),
        ("endpoint.create", "rita", format!("endpoint {endpoint}")),
        ("endpoint.edit", "tester", format!("endpoint {endpoint}")),
        ("endpoint.launch_command", "tester", format!("endpoint {endpoint}")),
        ("endpoint.rename", "tester", format!("endpoint {endpoint}")),
        ("dataset.upload", "rita", format!("dataset {dataset}")),
        ("dataset.rename", "tester", format!("dataset {dataset}")),
        // Launches name the run (ids can be used again after a purge).
        ("run.launch", "rita", format!("run {run} (audit launch)")),
        ("run.launch", "rita", format!("run {long} (long one)")),
        ("run.cancel", "rita", format!("run {long}")),
        ("run.rename", "rita", format!("run {run}")),
        ("run.import", "rita", format!("run {imported}")),
        ("queue.create", "tester", format!("queue {queue}")),
        ("queue.rename", "tester", format!("queue {queue}")),
        ("queue.reveal", "tester", format!("queue {queue}")),
        ("price.sheet_add", "tester", format!("price sheet {sheet}")),
        ("price.save", "tester", format!("price {price} (sheet {sheet})")),
    ];
    let mut missing = Vec::new();
    for (action, actor, target) in &expected {
        let n = entries
            .iter()
            .filter(|e| e["action"] == *action && e["actor"] == *actor && e["target"] == target.as_str())
            .count();
        if n != 1 {
            missing.push(format!("{action} by {actor} on {target}: {n} entries"));
        }
    }
    assert!(
        missing.is_empty(),
        "{}\n\nlog:\n{}",
        missing.join("\n"),
        serde_json::to_string_pretty(&entries).unwrap_or_default()
    );

    // What the entries say, and never a secret.
    let find = |action: &str| entries.iter().find(|e| e["action"] == action).cloned().expect(action);
    assert_eq!(find("login.failed")["client"], "127.0.0.1");
    assert_eq!(find("user.role")["detail"], "viewer -> reviewer");
    assert!(find("endpoint.edit")["detail"]
        .as_str()
        .is_some_and(|d| d.contains("API key replaced")));
    assert!(find("endpoint.launch_command")["detail"]
        .as_str()
        .is_some_and(|d| d.contains("vllm serve {model}")));
    assert!(find("run.cancel")["detail"].as_str().is_some_and(|d| d.contains("cancel")));
    assert!(find("dataset.upload")["detail"]
        .as_str()
        .is_some_and(|d| d.contains("'audit-ds', 1 items")));
    assert!(entries
        .iter()
        .all(|e| e["at"].as_str().is_some_and(|t| t.len() == 20 && t.ends_with('Z'))));
    let all = serde_json::to_string(&entries).expect("json");
    for secret in [
        PASSWORD,
        new_password,
        "not the password",
        "reset by the admin",
        secret,
        token.as_str(),
    ] {
        assert!(!all.contains(secret), "the audit log holds '{secret}'");
    }
    let failed_by: Option<i64> = sqlx::query_scalar("SELECT actor_id FROM audit_log WHERE action = 'login.failed'")
        .fetch_one(&app.running.state.db)
        .await
        .expect("entry");
    assert_eq!(failed_by, None, "a failed log-in is nobody's");

    // Filters: who, what, when, how many.
    let ritas_runs = audit(&app, "?actor=rita&action=run.").await;
    assert_eq!(ritas_runs.len(), 5, "{ritas_runs:?}");
    assert!(ritas_runs
        .iter()
        .all(|e| e["actor"] == "rita" && e["action"].as_str().is_some_and(|a| a.starts_with("run."))));
    assert_eq!(audit(&app, "?limit=3").await.len(), 3);
    // From the oldest entry's day to the newest's, both whole: everything.
    let day = |e: Option<&Value>| e.and_then(|e| e["at"].as_str()).map(|t| t[..10].to_string()).expect("a day");
    let (first, last) = (day(entries.last()), day(entries.first()));
    assert_eq!(audit(&app, &format!("?since={first}&until={last}")).await.len(), entries.len());
    assert!(audit(&app, "?until=2001-01-01").await.is_empty());
    let (status, v) = send(admin.get(app.url("/api/audit?since=yesterday"))).await;
    assert_eq!(status, 422);
    assert_eq!(v["fields"][0]["field"], "since");

    // The page: one page of entries, keyset to the next; only for admins.
    let page = ok_fn(&app, admin, "audit_entries", "query[action]=run").await;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(5), "{page}");
    assert!(page["older"].is_null());
    let html = admin
        .get(app.url("/audit?action=queue"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("queue.reveal") && html.contains("/api/audit?action=queue"),
        "the page lists and links the filtered entries"
    );
    assert_eq!(send(rita.get(app.url("/api/audit"))).await.0, 403);
    assert_eq!(call_fn(&app, &rita, "audit_entries", "").await.0, 403);
    let html = rita.get(app.url("/audit")).send().await.expect("GET").text().await.expect("html");
    assert!(html.contains("Only admins read the audit log") && !html.contains("queue.reveal"));

    // A failed log-in under a name that is no user keeps no trace of the name (it may be a
    // password typed in the wrong box).
    let (status, _) = send(
        reqwest::Client::new()
            .post(app.url("/api/token"))
            .json(&json!({"name": "Tr0ub4dor&3-typed-here", "password": "x"})),
    )
    .await;
    assert_eq!(status, 401);
    let failed = audit(&app, "?action=login.failed").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    let text = serde_json::to_string(&failed).expect("json");
    assert!(!text.contains("Tr0ub4dor"), "{text}");
    assert!(text.contains("an unknown user name"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_download_pages_through_every_entry_in_order() {
    let app = spawn(fast_sim()).await;
    let db = &app.running.state.db;
    let cli = app::db::audit::Actor::named("cli");
    for i in 0..2_500 {
        app::db::audit::insert(db, &cli, "run.import", &format!("run {i}"), "")
            .await
            .expect("entry");
    }
    let all = audit(&app, "?action=run.import").await;
    assert_eq!(all.len(), 2_500, "more than two pages of 1,000");
    assert_eq!(all.first().map(|e| e["target"].clone()), Some(json!("run 2499")));
    assert_eq!(all.last().map(|e| e["target"].clone()), Some(json!("run 0")));
    assert_eq!(audit(&app, "?action=run.import&limit=1500").await.len(), 1_500);
    // The page goes back 50 at a time.
    let first = ok_fn(&app, &app.http, "audit_entries", "query[action]=run.import").await;
    let older = first["older"].as_i64().expect("an older page");
    let second = ok_fn(
        &app,
        &app.http,
        "audit_entries",
        &format!("query[action]=run.import&query[before]={older}"),
    )
    .await;
    assert_eq!(second["entries"][0]["target"], "run 2449");
}

/// Deletes, restores and purges of each kind (through REST and the pages' server functions),
/// and the data rules (internal only, spend cap): one entry each, with its actor, target and
/// what happened; a dry run leaves none, and the entries outlive what they name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_restores_purges_and_data_rules_each_leave_one_entry() {
    let app = spawn(fast_sim()).await;
    let admin = &app.http;
    let rita = app.client_for("rita").await;

    // An endpoint priced by a sheet (a cap needs one), a dataset, a run and a queue over it.
    let sheet = ok_fn(
        &app,
        admin,
        "add_sheet",
        "name=Cap+sheet&provider=acme&source=acme.example%2Fprices&dated=2025-01-01",
    )
    .await
    .as_i64()
    .expect("sheet id");
    let (status, v) = send(rita.post(app.url("/api/endpoints")).json(&json!({
        "name": "doomed-ep",
        "base_url": app.sim_url().replace("127.0.0.1", "localhost"),
        "price_sheet_id": sheet,
    })))
    .await;
    assert_eq!(status, 201, "{v}");
    let endpoint = id(&v, "id");
    let line = json!({"custom_id": "a1", "method": "POST", "url": "/v1/chat/completions",
                      "body": {"model": "x", "messages": [{"role": "user", "content": "hello"}]}});
    let (status, v) = send(rita.post(app.url("/api/datasets?name=doomed-ds")).body(format!("{line}\n"))).await;
    assert_eq!(status, 201, "{v}");
    let dataset = id(&v, "id");
    let (status, v) = send(rita.post(app.url("/api/runs")).json(&json!({
        "endpoint_id": 1, "dataset_id": 1, "model": "sim-llama-3.2-1b", "requests": 4, "concurrency": 2, "name": "doomed-run"
    })))
    .await;
    assert_eq!(status, 201, "{v}");
    let run = v["run_ids"][0].as_i64().expect("run");
    app.wait_finished(run, Duration::from_secs(60)).await;
    let queue = ok_fn(
        &app,
        &rita,
        "create_queue",
        &format!("form[name]=doomed-q&form[kind]=grade&form[runs][0]={run}&form[sample_size]=2"),
    )
    .await
    .as_i64()
    .expect("queue id");

    // Internal only: a runner sets it (REST), an admin clears it (page).
    let (status, v) = send(
        rita.put(app.url(&format!("/api/datasets/{dataset}/internal_only")))
            .json(&json!({"internal_only": true})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    ok_fn(
        &app,
        admin,
        "set_dataset_internal_only",
        &format!("id={dataset}&internal_only=false"),
    )
    .await;
    // Spend cap: a runner sets one (REST), an admin removes it (page).
    let (status, v) = send(
        rita.put(app.url(&format!("/api/endpoints/{endpoint}/spend_cap")))
            .json(&json!({"spend_cap_usd": 5})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    ok_fn(&app, admin, "set_spend_cap", &format!("id={endpoint}&spend_cap=")).await;

    // A dry run says what would go and writes nothing to the log.
    let before = audit(&app, "").await.len();
    for path in [
        format!("/api/queues/{queue}?dry_run=true"),
        format!("/api/runs/{run}?dry_run=true"),
        format!("/api/datasets/{dataset}?dry_run=true"),
        format!("/api/endpoints/{endpoint}?dry_run=true"),
    ] {
        let (status, v) = send(rita.delete(app.url(&path))).await;
        assert_eq!(status, 200, "{path}: {v}");
        assert_eq!(v["done"], false, "{path}: {v}");
    }
    assert_eq!(audit(&app, "").await.len(), before, "dry runs are not logged");

    // Each kind, queues and runs before what they use: the runner deletes (REST), the admin
    // restores (REST), deletes again (page) and deletes for good (page).
    let things = [
        ("queue", queue, "doomed-q", "delete_queue", "queue_id"),
        ("run", run, "doomed-run", "delete_run", "id"),
        ("dataset", dataset, "doomed-ds", "delete_dataset", "id"),
        ("endpoint", endpoint, "doomed-ep", "delete_endpoint", "id"),
    ];
    for (kind, thing, _, delete_fn, key) in things {
        let plural = format!("{kind}s");
        let (status, v) = send(rita.delete(app.url(&format!("/api/{plural}/{thing}")))).await;
        assert_eq!(status, 200, "{kind} delete: {v}");
        let (status, v) = send(admin.post(app.url(&format!("/api/trash/{kind}/{thing}/restore")))).await;
        assert_eq!(status, 200, "{kind} restore: {v}");
        ok_fn(&app, admin, delete_fn, &format!("{key}={thing}")).await;
        ok_fn(&app, admin, "purge_trashed", &format!("kind={kind}&id={thing}")).await;
    }
    let (status, _) = send(admin.get(app.url(&format!("/api/runs/{run}")))).await;
    assert_eq!(status, 404, "the run is gone for good");

    let entries = audit(&app, "").await;
    let mut expected: Vec<(String, &str, String)> = vec![
        ("dataset.internal_only".into(), "rita", format!("dataset {dataset}")),
        ("dataset.internal_only".into(), "tester", format!("dataset {dataset}")),
        ("endpoint.spend_cap".into(), "rita", format!("endpoint {endpoint}")),
        ("endpoint.spend_cap".into(), "tester", format!("endpoint {endpoint}")),
    ];
    for (kind, thing, name, _, _) in things {
        let target = format!("{kind} {thing} ({name})");
        expected.push((format!("{kind}.delete"), "rita", target.clone()));
        expected.push((format!("{kind}.delete"), "tester", target.clone()));
        expected.push((format!("{kind}.restore"), "tester", target.clone()));
        expected.push((format!("{kind}.purge"), "tester", target));
    }
    let mut missing = Vec::new();
    for (action, actor, target) in &expected {
        let n = entries
            .iter()
            .filter(|e| e["action"] == action.as_str() && e["actor"] == *actor && e["target"] == target.as_str())
            .count();
        if n != 1 {
            missing.push(format!("{action} by {actor} on {target}: {n} entries"));
        }
    }
    assert!(
        missing.is_empty(),
        "{}\n\nlog:\n{}",
        missing.join("\n"),
        serde_json::to_string_pretty(&entries).unwrap_or_default()
    );

    // What each says.
    let detail = |action: &str, actor: &str| -> String {
        entries
            .iter()
            .find(|e| e["action"] == action && e["actor"] == actor)
            .and_then(|e| e["detail"].as_str())
            .unwrap_or_else(|| panic!("no {action} by {actor}"))
            .to_string()
    };
    assert_eq!(detail("dataset.internal_only", "rita"), "dataset 'doomed-ds' marked internal only");
    assert_eq!(
        detail("dataset.internal_only", "tester"),
        "dataset 'doomed-ds' no longer internal only"
    );
    let five = app::domain::spend::money(5.0);
    assert_eq!(
        detail("endpoint.spend_cap", "rita"),
        format!("endpoint 'doomed-ep' spend cap: none -> {five} a month")
    );
    assert_eq!(
        detail("endpoint.spend_cap", "tester"),
        format!("endpoint 'doomed-ep' spend cap: {five} a month -> none")
    );
    for (kind, _, _, _, _) in things {
        for actor in ["rita", "tester"] {
            let d = detail(&format!("{kind}.delete"), actor);
            assert!(d.contains("in the trash for 30 days"), "{kind}.delete by {actor}: {d}");
        }
        let d = detail(&format!("{kind}.restore"), "tester");
        assert!(d.starts_with("restored from the trash"), "{kind}.restore: {d}");
        assert!(!detail(&format!("{kind}.purge"), "tester").is_empty());
    }
    let purged_run = detail("run.purge", "tester");
    assert!(purged_run.contains("4 request records"), "{purged_run}");
    let purged_queue = detail("queue.purge", "tester");
    assert_eq!(purged_queue, "With it go 2 items.");
}
