//! Ids are never given twice (SQLite). A table whose key is `id INTEGER PRIMARY KEY` hands out
//! one more than the largest id it holds, so once the newest run (dataset, endpoint, user, token,
//! ...) is purged its id would go to the next one, and old links, bookmarks and audit entries
//! would name a different item. `AUTOINCREMENT` keeps the largest id ever given (in
//! `sqlite_sequence`) and never goes below it.
//!
//! SQLite cannot add `AUTOINCREMENT` to a table in place, and a migration cannot rebuild one:
//! sqlx runs each migration in a transaction, where `PRAGMA foreign_keys` cannot be turned off,
//! and dropping a parent table with foreign keys on deletes its children (`ON DELETE CASCADE`).
//! So [`keep_ids_unique`] runs after the migrations, on one connection with foreign keys off:
//! each such table is rebuilt as SQLite's documented procedure says (create the new table from
//! the stored definition, copy, drop, rename, recreate its indexes; views are dropped and
//! recreated around it), all in one transaction, with the foreign-key check before the commit.
//! It does nothing once every table has `AUTOINCREMENT`; a new database gets it on its first
//! start. Postgres identity columns never reuse ids.

use super::error::{DbError, DbResult};
use super::pool::{Backend, Db};
use sqlx::{Executor, Row};

/// Tables whose key is a plain `id INTEGER PRIMARY KEY` (without `AUTOINCREMENT`), with their
/// stored definitions.
async fn tables_to_fix(conn: &mut sqlx::AnyConnection) -> DbResult<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let name: String = r.get(0);
            let sql: String = r.get(1);
            with_autoincrement(&sql, &name).map(|_| (name, sql))
        })
        .collect())
}

/// The table definition `sql` as `CREATE TABLE "<new_name>" (...)` with `AUTOINCREMENT` after
/// its `id INTEGER PRIMARY KEY`; `None` when it has no such column or already has it.
pub fn with_autoincrement(sql: &str, new_name: &str) -> Option<String> {
    if sql.to_ascii_uppercase().contains("AUTOINCREMENT") {
        return None;
    }
    let open = sql.find('(')?;
    let body = &sql[open..];
    let upper = body.to_ascii_uppercase();
    const KEY: &str = "INTEGER PRIMARY KEY";
    let mut from = 0;
    while let Some(found) = upper[from..].find(KEY) {
        let at = from + found;
        // The column name before it: `id`, as a whole word.
        let before = body[..at].trim_end();
        let is_id = before.len() >= 2
            && before[before.len() - 2..].eq_ignore_ascii_case("id")
            && !before[..before.len() - 2]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let end = at + KEY.len();
        if is_id {
            return Some(format!(
                "CREATE TABLE \"{new_name}\" {}{KEY} AUTOINCREMENT{}",
                &body[..at],
                &body[end..]
            ));
        }
        from = end;
    }
    None
}

/// Give every SQLite table keyed by `id INTEGER PRIMARY KEY` the `AUTOINCREMENT` keyword (see
/// the module's note). Postgres: nothing to do.
pub async fn keep_ids_unique(db: &Db) -> DbResult<()> {
    if Backend::of_pool(db) != Backend::Sqlite {
        return Ok(());
    }
    let mut conn = db.acquire().await?;
    if tables_to_fix(&mut conn).await?.is_empty() {
        return Ok(());
    }
    // Outside a transaction: the pragma is a no-op inside one.
    conn.execute("PRAGMA foreign_keys = OFF").await?;
    let done = rebuild(&mut conn).await;
    if done.is_err() {
        let _ = conn.execute("ROLLBACK").await;
    }
    let back_on = conn.execute("PRAGMA foreign_keys = ON").await;
    done?;
    back_on?;
    Ok(())
}

