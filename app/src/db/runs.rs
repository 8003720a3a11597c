use super::error::{json, to_json, DbError, DbResult};
use super::leases::NOW;
use super::Db;
use crate::domain::spec::RunSpec;
use crate::domain::status::RunStatus;
use crate::domain::summary::RunSummary;
use crate::domain::views::RunView;

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    name: String,
    status: RunStatus,
    model: String,
    endpoint_name: Option<String>,
    dataset_name: Option<String>,
    #[sqlx(try_from = "crate::db::Flag")]
    simulated: bool,
    sweep_id: Option<i64>,
    spec: String,
    total_requests: i64,
    done_requests: i64,
    error: Option<String>,
    summary: Option<String>,
    provenance: Option<String>,
    #[sqlx(try_from = "crate::db::Flag")]
    resumed: bool,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    lease_host: Option<String>,
    lease_pid: Option<i64>,
    lease_worker: Option<String>,
    takeovers: i64,
    takeover_note: Option<String>,
    created_by: Option<String>,
    conditions: Option<String>,
    job: Option<String>,
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
            // A `bakeoff worker` is named too: "gpu-a-worker on gpu-a (pid 42)".
            worker: self.lease_host.map(|host| {
                let on = match self.lease_worker {
                    Some(name) => format!("{name} on {host}"),
                    None => host,
                };
                match self.lease_pid {
                    Some(pid) => format!("{on} (pid {pid})"),
                    None => on,
                }
            }),
            takeovers: self.takeovers,
            takeover_note: self.takeover_note,
            created_by: self.created_by,
            // Captured from the endpoint: a value that no longer reads is left out, not an error.
            conditions: self.conditions.as_deref().and_then(|c| serde_json::from_str(c).ok()),
            job: self.job.as_deref().and_then(|j| serde_json::from_str(j).ok()),
        })
    }
}

/// A finished run's record count is the one its chart data was computed from (counted once when
/// it ended); only queued and running runs count their records on every read (a list of 200
/// runs of 100,000 records each counted 20 million index entries).
const SELECT: &str = "SELECT r.id, r.name, r.status, r.model, e.name AS endpoint_name, d.name AS dataset_name, r.simulated, r.sweep_id, \
     r.spec, r.total_requests, \
     CASE WHEN r.status NOT IN ('queued', 'running') AND c.records IS NOT NULL THEN c.records \
          ELSE (SELECT COUNT(*) FROM request_records q WHERE q.run_id = r.id) END AS done_requests, r.error, r.summary, \
     r.provenance, r.resumed, r.created_at, r.started_at, r.finished_at, r.lease_host, r.lease_pid, r.lease_worker, r.takeovers, r.takeover_note, \
     cu.name AS created_by, r.conditions, j.job \
     FROM runs r LEFT JOIN endpoints e ON e.id = r.endpoint_id LEFT JOIN datasets d ON d.id = r.dataset_id \
     LEFT JOIN run_charts c ON c.run_id = r.id LEFT JOIN users cu ON cu.id = r.created_by \
     LEFT JOIN run_jobs j ON j.run_id = r.id";

/// Every run not in the trash, newest first.
pub async fn list(db: &Db) -> DbResult<Vec<RunView>> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} WHERE r.deleted_at IS NULL ORDER BY r.id DESC"))
        .fetch_all(db)
        .await?;
    rows.into_iter().map(Row::view).collect()
}

/// A run not in the trash (a run in the trash is not found: its pages, charts, downloads and
/// comparisons are gone until it is restored).
pub async fn get(db: &Db, id: i64) -> DbResult<RunView> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE r.id = $1 AND r.deleted_at IS NULL"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    match row {
        Some(row) => row.view(),
        // "run 1 is in the trash (deleted by rob): an admin can restore it", else "run 1".
        None => Err(super::trash::missing(db, crate::domain::trash::TrashKind::Run, id).await),
    }
}

/// A run, in the trash or not: for the worker and the CLI, which finish what they started.
pub async fn get_any(db: &Db, id: i64) -> DbResult<RunView> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE r.id = $1"))
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
    let r = sqlx::query_scalar::<_, i64>(
        "INSERT INTO runs (name, status, endpoint_id, dataset_id, model, spec, simulated, sweep_id, total_requests) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
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
    .fetch_one(db)
    .await?;
    Ok(r)
}

