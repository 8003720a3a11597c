//! Uploads stream: checked line by line as they arrive, stored only whole, at most two read at
//! once, and every refusal says the limit or the line in a few words.

mod common;

use common::{fast_sim, spawn, spawn_web, TestApp};
use serde_json::Value;
use std::time::{Duration, Instant};

/// `n` good dataset lines of about `width` bytes each, ids `r0..`.
fn lines(range: std::ops::Range<usize>, width: usize) -> String {
    let mut out = String::new();
    for i in range {
        let pad = "x".repeat(width.saturating_sub(90));
        out.push_str(&format!(
            "{{\"custom_id\":\"r{i}\",\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{{\"prompt\":\"{pad}\"}}}}\n"
        ));
    }
    out
}

async fn names(app: &TestApp) -> Vec<String> {
    app.get_json("/api/datasets")
        .await
        .as_array()
        .map(|l| l.iter().filter_map(|d| d["name"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

async fn post_dataset(app: &TestApp, name: &str, body: impl Into<reqwest::Body>) -> (u16, Value, Option<String>) {
    let r = app
        .http
        .post(app.url(&format!("/api/datasets?name={name}")))
        .body(body)
        .send()
        .await
        .expect("POST");
    let status = r.status().as_u16();
    let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    (status, r.json().await.unwrap_or(Value::Null), retry)
}

fn limits(max_bytes: u64, max_line: usize, wait: Duration) -> server::serve::WebOptions {
    server::serve::WebOptions {
        web: app::state::WebConfig {
            uploads: app::api::spool::UploadLimits {
                max_bytes,
                max_line,
                parallel: 2,
                wait,
            },
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_line_in_the_middle_of_a_large_upload_stores_nothing_and_is_named() {
    let app = spawn(fast_sim()).await;
    // 20 MB: 100,000 lines of about 210 bytes, line 50,000 not JSON.
    let mut text = lines(0..49_999, 220);
    text.push_str("{\"custom_id\": oops\n");
    text.push_str(&lines(50_000..100_000, 220));
    assert!(text.len() > 20_000_000);
    let (status, v, _) = post_dataset(&app, "big", text).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["fields"][0]["field"], "line 50000", "{v}");
    assert!(
        v["fields"][0]["message"].as_str().is_some_and(|m| m.contains("not valid JSON")),
        "{v}"
    );
    assert_eq!(names(&app).await.len(), 1, "only the demo dataset");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM datasets")
        .fetch_one(&app.running.state.db)
        .await
        .expect("count");
    assert_eq!(rows, 1, "not even a hidden row");

    // The same size, all good, is stored whole, in order.
    let text = lines(0..100_000, 220);
    let (status, v, _) = post_dataset(&app, "big", text).await;
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_i64().expect("id");
    let got = app.get_json("/api/datasets").await;
    let big = got.as_array().and_then(|l| l.iter().find(|d| d["id"] == id)).expect("listed");
    assert_eq!(big["item_count"], 100_000);
    let items = app::db::datasets::items(&app.running.state.db, id).await.expect("items");
    assert_eq!(items.len(), 100_000);
    assert_eq!(items[99_999].custom_id, "r99999");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_too_long_line_and_a_too_big_file_are_refused_with_the_limit() {
    let app = spawn_web(limits(1024 * 1024, 4096, Duration::from_secs(5))).await;
    let text = format!("{}{}\n{}", lines(0..1, 200), "y".repeat(5000), lines(2..3, 200));
    let (status, v, _) = post_dataset(&app, "long", text).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["fields"][0]["field"], "line 2", "{v}");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("longer than 4 KiB")), "{v}");

    let (status, v, _) = post_dataset(&app, "huge", lines(0..8_000, 200)).await;
    assert_eq!(status, 422, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("larger than 1 MiB")), "{v}");

    // Through the form too, at the file field.
    let form = reqwest::multipart::Form::new()
        .text("name", "huge")
        .part("file", reqwest::multipart::Part::text(lines(0..8_000, 200)).file_name("huge.jsonl"));
    let r = app
        .http
        .post(app.url("/datasets/upload"))
        .multipart(form)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().expect("location").to_string();
    assert!(location.starts_with("/datasets?error_field=file&error="), "{location}");
    assert!(location.contains("larger%20than%201%20MiB"), "{location}");
    assert_eq!(names(&app).await.len(), 1, "only the demo dataset");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_comes_back_with_a_short_message_even_for_a_huge_bad_id() {
    let app = spawn(fast_sim()).await;
    let id = format!("{}~2", "z".repeat(100_000));
    let bad = format!("{{\"custom_id\":\"{id}\",\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{{\"prompt\":\"x\"}}}}\n");
    let text = format!("{}{}{}", lines(0..3, 200), bad.repeat(30), lines(3..5, 200));
    let form = reqwest::multipart::Form::new()
        .text("name", "ids")
        .part("file", reqwest::multipart::Part::text(text).file_name("ids.jsonl"));
    let r = app
        .http
        .post(app.url("/datasets/upload"))
        .multipart(form)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().expect("location").to_string();
    assert!(location.len() < 2048, "{} bytes", location.len());
    assert!(location.starts_with("/datasets?error_field=file&error=line%204%3A"), "{location}");
    assert!(location.contains("and%2029%20more%20problems"), "{location}");
    assert_eq!(names(&app).await.len(), 1);
}

/// A request whose body the test sends piece by piece.
fn held_upload(app: &TestApp, name: &str) -> (tokio::sync::mpsc::Sender<String>, tokio::task::JoinHandle<(u16, Value)>) {
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(4);
    let body = futures::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|s| (Ok::<_, std::io::Error>(s), rx)) },
    );
    let req = app
        .http
        .post(app.url(&format!("/api/datasets?name={name}")))
        .body(reqwest::Body::wrap_stream(body));
    let task = tokio::spawn(async move {
        let r = req.send().await.expect("POST");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    });
    (tx, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_two_uploads_are_read_at_once_and_a_third_is_told_when_to_come_back() {
    let app = spawn_web(limits(64 * 1024 * 1024, 1024 * 1024, Duration::from_millis(300))).await;
    let gate = app.running.state.uploads.clone();
    let (a, task_a) = held_upload(&app, "a");
    let (b, task_b) = held_upload(&app, "b");
    a.send(lines(0..1000, 200)).await.expect("send");
    b.send(lines(0..1000, 200)).await.expect("send");
    let deadline = Instant::now() + Duration::from_secs(20);
    while gate.reading() < 2 {
        assert!(Instant::now() < deadline, "two uploads never started");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Half-way through, neither is listed (nor stored at all).
    assert_eq!(names(&app).await.len(), 1, "uploads under way are not listed");

    let (status, v, retry) = post_dataset(&app, "c", lines(0..10, 200)).await;
    assert_eq!(status, 429, "{v}");
    assert_eq!(v["error"], "too_many_requests", "{v}");
    assert!(retry.is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n >= 1)), "Retry-After");

    a.send(lines(1000..2000, 200)).await.expect("send");
    drop(a);
    drop(b);
    let (sa, va) = task_a.await.expect("a");
    let (sb, vb) = task_b.await.expect("b");
    assert_eq!((sa, sb), (201, 201), "{va} {vb}");
    assert_eq!(gate.peak(), 2, "never more than two at once");
    let (status, v, _) = post_dataset(&app, "c", lines(0..10, 200)).await;
    assert_eq!(status, 201, "a turn is free again: {v}");
    let list = app.get_json("/api/datasets").await;
    let count = |n: &str| {
        list.as_array()
            .and_then(|l| l.iter().find(|d| d["name"] == n))
            .map(|d| d["item_count"].clone())
    };
    assert_eq!(count("a"), Some(2000.into()));
    assert_eq!(count("b"), Some(1000.into()));
}
