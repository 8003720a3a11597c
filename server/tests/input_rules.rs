//! Bad input at launch, upload and endpoint registration is refused at its field with what to
//! fix, and nothing is stored half-way: a max_tokens the model's context cannot hold, sweeps with
//! an empty level, targets typed in seconds, blank endpoint names, wrong-type numbers, a dataset
//! without a name, an empty file, a byte-order mark, a CSV file. And a report of smoke tests
//! says so.

mod common;

use common::{fast_sim, spawn, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

const MODEL: &str = "sim-llama-3.2-1b";

async fn run_count(app: &TestApp) -> usize {
    app.get_json("/api/runs").await.as_array().map(Vec::len).unwrap_or(0)
}

/// The message at `field` of a 422 answer.
fn field_message<'a>(v: &'a Value, field: &str) -> &'a str {
    v["fields"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["field"] == field))
        .and_then(|f| f["message"].as_str())
        .unwrap_or_else(|| panic!("no message at {field}: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_max_tokens_the_models_context_cannot_hold_is_refused_at_launch_and_in_the_preview() {
    let app = spawn(fast_sim()).await;
    let base = json!({"endpoint_id": 1, "dataset_id": 1, "model": MODEL, "requests": 20, "concurrency": 4});
    let mut body = base.clone();
    body["max_tokens"] = json!(100000);
    let (status, v) = app.post_json("/api/runs", body).await;
    assert_eq!(status, 422, "{v}");
    let m = field_message(&v, "max_tokens");
    assert!(
        m.starts_with("max_tokens 100000 cannot fit: 'sim-llama-3.2-1b' has max_model_len 4096"),
        "{m}"
    );
    assert!(
        m.contains("Lower max_tokens to at most about") && m.contains("--max-model-len"),
        "{m}"
    );
    assert_eq!(run_count(&app).await, 0, "nothing stored");

    // The preview says the same before the launch.
    let preview = app
        .get_json(&format!(
            "/api/launch/preview?endpoint_id=1&dataset_id=1&model={MODEL}&requests=20&max_tokens=100000"
        ))
        .await;
    assert_eq!(preview["refusal"].as_str(), Some(m), "{preview}");
    let fits = app
        .get_json(&format!(
            "/api/launch/preview?endpoint_id=1&dataset_id=1&model={MODEL}&requests=20&max_tokens=256"
        ))
        .await;
    assert!(fits["refusal"].is_null(), "{fits}");

    // One that fits launches.
    let mut body = base;
    body["max_tokens"] = json!(256);
    let (status, v) = app.post_json("/api/runs", body).await;
    assert_eq!(status, 201, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_with_an_empty_level_and_targets_typed_in_seconds_are_refused() {
    let app = spawn(fast_sim()).await;
    let base = json!({"endpoint_id": 1, "dataset_id": 1, "model": MODEL, "requests": 20, "concurrency": 4});
    let mut body = base.clone();
    body["sweep"] = json!("1,,4");
    let (status, v) = app.post_json("/api/runs", body).await;
    assert_eq!(status, 422, "{v}");
    assert!(field_message(&v, "sweep").contains("empty level"), "{v}");

    let mut body = base.clone();
    body["slo_ttft_ms"] = json!(0.5);
    body["slo_tpot_ms"] = json!(0.05);
    let (status, v) = app.post_json("/api/runs", body).await;
    assert_eq!(status, 422, "{v}");
    assert!(
        field_message(&v, "slo_ttft_ms").starts_with("targets are in milliseconds: did you mean 500 ms?"),
        "{v}"
    );
    assert!(
        field_message(&v, "slo_tpot_ms").starts_with("targets are in milliseconds: did you mean 50 ms?"),
        "{v}"
    );
    assert_eq!(run_count(&app).await, 0, "nothing stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_needs_a_name_and_numbers_of_the_wrong_type_are_named_at_their_field() {
    let app = spawn(fast_sim()).await;
    let count = |v: Value| v.as_array().map(Vec::len).unwrap_or(0);
    let before = count(app.get_json("/api/endpoints").await);
    for name in [json!(""), json!("   "), Value::Null] {
        let (status, v) = app
            .post_json(
                "/api/endpoints",
                json!({"name": name, "base_url": app.sim_url().replace("127.0.0.1", "localhost")}),
            )
            .await;
        assert_eq!(status, 422, "{v}");
        assert!(field_message(&v, "name").starts_with("give the endpoint a name"), "{v}");
    }
    let (status, v) = app
        .post_json("/api/endpoints", json!({"name": "box", "base_url": app.sim_url(), "retries": -1}))
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(
        field_message(&v, "retries").starts_with("retries must be a whole number from 0 to 10"),
        "{v}"
    );
    let (status, v) = app
        .post_json("/api/endpoints", json!({"name": "box", "base_url": app.sim_url(), "hosted": "yes"}))
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(field_message(&v, "hosted").contains("true or false"), "{v}");
    assert_eq!(count(app.get_json("/api/endpoints").await), before, "nothing stored");
}

async fn post_dataset(app: &TestApp, query: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let r = app
        .http
        .post(app.url(&format!("/api/datasets{query}")))
        .body(body)
        .send()
        .await
        .expect("POST");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

const LINE: &str = "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{\"prompt\":\"hello\"}}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_name_a_missing_name_an_empty_file_and_a_csv_file_and_skip_a_byte_order_mark() {
    let app = spawn(fast_sim()).await;
    let (status, v) = post_dataset(&app, "", LINE).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(field_message(&v, "name"), "give the dataset a name (?name=...)");

    let (status, v) = post_dataset(&app, "?name=sheet", "custom_id,prompt\na,hello\n").await;
    assert_eq!(status, 422, "{v}");
    let m = field_message(&v, "line 1");
    assert!(m.contains("looks like CSV") && m.contains("one JSON request per line"), "{m}");

    let (status, v) = post_dataset(&app, "?name=bom", format!("\u{feff}{LINE}")).await;
    assert_eq!(status, 201, "a byte-order mark is skipped: {v}");

    // The page's form: an empty file that was chosen is told it has no requests; no file chosen
    // is told to choose one.
    for (file_name, expected) in [
        ("empty.jsonl", "the%20file%20has%20no%20requests"),
        ("", "choose%20a%20.jsonl%20file"),
    ] {
        let form = reqwest::multipart::Form::new()
            .text("name", "empty")
            .part("file", reqwest::multipart::Part::bytes(Vec::new()).file_name(file_name));
        let r = app
            .http
            .post(app.url("/datasets/upload"))
            .multipart(form)
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), 303);
        let location = r.headers()["location"].to_str().expect("location").to_string();
        assert!(
            location.starts_with("/datasets?error_field=file&error=file%3A%20") && location.contains(expected),
            "{file_name:?}: {location}"
        );
    }
    let names: Vec<String> = app
        .get_json("/api/datasets")
        .await
        .as_array()
        .map(|l| l.iter().filter_map(|d| d["name"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    assert!(names.contains(&"bom".to_string()), "{names:?}");
    assert!(!names.iter().any(|n| n == "sheet" || n == "empty"), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_of_smoke_tests_only_says_they_were_set_aside() {
    let app = spawn(fast_sim()).await;
    for concurrency in [2, 4] {
        let id = app.launch(MODEL, json!({"concurrency": concurrency, "max_tokens": 32})).await;
        app.wait_finished(id, Duration::from_secs(60)).await;
    }
    let r = app.http.get(app.url("/api/report?format=md")).send().await.expect("GET");
    assert_eq!(r.status(), 200);
    let md = r.text().await.expect("text");
    assert!(md.contains("Every run here (2) is a smoke test of fewer than 100 requests"), "{md}");
    assert!(!md.contains("quality is not measured"), "{md}");
}

/// Creating checks names as renaming does (QA stored a 20,000-character dataset name, a line break
/// and a right-to-left override in names, a 100,000-character queue name, a price sheet's
/// provider over two lines, and an imported run's file name over two lines).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_checked_when_made_as_when_renamed() {
    let app = spawn(fast_sim()).await;
    let long = "n".repeat(20_000);
    let (status, v) = post_dataset(&app, &format!("?name={long}"), LINE).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(field_message(&v, "name"), "Name: at most 200 characters, got 20000");
    let (status, v) = post_dataset(&app, "?name=a%0Ab", LINE).await;
    assert_eq!(status, 422, "{v}");
    assert!(field_message(&v, "name").contains("one line of text"), "{v}");
    let (status, v) = post_dataset(&app, "?name=a%E2%80%AEb", LINE).await;
    assert_eq!(status, 422, "a right-to-left override: {v}");

    let (status, body) = common::call_fn(
        &app,
        &app.http,
        "create_queue",
        &format!(
            "form[name]={}&form[kind]=grade&form[runs][0]=1&form[runs][1]=2&form[sample_size]=2",
            "q".repeat(300)
        ),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("at most 200 characters, got 300"), "{body}");

    let (status, body) = common::call_fn(
        &app,
        &app.http,
        "add_sheet",
        "name=s&provider=p%0Aq&source=https%3A%2F%2Fexample.com&dated=2026-11-30",
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("one line of text"), "{body}");

    let r = app
        .http
        .post(app.url("/api/import?filename=a%0Ab.jsonl"))
        .body("{}\n")
        .send()
        .await
        .expect("POST");
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 422, "{v}");
    assert!(field_message(&v, "filename").contains("one line of text"), "{v}");
    assert_eq!(run_count(&app).await, 0, "nothing stored");
}

/// A script's misspelt field is refused at that field, not dropped (QA: `max_token` ran with the
/// dataset's max tokens, `api_kee` registered an endpoint without its key), and a rate so low the
/// run would hold its GPU for ever is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelt_field_or_a_never_ending_rate_is_refused_and_nothing_is_stored() {
    let app = spawn(fast_sim()).await;
    let base = json!({"endpoint_id": 1, "dataset_id": 1, "model": MODEL, "requests": 10, "concurrency": 2});
    let mut body = base.clone();
    body["max_token"] = json!(16);
    body["warmups"] = json!(5);
    let (status, v) = app.post_json("/api/runs", body).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(
        field_message(&v, "max_token"),
        "unknown field `max_token`: did you mean `max_tokens`?"
    );
    assert_eq!(field_message(&v, "warmups"), "unknown field `warmups`: did you mean `warmup`?");
    let mut body = base.clone();
    body["rate"] = json!(1e-9);
    let (status, v) = app.post_json("/api/runs", body).await;
    assert_eq!(status, 422, "{v}");
    assert!(
        field_message(&v, "rate").starts_with("Request rate must be at least 0.01 per second"),
        "{v}"
    );
    assert_eq!(run_count(&app).await, 0, "no run stored");

    let endpoints = app.get_json("/api/endpoints").await.as_array().map(Vec::len);
    let sim = app.sim_url();
    let (status, v) = app
        .post_json("/api/endpoints", json!({"name": "keyed", "base_url": sim, "api_kee": "sk-secret"}))
        .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(field_message(&v, "api_kee"), "unknown field `api_kee`: did you mean `api_key`?");
    assert_eq!(
        app.get_json("/api/endpoints").await.as_array().map(Vec::len),
        endpoints,
        "nothing stored"
    );
}

/// The answers table's columns are the dataset's rubric fields (QA: an uploaded dataset showed
/// the demo's Education, Companies, Trajectory and Engineer columns, always empty).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answers_columns_are_the_datasets_rubric_fields() {
    let app = spawn(fast_sim()).await;
    let (status, v) = post_dataset(&app, "?name=mine", LINE).await;
    assert_eq!(status, 201, "{v}");
    let mine = v["id"].as_i64().expect("dataset id");
    let mut columns = Vec::new();
    for dataset in [1, mine] {
        let (status, v) = app
            .post_json(
                "/api/runs",
                json!({"endpoint_id": 1, "dataset_id": dataset, "model": MODEL, "requests": 1, "concurrency": 1}),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        let id = v["run_ids"][0].as_i64().expect("run id");
        app.wait_finished(id, Duration::from_secs(60)).await;
        let (status, body) = common::call_fn(
            &app,
            &app.http,
            "run_answers",
            &format!("run_id={id}&recommendation=&problem=&page=0"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let page: Value = serde_json::from_str(&body).expect("json");
        columns.push(page["columns"].clone());
    }
    let labels: Vec<&str> = columns[0]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c[0].as_str())
        .collect();
    assert_eq!(
        labels,
        ["Educational pedigree", "Company pedigree", "Trajectory", "Is a software engineer"],
        "the demo's rubric"
    );
    assert_eq!(columns[1], json!([]), "a dataset without a rubric has no rubric columns");
}