/// Queue several runs as one sweep (all or none). The sweep id is the first run's id.
pub async fn insert_sweep(db: &Db, specs: &[RunSpec], simulated: bool) -> DbResult<Vec<i64>> {
    let mut tx = super::write_tx(db).await?;
    let mut ids = Vec::new();
    for spec in specs {
        let r = sqlx::query_scalar::<_, i64>(
            "INSERT INTO runs (name, status, endpoint_id, dataset_id, model, spec, simulated, total_requests) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&spec.name)
        .bind(RunStatus::Queued)
        .bind(spec.endpoint_id)
        .bind(spec.dataset_id)
        .bind(&spec.model)
        .bind(to_json(spec))
        .bind(simulated)
        .bind(i64::from(spec.requests) + i64::from(spec.warmup))
        .fetch_one(&mut *tx)
        .await?;
        ids.push(r);
    }
    if let Some(first) = ids.first() {
        sqlx::query(&format!(
            "UPDATE runs SET sweep_id = $1 WHERE id IN ({})",
            (2..ids.len() + 2).map(|i| format!("${i}")).collect::<Vec<_>>().join(",")
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
impl<'q> BindAll<'q> for sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
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
    let mut tx = super::write_tx(db).await?;
    let id = insert_imported_tx(&mut tx, run, dataset_id).await?;
    super::records::insert_batch_tx(&mut tx, id, &run.records).await?;
    tx.commit().await?;
    Ok(id)
}

/// An imported run's row, inside the caller's transaction (its records follow in batches).
pub async fn insert_imported_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    run: &crate::domain::import::ImportedRun,
    dataset_id: Option<i64>,
) -> DbResult<i64> {
    let r = sqlx::query_scalar::<_, i64>(
        "INSERT INTO runs (name, status, dataset_id, model, spec, total_requests, summary, provenance, started_at, finished_at) \
         VALUES ($1, 'imported', $2, $3, 'null', $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(&run.name)
    .bind(dataset_id)
    .bind(&run.model)
    .bind(run.summary.requests as i64)
    .bind(to_json(&run.summary))
    .bind(to_json(&run.provenance))
    .bind(&run.provenance.timestamp)
    .bind(&run.provenance.timestamp)
    .fetch_one(&mut **tx)
    .await?;
    Ok(r)
}

/// The dataset a run sent (an imported run's, when its prompts came with it).
pub async fn dataset_id(db: &Db, id: i64) -> DbResult<Option<i64>> {
    let d: Option<Option<i64>> = sqlx::query_scalar("SELECT dataset_id FROM runs WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?;
    d.ok_or_else(|| DbError::NotFound(format!("run {id}")))
}

/// Give an imported run the dataset of its prompts.
pub async fn set_dataset(db: &Db, id: i64, dataset_id: i64) -> DbResult<()> {
    sqlx::query("UPDATE runs SET dataset_id = $1 WHERE id = $2")
        .bind(dataset_id)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The provenance of an imported run.
pub async fn provenance(db: &Db, id: i64) -> DbResult<Option<crate::domain::import::Provenance>> {
    let text: Option<Option<String>> = sqlx::query_scalar("SELECT provenance FROM runs WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?;
    text.flatten().map(|t| json("provenance", &t)).transpose()
}

/// A run already imported from the same measurement as `p` (the same format and the same test id
/// and time the file records; the same file name too where it records only one), not in the
/// trash. `None` when `p` records neither a
/// test id nor a time (nothing to tell two files of one name apart by).
pub async fn imported_already(db: &Db, p: &crate::domain::import::Provenance) -> DbResult<Option<i64>> {
    if p.test_id.is_none() && p.timestamp.is_none() && p.batch_ids.is_none() {
        return Ok(None);
    }
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, provenance FROM runs WHERE provenance IS NOT NULL AND deleted_at IS NULL ORDER BY id")
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().find_map(|(id, text)| {
        let q: crate::domain::import::Provenance = serde_json::from_str(&text).ok()?;
        // A Batch output: the provider's ids of its results name it, whatever the file is called.
        if p.batch_ids.is_some() {
            return (q.format == p.format && q.batch_ids == p.batch_ids).then_some(id);
        }
        // Both a test id and a time recorded name one measurement whatever the file is called
        // (QA stored one twice by renaming the file); with only one of them, the name must match
        // too.
        let both = p.test_id.is_some() && p.timestamp.is_some();
        (q.format == p.format && q.test_id == p.test_id && q.timestamp == p.timestamp && (both || q.file == p.file)).then_some(id)
    }))
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
    let s: Option<RunStatus> = sqlx::query_scalar("SELECT status FROM runs WHERE id = $1")
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
            sqlx::query("UPDATE runs SET status = 'cancelled', finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = $1 AND status = 'queued'")
                .bind(id)
                .execute(db)
                .await?;
            status(db, id).await
        }
        RunStatus::Running => {
            // Nobody renews an expired lease, so nobody would see the flag: cancel it now.
            let r = sqlx::query(&format!(
                "UPDATE runs SET status = 'cancelled', cancel_requested = TRUE, lease_expires_at = NULL, \
                 finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') \
                 WHERE id = $1 AND status = 'running' AND COALESCE(lease_expires_at, 0) < {NOW}"
            ))
            .bind(id)
            .execute(db)
            .await?;
            if r.rows_affected() == 1 {
                return Ok(RunStatus::Cancelled);
            }
            sqlx::query("UPDATE runs SET cancel_requested = TRUE WHERE id = $1")
                .bind(id)
                .execute(db)
                .await?;
            Ok(RunStatus::Running)
        }
        other => Err(DbError::Conflict(format!("run {id} is already {other}"))),
    }
}

pub async fn cancel_requested(db: &Db, id: i64) -> DbResult<bool> {
    Ok(
        sqlx::query_scalar::<_, super::Flag>("SELECT cancel_requested FROM runs WHERE id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?
            .is_some_and(|f| f.0),
    )
}

/// Close a run with its final status, summary and error, and end the lease. Only the lease's
/// `owner` closes it: false when the lease was taken over meanwhile (the run is not closed).
pub async fn finish(db: &Db, id: i64, owner: &str, status: RunStatus, summary: Option<&RunSummary>, error: Option<&str>) -> DbResult<bool> {
    let r = sqlx::query(
        "UPDATE runs SET status = $1, summary = $2, error = $3, finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), lease_expires_at = NULL \
         WHERE id = $4 AND lease_owner = $5",
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
    sqlx::query("UPDATE runs SET summary = $1 WHERE id = $2")
        .bind(to_json(summary))
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// One page of the runs list, newest first, filtered in SQL, with how many runs match in all.
pub async fn page(db: &Db, f: &crate::domain::views::RunFilter, per_page: u32) -> DbResult<(Vec<RunView>, i64)> {
    use crate::domain::views::Origin;
    fn filtered<'a>(mut q: super::sql::Sql<'a>, f: &'a crate::domain::views::RunFilter) -> super::sql::Sql<'a> {
        q.push(" WHERE r.deleted_at IS NULL");
        if let Some(s) = f.status {
            q.push(" AND r.status = ").push_bind(s);
        }
        match f.origin {
            Some(Origin::Real) => q.push(" AND r.simulated = FALSE AND r.provenance IS NULL"),
            Some(Origin::Simulated) => q.push(" AND r.simulated = TRUE AND r.provenance IS NULL"),
            Some(Origin::Imported) => q.push(" AND r.provenance IS NOT NULL"),
            None => &mut q,
        };
        let text = f.text.trim();
        if !text.is_empty() {
            // LIKE with its wildcards escaped: the text is matched as typed, ignoring ASCII case.
            let like = format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            q.push(" AND (LOWER(r.name) LIKE LOWER(")
                .push_bind(like.clone())
                .push(") ESCAPE '\\' OR LOWER(r.model) LIKE LOWER(");
            q.push_bind(like).push(") ESCAPE '\\')");
        }
        q
    }
    let from = "FROM runs r LEFT JOIN endpoints e ON e.id = r.endpoint_id LEFT JOIN datasets d ON d.id = r.dataset_id";
    let total: i64 = filtered(super::sql::Sql::new(format!("SELECT COUNT(*) {from}")), f)
        .build_query_scalar()
        .fetch_one(db)
        .await?;
    let mut q = filtered(super::sql::Sql::new(SELECT), f);
    q.push(" ORDER BY r.id DESC LIMIT ")
        .push_bind(i64::from(per_page))
        .push(" OFFSET ")
        .push_bind(i64::from(f.page.max(1) - 1) * i64::from(per_page));
    let rows: Vec<Row> = q.build_query_as().fetch_all(db).await?;
    Ok((rows.into_iter().map(Row::view).collect::<DbResult<_>>()?, total))
}

/// Give a run another name.
pub async fn rename(db: &Db, id: i64, name: &str) -> DbResult<()> {
    let done = sqlx::query("UPDATE runs SET name = $1 WHERE id = $2 AND deleted_at IS NULL")
        .bind(name)
        .bind(id)
        .execute(db)
        .await?
        .rows_affected();
    if done == 0 {
        return Err(super::trash::missing(db, crate::domain::trash::TrashKind::Run, id).await);
    }
    Ok(())
}

/// What deleting run `id` takes with it: its records, checks, server metrics, launches, and the
/// grading items that show its answers (with their grades and votes); pending tests lose their
/// link only when it is purged. With `deleting`, a queued or running run is refused (cancel it
/// first): what is in the trash is restored exactly as it was. The run may be in the trash.
pub(crate) async fn removal(c: &mut sqlx::AnyConnection, id: i64, deleting: bool) -> DbResult<crate::domain::views::Removal> {
    use crate::domain::dataset::clip;
    let run: Option<(String, RunStatus)> = sqlx::query_as("SELECT name, status FROM runs WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *c)
        .await?;
    let Some((name, status)) = run else {
        return Err(DbError::NotFound(format!("run {id}")));
    };
    if deleting && !status.is_finished() {
        return Err(DbError::Conflict(format!(
            "run #{id} '{}' is {status}: cancel it first, then delete it",
            clip(&name)
        )));
    }
    let mut r = crate::domain::views::Removal::new(format!("run #{id} '{}'", clip(&name)));
    r.counted(
        count(c, "SELECT COUNT(*) FROM request_records WHERE run_id = $1", id).await?,
        "request record",
    );
    r.counted(
        count(c, "SELECT COUNT(*) FROM checks WHERE run_id = $1", id).await?,
        "automatic answer check",
    );
    r.counted(
        count(c, "SELECT COUNT(*) FROM server_metrics WHERE run_id = $1", id).await?,
        "server metrics sample",
    );
    r.counted(
        count(c, "SELECT COUNT(*) FROM launches WHERE run_id = $1", id).await?,
        "model server launch",
    );
    let items = "SELECT id FROM queue_items WHERE run_id = $1 OR run_b = $1";
    let in_queues = count(c, &format!("SELECT COUNT(*) FROM ({items}) AS t"), id).await?;
    if in_queues > 0 {
        let queues: Vec<String> = sqlx::query_scalar(
            "SELECT q.name FROM queues q WHERE q.id IN (SELECT queue_id FROM queue_items WHERE run_id = $1 OR run_b = $1) \
             OR q.id IN (SELECT queue_id FROM queue_runs WHERE run_id = $1) ORDER BY q.id",
        )
        .bind(id)
        .fetch_all(&mut *c)
        .await?;
        let named = queues.iter().map(|q| format!("'{}'", clip(q))).collect::<Vec<_>>().join(", ");
        r.counted(in_queues, &format!("grading item in {named}"));
        r.counted(
            count(c, &format!("SELECT COUNT(*) FROM grades WHERE item_id IN ({items})"), id).await?,
            "grade",
        );
        r.counted(
            count(c, &format!("SELECT COUNT(*) FROM votes WHERE item_id IN ({items})"), id).await?,
            "pairwise vote",
        );
    }
    r.unlinked(
        count(c, "SELECT COUNT(*) FROM planned_tests WHERE run_id = $1", id).await?,
        "pending test",
    );
    Ok(r)
}

/// A count from `sql`, whose `?1` is `id` (for what a deletion takes with it).
pub(crate) async fn count(conn: &mut sqlx::AnyConnection, sql: &str, id: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar(sql).bind(id).fetch_one(conn).await?)
}

/// The runs not in the trash that use a dataset or an endpoint (`column` = `dataset_id` or
/// `endpoint_id`), named
/// for a refusal, newest first: "#5 'b', #4 'a' and 3 more". None when no run does.
pub(crate) async fn users_of(conn: &mut sqlx::AnyConnection, column: &str, id: i64) -> DbResult<Option<(i64, String)>> {
    const NAMED: i64 = 8;
    let total = count(
        conn,
        &format!("SELECT COUNT(*) FROM runs WHERE {column} = $1 AND deleted_at IS NULL"),
        id,
    )
    .await?;
    if total == 0 {
        return Ok(None);
    }
    let runs: Vec<(i64, String)> = sqlx::query_as(&format!(
        "SELECT id, name FROM runs WHERE {column} = $1 AND deleted_at IS NULL ORDER BY id DESC LIMIT {NAMED}"
    ))
    .bind(id)
    .fetch_all(conn)
    .await?;
    let mut named = runs
        .iter()
        .map(|(id, name)| format!("#{id} '{}'", crate::domain::dataset::clip(name)))
        .collect::<Vec<_>>()
        .join(", ");
    if total > NAMED {
        named.push_str(&format!(" and {} more", total - NAMED));
    }
    Ok(Some((total, named)))
}

#[cfg(test)]
mod removal_tests {
    use super::super::{datasets, endpoints, queues, trash};
    use super::*;
    use crate::domain::trash::TrashKind;
    use crate::domain::views::{Origin, RunFilter};

    async fn fresh() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = crate::db::pool::test_db(dir.path()).await.expect("connect + migrate");
        (dir, db)
    }

    /// An endpoint, a dataset and three finished runs on them: "gemma" and "llama" simulated,
    /// "qwen" real; each run has two records.
    async fn seed(db: &Db) -> (i64, i64, Vec<i64>) {
        let e = endpoints::insert(db, "gpu", "http://gpu:1", false, &[]).await.expect("endpoint");
        let items: Vec<_> = ["a", "b"]
            .iter()
            .map(|id| crate::domain::dataset::DatasetItem {
                custom_id: id.to_string(),
                url: "/v1/completions".into(),
                body: serde_json::json!({"prompt": id}),
            })
            .collect();
        let d = datasets::insert(
            db,
            datasets::NewDataset {
                name: "prompts",
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
        let mut ids = Vec::new();
        for (model, simulated) in [("gemma", true), ("llama", true), ("qwen", false)] {
            let spec = crate::domain::spec::LaunchForm {
                endpoint_id: e.to_string(),
                dataset_id: d.to_string(),
                model: model.into(),
                requests: "2".into(),
                concurrency: "1".into(),
                ..Default::default()
            }
            .parse()
            .expect("spec");
            let id = insert(db, &spec, simulated, None).await.expect("run");
            for (idx, custom_id) in ["a", "b"].iter().enumerate() {
                sqlx::query(
                    "INSERT INTO request_records (run_id, idx, custom_id, warmup, outcome, sent_us, e2e_us, content_chunks, itl_us, response) \
                     VALUES ($1, $2, $3, FALSE, 'ok', 0, 1000, 1, zeroblob(0), 'text')",
                )
                .bind(id)
                .bind(idx as i64)
                .bind(custom_id)
                .execute(db)
                .await
                .expect("record");
            }
            sqlx::query("UPDATE runs SET status = 'completed' WHERE id = $1")
                .bind(id)
                .execute(db)
                .await
                .expect("done");
            ids.push(id);
        }
        (e, d, ids)
    }

    fn filter(f: impl FnOnce(&mut RunFilter)) -> RunFilter {
        let mut r = RunFilter::default();
        f(&mut r);
        r
    }

    #[tokio::test]
    async fn a_page_of_runs_is_filtered_and_counted_in_sql() {
        let (_d, db) = fresh().await;
        let (_, _, ids) = seed(&db).await;
        sqlx::query("UPDATE runs SET status = 'failed' WHERE id = $1")
            .bind(ids[1])
            .execute(&db)
            .await
            .expect("fail");
        let names = |(runs, total): (Vec<RunView>, i64)| (runs.into_iter().map(|r| r.model).collect::<Vec<_>>(), total);
        let all = names(page(&db, &RunFilter::default(), 2).await.expect("page 1"));
        assert_eq!(
            all,
            (vec!["qwen".to_string(), "llama".into()], 3),
            "newest first, 2 a page, 3 in all"
        );
        let second = names(page(&db, &filter(|f| f.page = 2), 2).await.expect("page 2"));
        assert_eq!(second, (vec!["gemma".to_string()], 3));
        let failed = names(
            page(&db, &filter(|f| f.status = Some(RunStatus::Failed)), 50)
                .await
                .expect("status"),
        );
        assert_eq!(failed, (vec!["llama".to_string()], 1));
        let real = names(page(&db, &filter(|f| f.origin = Some(Origin::Real)), 50).await.expect("origin"));
        assert_eq!(real, (vec!["qwen".to_string()], 1));
        let text = names(page(&db, &filter(|f| f.text = "GEM".into()), 50).await.expect("text"));
        assert_eq!(text, (vec!["gemma".to_string()], 1), "name or model, any case");
        let wild = names(page(&db, &filter(|f| f.text = "%".into()), 50).await.expect("wildcard"));
        assert_eq!(wild.1, 0, "a % is matched as typed, not as a wildcard");
    }

    #[tokio::test]
    async fn deleting_a_run_says_what_goes_then_takes_it_all_at_once() {
        let (_d, db) = fresh().await;
        let (_, _, ids) = seed(&db).await;
        let preview = trash::preview(&db, TrashKind::Run, ids[0]).await.expect("preview");
        assert!(!preview.done);
        assert_eq!(preview.with, vec!["2 request records".to_string()]);
        assert_eq!(count_records(&db, ids[0]).await, 2, "a preview deletes nothing");
        let done = trash::put(&db, TrashKind::Run, ids[0], None).await.expect("delete");
        assert!(done.done && done.what.contains("gemma"));
        assert!(matches!(get(&db, ids[0]).await, Err(DbError::NotFound(_))));
        assert_eq!(count_records(&db, ids[0]).await, 2, "in the trash, its records stay");
        trash::purge(&db, TrashKind::Run, ids[0]).await.expect("purge");
        assert_eq!(count_records(&db, ids[0]).await, 0, "purged, its records went with it");
        assert_eq!(count_records(&db, ids[1]).await, 2, "other runs keep theirs");
    }

    #[tokio::test]
    async fn a_queued_or_running_run_is_not_deleted() {
        let (_d, db) = fresh().await;
        let (_, _, ids) = seed(&db).await;
        sqlx::query("UPDATE runs SET status = 'running' WHERE id = $1")
            .bind(ids[0])
            .execute(&db)
            .await
            .expect("run");
        let e = trash::put(&db, TrashKind::Run, ids[0], None).await.expect_err("refused");
        assert!(matches!(&e, DbError::Conflict(m) if m.contains("cancel it first")), "{e}");
        assert_eq!(count_records(&db, ids[0]).await, 2);
        assert!(get(&db, ids[0]).await.is_ok(), "still listed");
    }

    #[tokio::test]
    async fn a_dataset_or_endpoint_in_use_is_refused_naming_its_runs() {
        let (_d, db) = fresh().await;
        let (e, d, ids) = seed(&db).await;
        let err = trash::put(&db, TrashKind::Dataset, d, None).await.expect_err("in use");
        assert!(
            matches!(&err, DbError::Conflict(m) if m.contains("3 runs") && m.contains(&format!("#{} 'gemma'", ids[0]))),
            "{err}"
        );
        let err = trash::preview(&db, TrashKind::Endpoint, e).await.expect_err("in use");
        assert!(matches!(&err, DbError::Conflict(m) if m.contains("used by 3 runs")), "{err}");
        for id in &ids {
            trash::put(&db, TrashKind::Run, *id, None).await.expect("delete run");
        }
        let preview = trash::preview(&db, TrashKind::Dataset, d)
            .await
            .expect("runs in the trash use it: free now");
        assert_eq!(preview.with, vec!["2 requests".to_string(), "3 runs in the trash".into()]);
        assert!(trash::put(&db, TrashKind::Dataset, d, None).await.expect("delete").done);
        assert!(trash::put(&db, TrashKind::Endpoint, e, None).await.expect("delete").done);
        assert!(matches!(datasets::get(&db, d).await, Err(DbError::NotFound(_))));
    }

    #[tokio::test]
    async fn renames_keep_names_unique_where_they_must_be() {
        let (_d, db) = fresh().await;
        let (e, d, ids) = seed(&db).await;
        rename(&db, ids[0], "gemma @ 16").await.expect("rename run");
        assert_eq!(get(&db, ids[0]).await.expect("run").name, "gemma @ 16");
        endpoints::insert(&db, "Other", "http://other:1", false, &[])
            .await
            .expect("endpoint");
        assert!(
            matches!(endpoints::rename(&db, e, "other").await, Err(DbError::Conflict(_))),
            "names ignore case"
        );
        endpoints::rename(&db, e, "4080 box").await.expect("rename endpoint");
        datasets::rename(&db, d, "candidates").await.expect("rename dataset");
        assert_eq!(get(&db, ids[0]).await.expect("run").dataset_name, "candidates");
        assert!(matches!(rename(&db, 999, "x").await, Err(DbError::NotFound(_))));
        assert!(matches!(queues::rename(&db, 999, "x").await, Err(DbError::NotFound(_))));
    }

    async fn count_records(db: &Db, run: i64) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM request_records WHERE run_id = $1")
            .bind(run)
            .fetch_one(db)
            .await
            .expect("count")
    }
}
