//! Pages, endpoints and datasets over real HTTP, bad input included.

mod common;

use common::{fast_sim, spawn};
use serde_json::json;
use server::sim::{self, SimConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_on_the_server() {
    let app = spawn(fast_sim()).await;
    for (path, needle) in [
        ("/", "Runs"),
        ("/launch", "Launch run"),
        ("/endpoints", "Built-in simulator"),
        ("/datasets", "Demo: candidate evaluations"),
    ] {
        let r = app.http.get(app.url(path)).send().await.expect("GET");
        assert_eq!(r.status(), 200, "{path}");
        let html = r.text().await.expect("html");
        assert!(html.contains(needle), "{path} lacks {needle}");
        assert!(html.contains("/pkg/bakeoff.js"), "{path} loads the hydration script");
    }
    let r = app.http.get(app.url("/no/such/page")).send().await.expect("GET");
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_checked_before_they_are_stored() {
    let app = spawn(fast_sim()).await;
    let (status, v) = app.post_json("/api/endpoints", json!({"base_url": "gpu-box:8000"})).await;
    assert_eq!(status, 422);
    assert!(v["message"].as_str().is_some_and(|m| m.contains("http://")), "{v}");

    // Nothing listens on port 9 (discard) here.
    let (status, v) = app.post_json("/api/endpoints", json!({"base_url": "http://127.0.0.1:9"})).await;
    assert_eq!(status, 422);
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("could not connect to http://127.0.0.1:9")),
        "{v}"
    );

    let other = sim::start(
        SimConfig {
            models: vec!["my-model".into()],
            ..fast_sim()
        },
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("sim");
    let (status, v) = app
        .post_json(
            "/api/endpoints",
            json!({"name": "second", "base_url": format!("{}/v1/", other.base_url())}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["models"][0]["id"], "my-model");
    assert_eq!(v["models"][0]["max_model_len"], 4096);
    let (status, _) = app
        .post_json("/api/endpoints", json!({"name": "third", "base_url": other.base_url()}))
        .await;
    assert_eq!(status, 409, "the same URL twice is a conflict");
    let eps = app.get_json("/api/endpoints").await;
    assert_eq!(eps.as_array().map(Vec::len), Some(2));
}

const GOOD: &str = "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}}\n{\"custom_id\":\"b\",\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{\"prompt\":\"hello\"}}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_dataset_names_line_and_field_and_stores_nothing() {
    let app = spawn(fast_sim()).await;
    let bad = format!("{GOOD}{{\"custom_id\":\"c\",\"method\":\"POST\",\"url\":\"/v1/embeddings\",\"body\":{{}}}}\n");
    let r = app
        .http
        .post(app.url("/api/datasets?name=bad"))
        .body(bad)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["fields"][0]["field"], "line 3");
    assert!(v["fields"][0]["message"].as_str().is_some_and(|m| m.contains("`url`")), "{v}");
    assert_eq!(
        app.get_json("/api/datasets").await.as_array().map(Vec::len),
        Some(1),
        "only the demo dataset"
    );

    let r = app
        .http
        .post(app.url("/api/datasets?name=good"))
        .body(GOOD)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 201);
    let list = app.get_json("/api/datasets").await;
    let good = list
        .as_array()
        .and_then(|l| l.iter().find(|d| d["name"] == "good"))
        .expect("stored");
    assert_eq!(good["item_count"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_that_would_collide_with_a_later_pass_are_refused_by_name() {
    let app = spawn(fast_sim()).await;
    let line =
        |id: &str| format!("{{\"custom_id\":\"{id}\",\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{{\"prompt\":\"x\"}}}}\n");
    let r = app
        .http
        .post(app.url("/api/datasets?name=passes"))
        .body(format!("{}{}", line("a"), line("a~2")))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["fields"][0]["field"], "line 2");
    assert!(
        v["fields"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("'a~2'") && m.contains("rename")),
        "{v}"
    );
    assert_eq!(
        app.get_json("/api/datasets").await.as_array().map(Vec::len),
        Some(1),
        "nothing stored"
    );

    // Every pass of a cycling run is its own record: 2 items x 3 passes = 6 records, none dropped.
    let r = app
        .http
        .post(app.url("/api/datasets?name=two"))
        .body(format!("{}{}", line("a"), line("b")))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 201);
    let ds: serde_json::Value = r.json().await.expect("json");
    let run = app
        .launch(
            "sim-llama-3.2-1b",
            serde_json::json!({"dataset_id": ds["id"], "requests": 6, "concurrency": 2}),
        )
        .await;
    let done = app.wait_finished(run, std::time::Duration::from_secs(60)).await;
    assert_eq!(done.done_requests, 6);
    let mut ids: Vec<String> = app
        .records(run)
        .await
        .iter()
        .map(|r| r["custom_id"].as_str().unwrap_or("").to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["a", "a~2", "a~3", "b", "b~2", "b~3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_form_comes_back_with_the_problem_at_the_file_field() {
    let app = spawn(fast_sim()).await;
    let no_redirect = app.http.clone();
    let form = reqwest::multipart::Form::new().text("name", "broken").part(
        "file",
        reqwest::multipart::Part::text("not json at all\n").file_name("broken.jsonl"),
    );
    let r = no_redirect
        .post(app.url("/datasets/upload"))
        .multipart(form)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().expect("location").to_string();
    assert!(location.starts_with("/datasets?error_field=file&error=line%201"), "{location}");
    // The page shows it.
    let html = app
        .http
        .get(app.url(&location))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    assert!(html.contains("line 1: not valid JSON"), "the message is on the page");
    assert_eq!(app.get_json("/api/datasets").await.as_array().map(Vec::len), Some(1));

    let form = reqwest::multipart::Form::new()
        .text("name", "fine")
        .part("file", reqwest::multipart::Part::text(GOOD).file_name("fine.jsonl"));
    let r = no_redirect
        .post(app.url("/datasets/upload"))
        .multipart(form)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .expect("location")
        .starts_with("/datasets?uploaded="));
    let list = app.get_json("/api/datasets").await;
    assert!(list
        .as_array()
        .is_some_and(|l| l.iter().any(|d| d["name"] == "fine" && d["source"] == "upload: fine.jsonl")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_page_labels_simulated_results() {
    let app = spawn(fast_sim()).await;
    let id = app.launch("sim-llama-3.2-1b", json!({"requests": 5})).await;
    app.wait_finished(id, std::time::Duration::from_secs(30)).await;
    let html = app
        .http
        .get(app.url(&format!("/runs/{id}")))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    assert!(html.contains("simulated"));
    assert!(html.contains("built-in vLLM simulator"));
    assert!(html.contains("Output tokens/s"));
    assert!(html.contains("aria-valuenow=\"100\""), "the progress bar is full");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_can_carry_an_answer_schema_and_a_rubric_and_bad_ones_are_named() {
    let app = spawn(fast_sim()).await;
    let form = |schema: &str, rubric: &str| {
        reqwest::multipart::Form::new()
            .text("name", format!("with schema {}", schema.len() + rubric.len()))
            .text("schema", schema.to_string())
            .text("rubric", rubric.to_string())
            .part("file", reqwest::multipart::Part::text(GOOD).file_name("s.jsonl"))
    };
    let r = app
        .http
        .post(app.url("/datasets/upload"))
        .multipart(form("{\"type\": 12}", ""))
        .send()
        .await
        .expect("POST");
    let loc = r.headers()["location"].to_str().expect("location").to_string();
    assert!(
        loc.contains("error_field=schema") && loc.contains("not%20a%20valid%20JSON%20Schema"),
        "{loc}"
    );
    let r = app
        .http
        .post(app.url("/datasets/upload"))
        .multipart(form("", "{\"fields\": 3}"))
        .send()
        .await
        .expect("POST");
    assert!(r.headers()["location"].to_str().expect("location").contains("error_field=rubric"));
    let schema = "{\"type\": \"object\", \"required\": [\"answer\"]}";
    let rubric = "{\"fields\": [{\"path\": \"answer\", \"label\": \"Answer\", \"scale\": [\"yes\", \"no\"], \"ordered\": false}]}";
    let r = app
        .http
        .post(app.url("/datasets/upload"))
        .multipart(form(schema, rubric))
        .send()
        .await
        .expect("POST");
    assert!(r.headers()["location"]
        .to_str()
        .expect("location")
        .starts_with("/datasets?uploaded="));
    let list = app.get_json("/api/datasets").await;
    let stored: Vec<&serde_json::Value> = list
        .as_array()
        .expect("list")
        .iter()
        .filter(|d| d["name"].as_str().is_some_and(|n| n.starts_with("with schema")))
        .collect();
    assert_eq!(stored.len(), 1, "the bad uploads stored nothing");
    assert_eq!(stored[0]["has_schema"], true);
}

/// A tiny server on 127.0.0.1:0 answering with `router`; its base URL.
async fn tiny(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

async fn endpoint_count(app: &common::TestApp) -> usize {
    app.get_json("/api/endpoints").await.as_array().map(Vec::len).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_add_or_change_launch_commands() {
    use app::api::planning::SetLaunchTemplate;
    use leptos::server_fn::ServerFn;
    let app = spawn(fast_sim()).await;
    let rita = app.client_for("rita").await;
    for body in [
        json!({"name": "gpu", "base_url": "http://127.0.0.1:8123", "launch_template": "sh -c {model} {port}", "models": ["m"]}),
        json!({"name": "gpu", "base_url": "http://127.0.0.1:8123", "launch_args": ["sh", "-c", "{model}", "{port}"], "models": ["m"]}),
    ] {
        let r = rita.post(app.url("/api/endpoints")).json(&body).send().await.expect("POST");
        assert_eq!(r.status(), 403, "{body}");
        let v: serde_json::Value = r.json().await.expect("json");
        assert!(v["message"].as_str().is_some_and(|m| m.contains("launch commands")), "{v}");
    }
    assert_eq!(endpoint_count(&app).await, 1, "nothing stored: only the built-in simulator");

    // Not over an existing endpoint either (the built-in one, or one an admin made managed).
    let (status, v) = app
        .post_json(
            "/api/endpoints",
            json!({"name": "managed", "base_url": "http://127.0.0.1:8124", "launch_args": ["vllm", "serve", "{model}", "--port", "{port}"], "models": ["m"]}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let managed = v["id"].as_i64().expect("id");
    for id in [1, managed] {
        let r = rita
            .post(app.url(SetLaunchTemplate::PATH))
            .form(&[
                ("endpoint_id", id.to_string()),
                ("template", "sh -c {model} {port}".into()),
                ("models", "m".into()),
            ])
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), 403, "endpoint {id}");
    }
    let eps = app.get_json("/api/endpoints").await;
    let list = eps.as_array().expect("list");
    assert_eq!(
        list[0]["launch_args"],
        serde_json::Value::Null,
        "the built-in endpoint is unchanged"
    );
    assert_eq!(
        list[1]["launch_args"],
        json!(["vllm", "serve", "{model}", "--port", "{port}"]),
        "the admin's command is unchanged"
    );

    // Runners still add plain endpoints.
    let plain = sim::start(fast_sim(), "127.0.0.1:0".parse().expect("addr")).await.expect("sim");
    let r = rita
        .post(app.url("/api/endpoints"))
        .json(&json!({"name": "plain", "base_url": plain.base_url()}))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placeholder_inside_an_argument_is_refused_with_how_to_write_it() {
    let app = spawn(fast_sim()).await;
    let (status, v) = app
        .post_json(
            "/api/endpoints",
            json!({"base_url": "http://127.0.0.1:8125", "launch_template": "vllm serve {model} --port={port}", "models": ["m"]}),
        )
        .await;
    assert_eq!(status, 422);
    let m = v["message"].as_str().unwrap_or_default();
    assert!(m.contains("whole argument") && m.contains("`--port` `{port}`"), "{v}");
    let (status, v) = app
        .post_json(
            "/api/endpoints",
            json!({"base_url": "http://127.0.0.1:8125", "launch_template": "vllm serve {model} --port {port}"}),
        )
        .await;
    assert_eq!(status, 422, "a managed endpoint lists its models: {v}");
    assert_eq!(endpoint_count(&app).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_reported_and_not_followed() {
    use axum::http::{header, StatusCode};
    let app = spawn(fast_sim()).await;
    // It points at the simulator, which would pass the check if the redirect were followed.
    let target = app.sim_url();
    let redirecting = tiny(axum::Router::new().fallback(move || {
        let target = target.clone();
        async move { (StatusCode::FOUND, [(header::LOCATION, format!("{target}/health"))]) }
    }))
    .await;
    let (status, v) = app.post_json("/api/endpoints", json!({"base_url": redirecting})).await;
    assert_eq!(status, 422, "{v}");
    let m = v["message"].as_str().unwrap_or_default();
    assert!(m.contains("302") && m.contains("redirect"), "{v}");
    assert_eq!(endpoint_count(&app).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_server_is_named_by_its_status_without_its_body() {
    use axum::http::StatusCode;
    let app = spawn(fast_sim()).await;
    for (code, hint) in [(500, "500"), (401, "API key")] {
        let status = StatusCode::from_u16(code).expect("status");
        let failing = tiny(axum::Router::new().fallback(move || async move { (status, "SECRET-BODY") })).await;
        let (s, v) = app.post_json("/api/endpoints", json!({"base_url": failing})).await;
        assert_eq!(s, 422, "{v}");
        let m = v["message"].as_str().unwrap_or_default();
        assert!(m.contains(&code.to_string()) && m.contains(hint), "{v}");
        assert!(!v.to_string().contains("SECRET-BODY"), "the body is not echoed: {v}");
    }
    assert_eq!(endpoint_count(&app).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_model_list_stores_nothing() {
    use app::api::endpoints::RecheckEndpoint;
    use axum::routing::get;
    use leptos::server_fn::ServerFn;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let app = spawn(fast_sim()).await;
    let malformed = Arc::new(AtomicBool::new(true));
    let flag = malformed.clone();
    let base = tiny(axum::Router::new().route("/health", get(|| async { "" })).route(
        "/v1/models",
        get(move || {
            let bad = flag.load(Ordering::SeqCst);
            async move {
                if bad {
                    r#"{"data": [{"name": "SECRET-BODY"}]}"#
                } else {
                    r#"{"object": "list", "data": [{"id": "good-model", "max_model_len": 1024}]}"#
                }
            }
        }),
    ))
    .await;
    let (status, v) = app.post_json("/api/endpoints", json!({"base_url": base})).await;
    assert_eq!(status, 422, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("`id`")), "{v}");
    assert!(!v.to_string().contains("SECRET-BODY"), "{v}");
    assert_eq!(endpoint_count(&app).await, 1, "nothing stored");

    malformed.store(false, Ordering::SeqCst);
    let (status, v) = app.post_json("/api/endpoints", json!({"name": "good", "base_url": base})).await;
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_i64().expect("id");

    // A recheck that finds a malformed list keeps what was stored.
    malformed.store(true, Ordering::SeqCst);
    let r = app
        .http
        .post(app.url(RecheckEndpoint::PATH))
        .form(&[("id", id.to_string())])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 422);
    let eps = app.get_json("/api/endpoints").await;
    let stored = eps.as_array().and_then(|l| l.iter().find(|e| e["id"] == id)).expect("stored");
    assert_eq!(stored["models"], json!([{"id": "good-model", "max_model_len": 1024}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recheck_needs_the_runner_role() {
    use app::api::endpoints::RecheckEndpoint;
    use leptos::server_fn::ServerFn;
    let app = spawn(fast_sim()).await;
    for (who, expect) in [("rev", 403), ("vic", 403), ("rita", 200)] {
        let c = app.client_for(who).await;
        let r = c
            .post(app.url(RecheckEndpoint::PATH))
            .form(&[("id", "1")])
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), expect, "{who}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_go_only_where_the_allow_list_says() {
    use server::serve::{OnRestart, ServeOptions, WebOptions};
    let dir = tempfile::tempdir().expect("temp dir");
    let running = server::serve::start(ServeOptions {
        addr: "127.0.0.1:0".parse().expect("addr"),
        db_path: dir.path().join("bakeoff.db"),
        site_root: "target/site".into(),
        sim: Some((fast_sim(), "127.0.0.1:0".parse().expect("addr"))),
        on_restart: OnRestart::Resume,
        preflight: Default::default(),
        lease: Default::default(),
        web: WebOptions {
            endpoint_allow: vec!["10.9.9.0/24".into(), "gpu-box.invalid".into()],
            ..Default::default()
        },
    })
    .await
    .expect("app starts");
    let state = &running.state;
    let other = sim::start(fast_sim(), "127.0.0.1:0".parse().expect("addr")).await.expect("sim");
    let refused = app::api::endpoints::register(state, "", &other.base_url())
        .await
        .expect_err("not on the list");
    assert!(refused.to_string().contains("--endpoint-allow"), "{refused}");
    let link_local = app::api::endpoints::register(state, "", "http://169.254.169.254")
        .await
        .expect_err("link-local");
    assert!(link_local.to_string().contains("link-local"), "{link_local}");
    assert_eq!(app::db::endpoints::list(&state.db).await.expect("list").len(), 1);

    // The built-in simulator stays usable.
    let form = app::domain::spec::LaunchForm {
        endpoint_id: "1".into(),
        dataset_id: "1".into(),
        model: "sim-llama-3.2-1b".into(),
        requests: "2".into(),
        concurrency: "1".into(),
        ..Default::default()
    };
    app::api::runs::queue_runs(state, &form)
        .await
        .expect("the built-in simulator is allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_allow_entry_stops_the_start_naming_the_flag() {
    use server::serve::{OnRestart, ServeOptions, WebOptions};
    let dir = tempfile::tempdir().expect("temp dir");
    let err = server::serve::start(ServeOptions {
        addr: "127.0.0.1:0".parse().expect("addr"),
        db_path: dir.path().join("bakeoff.db"),
        site_root: "target/site".into(),
        sim: None,
        on_restart: OnRestart::Resume,
        preflight: Default::default(),
        lease: Default::default(),
        web: WebOptions {
            endpoint_allow: vec!["not a host".into()],
            ..Default::default()
        },
    })
    .await
    .err()
    .expect("refused");
    assert!(err.to_string().contains("--endpoint-allow"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoints_page_shows_each_role_only_its_controls() {
    let app = spawn(fast_sim()).await;
    let page = |who: &'static str| {
        let app = &app;
        async move {
            let c = app.client_for(who).await;
            c.get(app.url("/endpoints")).send().await.expect("GET").text().await.expect("html")
        }
    };
    let admin = page("tester").await;
    assert!(admin.contains("Check and add") && admin.contains("name=\"launch_template\"") && admin.contains("Save launch command"));
    let runner = page("rita").await;
    assert!(runner.contains("Check and add"), "runners add endpoints");
    assert!(
        !runner.contains("name=\"launch_template\"") && !runner.contains("Save launch command"),
        "but not launch commands"
    );
    let viewer = page("vic").await;
    assert!(!viewer.contains("Check and add") && viewer.contains("Runners and admins add endpoints."));
}
