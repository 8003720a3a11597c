//! The worker processes sharing this database, and the model servers they started. A worker
//! renews its row like a lease so that a start-up can name the others that are alive; a model
//! server is written down when it is spawned so that, if its worker dies, the next worker on
//! that host stops it before anything is relaunched.

use super::error::DbResult;
use super::leases::{Holder, NOW};
use super::Db;

/// Say this worker is alive (insert or renew its row); forget rows silent for a day.
pub async fn beat(db: &Db, who: &Holder, kind: &str) -> DbResult<()> {
    sqlx::query(&format!(
        "INSERT INTO workers (id, kind, host, pid, seen_at) VALUES (?, ?, ?, ?, {NOW}) \
         ON CONFLICT(id) DO UPDATE SET seen_at = excluded.seen_at"
    ))
    .bind(&who.owner)
    .bind(kind)
    .bind(&who.host)
    .bind(who.pid)
    .execute(db)
    .await?;
    sqlx::query(&format!("DELETE FROM workers WHERE seen_at < {NOW} - 86400"))
        .execute(db)
        .await?;
    Ok(())
}

/// Where this worker's built-in simulator listens (another serve may point the built-in
/// endpoint there).
pub async fn set_sim_url(db: &Db, owner: &str, url: &str) -> DbResult<()> {
    sqlx::query("UPDATE workers SET sim_url = ? WHERE id = ?")
        .bind(url)
        .bind(owner)
        .execute(db)
        .await?;
    Ok(())
}

/// A clean stop: this worker is gone.
pub async fn leave(db: &Db, owner: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM workers WHERE id = ?").bind(owner).execute(db).await?;
    Ok(())
}

/// Another worker process, as its row says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerRow {
    pub kind: String,
    pub host: String,
    pub pid: i64,
    pub started_at: String,
    pub seen_s_ago: i64,
    pub sim_url: Option<String>,
}

/// Workers other than `owner` seen within the last `within_s` seconds.
pub async fn others(db: &Db, owner: &str, within_s: i64) -> DbResult<Vec<WorkerRow>> {
    type WorkerTuple = (String, String, i64, String, i64, Option<String>);
    let rows: Vec<WorkerTuple> = sqlx::query_as(&format!(
        "SELECT kind, host, pid, started_at, {NOW} - seen_at, sim_url FROM workers WHERE id <> ? AND seen_at >= {NOW} - ? ORDER BY started_at"
    ))
    .bind(owner)
    .bind(within_s)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(kind, host, pid, started_at, seen_s_ago, sim_url)| WorkerRow {
            kind,
            host,
            pid,
            started_at,
            seen_s_ago,
            sim_url,
        })
        .collect())
}

/// A model server (a managed launch's process group) a worker started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelServer {
    pub id: i64,
    pub run_id: i64,
    pub boot_id: String,
    pub pgid: i64,
    /// The leader's start time in clock ticks after boot (`/proc/PID/stat`), when known.
    pub start_ticks: Option<i64>,
    pub command: String,
}

/// Write down a model server as soon as it is spawned.
pub async fn add_model_server(db: &Db, run_id: i64, host: &str, s: &ModelServer) -> DbResult<i64> {
    let r = sqlx::query("INSERT INTO model_servers (run_id, host, boot_id, pgid, start_ticks, command) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(run_id)
        .bind(host)
        .bind(&s.boot_id)
        .bind(s.pgid)
        .bind(s.start_ticks)
        .bind(&s.command)
        .execute(db)
        .await?;
    Ok(r.last_insert_rowid())
}

pub async fn model_server_stopped(db: &Db, id: i64) -> DbResult<()> {
    sqlx::query("UPDATE model_servers SET stopped_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Model servers started on `host` and not known to be stopped, whose run no live lease of
/// another worker holds (those belong to a worker that is alive), optionally of one run only.
pub async fn unstopped_model_servers(db: &Db, host: &str, owner: &str, run_id: Option<i64>) -> DbResult<Vec<ModelServer>> {
    let rows: Vec<(i64, i64, String, i64, Option<i64>, String)> = sqlx::query_as(&format!(
        "SELECT m.id, m.run_id, m.boot_id, m.pgid, m.start_ticks, m.command FROM model_servers m JOIN runs r ON r.id = m.run_id \
         WHERE m.stopped_at IS NULL AND m.host = ? AND (? IS NULL OR m.run_id = ?) \
         AND NOT (r.status = 'running' AND r.lease_owner IS NOT ? AND COALESCE(r.lease_expires_at, 0) >= {NOW}) ORDER BY m.id"
    ))
    .bind(host)
    .bind(run_id)
    .bind(run_id)
    .bind(owner)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, run_id, boot_id, pgid, start_ticks, command)| ModelServer {
            id,
            run_id,
            boot_id,
            pgid,
            start_ticks,
            command,
        })
        .collect())
}

/// For `/healthz`: how many workers beat within `within_s`, and the age in seconds of the
/// latest heartbeat of any worker (None: no worker ever beat), from the database's clock.
pub async fn health(db: &Db, within_s: i64) -> DbResult<(i64, Option<i64>)> {
    Ok(sqlx::query_as(
        "SELECT COUNT(CASE WHEN seen_at >= CAST(strftime('%s', 'now') AS INTEGER) - ?1 THEN 1 END), \
                CAST(strftime('%s', 'now') AS INTEGER) - MAX(seen_at) FROM workers",
    )
    .bind(within_s)
    .fetch_one(db)
    .await?)
}
