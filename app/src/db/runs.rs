use super::error::{json, to_json, DbError, DbResult};
use super::leases::NOW;
use super::Db;
use crate::api::types::RunView;
use crate::domain::spec::RunSpec;
use crate::domain::status::RunStatus;
use crate::domain::summary::RunSummary;

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    name: String,
    status: RunStatus,
    model: String,
    endpoint_name: Option<String>,
    dataset_name: Option<String>,
    simulated: bool,
    sweep_id: Option<i64>,
    spec: String,
    total_requests: i64,
    done_requests: i64,
    error: Option<String>,
    summary: Option<String>,
    provenance: Option<String>,
    resumed: bool,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    lease_host: Option<String>,
    lease_pid: Option<i64>,
    takeovers: i64,
    takeover_note: Option<String>,
}

impl Row {
    fn view(self) -> DbResult<RunView> {
        Ok(RunView {
            id: self.id,
            name: self.name,
            status: self.status,
            model: self.model,
            endpoint_name: self.endpoint_name.unwrap_or_default(),
            dataset_name: self.dataset_name.unwrap_or_default(),
            simulated: self.simulated,
            sweep_id: self.sweep_id,
            // Imported runs carry no spec ("null").
            spec: json::<Option<RunSpec>>("run spec", &self.spec)?,
            total_requests: self.total_requests,
            done_requests: self.done_requests,
            error: self.error,
            summary: self.summary.as_deref().map(|s| json("run summary", s)).transpose()?,
            provenance: self.provenance,
            resumed: self.resumed,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            worker: self.lease_host.map(|host| match self.lease_pid {
                Some(pid) => format!("{host} (pid {pid})"),
                None => host,
            }),
            takeovers: self.takeovers,
            takeover_note: self.takeover_note,
        })
    }
}

const SELECT: &str = "SELECT r.id, r.name, r.status, r.model, e.name AS endpoint_name, d.name AS dataset_name, r.simulated, r.sweep_id, \
     r.spec, r.total_requests, (SELECT COUNT(*) FROM request_records q WHERE q.run_id = r.id) AS done_requests, r.error, r.summary, \
     r.provenance, r.resumed, r.created_at, r.started_at, r.finished_at, r.lease_host, r.lease_pid, r.takeovers, r.takeover_note \
     FROM runs r LEFT JOIN endpoints e ON e.id = r.endpoint_id LEFT JOIN datasets d ON d.id = r.dataset_id";

pub async fn list(db: &Db) -> DbResult<Vec<RunView>> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} ORDER BY r.id DESC")).fetch_all(db).await?;
    rows.into_iter().map(Row::view).collect()
}

pub async fn get(db: &Db, id: i64) -> DbResult<RunView> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE r.id = ?"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.ok_or_else(|| DbError::NotFound(format!("run {id}")))?.view()
}

