//! The database as a file, for `bakeoff db backup` and `bakeoff db check`: open one as it is (not
//! created, not migrated), copy it while others write to it, and check it.

use super::error::{DbError, DbResult};
use super::Db;
use std::path::Path;

/// Open an existing database file as it is: not created, not migrated, its journal mode left as
/// it is (a database `serve` is using stays in WAL mode and is read alongside it).
pub async fn open_existing(path: &Path) -> DbResult<Db> {
    if !path.is_file() {
        return Err(DbError::NotFound(format!("no database file at {}", path.display())));
    }
    sqlx::any::install_default_drivers();
    let url = super::pool::sqlite_url(path, "rw");
    Ok(sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(|conn, _| {
            Box::pin(async move {
                use sqlx::Executor;
                conn.execute("PRAGMA busy_timeout = 30000").await?;
                Ok(())
            })
        })
        .connect(&url)
        .await?)
}

/// Copy the whole database into `dest`, a file that must not exist yet (SQLite's `VACUUM INTO`).
/// The copy is made in one read transaction, so it holds exactly what was committed when it
/// began: in WAL mode writers go on meanwhile and nothing waits for the copy. The copy is compact
/// (no free pages) and in rollback-journal mode; `connect` turns it to WAL when it is opened.
pub async fn vacuum_into(db: &Db, dest: &Path) -> DbResult<()> {
    let dest = dest
        .to_str()
        .ok_or_else(|| DbError::Conflict(format!("{} is not a UTF-8 path: choose another name", dest.display())))?;
    sqlx::query("VACUUM INTO $1").bind(dest).execute(db).await?;
    Ok(())
}

/// `PRAGMA integrity_check`: empty when the file is sound, else SQLite's findings (at most 100).
pub async fn integrity_problems(db: &Db) -> DbResult<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as("PRAGMA integrity_check(100)").fetch_all(db).await?;
    Ok(rows.into_iter().map(|(r,)| r).filter(|r| r != "ok").collect())
}

/// A row whose reference points at nothing (`PRAGMA foreign_key_check`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DanglingReference {
    pub table: String,
    pub rowid: Option<i64>,
    pub parent: String,
}

pub async fn dangling_references(db: &Db) -> DbResult<Vec<DanglingReference>> {
    let rows: Vec<(String, Option<i64>, String, i64)> = sqlx::query_as("PRAGMA foreign_key_check").fetch_all(db).await?;
    Ok(rows
        .into_iter()
        .map(|(table, rowid, parent, _)| DanglingReference { table, rowid, parent })
        .collect())
}

/// A migration as the database recorded it when it was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i64,
    pub description: String,
    pub success: bool,
    pub checksum: Vec<u8>,
}

/// The migrations applied to this database (`None`: it has no migrations table, so Bakeoff
/// never opened it).
pub async fn applied_migrations(db: &Db) -> DbResult<Option<Vec<AppliedMigration>>> {
    let has_table: Option<(String,)> = sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
        .fetch_optional(db)
        .await?;
    if has_table.is_none() {
        return Ok(None);
    }
    let rows: Vec<(i64, String, super::Flag, Vec<u8>)> =
        sqlx::query_as("SELECT version, description, CASE WHEN success THEN 1 ELSE 0 END, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(db)
            .await?;
    Ok(Some(
        rows.into_iter()
            .map(|(version, description, success, checksum)| AppliedMigration {
                version,
                description,
                success: success.0,
                checksum,
            })
            .collect(),
    ))
}

/// Every table with its row count, by name (`_sqlx_migrations` included, SQLite's own not).
pub async fn table_counts(db: &Db) -> DbResult<Vec<(String, i64)>> {
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .fetch_all(db)
            .await?;
    let mut out = Vec::with_capacity(names.len());
    for (name,) in names {
        // A table name from sqlite_master, quoted as an identifier.
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM \"{}\"", name.replace('"', "\"\"")))
            .fetch_one(db)
            .await?;
        out.push((name, n));
    }
    Ok(out)
}
