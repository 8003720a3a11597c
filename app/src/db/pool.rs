use super::error::DbResult;
use sqlx::any::AnyPoolOptions;
use std::path::Path;

/// The team's database: an SQLite file (the embedded default) or a Postgres server, through
/// sqlx's `Any` driver. One set of queries serves both (numbered `$N` parameters; Postgres gets
/// compatibility functions for the few SQLite functions the queries use, see
/// `migrations-pg/0001_init.sql`).
pub type Db = sqlx::AnyPool;

/// The migrations this binary carries, one set per backend: [`connect`] applies them, `bakeoff db
/// check` compares a database's applied ones with them.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
pub static MIGRATOR_PG: sqlx::migrate::Migrator = sqlx::migrate!("./migrations-pg");

/// Which database a `--db` value names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `postgres://` or `postgresql://` URLs name a Postgres server; anything else is a file path.
    pub fn of(target: &str) -> Backend {
        if target.starts_with("postgres://") || target.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// The backend of an open pool.
    pub fn of_pool(db: &Db) -> Backend {
        match db.connect_options().database_url.scheme() {
            "postgres" | "postgresql" => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// The backend of an open connection (a transaction's).
    pub fn of_conn(c: &sqlx::AnyConnection) -> Backend {
        if c.backend_name().eq_ignore_ascii_case("postgresql") || c.backend_name().eq_ignore_ascii_case("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    pub fn migrator(self) -> &'static sqlx::migrate::Migrator {
        match self {
            Backend::Sqlite => &MIGRATOR,
            Backend::Postgres => &MIGRATOR_PG,
        }
    }
}

/// Open the database `--db` names and apply the embedded migrations: an SQLite file (created if
/// needed, in WAL mode) or a `postgres://` URL.
pub async fn connect(target: &Path) -> DbResult<Db> {
    sqlx::any::install_default_drivers();
    let text = target.to_string_lossy().to_string();
    let backend = Backend::of(&text);
    let pool = match backend {
        Backend::Postgres => {
            // No prepared-statement cache: sqlx's Any driver types a NULL double as a float4, and a
            // statement prepared with a NULL there then refuses a value (a plan per query is cheap
            // at Bakeoff's query rates).
            let url = if text.contains("statement-cache-capacity") {
                text.clone()
            } else {
                format!("{text}{}statement-cache-capacity=0", if text.contains('?') { '&' } else { '?' })
            };
            AnyPoolOptions::new().max_connections(8).connect(&url).await?
        }
        Backend::Sqlite => {
            if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| sqlx::Error::Configuration(format!("cannot create {}: {e}", dir.display()).into()))?;
            }
            let url = sqlite_url(target, "rwc");
            AnyPoolOptions::new()
                .max_connections(8)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        use sqlx::Executor;
                        // WAL: readers never wait for the writer; NORMAL sync is safe in WAL;
                        // foreign keys on; a writer waits up to 10 s for the write lock.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                        )
                        .await?;
                        Ok(())
                    })
                })
                .connect(&url)
                .await?
        }
    };
    backend.migrator().run(&pool).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::VersionMissing(v) => super::DbError::Conflict(format!(
            "the database was upgraded by a newer Bakeoff: it has migration {v}, which this binary does not know. \
             Run that release (or a later one) on it, or restore the backup taken before the upgrade"
        )),
        other => other.into(),
    })?;
    super::ids::keep_ids_unique(&pool).await?;
    Ok(pool)
}

/// A fresh, migrated database for a test: an SQLite file in `dir`, or, when `BAKEOFF_TEST_PG`
/// names a Postgres server (`postgres://user@host:port/db`), a new database of its own there.
/// The database test suite runs once on each backend this way (`scripts/test.sh`).
pub async fn test_db(dir: &Path) -> DbResult<Db> {
    connect(&test_target(dir, "t.db").await?).await
}

