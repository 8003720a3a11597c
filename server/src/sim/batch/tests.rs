//! The simulator's Files and Batch APIs over real HTTP, against `start` on 127.0.0.1:0.

use crate::sim::{start, SimConfig};
use app::domain::import::BatchOutputReader;
use app::domain::status::Outcome;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const MODEL: &str = "sim-gemma-3-4b";

async fn sim(turnaround: Duration, fail_rate: f64) -> String {
    let config = SimConfig {
        ttft: Duration::from_millis(1),
        tpot: Duration::ZERO,
        seed: 7,
        batch_turnaround: turnaround,
        batch_fail_rate: fail_rate,
        ..SimConfig::default()
    };
    start(config, "127.0.0.1:0".parse().expect("addr")).await.expect("sim").base_url()
}

fn chat_body(model: &str, i: usize) -> Value {
    json!({"model": model, "max_tokens": 512, "messages": [{"role": "user", "content": format!("Summarise request number {i} in one line.")}]})
}

fn line(custom_id: &str, body: Value) -> Value {
    json!({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body})
}

fn jsonl(lines: &[Value]) -> Vec<u8> {
    lines.iter().map(|l| format!("{l}\n")).collect::<String>().into_bytes()
}

/// `n` good lines, `req-0` .. `req-{n-1}`.
fn good_lines(n: usize) -> Vec<Value> {
    (0..n).map(|i| line(&format!("req-{i}"), chat_body(MODEL, i))).collect()
}

async fn upload_form(http: &reqwest::Client, url: &str, form: Form) -> (u16, Value) {
    let r = http
        .post(format!("{url}/v1/files"))
        .bearer_auth("sk-anything")
        .multipart(form)
        .send()
        .await
        .expect("POST /v1/files");
    (r.status().as_u16(), r.json().await.expect("json"))
}

async fn upload(http: &reqwest::Client, url: &str, bytes: Vec<u8>) -> String {
    let form = Form::new()
        .text("purpose", "batch")
        .part("file", Part::bytes(bytes).file_name("input.jsonl"));
    let (status, v) = upload_form(http, url, form).await;
    assert_eq!(status, 200, "{v}");
    v["id"].as_str().expect("file id").to_string()
}

async fn call(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.bearer_auth("sk-anything").send().await.expect("request");
    (r.status().as_u16(), r.json().await.expect("json"))
}

