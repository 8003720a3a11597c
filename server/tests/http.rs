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
    let (status, _) = app.post_json("/api/endpoints", json!({"base_url": other.base_url()})).await;
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