/// The `--db` value of a fresh database for a test (see [`test_db`]): the file `dir/name`, or a
/// new, empty Postgres database's URL when `BAKEOFF_TEST_PG` is set.
pub async fn test_target(dir: &Path, name: &str) -> DbResult<std::path::PathBuf> {
    match std::env::var("BAKEOFF_TEST_PG") {
        Ok(url) if !url.trim().is_empty() => new_pg_database(&url).await,
        _ => Ok(dir.join(name)),
    }
}

/// A new, empty database on the Postgres server of `url` (a URL naming any database there, the
/// user allowed to create databases); returns its URL. For tests and benchmarks.
pub async fn new_pg_database(url: &str) -> DbResult<std::path::PathBuf> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    sqlx::any::install_default_drivers();
    let db = format!(
        "bakeoff_t_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let base = url.trim();
    let admin = AnyPoolOptions::new().max_connections(1).connect(base).await?;
    sqlx::query(&format!("CREATE DATABASE {db}")).execute(&admin).await?;
    admin.close().await;
    let cut = base.rfind('/').filter(|&i| i > "postgres://".len()).unwrap_or(base.len());
    Ok(std::path::PathBuf::from(format!("{}/{db}", &base[..cut])))
}

/// A `--db` value fit to print: a Postgres URL without its password.
pub fn redacted(target: &str) -> String {
    let target = &hide_query_password(target);
    match (Backend::of(target), target.find("://"), target.rfind('@')) {
        (Backend::Postgres, Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &target[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &target[..scheme + 3], &target[at..]),
                None => target.to_string(),
            }
        }
        _ => target.to_string(),
    }
}

/// `?password=...` in a Postgres URL's query, hidden too.
fn hide_query_password(target: &str) -> String {
    let Some((base, query)) = target.split_once('?') else {
        return target.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => p.to_string(),
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

/// An SQLite URL for a file path (`mode`: `rwc` creates it, `rw` does not).
pub fn sqlite_url(path: &Path, mode: &str) -> String {
    let text = path.to_string_lossy();
    let encoded: String = text
        .chars()
        .map(|c| match c {
            '?' => "%3F".to_string(),
            '#' => "%23".to_string(),
            '%' => "%25".to_string(),
            c => c.to_string(),
        })
        .collect();
    format!("sqlite://{encoded}?mode={mode}")
}

/// Begin a transaction that writes. On SQLite it takes the write lock at its start (`BEGIN
/// IMMEDIATE`), waiting its turn under the busy timeout. A plain `BEGIN` that reads first and
/// writes later must upgrade its lock, and that upgrade fails at once with "database is locked"
/// (no waiting is possible then) whenever another connection is writing, as a running run's
/// records and progress do all the time. Every transaction in `db/` writes, so all begin here.
/// Postgres locks rows as they are written: a plain `BEGIN`.
pub async fn write_tx(db: &Db) -> DbResult<sqlx::Transaction<'static, sqlx::Any>> {
    Ok(match Backend::of_pool(db) {
        Backend::Sqlite => db.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => db.begin().await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read, then write what was read: the pattern of most transactions here (check a state,
    /// then change it). Two connections doing it at once, 40 times each, while a third writes
    /// without pause as a run does. With a plain `BEGIN` a transaction whose snapshot went stale
    /// while it read fails at once with "database is locked"; with [`write_tx`] each waits its
    /// turn and no increment is lost.
    #[test]
    fn a_postgres_url_is_printed_without_its_password() {
        assert_eq!(
            redacted("postgres://bk:s3cret@db.lan:5432/bakeoff"),
            "postgres://bk:***@db.lan:5432/bakeoff"
        );
        assert_eq!(redacted("postgres://bk@db.lan/bakeoff"), "postgres://bk@db.lan/bakeoff");
        assert_eq!(redacted("data/bakeoff.db"), "data/bakeoff.db");
        assert_eq!(
            redacted("postgres://bk@db.lan/bakeoff?sslmode=require&password=s3cret"),
            "postgres://bk@db.lan/bakeoff?sslmode=require&password=***"
        );
        assert_eq!(Backend::of("postgresql://x/y"), Backend::Postgres);
        assert_eq!(Backend::of("postgres.db"), Backend::Sqlite);
    }

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
