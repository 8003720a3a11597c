//! Changing what a team set up, over real HTTP with a real SQLite file: a failed check of an
//! endpoint's new access is shown on the form; an endpoint's URL is corrected (checked like a new
//! endpoint's, audited); deleting a user first says what goes and needs a confirmation; runners
//! are not offered "Allow hosted", which only an admin may do.

mod common;

use app::domain::status::RunStatus;
use common::{call_fn, fast_sim, server_fn_path, spawn, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

/// A gateway in front of a model server that wants an API key (`Bearer right-key`), as a proxy
/// before vLLM does; its URL.
async fn keyed_gateway() -> String {
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::get;
    fn keyed(h: &HeaderMap) -> bool {
        h.get("authorization").is_some_and(|v| v == "Bearer right-key")
    }
    let router = axum::Router::new()
        .route(
            "/health",
            get(|h: HeaderMap| async move {
                if keyed(&h) {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                }
            }),
        )
        .route(
            "/v1/models",
            get(|h: HeaderMap| async move {
                if keyed(&h) {
                    (
                        StatusCode::OK,
                        r#"{"object": "list", "data": [{"id": "gated-model", "max_model_len": 4096}]}"#,
                    )
                } else {
                    (StatusCode::UNAUTHORIZED, r#"{"error": {"message": "bad key"}}"#)
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The part of `html` from the form labelled `label` to its end.
fn form<'a>(html: &'a str, label: &str) -> &'a str {
    let start = html
        .find(&format!("aria-label=\"{label}\""))
        .unwrap_or_else(|| panic!("no form '{label}' on the page"));
    let rest = &html[start..];
    &rest[..rest.find("</form>").unwrap_or(rest.len())]
}

/// Audit entries whose action starts with `action`, newest first.
async fn audit(app: &TestApp, action: &str) -> Vec<Value> {
    let r = app
        .http
        .get(app.url(&format!("/api/audit?action={action}")))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200);
    r.text()
        .await
        .expect("body")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_check_of_new_access_is_shown_on_the_change_form_and_nothing_is_stored() {
    let app = spawn(fast_sim()).await;
    let gateway = keyed_gateway().await;
    let (status, v) = app
        .post_json(
            "/api/endpoints",
            json!({"name": "gated", "base_url": gateway, "api_key": "right-key"}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_i64().expect("id");

    // A runner types a wrong key and submits the form as a browser without scripts does: the
    // server answers with the page again, the error in its address.
    let rita = app.client_for("rita").await;
    let r = rita
        .post(app.url(&server_fn_path("set_endpoint_access")))
        .header("accept", "text/html")
        .header("referer", app.url("/endpoints"))
        .form(&[("id", id.to_string()), ("api_key", "wrong-key".into())])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 302);
    let back = r.headers()["location"].to_str().expect("ascii").to_string();
    assert!(back.contains("__err="), "{back}");
    let html = rita.get(&back).send().await.expect("GET").text().await.expect("html");
    let change = form(&html, "Change how an endpoint is reached");
    assert!(
        change.contains("answered HTTP 401") && change.contains("API key"),
        "the failed check is shown on the form: {change}"
    );

    // Nothing was stored: the right key still works.
    let (status, body) = call_fn(&app, &rita, "recheck_endpoint", &format!("id={id}")).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_is_not_offered_allow_hosted_on_an_internal_only_dataset() {
    let app = spawn(fast_sim()).await;
    // The demo's candidate profiles are internal only from the start.
    let datasets = app.get_json("/api/datasets").await;
    let demo = datasets
        .as_array()
        .and_then(|l| l.iter().find(|d| d["internal_only"] == true))
        .expect("an internal-only dataset")["id"]
        .as_i64()
        .expect("id");
    let page = |who: &'static str| {
        let app = &app;
        async move {
            let c = app.client_for(who).await;
            c.get(app.url("/datasets")).send().await.expect("GET").text().await.expect("html")
        }
    };
    let admin = page("tester").await;
    assert!(admin.contains(">Allow hosted<"), "admins clear the flag");
    let runner = page("rita").await;
    assert!(runner.contains("Delete dataset"), "the runner's controls are there");
    assert!(!runner.contains(">Allow hosted<"), "but no button a runner may not use");
    assert!(runner.contains("an admin can allow hosted"), "but who can");
    // The rule itself is unchanged: a runner's request is refused.
    let rita = app.client_for("rita").await;
    let (status, _) = call_fn(&app, &rita, "set_dataset_internal_only", &format!("id={demo}&internal_only=false")).await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_user_says_first_what_goes_with_them_and_needs_a_confirmation() {
    use app::api::grading::{CreateQueue, GradingItem, SaveGrade, SaveVote};
    use leptos::server_fn::ServerFn;
    let app = spawn(fast_sim()).await;
    let a = app.launch("sim-gemma-3-4b", json!({"requests": 6, "concurrency": 3})).await;
    let b = app.launch("sim-llama-3.2-1b", json!({"requests": 6, "concurrency": 3})).await;
    app.wait_finished(a, Duration::from_secs(60)).await;
    app.wait_finished(b, Duration::from_secs(60)).await;
    let queue = |kind: &'static str, size: usize| {
        let app = &app;
        async move {
            let r = app
                .http
                .post(app.url(CreateQueue::PATH))
                .form(&[
                    ("form[name]", format!("{kind} queue")),
                    ("form[kind]", kind.to_string()),
                    ("form[runs][0]", a.to_string()),
                    ("form[runs][1]", b.to_string()),
                    ("form[sample_size]", size.to_string()),
                    ("form[seed]", String::new()),
                ])
                .send()
                .await
                .expect("POST");
            assert!(r.status().is_success());
            r.json::<i64>().await.expect("queue id")
        }
    };
    let (graded, voted) = (queue("grade", 3).await, queue("pairwise", 2).await);
    // The reviewer judges everything dealt to them: 3 grades and 2 votes.
    let rev = app.client_for("rev").await;
    for (q, n) in [(graded, 3), (voted, 2)] {
        for _ in 0..n {
            let r = rev
                .post(app.url(GradingItem::PATH))
                .form(&[("queue_id", q.to_string())])
                .send()
                .await
                .expect("POST");
            let it: Value = r.json().await.expect("item");
            let item_id = it["item_id"].as_str().expect("an item").to_string();
            let r = if q == graded {
                let g = json!({"grade": {"item_id": item_id, "overall": 4, "fields": {}, "comment": "", "gold": false}});
                rev.post(app.url(SaveGrade::PATH)).json(&g).send().await.expect("POST")
            } else {
                rev.post(app.url(SaveVote::PATH))
                    .form(&[("item_id", item_id.as_str()), ("choice", "a")])
                    .send()
                    .await
                    .expect("POST")
            };
            assert!(r.status().is_success());
        }
    }
    let (status, v) = send(rev.post(app.url("/api/tokens")).json(&json!({"name": "rev's script"}))).await;
    assert_eq!(status, 201, "{v}");
    let rev_id = app::db::users::credentials(&app.running.state.db, "rev")
        .await
        .expect("query")
        .expect("rev")
        .0
        .id;

    // Without `confirm`: what would go, and nothing deleted.
    let (status, body) = call_fn(&app, &app.http, "delete_user", &format!("id={rev_id}")).await;
    assert_eq!(status, 200, "{body}");
    let preview: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(preview["done"], false, "{preview}");
    let with = preview["with"].to_string();
    assert!(
        with.contains("3 grades") && with.contains("2 votes") && with.contains("1 API token") && with.contains("sessions"),
        "{preview}"
    );
    let names = |users: Value| -> Vec<String> {
        users
            .as_array()
            .expect("list")
            .iter()
            .map(|u| u["name"].as_str().expect("name").to_string())
            .collect()
    };
    let (_, users) = call_fn(&app, &app.http, "list_users", "").await;
    assert!(
        names(serde_json::from_str(&users).expect("json")).contains(&"rev".to_string()),
        "still there"
    );
    let judged: i64 = sqlx::query_scalar("SELECT (SELECT COUNT(*) FROM grades) + (SELECT COUNT(*) FROM votes)")
        .fetch_one(&app.running.state.db)
        .await
        .expect("count");
    assert_eq!(judged, 5);

    // With it: deleted, with their grades and votes, and the audit log says what went.
    let (status, body) = call_fn(&app, &app.http, "delete_user", &format!("id={rev_id}&confirm=true")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).expect("json")["done"], true);
    let (_, users) = call_fn(&app, &app.http, "list_users", "").await;
    assert!(!names(serde_json::from_str(&users).expect("json")).contains(&"rev".to_string()));
    let judged: i64 = sqlx::query_scalar("SELECT (SELECT COUNT(*) FROM grades) + (SELECT COUNT(*) FROM votes)")
        .fetch_one(&app.running.state.db)
        .await
        .expect("count");
    assert_eq!(judged, 0);
    let entry = audit(&app, "user.delete").await.into_iter().next().expect("an entry");
    let detail = entry["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("3 grades") && detail.contains("2 votes"), "{entry}");

    // Whoever made a queue can be deleted too: the queue stays, without its maker, and admins
    // manage it from then on (the confirmation says so first).
    let tester_id = app::db::users::credentials(&app.running.state.db, "tester")
        .await
        .expect("query")
        .expect("tester")
        .0
        .id;
    let made: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM queues WHERE created_by = $1")
        .bind(tester_id)
        .fetch_one(&app.running.state.db)
        .await
        .expect("count");
    assert!(made > 0, "the tester made the queues");
    let (status, body) = call_fn(&app, &app.http, "add_user", "name=second&role=admin&password=correct+horse+battery").await;
    assert_eq!(status, 200, "{body}");
    let second = app.client_for("second").await;
    let (status, body) = call_fn(&app, &second, "delete_user", &format!("id={tester_id}")).await;
    assert_eq!(status, 200, "{body}");
    let plural = if made == 1 { "" } else { "s" };
    assert!(
        body.contains(&format!("{made} grading queue{plural} in admins' hands")),
        "the confirmation says the queues stay: {body}"
    );
    let (status, body) = call_fn(&app, &second, "delete_user", &format!("id={tester_id}&confirm=true")).await;
    assert_eq!(status, 200, "{body}");
    let (kept, orphaned): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COALESCE(SUM(CASE WHEN created_by IS NULL THEN 1 ELSE 0 END), 0) FROM queues")
            .fetch_one(&app.running.state.db)
            .await
            .expect("count");
    assert_eq!((kept, orphaned), (made, made), "the queues stay, without a maker");
    // Admins still see and manage them.
    let (id, name): (i64, String) = sqlx::query_as("SELECT id, name FROM queues ORDER BY id LIMIT 1")
        .fetch_one(&app.running.state.db)
        .await
        .expect("a queue");
    let (status, listed) = call_fn(&app, &second, "list_queues", "").await;
    assert!(status == 200 && listed.contains(&name), "{status} {listed}");
    let (status, body) = call_fn(&app, &second, "rename_queue", &format!("queue_id={id}&name=kept+queue")).await;
    assert_eq!(status, 200, "an admin manages a queue without a maker: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoints_url_is_corrected_checked_like_a_new_ones_and_audited() {
    let app = spawn(fast_sim()).await;
    let old = server::sim::start(fast_sim(), "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sim");
    let (status, v) = app
        .post_json("/api/endpoints", json!({"name": "gpu box", "base_url": old.base_url()}))
        .await;
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_i64().expect("id");
    let on_it = json!({"endpoint_id": id, "requests": 4, "concurrency": 2});
    let run = app.launch("sim-llama-3.2-1b", on_it.clone()).await;
    assert_eq!(app.wait_finished(run, Duration::from_secs(60)).await.status, RunStatus::Completed);
    let patch = |c: &reqwest::Client, body: Value| c.patch(app.url(&format!("/api/endpoints/{id}"))).json(&body);
    let rita = app.client_for("rita").await;

    // vLLM moved to another port: only the URL is sent (the name is optional).
    let moved = server::sim::start(fast_sim(), "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sim");
    let (status, v) = send(patch(&rita, json!({"base_url": moved.base_url()}))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["base_url"], moved.base_url());
    assert_eq!(v["name"], "gpu box");
    let entry = audit(&app, "endpoint.url").await.into_iter().next().expect("an entry");
    let detail = entry["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(&old.base_url()) && detail.contains(&moved.base_url()), "{entry}");
    assert_eq!(entry["actor"], "rita");
    // Its runs keep their figures, and new ones go to the new URL.
    assert!(app.run(run).await.summary.is_some());
    let sent = |h: &server::sim::SimHandle| h.sim.stats.requests.load(std::sync::atomic::Ordering::SeqCst);
    let (old_before, moved_before) = (sent(&old), sent(&moved));
    let next = app.launch("sim-llama-3.2-1b", on_it).await;
    assert_eq!(app.wait_finished(next, Duration::from_secs(60)).await.status, RunStatus::Completed);
    assert_eq!(sent(&old), old_before, "nothing more to the old URL");
    assert!(sent(&moved) >= moved_before + 4, "measured at the new URL");

    // Checked like a new endpoint's, and nothing stored when the check fails.
    let stored = || async {
        app.get_json("/api/endpoints")
            .await
            .as_array()
            .expect("list")
            .iter()
            .find(|e| e["id"] == id)
            .expect("it")["base_url"]
            .clone()
    };
    for (url, says) in [
        ("http://127.0.0.1:9".to_string(), "127.0.0.1:9"),
        ("http://169.254.169.254".to_string(), "link-local"),
        (keyed_gateway().await, "401"),
        ("not a url".to_string(), "base_url"),
    ] {
        let (status, v) = send(patch(&rita, json!({"base_url": url}))).await;
        assert_eq!(status, 422, "{url}: {v}");
        assert!(v.to_string().contains(says), "{url}: {v}");
        assert_eq!(v["fields"][0]["field"], "base_url", "{v}");
        assert_eq!(stored().await, moved.base_url());
    }
    // Another endpoint's URL is taken.
    let (status, v) = send(patch(&rita, json!({"base_url": app.sim_url()}))).await;
    assert_eq!(status, 409, "{v}");
    // Name and URL together: a name that is taken, or blank, stops both.
    let third = server::sim::start(fast_sim(), "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sim");
    let builtin = app.get_json("/api/endpoints").await[0]["name"].clone();
    for name in [builtin, json!("")] {
        let (status, v) = send(patch(&rita, json!({"name": name, "base_url": third.base_url()}))).await;
        assert!(status == 409 || status == 422, "{name}: {v}");
        assert_eq!(stored().await, moved.base_url());
    }
    let (status, v) = send(patch(&rita, json!({"name": "gpu box 2", "base_url": third.base_url()}))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["name"].as_str(), v["base_url"].as_str()),
        (Some("gpu box 2"), Some(third.base_url().as_str()))
    );
    // Renaming alone works as before; an empty body says what to send.
    assert_eq!(send(patch(&rita, json!({"name": "gpu box"}))).await.0, 200);
    let (status, v) = send(patch(&rita, json!({}))).await;
    assert_eq!(status, 422);
    assert!(v.to_string().contains("base_url"), "{v}");
    // Viewers may not; the built-in simulator's URL follows the simulator.
    let vic = app.client_for("vic").await;
    assert_eq!(send(patch(&vic, json!({"base_url": moved.base_url()}))).await.0, 403);
    let (status, v) = send(
        app.http
            .patch(app.url("/api/endpoints/1"))
            .json(&json!({"base_url": moved.base_url()})),
    )
    .await;
    assert_eq!(status, 422, "{v}");

    // The page's form corrects the URL too, checked with the access given with it.
    let (status, body) = call_fn(
        &app,
        &rita,
        "set_endpoint_access",
        &format!("id={id}&base_url={}", urlencoding(&moved.base_url())),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stored().await, moved.base_url());
    let (status, body) = call_fn(
        &app,
        &rita,
        "set_endpoint_access",
        &format!("id={id}&base_url=http%3A%2F%2F127.0.0.1%3A9"),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("base_url"), "{body}");
    assert_eq!(stored().await, moved.base_url());

    // An endpoint that stores a key: a runner may not send it to a URL of their choosing (the
    // check of the new URL carries the key); an admin may move it.
    let listener = server::sim::start(fast_sim(), "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sim");
    let gateway = keyed_gateway().await;
    let (status, v) = app
        .post_json(
            "/api/endpoints",
            json!({"name": "keyed", "base_url": gateway, "api_key": "right-key"}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let keyed = v["id"].as_i64().expect("id");
    let patch_keyed = |c: &reqwest::Client, body: Value| c.patch(app.url(&format!("/api/endpoints/{keyed}"))).json(&body);
    let (status, v) = send(patch_keyed(&rita, json!({"base_url": listener.base_url()}))).await;
    assert_eq!(status, 403, "{v}");
    assert!(v.to_string().contains("stores an API key"), "{v}");
    assert_eq!(
        listener.sim.stats.requests.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no request reached the runner's server"
    );
    // Not while a run is queued or running on it (it measures at one URL; the GPU lock is by URL).
    let busy = app
        .launch("sim-llama-3.2-1b", json!({"endpoint_id": id, "requests": 400, "concurrency": 1}))
        .await;
    let (status, v) = send(patch(&rita, json!({"base_url": old.base_url()}))).await;
    assert_eq!(status, 409, "{v}");
    assert!(v.to_string().contains("queued or running"), "{v}");
    assert_eq!(stored().await, moved.base_url());
    let (status, _) = app.post_json(&format!("/api/runs/{busy}/cancel"), json!({})).await;
    assert_eq!(status, 200);
    app.wait_finished(busy, Duration::from_secs(60)).await;
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