async fn create(http: &reqwest::Client, url: &str, file_id: &str) -> Value {
    let body =
        json!({"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h", "metadata": {"run": "test"}});
    let (status, v) = call(http.post(format!("{url}/v1/batches")).json(&body)).await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn get_batch(http: &reqwest::Client, url: &str, id: &str) -> Value {
    let (status, v) = call(http.get(format!("{url}/v1/batches/{id}"))).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// Every state seen while polling until the batch ends (or the deadline passes).
async fn poll_to_end(http: &reqwest::Client, url: &str, id: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let b = get_batch(http, url, id).await;
        let done = ["completed", "failed", "cancelled"].contains(&b["status"].as_str().unwrap_or(""));
        seen.push(b);
        if done || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn file_text(http: &reqwest::Client, url: &str, id: &Value) -> String {
    let id = id.as_str().expect("a file id");
    let r = http.get(format!("{url}/v1/files/{id}/content")).send().await.expect("GET content");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    r.text().await.expect("text")
}

fn custom_ids(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("a JSON line")["custom_id"]
                .as_str()
                .expect("custom_id")
                .to_string()
        })
        .collect()
}

fn assert_openai_error(v: &Value, says: &str) {
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    assert!(v["error"]["code"].is_null(), "{v}");
    let m = v["error"]["message"].as_str().unwrap_or("");
    assert!(m.contains(says), "message {m:?} should mention {says:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_completes_line_by_line_and_its_output_reads_as_records_with_usage() {
    let url = sim(Duration::from_secs(3), 0.0).await;
    let http = reqwest::Client::new();
    let file = upload(&http, &url, jsonl(&good_lines(12))).await;
    let created = create(&http, &url, &file).await;
    assert_eq!(created["object"], "batch");
    assert_eq!(created["input_file_id"], file.as_str());
    assert_eq!(created["metadata"]["run"], "test");
    assert_eq!(created["request_counts"]["total"], 12);
    assert!(created["output_file_id"].is_null());
    let id = created["id"].as_str().expect("id").to_string();

    let seen = poll_to_end(&http, &url, &id).await;
    let order = ["validating", "in_progress", "finalizing", "completed"];
    let steps: Vec<usize> = seen
        .iter()
        .map(|b| order.iter().position(|s| b["status"] == *s).expect("a known status"))
        .collect();
    assert!(steps.windows(2).all(|w| w[0] <= w[1]), "statuses went back: {steps:?}");
    let counts: Vec<u64> = seen
        .iter()
        .map(|b| b["request_counts"]["completed"].as_u64().expect("count"))
        .collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "counts went down: {counts:?}");
    assert!(counts.iter().any(|c| (1..12).contains(c)), "counts grew while polled: {counts:?}");

    let end = seen.last().expect("polled");
    assert_eq!(end["status"], "completed", "{end}");
    assert_eq!(end["request_counts"], json!({"total": 12, "completed": 12, "failed": 0}));
    assert!(end["error_file_id"].is_null());
    let (created_at, completed_at) = (end["created_at"].as_u64(), end["completed_at"].as_u64());
    assert!(created_at.is_some() && completed_at >= created_at, "{end}");
    assert!(end["in_progress_at"].is_u64() && end["finalizing_at"].is_u64(), "{end}");

    let text = file_text(&http, &url, &end["output_file_id"]).await;
    let mut reader = BatchOutputReader::default();
    let records: Vec<_> = text.lines().filter_map(|l| reader.line(l)).collect();
    assert_eq!(reader.bad(), 0);
    assert_eq!(records.len(), 12);
    for r in &records {
        assert_eq!(r.outcome, Outcome::Ok, "{r:?}");
        assert!(
            r.prompt_tokens.is_some_and(|t| t.0 > 0) && r.completion_tokens.is_some_and(|t| t.0 > 0),
            "{r:?}"
        );
    }
    assert_eq!(custom_ids(&text), (0..12).map(|i| format!("req-{i}")).collect());

    // Each answer is the one the chat route gives the same body.
    let line: Value = serde_json::from_str(text.lines().find(|l| l.contains("\"req-3\"")).expect("req-3")).expect("json");
    assert!(line["id"].as_str().is_some_and(|s| s.starts_with("batch_req_")), "{line}");
    assert!(line["error"].is_null());
    assert_eq!(line["response"]["status_code"], 200);
    let batch = &line["response"]["body"];
    let (status, live) = call(http.post(format!("{url}/v1/chat/completions")).json(&chat_body(MODEL, 3))).await;
    assert_eq!(status, 200, "{live}");
    assert_eq!(batch["object"], "chat.completion");
    for key in ["/model", "/choices/0/message/content", "/choices/0/finish_reason", "/usage"] {
        assert_eq!(batch.pointer(key), live.pointer(key), "{key} differs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fail_rate_of_0_3_sends_6_of_20_lines_to_the_error_file_the_same_ones_each_time() {
    let url = sim(Duration::ZERO, 0.3).await;
    let http = reqwest::Client::new();
    let file = upload(&http, &url, jsonl(&good_lines(20))).await;
    let b = create(&http, &url, &file).await;
    // A turnaround of zero completes at once.
    assert_eq!(b["status"], "completed", "{b}");
    assert_eq!(b["request_counts"], json!({"total": 20, "completed": 14, "failed": 6}));
    let output = file_text(&http, &url, &b["output_file_id"]).await;
    let errors = file_text(&http, &url, &b["error_file_id"]).await;
    assert_eq!(output.lines().count(), 14);
    assert_eq!(errors.lines().count(), 6);
    let (ok, failed) = (custom_ids(&output), custom_ids(&errors));
    assert_eq!(ok.len() + failed.len(), 20);
    assert!(ok.is_disjoint(&failed));
    for l in errors.lines() {
        let v: Value = serde_json::from_str(l).expect("json");
        assert_eq!(v["response"]["status_code"], 500, "{v}");
        assert!(v["response"]["body"]["error"]["message"].is_string(), "{v}");
        assert!(v["response"]["request_id"].is_string(), "{v}");
    }
    // BatchOutputReader counts them as HTTP errors.
    let mut reader = BatchOutputReader::default();
    let records: Vec<_> = errors.lines().filter_map(|l| reader.line(l)).collect();
    assert!(records
        .iter()
        .all(|r| r.outcome == Outcome::HttpError && r.http_status == Some(500)));

    let again = create(&http, &url, &file).await;
    assert_eq!(custom_ids(&file_text(&http, &url, &again["error_file_id"]).await), failed);

    // A finished batch cannot be cancelled.
    let (status, v) = call(http.post(format!("{url}/v1/batches/{}/cancel", b["id"].as_str().expect("id")))).await;
    assert_eq!(status, 400);
    assert_openai_error(&v, "status completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_for_a_model_the_simulator_does_not_serve_fails_with_404_as_on_the_route() {
    let url = sim(Duration::ZERO, 0.0).await;
    let http = reqwest::Client::new();
    let lines = [line("good", chat_body(MODEL, 1)), line("nope", chat_body("gpt-nope", 2))];
    let b = create(&http, &url, &upload(&http, &url, jsonl(&lines)).await).await;
    assert_eq!(b["request_counts"], json!({"total": 2, "completed": 1, "failed": 1}));
    assert_eq!(
        custom_ids(&file_text(&http, &url, &b["output_file_id"]).await),
        BTreeSet::from(["good".to_string()])
    );
    let errors = file_text(&http, &url, &b["error_file_id"]).await;
    let v: Value = serde_json::from_str(errors.trim()).expect("one line");
    assert_eq!(v["custom_id"], "nope");
    assert_eq!(v["response"]["status_code"], 404);
    let m = v["response"]["body"]["error"]["message"].as_str().unwrap_or("");
    assert!(m.contains("gpt-nope"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_mid_way_keeps_the_lines_done_and_freezes_the_counts() {
    let turnaround = Duration::from_secs(3);
    let url = sim(turnaround, 0.0).await;
    let http = reqwest::Client::new();
    let file = upload(&http, &url, jsonl(&good_lines(30))).await;
    let started = Instant::now();
    let id = create(&http, &url, &file).await["id"].as_str().expect("id").to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while get_batch(&http, &url, &id).await["request_counts"]["completed"].as_u64() < Some(2) {
        assert!(Instant::now() < deadline, "no line completed in 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, cancelled) = call(http.post(format!("{url}/v1/batches/{id}/cancel"))).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["cancelled_at"].is_u64() && cancelled["cancelling_at"].is_u64());
    assert!(cancelled["completed_at"].is_null());
    let done = cancelled["request_counts"]["completed"].as_u64().expect("count");
    assert!((2..30).contains(&done), "cancelled mid-way, {done} of 30 done");
    assert_eq!(cancelled["request_counts"]["total"], 30);
    assert!(cancelled["error_file_id"].is_null());
    let output = file_text(&http, &url, &cancelled["output_file_id"]).await;
    assert_eq!(output.lines().count() as u64, done);

    // Past the whole turnaround nothing more is done.
    tokio::time::sleep_until((started + turnaround + Duration::from_millis(300)).into()).await;
    let later = get_batch(&http, &url, &id).await;
    assert_eq!(later["status"], "cancelled");
    assert_eq!(later["request_counts"], cancelled["request_counts"]);
    assert_eq!(later["output_file_id"], cancelled["output_file_id"]);
    let (status, v) = call(http.post(format!("{url}/v1/batches/{id}/cancel"))).await;
    assert_eq!(status, 400);
    assert_openai_error(&v, "status cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_and_bad_batches_get_openai_errors_that_say_what_to_fix() {
    let url = sim(Duration::ZERO, 0.0).await;
    let http = reqwest::Client::new();
    let file = || Part::bytes(jsonl(&good_lines(1))).file_name("in.jsonl");
    let (status, v) = upload_form(&http, &url, Form::new().text("purpose", "fine-tune").part("file", file())).await;
    assert_eq!((status, &v["error"]["param"]), (400, &json!("purpose")));
    assert_openai_error(&v, "\"batch\"");
    let (status, v) = upload_form(&http, &url, Form::new().part("file", file())).await;
    assert_eq!(status, 400);
    assert_openai_error(&v, "`purpose` is missing");
    let (status, v) = upload_form(&http, &url, Form::new().text("purpose", "batch")).await;
    assert_eq!((status, &v["error"]["param"]), (400, &json!("file")));
    assert_openai_error(&v, "`file` is missing");
    let (status, v) = call(http.post(format!("{url}/v1/files")).json(&json!({"purpose": "batch"}))).await;
    assert_eq!(status, 400);
    assert_openai_error(&v, "multipart/form-data");

    let batch = |body: Value| call(http.post(format!("{url}/v1/batches")).json(&body));
    let (status, v) = batch(json!({"input_file_id": "file-999", "endpoint": "/v1/chat/completions", "completion_window": "24h"})).await;
    assert_eq!(status, 404);
    assert_openai_error(&v, "file-999");
    let good = upload(&http, &url, jsonl(&good_lines(1))).await;
    let (status, v) = batch(json!({"input_file_id": good, "endpoint": "/v1/embeddings", "completion_window": "24h"})).await;
    assert_eq!(status, 400);
    assert_openai_error(&v, "/v1/chat/completions or /v1/completions");
    let (status, v) = batch(json!({"input_file_id": good, "endpoint": "/v1/chat/completions", "completion_window": "1h"})).await;
    assert_eq!(status, 400);
    assert_openai_error(&v, "\"24h\"");

    // Bad lines: the batch is created failed, naming each line.
    let mut text = jsonl(&good_lines(1));
    text.extend_from_slice(b"{\"custom_id\": \"x\", oops\n");
    text.extend_from_slice(&jsonl(&[json!({"method": "POST", "url": "/v1/chat/completions", "body": {}})]));
    let b = create(&http, &url, &upload(&http, &url, text).await).await;
    assert_eq!(b["status"], "failed", "{b}");
    assert!(b["failed_at"].is_u64() && b["in_progress_at"].is_null());
    assert_eq!(b["request_counts"]["total"], 0);
    assert_eq!(b["errors"]["object"], "list");
    let data = b["errors"]["data"].as_array().expect("errors");
    assert_eq!(data.len(), 2, "{b}");
    assert_eq!((&data[0]["line"], &data[0]["code"]), (&json!(2), &json!("invalid_json_line")));
    assert_eq!(
        (&data[1]["line"], &data[1]["code"]),
        (&json!(3), &json!("missing_required_parameter"))
    );
    assert!(data[1]["message"].as_str().is_some_and(|m| m.contains("custom_id")));

    for (req, what) in [
        (http.get(format!("{url}/v1/files/file-999/content")), "file-999"),
        (http.get(format!("{url}/v1/batches/batch_999")), "batch_999"),
        (http.post(format!("{url}/v1/batches/batch_999/cancel")), "batch_999"),
    ] {
        let (status, v) = call(req).await;
        assert_eq!(status, 404);
        assert_openai_error(&v, what);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_file_uploads_and_comes_back_byte_for_byte() {
    let url = sim(Duration::ZERO, 0.0).await;
    let http = reqwest::Client::new();
    let filler = "x".repeat(1000);
    let lines: Vec<Value> = (0..50_000)
        .map(|i| {
            line(
                &format!("req-{i}"),
                json!({"model": MODEL, "messages": [{"role": "user", "content": filler}]}),
            )
        })
        .collect();
    let bytes = jsonl(&lines);
    assert!(bytes.len() > 50_000_000);
    let form = Form::new()
        .text("purpose", "batch")
        .part("file", Part::bytes(bytes.clone()).file_name("big.jsonl"));
    let (status, v) = upload_form(&http, &url, form).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["bytes"], bytes.len());
    assert_eq!(v["filename"], "big.jsonl");
    assert_eq!(v["purpose"], "batch");
    let id = v["id"].as_str().expect("id");
    let back = http
        .get(format!("{url}/v1/files/{id}/content"))
        .send()
        .await
        .expect("GET")
        .bytes()
        .await
        .expect("bytes");
    assert!(back == bytes, "the content differs from the upload");
}
