//! Benchmarks of the database on each backend (not tests: `#[ignore]`, run by hand, figures in
//! BENCHMARKS.md): storing a big run's records as the worker does (transactions of 5,000, 500
//! rows a statement) and the one pass over a run's stored records that gives its summary.
//!
//! ```sh
//! cargo test --release -p app --features ssr --lib db::bench -- --ignored --nocapture
//! BAKEOFF_TEST_PG=postgres://postgres@127.0.0.1:PORT/bakeoff cargo test --release ...   # Postgres
//! ```
//! `BAKEOFF_BENCH_INGEST` (default 1,000,000) and `BAKEOFF_BENCH_SUMMARY` (default 100,000) set
//! the sizes.

use super::records::{self, Pages, Read};
use super::tests::{seed, spec};
use crate::domain::digest::RunDigest;
use crate::domain::record::{RequestRecord, Tokens};
use crate::domain::status::Outcome;
use std::time::{Duration, Instant};

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// A record like a 64-token answer's: 64 gaps, a 300-byte answer.
fn record(idx: u32) -> RequestRecord {
    RequestRecord {
        idx,
        custom_id: format!("req-{idx:07}"),
        warmup: false,
        outcome: Outcome::Ok,
        http_status: Some(200),
        error: None,
        finish_reason: Some("length".into()),
        prompt_tokens: Some(Tokens(300)),
        completion_tokens: Some(Tokens(64)),
        scheduled: None,
        sent: Duration::from_micros(u64::from(idx) * 1_000),
        ttft: Some(Duration::from_micros(20_000 + u64::from(idx % 977))),
        e2e: Duration::from_micros(660_000 + u64::from(idx % 1_013)),
        content_chunks: 64,
        itl: vec![Duration::from_micros(10_000); 63],
        response: "x".repeat(300),
        reasoning: None,
    }
}

async fn ingest(db: &super::Db, run: i64, n: usize) -> Duration {
    let started = Instant::now();
    let mut next = 0usize;
    while next < n {
        let batch: Vec<RequestRecord> = (next..(next + 5_000).min(n)).map(|i| record(i as u32)).collect();
        let mut tx = super::write_tx(db).await.expect("tx");
        records::insert_batch_tx(&mut tx, run, &batch).await.expect("insert");
        tx.commit().await.expect("commit");
        next += batch.len();
    }
    started.elapsed()
}

#[tokio::test]
#[ignore = "a benchmark: run by hand with --release (see the module)"]
async fn bench_ingest_and_summary() {
    let dir = tempfile::tempdir().expect("dir");
    let db = super::pool::test_db(dir.path()).await.expect("db");
    let backend = super::pool::Backend::of_pool(&db);
    let (e, d) = seed(&db).await;
    let big = size("BAKEOFF_BENCH_INGEST", 1_000_000);
    let small = size("BAKEOFF_BENCH_SUMMARY", 100_000);

    let run = records_run(&db, e, d).await;
    let took = ingest(&db, run, big).await;
    assert_eq!(records::count(&db, run).await.expect("count"), big as i64);
    println!(
        "{backend:?}: ingest of {big} records: {:.1} s, {:.0} records/s",
        took.as_secs_f64(),
        big as f64 / took.as_secs_f64()
    );

    let run = records_run(&db, e, d).await;
    ingest(&db, run, small).await;
    let started = Instant::now();
    let mut digest = RunDigest::with_capacity(small);
    let mut pages = Pages::new(run, Read::Timing);
    while let Some(page) = pages.next(&db).await.expect("page") {
        for r in &page {
            digest.add(r);
        }
    }
    let out = digest.finish();
    let took = started.elapsed();
    assert_eq!(out.summary.requests, small as u64);
    println!(
        "{backend:?}: summary of a {small}-record run (one pass over its stored records): {:.2} s",
        took.as_secs_f64()
    );
}

async fn records_run(db: &super::Db, e: i64, d: i64) -> i64 {
    super::runs::insert(db, &spec(e, d), true, None).await.expect("run")
}
