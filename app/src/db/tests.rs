//! Queries against a fresh, migrated SQLite file per test.

use super::*;
use crate::domain::dataset::DatasetItem;
use crate::domain::record::{RequestRecord, Tokens};
use crate::domain::spec::LaunchForm;
use crate::domain::status::{Outcome, RunStatus};
use std::time::Duration;

async fn fresh() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = connect(&dir.path().join("t.db")).await.expect("connect + migrate");
    (dir, db)
}

fn item(id: &str) -> DatasetItem {
    DatasetItem {
        custom_id: id.into(),
        url: "/v1/completions".into(),
        body: serde_json::json!({"prompt": id}),
    }
}

async fn seed(db: &Db) -> (i64, i64) {
    let e = endpoints::insert(db, "e", "http://x:1", false, &[]).await.expect("endpoint");
    let items = vec![item("a"), item("b")];
    let d = datasets::insert(
        db,
        datasets::NewDataset {
            name: "d",
            description: "",
            source: "test",
            builtin: false,
            answer_schema: None,
            rubric: None,
            items: &items,
        },
    )
    .await
    .expect("dataset");
    (e, d)
}

fn spec(e: i64, d: i64) -> crate::domain::spec::RunSpec {
    LaunchForm {
        endpoint_id: e.to_string(),
        dataset_id: d.to_string(),
        model: "m".into(),
        requests: "4".into(),
        concurrency: "1".into(),
        ..Default::default()
    }
    .parse()
    .expect("spec")
}

fn record(id: &str, idx: u32) -> RequestRecord {
    RequestRecord {
        idx,
        custom_id: id.into(),
        warmup: false,
        outcome: Outcome::Ok,
        http_status: Some(200),
        error: None,
        finish_reason: Some("stop".into()),
        prompt_tokens: Some(Tokens(3)),
        completion_tokens: Some(Tokens(4)),
        scheduled: None,
        sent: Duration::from_millis(idx as u64),
        ttft: Some(Duration::from_micros(1500)),
        e2e: Duration::from_millis(20),
        content_chunks: 4,
        itl: vec![Duration::from_micros(10); 3],
        response: "text".into(),
    }
}

#[tokio::test]
async fn the_worker_claims_the_oldest_queued_run_once() {
    let (_d, db) = fresh().await;
    let (e, d) = seed(&db).await;
    let first = runs::insert(&db, &spec(e, d), false, None).await.expect("run");
    let second = runs::insert(&db, &spec(e, d), false, None).await.expect("run");
    assert_eq!(runs::claim_next(&db).await.expect("claim").map(|c| c.id), Some(first));
    assert_eq!(runs::claim_next(&db).await.expect("claim").map(|c| c.id), Some(second));
    assert!(runs::claim_next(&db).await.expect("claim").is_none());
    assert_eq!(runs::status(&db, first).await.expect("status"), RunStatus::Running);
}

#[tokio::test]
async fn records_round_trip_and_a_custom_id_is_never_stored_twice() {
    let (_d, db) = fresh().await;
    let (e, d) = seed(&db).await;
    let run = runs::insert(&db, &spec(e, d), false, None).await.expect("run");
    let recs = vec![record("a", 0), record("b", 1)];
    assert_eq!(records::insert_batch(&db, run, &recs).await.expect("insert"), 2);
    assert_eq!(records::insert_batch(&db, run, &recs[..1]).await.expect("insert again"), 0);
    let back = records::for_run(&db, run).await.expect("load");
    assert_eq!(back, recs);
    assert_eq!(records::last_finish(&db, run).await.expect("last"), Duration::from_millis(21));
    assert_eq!(records::done_ids(&db, run).await.expect("ids").len(), 2);
}

#[tokio::test]
async fn cancelling_a_queued_run_is_immediate_and_a_finished_one_is_a_conflict() {
    let (_d, db) = fresh().await;
    let (e, d) = seed(&db).await;
    let run = runs::insert(&db, &spec(e, d), false, None).await.expect("run");
    assert_eq!(runs::request_cancel(&db, run).await.expect("cancel"), RunStatus::Cancelled);
    assert!(matches!(runs::request_cancel(&db, run).await, Err(DbError::Conflict(_))));
    assert!(matches!(runs::request_cancel(&db, 999).await, Err(DbError::NotFound(_))));
}

#[tokio::test]
async fn runs_left_running_are_requeued_for_resume_or_marked_interrupted() {
    let (_d, db) = fresh().await;
    let (e, d) = seed(&db).await;
    let a = runs::insert(&db, &spec(e, d), false, None).await.expect("run");
    runs::claim_next(&db).await.expect("claim");
    assert_eq!(runs::requeue_interrupted(&db).await.expect("requeue"), vec![a]);
    assert!(runs::is_resumed(&db, a).await.expect("resumed"));
    assert_eq!(runs::status(&db, a).await.expect("status"), RunStatus::Queued);
    runs::claim_next(&db).await.expect("claim");
    assert_eq!(runs::mark_interrupted(&db).await.expect("mark"), 1);
    assert_eq!(runs::status(&db, a).await.expect("status"), RunStatus::Interrupted);
}

#[tokio::test]
async fn a_dataset_is_stored_whole_or_not_at_all() {
    let (_d, db) = fresh().await;
    // Two items with one custom_id violate the unique key half-way through the insert.
    let items = vec![item("a"), item("b"), item("a")];
    let r = datasets::insert(
        &db,
        datasets::NewDataset {
            name: "dup",
            description: "",
            source: "t",
            builtin: false,
            answer_schema: None,
            rubric: None,
            items: &items,
        },
    )
    .await;
    assert!(r.is_err());
    assert!(datasets::list(&db).await.expect("list").is_empty());
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dataset_items")
        .fetch_one(&db)
        .await
        .expect("count");
    assert_eq!(n, 0, "no orphan items");
}

#[tokio::test]
async fn a_second_dataset_with_the_same_name_is_a_conflict() {
    let (_d, db) = fresh().await;
    seed(&db).await;
    let items = vec![item("z")];
    let r = datasets::insert(
        &db,
        datasets::NewDataset {
            name: "d",
            description: "",
            source: "t",
            builtin: false,
            answer_schema: None,
            rubric: None,
            items: &items,
        },
    )
    .await;
    assert!(matches!(r, Err(DbError::Conflict(m)) if m.contains("already exists")));
}

#[tokio::test]
async fn a_sweep_is_queued_as_one_group() {
    let (_d, db) = fresh().await;
    let (e, d) = seed(&db).await;
    let ids = runs::insert_sweep(&db, &[spec(e, d), spec(e, d), spec(e, d)], true)
        .await
        .expect("sweep");
    let views = runs::list(&db).await.expect("list");
    assert_eq!(views.len(), 3);
    assert!(views.iter().all(|v| v.sweep_id == Some(ids[0]) && v.simulated));
}
