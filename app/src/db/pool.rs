use super::error::DbResult;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

pub type Db = SqlitePool;

/// The migrations this binary carries: [`connect`] applies them, `bakeoff db check` compares a
/// database's applied ones with them.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Open (creating if needed) the database file, in WAL mode, and apply the embedded migrations.
pub async fn connect(path: &Path) -> DbResult<Db> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| sqlx::Error::Configuration(format!("cannot create {}: {e}", dir.display()).into()))?;
    }
    let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(opts).await?;
    MIGRATOR.run(&pool).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::VersionMissing(v) => super::DbError::Conflict(format!(
            "the database was upgraded by a newer Bakeoff: it has migration {v}, which this binary does not know. \
             Run that release (or a later one) on it, or restore the backup taken before the upgrade"
        )),
        other => other.into(),
    })?;
    Ok(pool)
}

/// Begin a transaction that writes. It takes SQLite's write lock at its start (`BEGIN
/// IMMEDIATE`), waiting its turn under the busy timeout. A plain `BEGIN` that reads first and
/// writes later must upgrade its lock, and that upgrade fails at once with "database is locked"
/// (no waiting is possible then) whenever another connection is writing, as a running run's
/// records and progress do all the time. Every transaction in `db/` writes, so all begin here.
pub async fn write_tx(db: &Db) -> DbResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
    Ok(db.begin_with("BEGIN IMMEDIATE").await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read, then write what was read: the pattern of most transactions here (check a state,
    /// then change it). Two connections doing it at once, 40 times each, while a third writes
    /// without pause as a run does. With a plain `BEGIN` a transaction whose snapshot went stale
    /// while it read fails at once with "database is locked"; with [`write_tx`] each waits its
    /// turn and no increment is lost.
    #[tokio::test]
    async fn transactions_that_read_then_write_wait_their_turn_instead_of_failing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = connect(&dir.path().join("t.db")).await.expect("connect + migrate");
        sqlx::query("CREATE TABLE counter (n INTEGER NOT NULL)").execute(&db).await.unwrap();
        sqlx::query("CREATE TABLE noise (x INTEGER NOT NULL)").execute(&db).await.unwrap();
        sqlx::query("INSERT INTO counter (n) VALUES (0)").execute(&db).await.unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let noise = {
            let (db, stop) = (db.clone(), stop.clone());
            tokio::spawn(async move {
                let mut writes = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    sqlx::query("INSERT INTO noise (x) VALUES (1)")
                        .execute(&db)
                        .await
                        .expect("noise write");
                    writes += 1;
                    tokio::task::yield_now().await;
                }
                writes
            })
        };
        let bump = |db: Db| async move {
            for _ in 0..40 {
                let mut tx = write_tx(&db).await.map_err(|e| e.to_string())?;
                let n: i64 = sqlx::query_scalar("SELECT n FROM counter")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::task::yield_now().await;
                sqlx::query("UPDATE counter SET n = $1")
                    .bind(n + 1)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| e.to_string())?;
                tx.commit().await.map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        };
        let (a, b) = tokio::join!(tokio::spawn(bump(db.clone())), tokio::spawn(bump(db.clone())));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        a.unwrap().expect("first writer never sees 'database is locked'");
        b.unwrap().expect("second writer never sees 'database is locked'");
        assert!(noise.await.unwrap() > 0, "the third connection wrote meanwhile");
        let n: i64 = sqlx::query_scalar("SELECT n FROM counter").fetch_one(&db).await.unwrap();
        assert_eq!(n, 80, "no increment lost");
    }
}
