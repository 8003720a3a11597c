//! Runs the size of the real job: the run page carries what its charts draw, never every
//! request; downloads are written as they are read from the database.

mod common;

use app::domain::status::RunStatus;
use common::{fast_sim, spawn, TestApp};
use futures::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;

async fn finished_run(app: &TestApp, requests: u32) -> i64 {
    let id = app
        .launch("sim-gemma-3-4b", json!({"requests": requests, "concurrency": 64, "max_tokens": 16}))
        .await;
    let run = app.wait_finished(id, Duration::from_secs(240)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.error);
    id
}

async fn page(app: &TestApp, path: &str) -> String {
    let r = app.http.get(app.url(path)).send().await.expect("GET");
    assert!(r.status().is_success(), "GET {path}: {}", r.status());
    r.text().await.expect("page")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_page_does_not_grow_with_the_records_and_downloads_stream() {
    let app = spawn(fast_sim()).await;
    let small = finished_run(&app, 10).await;
    let mid = finished_run(&app, 1_000).await;
    let big = finished_run(&app, 10_000).await;

    // What the charts draw is the same size for 10 requests as for 10,000: bins, buckets.
    let charts = |id: i64| {
        let db = app.running.state.db.clone();
        async move {
            let (_, c) = app::db::charts::get(&db, id).await.expect("db").expect("stored charts");
            let mut c = c;
            for l in [&mut c.ttft, &mut c.e2e].into_iter().flatten() {
                l.cdf.clear(); // the run page leaves the cumulative curves out
            }
            serde_json::to_string(&c).expect("json").len()
        }
    };
    let (c10, c10k) = (charts(small).await, charts(big).await);
    assert!(c10k < c10 + 4_000, "chart data: {c10} bytes for 10 requests, {c10k} for 10,000");

    // The whole page of a run of 10,000 requests is the size of one of 1,000 (the answers list
    // shows 50 either way), and small.
    let (a, b) = (page(&app, &format!("/runs/{mid}")).await, page(&app, &format!("/runs/{big}")).await);
    if let Ok(dir) = std::env::var("BAKEOFF_DUMP_PAGES") {
        std::fs::write(format!("{dir}/mid.html"), &a).expect("dump");
        std::fs::write(format!("{dir}/big.html"), &b).expect("dump");
    }
    assert!(
        b.contains("TTFT distribution") && a.contains("TTFT distribution"),
        "both pages draw their charts"
    );
    assert!(
        b.len() < a.len() + 25_000 && b.len() < 300_000,
        "run page: {} bytes for 1,000 requests, {} bytes for 10,000",
        a.len(),
        b.len()
    );
    // The chart data is stored when the run ends, and the page reads it.
    let (n, charts) = app::db::charts::get(&app.running.state.db, big)
        .await
        .expect("db")
        .expect("stored charts");
    assert_eq!(n, 10_000);
    assert_eq!(charts.e2e.as_ref().map(|c| c.count), Some(10_000));
    assert!(charts.e2e.as_ref().is_some_and(|c| c.cdf.len() <= 401));

    // JSON lines over HTTP: chunked (no length known up front), every record once.
    let r = app
        .http
        .get(app.url(&format!("/api/runs/{big}/records")))
        .send()
        .await
        .expect("GET");
    assert!(
        r.headers().get("content-length").is_none(),
        "a streamed body has no length up front"
    );
    let text = r.text().await.expect("body");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(lines.len(), 10_000);

    // The stream reads the database a page at a time: a record stored after the first piece
    // left still arrives (the whole run was not read before the first byte).
    let db = app.running.state.db.clone();
    let mut body = Box::pin(server::download::records(
        db.clone(),
        big,
        server::download::Format::JsonLines,
        "m".into(),
        500,
    ));
    let first = body.next().await.expect("a first piece").expect("bytes");
    assert_eq!(String::from_utf8_lossy(&first).lines().count(), 500, "the first piece is one page");
    let mut late = app::db::records::Pages::new(big, app::db::records::Read::Everything)
        .with_size(1)
        .next(&db)
        .await
        .expect("db")
        .expect("a record")
        .remove(0);
    late.idx = 1_000_000;
    late.custom_id = "stored-after-the-first-piece".into();
    app::db::records::insert_batch(&db, big, &[late]).await.expect("insert");
    let mut rest = String::new();
    while let Some(piece) = body.next().await {
        rest.push_str(&String::from_utf8_lossy(&piece.expect("bytes")));
    }
    assert_eq!(rest.lines().count(), 10_000 - 500 + 1);
    assert!(rest.lines().last().is_some_and(|l| l.contains("stored-after-the-first-piece")));
}

/// RFC 4180 fields of a CSV text (quoted fields may hold commas, quotes and line breaks).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_download_as_csv_and_as_batch_output() {
    let app = spawn(fast_sim()).await;
    let id = finished_run(&app, 40).await;
    let records = app.records(id).await;

    let r = app
        .http
        .get(app.url(&format!("/api/runs/{id}/records?format=csv")))
        .send()
        .await
        .expect("GET");
    assert!(r.headers()["content-type"].to_str().expect("type").starts_with("text/csv"));
    assert!(r.headers()["content-disposition"]
        .to_str()
        .expect("name")
        .contains(&format!("run-{id}-records.csv")));
    let rows = csv_rows(&r.text().await.expect("csv"));
    assert_eq!(rows.len(), 41, "a header and one row per record");
    let header = &rows[0];
    assert_eq!(header.first().map(String::as_str), Some("idx"));
    let col = |name: &str| header.iter().position(|h| h == name).expect("column");
    for (row, rec) in rows[1..].iter().zip(&records) {
        assert_eq!(row.len(), header.len(), "every row has every column: {row:?}");
        assert_eq!(row[col("custom_id")], rec["custom_id"].as_str().expect("id"));
        // Answers are JSON, full of commas and quotes: quoted, and read back whole.
        assert_eq!(row[col("response")], rec["response"].as_str().expect("response"));
    }

    let text = app
        .http
        .get(app.url(&format!("/api/runs/{id}/records?format=batch")))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("batch line")).collect();
    assert_eq!(lines.len(), 40);
    assert!(lines
        .iter()
        .all(|l| l["response"]["body"]["choices"][0]["message"]["content"].is_string()));

    let r = app
        .http
        .get(app.url(&format!("/api/runs/{id}/records?format=xml")))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.expect("json error");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("jsonl, csv or batch")), "{v}");
}