async fn rebuild(conn: &mut sqlx::AnyConnection) -> DbResult<()> {
    conn.execute("BEGIN IMMEDIATE").await?;
    // Another server on the same file may have done it while this one waited for the lock.
    let tables = tables_to_fix(conn).await?;
    if tables.is_empty() {
        conn.execute("COMMIT").await?;
        return Ok(());
    }
    let broken_before = sqlx::query("PRAGMA foreign_key_check").fetch_all(&mut *conn).await?.len();
    let views: Vec<(String, String)> = sqlx::query("SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY rowid")
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (name, _) in &views {
        conn.execute(format!("DROP VIEW \"{name}\"").as_str()).await?;
    }
    for (name, sql) in &tables {
        let temp = format!("{name}__ids");
        let create =
            with_autoincrement(sql, &temp).ok_or_else(|| DbError::Conflict(format!("cannot read the definition of table {name}")))?;
        let extras: Vec<String> =
            sqlx::query("SELECT sql FROM sqlite_master WHERE tbl_name = $1 AND type IN ('index', 'trigger') AND sql IS NOT NULL")
                .bind(name)
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .map(|r| r.get(0))
                .collect();
        conn.execute(create.as_str()).await?;
        conn.execute(format!("INSERT INTO \"{temp}\" SELECT * FROM \"{name}\"").as_str())
            .await?;
        conn.execute(format!("DROP TABLE \"{name}\"").as_str()).await?;
        conn.execute(format!("ALTER TABLE \"{temp}\" RENAME TO \"{name}\"").as_str())
            .await?;
        for sql in extras {
            conn.execute(sql.as_str()).await?;
        }
    }
    for (_, sql) in &views {
        conn.execute(sql.as_str()).await?;
    }
    let broken_after = sqlx::query("PRAGMA foreign_key_check").fetch_all(&mut *conn).await?.len();
    if broken_after > broken_before {
        return Err(DbError::Conflict(format!(
            "rebuilding tables for unique ids would leave {} references pointing at nothing; nothing was changed",
            broken_after - broken_before
        )));
    }
    conn.execute("COMMIT").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_autoincrement_to_the_id_column_only() {
        let sql = "CREATE TABLE runs (\n    id               INTEGER PRIMARY KEY,\n    name TEXT, run_id INTEGER)";
        assert_eq!(
            with_autoincrement(sql, "runs__ids").as_deref(),
            Some("CREATE TABLE \"runs__ids\" (\n    id               INTEGER PRIMARY KEY AUTOINCREMENT,\n    name TEXT, run_id INTEGER)")
        );
        assert_eq!(
            with_autoincrement("CREATE TABLE x (run_id INTEGER PRIMARY KEY REFERENCES runs(id))", "y"),
            None,
            "a key named run_id is another table's id, not a counter"
        );
        assert_eq!(
            with_autoincrement("CREATE TABLE x (id INTEGER PRIMARY KEY AUTOINCREMENT)", "y"),
            None
        );
        assert_eq!(with_autoincrement("CREATE TABLE x (token_hash TEXT PRIMARY KEY)", "y"), None);
    }

    /// A database made by the migrations alone (as every database was before this change), with
    /// rows in parent and child tables, keeps every row and reference through the rebuild, and
    /// then never gives a purged run's id again.
    #[tokio::test]
    async fn an_existing_database_keeps_its_rows_and_stops_reusing_ids() {
        if std::env::var("BAKEOFF_TEST_PG").is_ok_and(|v| !v.trim().is_empty()) {
            return; // Postgres: identity columns, nothing to rebuild.
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("old.db");
        {
            sqlx::any::install_default_drivers();
            let url = format!("sqlite://{}?mode=rwc", path.display());
            let old = sqlx::any::AnyPoolOptions::new()
                .max_connections(1)
                .after_connect(|c, _| Box::pin(async move { c.execute("PRAGMA foreign_keys = ON").await.map(|_| ()) }))
                .connect(&url)
                .await
                .expect("open");
            super::super::pool::MIGRATOR.run(&old).await.expect("migrate");
            let mut c = old.acquire().await.expect("conn");
            assert_eq!(tables_to_fix(&mut c).await.expect("tables").len(), 14, "the tables as migrated");
            drop(c);
            seed_rows(&old).await;
            old.close().await;
        }
        let db = super::super::pool::connect(&path).await.expect("connect rebuilds");
        let mut c = db.acquire().await.expect("conn");
        assert!(
            tables_to_fix(&mut c).await.expect("tables").is_empty(),
            "every id table has AUTOINCREMENT"
        );
        drop(c);
        let count = |sql: &'static str| {
            let db = db.clone();
            async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&db).await.expect(sql) }
        };
        assert_eq!(count("SELECT COUNT(*) FROM runs").await, 2);
        assert_eq!(
            count("SELECT COUNT(*) FROM request_records").await,
            2,
            "children are not cascaded away"
        );
        assert_eq!(count("SELECT COUNT(*) FROM dataset_items").await, 1);
        assert_eq!(count("SELECT COUNT(*) FROM endpoint_gpus").await, 1, "the view is back");
        assert!(sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&db)
            .await
            .expect("check")
            .is_empty());
        let ok: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&db)
            .await
            .expect("integrity");
        assert_eq!(ok, "ok");
        // Purge the newest run: the next run gets a new id, not its id again.
        let newest = count("SELECT MAX(id) FROM runs").await;
        sqlx::query("DELETE FROM runs WHERE id = $1")
            .bind(newest)
            .execute(&db)
            .await
            .expect("purge");
        assert_eq!(
            count("SELECT COUNT(*) FROM request_records").await,
            1,
            "foreign keys are on again: cascade"
        );
        let next = insert_run(&db).await;
        assert!(next > newest, "purged id {newest} given again as {next}");
        // A second start changes nothing.
        db.close().await;
        let again = super::super::pool::connect(&path).await.expect("second start");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM runs")
            .fetch_one(&again)
            .await
            .expect("runs");
        assert_eq!(n, 2);
    }

    async fn insert_run(db: &Db) -> i64 {
        sqlx::query_scalar(
            "INSERT INTO runs (name, status, endpoint_id, dataset_id, model, spec, total_requests) \
             VALUES ('r', 'completed', 1, 1, 'm', '{}', 1) RETURNING id",
        )
        .fetch_one(db)
        .await
        .expect("run")
    }

    async fn seed_rows(db: &Db) {
        for sql in [
            "INSERT INTO endpoints (id, name, base_url) VALUES (1, 'gpu', 'http://gpu:1')",
            "INSERT INTO datasets (id, name, source, item_count) VALUES (1, 'd', 'test', 1)",
            "INSERT INTO dataset_items (dataset_id, idx, custom_id, url, body) VALUES (1, 0, 'a', '/v1/completions', '{}')",
        ] {
            sqlx::query(sql).execute(db).await.expect(sql);
        }
        for _ in 0..2 {
            let run = insert_run(db).await;
            sqlx::query(
                "INSERT INTO request_records (run_id, idx, custom_id, warmup, outcome, sent_us, e2e_us, content_chunks, itl_us, response) \
                 VALUES ($1, 0, 'a', 0, 'ok', 0, 1, 1, x'', '')",
            )
            .bind(run)
            .execute(db)
            .await
            .expect("record");
        }
    }
}
