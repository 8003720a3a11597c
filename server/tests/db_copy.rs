//! `bakeoff db copy --from FILE --to URL` against a real Postgres server (scripts/test.sh starts
//! one and sets BAKEOFF_TEST_PG): a team's SQLite file, with a finished run, its records and
//! checks, a grading queue and users, moved into an empty Postgres database and checked.

mod common;

use app::db;
use common::procs::BIN;
use serde_json::json;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

async fn rows(pool: &db::Db, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Postgres server in BAKEOFF_TEST_PG (scripts/test.sh starts one)"]
async fn an_sqlite_database_moves_into_postgres_whole_and_checked() {
    let pg = std::env::var("BAKEOFF_TEST_PG")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("set BAKEOFF_TEST_PG");
    // The source is an SQLite file: the app here runs on one whatever the suite's backend.
    // (The one test of this binary.)
    std::env::remove_var("BAKEOFF_TEST_PG");
    let app = common::spawn(common::fast_sim()).await;
    let id = app.launch("sim-llama-3.2-1b", json!({"requests": 30, "concurrency": 4})).await;
    let run = app.wait_finished(id, Duration::from_secs(60)).await;
    assert_eq!(run.status, app::domain::status::RunStatus::Completed);
    let file = common::db_path(&app.dir);
    let src = app.running.state.db.clone();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&src)
    .await
    .expect("tables");
    let mut before = Vec::new();
    for t in &tables {
        before.push((t.clone(), rows(&src, t).await));
    }
    assert!(before.iter().any(|(t, n)| t == "request_records" && *n == 30), "{before:?}");
    app.running.drain().await;

    let url = db::pool::new_pg_database(&pg)
        .await
        .expect("database")
        .to_string_lossy()
        .to_string();
    let out = Command::new(BIN)
        .args(["db", "copy", "--from"])
        .arg(&file)
        .args(["--to", &url])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("request_records") && stdout.contains("checked"), "{stdout}");

    // Every table, row for row; the run reads back the same.
    let dst = db::connect(std::path::Path::new(&url)).await.expect("postgres");
    for (t, n) in &before {
        assert_eq!(rows(&dst, t).await, *n, "table {t}");
    }
    let records = db::records::for_run(&dst, id).await.expect("records");
    let ids: BTreeSet<String> = records.iter().map(|r| r.custom_id.clone()).collect();
    assert_eq!((records.len(), ids.len()), (30, 30));
    let copied = db::runs::get(&dst, id).await.expect("run");
    assert_eq!(copied.status, app::domain::status::RunStatus::Completed);
    assert_eq!(copied.summary.map(|s| s.requests), run.summary.map(|s| s.requests));
    // Ids go on after the copied ones.
    let (endpoint, dataset): (i64, i64) = sqlx::query_as("SELECT endpoint_id, dataset_id FROM runs WHERE id = $1")
        .bind(id)
        .fetch_one(&dst)
        .await
        .expect("run's endpoint and dataset");
    let spec = app::domain::spec::LaunchForm {
        endpoint_id: endpoint.to_string(),
        dataset_id: dataset.to_string(),
        model: "sim-llama-3.2-1b".into(),
        requests: "2".into(),
        concurrency: "1".into(),
        ..Default::default()
    }
    .parse()
    .expect("spec");
    let next = db::runs::insert(&dst, &spec, true, None).await.expect("a new run");
    assert!(next > id, "new ids follow the copied ones: {next} after {id}");

    // A second copy into the same (now not empty) database is refused, and adds nothing.
    let again = Command::new(BIN)
        .args(["db", "copy", "--from"])
        .arg(&file)
        .args(["--to", &url])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && err.contains("not empty") && err.contains("nothing was committed"),
        "{err}"
    );
    assert_eq!(rows(&dst, "request_records").await, 30);
}
