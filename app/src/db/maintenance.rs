//! The database as it is, for `bakeoff db backup` and `bakeoff db check`: open one as it is (not
//! created, not migrated), copy it while others write to it (SQLite), and check it (either
//! backend: migrations, rows per table, references that point at nothing).

use super::error::{DbError, DbResult};
use super::pool::Backend;
use super::Db;
use std::path::Path;

/// Open an existing database as it is: not created, not migrated. An SQLite file keeps its
/// journal mode (a database `serve` is using stays in WAL mode and is read alongside it); a
/// `postgres://` URL is connected to (the database must exist).
pub async fn open_existing(path: &Path) -> DbResult<Db> {
    let text = path.to_string_lossy();
    if Backend::of(&text) == Backend::Postgres {
        sqlx::any::install_default_drivers();
        // As `pool::connect`: no prepared-statement cache (see there).
        let url = if text.contains("statement-cache-capacity") {
            text.to_string()
        } else {
            format!("{text}{}statement-cache-capacity=0", if text.contains('?') { '&' } else { '?' })
        };
        return Ok(sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await?);
    }
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
    let postgres = Backend::of_pool(db) == Backend::Postgres;
    let has_table: Option<(String,)> = sqlx::query_as(if postgres {
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() AND tablename = '_sqlx_migrations'"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
    })
    .fetch_optional(db)
    .await?;
    if has_table.is_none() {
        return Ok(None);
    }
    // Postgres keeps `success` as a BOOLEAN, SQLite as 0/1: both decode as a Flag.
    let rows: Vec<(i64, String, super::Flag, Vec<u8>)> = sqlx::query_as(if postgres {
        "SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY version"
    } else {
        "SELECT version, description, CASE WHEN success THEN 1 ELSE 0 END, checksum FROM _sqlx_migrations ORDER BY version"
    })
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

/// Every table with its row count, by name (`_sqlx_migrations` included, SQLite's own not; on
/// Postgres the tables of the connection's schema).
pub async fn table_counts(db: &Db) -> DbResult<Vec<(String, i64)>> {
    let mut names: Vec<(String,)> = sqlx::query_as(match Backend::of_pool(db) {
        Backend::Postgres => "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    })
    .fetch_all(db)
    .await?;
    // Sorted here, the same way on both (a database's collation may not be bytewise).
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for (name,) in names {
        // A table name from the catalogue, quoted as an identifier.
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM \"{}\"", name.replace('"', "\"\"")))
            .fetch_one(db)
            .await?;
        out.push((name, n));
    }
    Ok(out)
}

/// Rows of `table` whose reference to `parent` points at nothing: how many.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Orphans {
    pub table: String,
    pub parent: String,
    pub rows: i64,
}

/// Every reference that points at nothing, counted per (table, parent table), by name. SQLite:
/// `PRAGMA foreign_key_check` (a file written with foreign keys off may hold some). Postgres
/// enforces its foreign keys on every write, so this finds rows only where they were bypassed
/// (triggers disabled, `session_replication_role = replica`, a bad restore): each foreign key
/// of the schema is checked with one anti-join (indexed on the parent's key).
pub async fn orphans(db: &Db) -> DbResult<Vec<Orphans>> {
    let mut out: Vec<Orphans> = Vec::new();
    match Backend::of_pool(db) {
        Backend::Sqlite => {
            for d in dangling_references(db).await? {
                match out.iter_mut().find(|o| o.table == d.table && o.parent == d.parent) {
                    Some(o) => o.rows += 1,
                    None => out.push(Orphans {
                        table: d.table,
                        parent: d.parent,
                        rows: 1,
                    }),
                }
            }
        }
        Backend::Postgres => {
            // (table, parent, its columns, the parent's columns), comma-separated in key order.
            let keys: Vec<(String, String, String, String)> = sqlx::query_as(
                "SELECT t.relname::text, p.relname::text, \
                   (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY k(att, n) \
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.att), \
                   (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) FROM unnest(c.confkey) WITH ORDINALITY k(att, n) \
                      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.att) \
                 FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class p ON p.oid = c.confrelid \
                 JOIN pg_namespace s ON s.oid = t.relnamespace \
                 WHERE c.contype = 'f' AND s.nspname = current_schema()",
            )
            .fetch_all(db)
            .await?;
            for (table, parent, cols, parent_cols) in keys {
                let q = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
                let pairs: Vec<(&str, &str)> = cols.split(',').zip(parent_cols.split(',')).collect();
                // MATCH SIMPLE: a reference with a NULL in it refers to nothing and is not checked.
                let set = pairs
                    .iter()
                    .map(|(c, _)| format!("c.{} IS NOT NULL", q(c)))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let joined = pairs
                    .iter()
                    .map(|(c, p)| format!("p.{} = c.{}", q(p), q(c)))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let (rows,): (i64,) = sqlx::query_as(&format!(
                    "SELECT COUNT(*) FROM {} c WHERE {set} AND NOT EXISTS (SELECT 1 FROM {} p WHERE {joined})",
                    q(&table),
                    q(&parent)
                ))
                .fetch_one(db)
                .await?;
                if rows > 0 {
                    match out.iter_mut().find(|o| o.table == table && o.parent == parent) {
                        Some(o) => o.rows += rows,
                        None => out.push(Orphans { table, parent, rows }),
                    }
                }
            }
        }
    }
    out.sort_by(|a, b| (&a.table, &a.parent).cmp(&(&b.table, &b.parent)));
    Ok(out)
}

/// Postgres: whether the cluster keeps data checksums (`on`/`off`), and the database's size in
/// bytes.
pub async fn postgres_facts(db: &Db) -> DbResult<(String, i64)> {
    Ok(
        sqlx::query_as("SELECT current_setting('data_checksums'), pg_database_size(current_database())")
            .fetch_one(db)
            .await?,
    )
}

#[cfg(test)]
mod tests;