/// Queue a run (status `queued`). The worker picks it up from the database.
pub async fn insert(db: &Db, spec: &RunSpec, simulated: bool, sweep_id: Option<i64>) -> DbResult<i64> {
    let name = if spec.name.is_empty() {
        spec.model.clone()
    } else {
        spec.name.clone()
    };
    let r = sqlx::query(
        "INSERT INTO runs (name, status, endpoint_id, dataset_id, model, spec, simulated, sweep_id, total_requests) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(name)
    .bind(RunStatus::Queued)
    .bind(spec.endpoint_id)
    .bind(spec.dataset_id)
    .bind(&spec.model)
    .bind(to_json(spec))
    .bind(simulated)
    .bind(sweep_id)
    .bind(i64::from(spec.requests) + i64::from(spec.warmup))
    .execute(db)
    .await?;
    Ok(r.last_insert_rowid())
}

/// Queue several runs as one sweep (all or none). The sweep id is the first run's id.
pub async fn insert_sweep(db: &Db, specs: &[RunSpec], simulated: bool) -> DbResult<Vec<i64>> {
    let mut tx = db.begin().await?;
    let mut ids = Vec::new();
    for spec in specs {
        let r = sqlx::query(
            "INSERT INTO runs (name, status, endpoint_id, dataset_id, model, spec, simulated, total_requests) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&spec.name)
        .bind(RunStatus::Queued)
        .bind(spec.endpoint_id)
        .bind(spec.dataset_id)
        .bind(&spec.model)
        .bind(to_json(spec))
        .bind(simulated)
        .bind(i64::from(spec.requests) + i64::from(spec.warmup))
        .execute(&mut *tx)
        .await?;
        ids.push(r.last_insert_rowid());
    }
    if let Some(first) = ids.first() {
        sqlx::query(&format!(
            "UPDATE runs SET sweep_id = ? WHERE id IN ({})",
            ids.iter().map(|_| "?").collect::<Vec<_>>().join(",")
        ))
        .bind(first)
        .bind_all(&ids)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(ids)
}

trait BindAll<'q> {
    fn bind_all(self, ids: &'q [i64]) -> Self;
}
impl<'q> BindAll<'q> for sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    fn bind_all(mut self, ids: &'q [i64]) -> Self {
        for id in ids {
            self = self.bind(*id);
        }
        self
    }
}

/// Store a run measured elsewhere (status `imported`), with its records if the file had them,
/// in one transaction.
pub async fn insert_imported(db: &Db, run: &crate::domain::import::ImportedRun, dataset_id: Option<i64>) -> DbResult<i64> {
    let mut tx = db.begin().await?;
    let r = sqlx::query(
        "INSERT INTO runs (name, status, dataset_id, model, spec, total_requests, summary, provenance, started_at, finished_at) \
         VALUES (?, 'imported', ?, ?, 'null', ?, ?, ?, ?, ?)",
    )
    .bind(&run.name)
    .bind(dataset_id)
    .bind(&run.model)
    .bind(run.summary.requests as i64)
    .bind(to_json(&run.summary))
    .bind(to_json(&run.provenance))
    .bind(&run.provenance.timestamp)
    .bind(&run.provenance.timestamp)
    .execute(&mut *tx)
    .await?;
    let id = r.last_insert_rowid();
    super::records::insert_batch_tx(&mut tx, id, &run.records).await?;
    tx.commit().await?;
    Ok(id)
}

/// The provenance of an imported run.
pub async fn provenance(db: &Db, id: i64) -> DbResult<Option<crate::domain::import::Provenance>> {
    let text: Option<Option<String>> = sqlx::query_scalar("SELECT provenance FROM runs WHERE id = ?")
        .bind(id)
        .fetch_optional(db)
        .await?;
    text.flatten().map(|t| json("provenance", &t)).transpose()
}

/// A run the worker has taken: its id and what to do.
pub struct Claimed {
    pub id: i64,
    pub spec: RunSpec,
    pub simulated: bool,
    /// True when the run had started before (a restart resumes it).
    pub resumed: bool,
    /// This claim took the run over from a worker whose lease expired: what happened.
    pub taken_over: Option<String>,
}

pub async fn status(db: &Db, id: i64) -> DbResult<RunStatus> {
    let s: Option<RunStatus> = sqlx::query_scalar("SELECT status FROM runs WHERE id = ?")
        .bind(id)
        .fetch_optional(db)
        .await?;
    s.ok_or_else(|| DbError::NotFound(format!("run {id}")))
}

/// Ask a run to stop. A queued run is cancelled at once, and so is a running one whose lease
/// expired (its worker died); a running one under a live lease when its worker sees the flag
/// (within a second), or when its lease expires. Returns the status after the request.
pub async fn request_cancel(db: &Db, id: i64) -> DbResult<RunStatus> {
    let current = status(db, id).await?;
    match current {
        RunStatus::Queued => {
            sqlx::query("UPDATE runs SET status = 'cancelled', finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ? AND status = 'queued'")
                .bind(id)
                .execute(db)
                .await?;
            status(db, id).await
        }
        RunStatus::Running => {
            // Nobody renews an expired lease, so nobody would see the flag: cancel it now.
            let r = sqlx::query(&format!(
                "UPDATE runs SET status = 'cancelled', cancel_requested = 1, lease_expires_at = NULL, \
                 finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') \
                 WHERE id = ? AND status = 'running' AND COALESCE(lease_expires_at, 0) < {NOW}"
            ))
            .bind(id)
            .execute(db)
            .await?;
            if r.rows_affected() == 1 {
                return Ok(RunStatus::Cancelled);
            }
            sqlx::query("UPDATE runs SET cancel_requested = 1 WHERE id = ?")
                .bind(id)
                .execute(db)
                .await?;
            Ok(RunStatus::Running)
        }
        other => Err(DbError::Conflict(format!("run {id} is already {other}"))),
    }
}

pub async fn cancel_requested(db: &Db, id: i64) -> DbResult<bool> {
    Ok(sqlx::query_scalar("SELECT cancel_requested FROM runs WHERE id = ?")
        .bind(id)
        .fetch_optional(db)
        .await?
        .unwrap_or(false))
}

/// Close a run with its final status, summary and error, and end the lease. Only the lease's
/// `owner` closes it: false when the lease was taken over meanwhile (the run is not closed).
pub async fn finish(db: &Db, id: i64, owner: &str, status: RunStatus, summary: Option<&RunSummary>, error: Option<&str>) -> DbResult<bool> {
    let r = sqlx::query(
        "UPDATE runs SET status = ?, summary = ?, error = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), lease_expires_at = NULL \
         WHERE id = ? AND lease_owner = ?",
    )
    .bind(status)
    .bind(summary.map(to_json))
    .bind(error)
    .bind(id)
    .bind(owner)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Store a fresh summary without changing the status (e.g. recomputed after a definition fix).
pub async fn set_summary(db: &Db, id: i64, summary: &RunSummary) -> DbResult<()> {
    sqlx::query("UPDATE runs SET summary = ? WHERE id = ?")
        .bind(to_json(summary))
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}
