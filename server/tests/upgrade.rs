//! Upgrading never loses a row. Each fixture in tests/fixtures/upgrade is a database written by a
//! released binary (README.md there says which and how it was made), with rows in every table.
//! The test opens a copy with the current code, which applies every migration since, and checks
//! that every table of the old schema still holds every row (same count, same primary keys), and
//! that the app reads the old data through its own functions and over HTTP.

mod common;

use app::db::maintenance;
use serde_json::Value;
use sqlx::Row;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every release's fixture: add the next release's here (see the README beside them).
const FIXTURES: &[&str] = &["release-0013.sqlite"];

/// The password of every user the fixture script made.
const FIXTURE_PASSWORD: &str = "fixture password 1";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade").join(name)
}

/// A fresh copy of a fixture in a temporary directory, as `bakeoff.db` (the test harness's name).
fn copy_of(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = common::db_path(&dir);
    std::fs::copy(fixture(name), &path).unwrap_or_else(|e| panic!("copy {name}: {e}"));
    (dir, path)
}

/// One table's rows: how many, and their primary keys (as SQL literals, sorted).
#[derive(Debug, PartialEq)]
struct Rows {
    count: i64,
    key_columns: Vec<String>,
    keys: Vec<String>,
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn primary_key(db: &app::db::Db, table: &str) -> Vec<String> {
    let rows = sqlx::query(&format!("PRAGMA table_info({})", ident(table)))
        .fetch_all(db)
        .await
        .expect("table_info");
    let mut pk: Vec<(i64, String)> = rows
        .iter()
        .map(|r| (r.get::<i64, _>("pk"), r.get::<String, _>("name")))
        .filter(|(n, _)| *n > 0)
        .collect();
    pk.sort();
    pk.into_iter().map(|(_, name)| name).collect()
}

async fn keys(db: &app::db::Db, table: &str, columns: &[String]) -> Vec<String> {
    if columns.is_empty() {
        return Vec::new();
    }
    let expr = columns
        .iter()
        .map(|c| format!("quote({})", ident(c)))
        .collect::<Vec<_>>()
        .join(" || ',' || ");
    let rows: Vec<(String,)> = sqlx::query_as(&format!("SELECT {expr} FROM {} ORDER BY 1", ident(table)))
        .fetch_all(db)
        .await
        .unwrap_or_else(|e| panic!("keys of {table} ({columns:?}): {e}"));
    rows.into_iter().map(|(k,)| k).collect()
}

/// Every table but the migrations' own bookkeeping, with its rows.
async fn snapshot(db: &app::db::Db) -> BTreeMap<String, Rows> {
    let mut out = BTreeMap::new();
    for (table, count) in maintenance::table_counts(db).await.expect("tables") {
        if table == "_sqlx_migrations" {
            continue;
        }
        let key_columns = primary_key(db, &table).await;
        let keys = keys(db, &table, &key_columns).await;
        out.insert(table, Rows { count, key_columns, keys });
    }
    out
}

fn bakeoff_db(args: &[&str], db: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bakeoff"))
        .args(args)
        .arg("--db")
        .arg(db)
        .env_remove("BAKEOFF_DB")
        .output()
        .expect("run bakeoff");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_of_every_table_survives_the_upgrade() {
    for name in FIXTURES {
        let (_dir, path) = copy_of(name);
        let old = maintenance::open_existing(&path).await.expect("open the fixture as it is");
        let before = snapshot(&old).await;
        let applied_before = maintenance::applied_migrations(&old)
            .await
            .expect("migrations")
            .expect("a Bakeoff database");
        old.close().await;
        assert!(before.len() >= 20, "{name}: only {} tables", before.len());
        for (table, rows) in &before {
            assert!(
                rows.count > 0,
                "{name}: table {table} is empty, so this test cannot show that an upgrade keeps its rows: \
                 regenerate the fixture (tests/fixtures/upgrade/README.md) with a row in every table"
            );
        }

        // `db check` on the old file: sound, and older than this binary (`serve` will upgrade it).
        let known = app::db::pool::MIGRATOR.iter().count();
        let (ok, stdout, stderr) = bakeoff_db(&["db", "check"], &path);
        assert!(ok, "{name}: db check before the upgrade failed:\n{stdout}\n{stderr}");
        assert!(stdout.contains("integrity: ok") && stdout.contains("foreign keys: ok"), "{stdout}");
        if applied_before.len() < known {
            assert!(stdout.contains("`bakeoff serve` will upgrade it"), "{stdout}");
        }

        // The upgrade: what `serve` does at start-up.
        let db = app::db::connect(&path)
            .await
            .unwrap_or_else(|e| panic!("{name}: the upgrade failed: {e}"));
        let after = snapshot(&db).await;
        for (table, old_rows) in &before {
            let Some(new_rows) = after.get(table) else {
                panic!("{name}: table {table} is gone after the upgrade (it held {} rows)", old_rows.count);
            };
            assert_eq!(
                new_rows.count, old_rows.count,
                "{name}: table {table} held {} rows before the upgrade and {} after",
                old_rows.count, new_rows.count
            );
            // The same rows, by the primary key the old schema gave them.
            let now = keys(&db, table, &old_rows.key_columns).await;
            assert_eq!(now, old_rows.keys, "{name}: rows of {table} changed keys in the upgrade");
        }
        let versions: Vec<i64> = maintenance::applied_migrations(&db)
            .await
            .expect("migrations")
            .expect("table")
            .iter()
            .filter(|m| m.success)
            .map(|m| m.version)
            .collect();
        let all: Vec<i64> = app::db::pool::MIGRATOR.iter().map(|m| m.version).collect();
        assert_eq!(versions, all, "{name}: every migration of this binary is applied");
        db.close().await;

        let (ok, stdout, stderr) = bakeoff_db(&["db", "check"], &path);
        assert!(
            ok && stdout.contains("up to date"),
            "{name}: db check after the upgrade:\n{stdout}\n{stderr}"
        );
    }
}

/// What the fixture holds, read with plain SQL before the upgrade.
struct Expected {
    run_id: i64,
    run_records: i64,
    dataset_id: i64,
    dataset_items: Vec<String>,
    closed_grades: i64,
    graded_by_both: usize,
}

async fn expected(path: &Path) -> Expected {
    let db = maintenance::open_existing(path).await.expect("open");
    let one = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&db)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        }
    };
    let run_id = one("SELECT id FROM runs WHERE name = 'fixture gemma'").await;
    let run_records =
        one("SELECT COUNT(*) FROM request_records r JOIN runs ON runs.id = r.run_id WHERE runs.name = 'fixture gemma' AND NOT r.warmup")
            .await;
    let dataset_id = one("SELECT id FROM datasets WHERE name = 'fixture-eight'").await;
    let dataset_items: Vec<String> = sqlx::query_scalar(
        "SELECT custom_id FROM dataset_items d JOIN datasets s ON s.id = d.dataset_id WHERE s.name = 'fixture-eight' ORDER BY idx",
    )
    .fetch_all(&db)
    .await
    .expect("items");
    let closed_grades = one("SELECT COUNT(*) FROM grades g JOIN queue_items i ON i.id = g.item_id JOIN queues q ON q.id = i.queue_id WHERE q.closed_at IS NOT NULL").await;
    let graded_by_both = one(
        "SELECT COUNT(*) FROM (SELECT i.custom_id, i.run_id FROM grades g JOIN queue_items i ON i.id = g.item_id \
         JOIN queues q ON q.id = i.queue_id JOIN users u ON u.id = g.user_id \
         WHERE q.closed_at IS NOT NULL AND u.name IN ('rev1', 'rev2') GROUP BY i.custom_id, i.run_id HAVING COUNT(DISTINCT g.user_id) = 2)",
    )
    .await;
    db.close().await;
    Expected {
        run_id,
        run_records,
        dataset_id,
        dataset_items,
        closed_grades,
        graded_by_both: usize::try_from(graded_by_both).expect("count"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_reads_an_upgraded_database_and_its_users_log_in() {
    for name in FIXTURES {
        let (dir, path) = copy_of(name);
        let want = expected(&path).await;
        assert!(
            want.run_records > 0 && want.closed_grades > 0 && want.graded_by_both > 0,
            "{name}: fixture data"
        );

        let db = app::db::connect(&path).await.expect("upgrade");
        // A run and its summary, stored as the old release wrote them.
        let run = app::db::runs::get(&db, want.run_id).await.expect("the run");
        assert_eq!(run.name, "fixture gemma");
        let summary = run.summary.clone().expect("its summary");
        assert_eq!(i64::try_from(summary.requests).expect("count"), want.run_records);
        assert!(summary.output_tokens_per_s > 0.0 && summary.e2e_ms.is_some(), "{summary:?}");
        let records = app::db::records::for_run(&db, want.run_id).await.expect("records");
        assert_eq!(i64::try_from(records.len()).expect("count"), want.run_records);
        assert!(records.iter().all(|r| !r.response.is_empty()), "answers kept");
        // A dataset's items, in order.
        let items = app::db::datasets::items(&db, want.dataset_id).await.expect("items");
        assert_eq!(items.iter().map(|i| i.custom_id.clone()).collect::<Vec<_>>(), want.dataset_items);
        // The closed queue's grades count, and the two reviewers' agreement is computed over them.
        assert_eq!(
            i64::try_from(app::db::queues::all_grades(&db).await.expect("grades").len()).expect("count"),
            want.closed_grades
        );
        let quality = app::api::quality::overview(&db).await.expect("quality overview");
        let agreement = quality
            .reviewers
            .iter()
            .find(|k| k.between == "rev1 and rev2" && k.what.starts_with("overall"))
            .unwrap_or_else(|| panic!("{name}: no agreement between rev1 and rev2: {:?}", quality.reviewers));
        assert_eq!(agreement.n, want.graded_by_both, "{agreement:?}");
        assert!(agreement.kappa.is_some(), "{agreement:?}");
        db.close().await;

        // A server on the upgraded file: the old users log in with their old passwords.
        let app = common::spawn_at(dir, common::fast_sim(), server::serve::OnRestart::Resume).await;
        let base = app.running.base_url();
        let boss = common::bearer_client(&base, "boss", FIXTURE_PASSWORD).await;
        let v: Value = boss
            .get(format!("{base}/api/runs/{}", want.run_id))
            .send()
            .await
            .expect("GET run")
            .json()
            .await
            .expect("json");
        assert_eq!(v["run"]["name"], "fixture gemma", "{v}");
        assert_eq!(v["run"]["summary"]["requests"].as_i64(), Some(want.run_records), "{v}");
        let page = boss
            .get(format!("{base}/runs/{}", want.run_id))
            .send()
            .await
            .expect("GET the run's page");
        assert_eq!(page.status(), 200);
        assert!(
            page.text().await.expect("html").contains("fixture gemma"),
            "the run's page shows it"
        );
        let wrong = reqwest::Client::new()
            .post(format!("{base}/api/token"))
            .json(&serde_json::json!({"name": "rev1", "password": "not the password"}))
            .send()
            .await
            .expect("POST /api/token");
        assert!(
            wrong.status().is_client_error(),
            "a wrong password is still refused: {}",
            wrong.status()
        );
        assert!(wrong.text().await.expect("body").contains("password"), "and says so");
        let rev1 = common::bearer_client(&base, "rev1", FIXTURE_PASSWORD).await;
        let runs = rev1.get(format!("{base}/api/runs")).send().await.expect("GET runs");
        assert_eq!(runs.status(), 200, "a reviewer reads the runs list");
        let text = runs.text().await.expect("body");
        assert!(text.contains("fixture llama") && text.contains("fixture cancelled"), "{text}");
    }
}
