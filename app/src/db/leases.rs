//! Runs under leases. A worker claims a run with one conditional UPDATE that writes its lease
//! (owner, host, pid, expiry), renews it every few seconds, and gives it up when the run ends or
//! the worker drains. Only a run whose lease expired is taken over. Expiry times are unix seconds
//! from the database's clock, so workers on machines whose clocks differ agree.
//!
//! One measured run per GPU: a run is claimed only while no other run on an endpoint with the
//! same host (`endpoint_gpus`, see migration 0011) is `running`, whatever that run's lease: a run
//! whose holder died may still have its model server on the GPU until it is taken over or ends.
//! Hosted endpoints take no lock.
//!
//! For Postgres, the sub-select of [`claim_next`] becomes `... FOR UPDATE SKIP LOCKED`; the rest
//! of the statement stays as it is.

use super::error::{json, DbResult};
use super::pool::Backend;
use super::runs::Claimed;
use super::Db;

/// Now, in unix seconds, by the database's clock.
pub(crate) const NOW: &str = "CAST(strftime('%s', 'now') AS BIGINT)";

/// A worker process as its leases name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// Unique per process: host, pid and a random part.
    pub owner: String,
    pub host: String,
    pub pid: u32,
}

/// No other run on the run's GPU is running (`alias` names the candidate run).
fn gpu_free(alias: &str) -> String {
    // A provider's Batch API job takes no GPU lock and waits for none (issue 16: the provider's
    // GPUs are not the team's); it is polled for hours while the team's GPU runs other jobs.
    format!(
        "(COALESCE(json_extract({alias}.spec, '$.kind'), 'server') = 'provider-batch' \
         OR NOT EXISTS (SELECT 1 FROM endpoint_gpus g JOIN endpoint_gpus og ON og.gpu = g.gpu \
         JOIN runs o ON o.endpoint_id = og.endpoint_id \
         WHERE g.endpoint_id = {alias}.endpoint_id AND o.status = 'running' AND o.id <> {alias}.id \
         AND COALESCE(json_extract(o.spec, '$.kind'), 'server') <> 'provider-batch'))"
    )
}

/// The lease written by a claim (binds `$p`..`$p+4`: owner, host, pid, seconds, owner again: the
/// worker's name is read from its `workers` row).
fn lease_set(p: usize) -> String {
    let (owner, host, pid, seconds, worker) = (p, p + 1, p + 2, p + 3, p + 4);
    format!(
        "status = 'running', started_at = COALESCE(started_at, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')), \
         resumed = (resumed OR status = 'running'), \
         takeovers = takeovers + CASE WHEN status = 'running' THEN 1 ELSE 0 END, \
         takeover_note = CASE WHEN status = 'running' THEN \
             'taken over at ' || strftime('%Y-%m-%dT%H:%M:%SZ', 'now') || ' from ' || COALESCE(lease_worker || ' on ', '') \
             || COALESCE(lease_host, 'an unknown host') \
             || ' (pid ' || COALESCE(CAST(lease_pid AS TEXT), '?') || '), whose lease had expired' ELSE takeover_note END, \
         lease_takeover = (status = 'running'), \
         lease_owner = ${owner}, lease_host = ${host}, lease_pid = ${pid}, lease_expires_at = {NOW} + ${seconds}, \
         lease_worker = (SELECT w.name FROM workers w WHERE w.id = ${worker})"
    )
}

const RETURNING: &str = "RETURNING id, spec, simulated, resumed, lease_takeover, takeover_note";

type ClaimRow = (i64, String, super::Flag, super::Flag, super::Flag, Option<String>);

fn claimed(row: Option<ClaimRow>) -> DbResult<Option<Claimed>> {
    row.map(|(id, spec, simulated, resumed, takeover, note)| {
        Ok(Claimed {
            id,
            spec: json("run spec", &spec)?,
            simulated: simulated.0,
            resumed: resumed.0,
            taken_over: if takeover.0 { note } else { None },
        })
    })
    .transpose()
}

/// Which queued runs a worker takes: `serve`'s takes every run; a `bakeoff worker` only those on
/// its endpoints, and on managed endpoints (Bakeoff starts their model server: a launch list, or
/// a shell line from before lists) only with `--allow-launch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimFilter {
    /// `None`: any endpoint.
    pub endpoint_ids: Option<Vec<i64>>,
    /// May it claim runs on managed endpoints?
    pub allow_launch: bool,
}

impl ClaimFilter {
    /// Every run (the worker inside `serve`).
    pub fn any() -> ClaimFilter {
        ClaimFilter {
            endpoint_ids: None,
            allow_launch: true,
        }
    }

    /// The endpoint ids as a JSON array (the form SQL reads with `json_each`), `None`: any.
    pub fn endpoint_ids_json(&self) -> Option<String> {
        self.endpoint_ids
            .as_ref()
            .map(|ids| serde_json::Value::from(ids.clone()).to_string())
    }
}

/// The run `alias` passes the filter (binds `$p`..`$p+2`: the ids' JSON twice, allow_launch).
fn filter_sql(alias: &str, p: usize) -> String {
    let (ids, ids_again, allow_launch) = (p, p + 1, p + 2);
    format!(
        "(${ids} IS NULL OR {alias}.endpoint_id IN (SELECT CAST(value AS BIGINT) FROM json_each(${ids_again}))) \
         AND (${allow_launch} OR NOT EXISTS (SELECT 1 FROM endpoints fe WHERE fe.id = {alias}.endpoint_id \
              AND (fe.launch_args IS NOT NULL OR fe.launch_template IS NOT NULL)))"
    )
}

/// A transaction for a claim. Claims take turns: whether a run's GPU is free is read from the
/// other running runs, and two claims at once must not both see it free. SQLite's write
/// transaction already runs one at a time; on Postgres (read committed) a transaction-level
/// advisory lock makes the second claim wait and then see the first one's run.
async fn claims_tx(db: &Db) -> DbResult<sqlx::Transaction<'static, sqlx::Any>> {
    let mut tx = super::write_tx(db).await?;
    if Backend::of_pool(db) == Backend::Postgres {
        // A claimer cut off mid-claim holds the lock until Postgres notices: the others give up
        // after 5 s (an error the worker logs, then it looks again) instead of waiting for it.
        sqlx::query("SET LOCAL lock_timeout = '5s'").execute(&mut *tx).await?;
        sqlx::query("SELECT pg_advisory_xact_lock(7265726)").execute(&mut *tx).await?;
    }
    Ok(tx)
}

/// Claim the oldest run that is queued (or, with `takeover`, running under an expired lease and
/// not asked to cancel) whose GPU is free, under a lease of `seconds`.
pub async fn claim_next(db: &Db, who: &Holder, seconds: i64, takeover: bool) -> DbResult<Option<Claimed>> {
    claim_next_for(db, who, seconds, takeover, &ClaimFilter::any()).await
}

/// [`claim_next`] among the runs `filter` lets this worker take.
pub async fn claim_next_for(db: &Db, who: &Holder, seconds: i64, takeover: bool, filter: &ClaimFilter) -> DbResult<Option<Claimed>> {
    let sql = format!(
        "UPDATE runs SET {} WHERE id = (SELECT r.id FROM runs r \
         WHERE (r.status = 'queued' OR ($6 AND r.status = 'running' AND r.cancel_requested = FALSE AND COALESCE(r.lease_expires_at, 0) < {NOW})) \
         AND r.deleted_at IS NULL AND {} AND {} ORDER BY r.id LIMIT 1{}) {RETURNING}",
        lease_set(1),
        gpu_free("r"),
        filter_sql("r", 7),
        match Backend::of_pool(db) {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    );
    let mut tx = claims_tx(db).await?;
    let ids = filter.endpoint_ids_json();
    let row: Option<ClaimRow> = sqlx::query_as(&sql)
        .bind(&who.owner)
        .bind(&who.host)
        .bind(i64::from(who.pid))
        .bind(seconds)
        .bind(&who.owner)
        .bind(takeover)
        .bind(&ids)
        .bind(&ids)
        .bind(filter.allow_launch)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    claimed(row)
}

/// Claim one queued run (the CLI runs the run it queued). `None` if another worker took it first
/// or its GPU is busy (then it is still `queued`).
pub async fn claim(db: &Db, id: i64, who: &Holder, seconds: i64) -> DbResult<Option<Claimed>> {
    let sql = format!(
        "UPDATE runs SET {} WHERE id = $6 AND status = 'queued' AND deleted_at IS NULL AND {} {RETURNING}",
        lease_set(1),
        gpu_free("runs")
    );
    let mut tx = claims_tx(db).await?;
    let row: Option<ClaimRow> = sqlx::query_as(&sql)
        .bind(&who.owner)
        .bind(&who.host)
        .bind(i64::from(who.pid))
        .bind(seconds)
        .bind(&who.owner)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    claimed(row)
}

/// Extend the lease by `seconds` from now. False when the lease is no longer this owner's (it
/// expired and was taken over, or the run was closed by someone else).
pub async fn renew(db: &Db, id: i64, owner: &str, seconds: i64) -> DbResult<bool> {
    let r = sqlx::query(&format!(
        "UPDATE runs SET lease_expires_at = {NOW} + $1 WHERE id = $2 AND lease_owner = $3 AND status = 'running'"
    ))
    .bind(seconds)
    .bind(id)
    .bind(owner)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Give a drained run back to the queue (marked resumed) and drop the lease: any worker resumes
/// it, skipping the requests already stored. False if the lease was not this owner's.
pub async fn release(db: &Db, id: i64, owner: &str) -> DbResult<bool> {
    let r = sqlx::query(
        "UPDATE runs SET status = 'queued', resumed = TRUE, lease_owner = NULL, lease_expires_at = NULL, lease_takeover = FALSE \
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(owner)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Mark a queued run `interrupted` (a `bakeoff run` stopped with Ctrl-C before it started it).
pub async fn interrupt_queued(db: &Db, id: i64) -> DbResult<bool> {
    let r = sqlx::query(
        "UPDATE runs SET status = 'interrupted', finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = $1 AND status = 'queued'",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Mark runs whose lease expired `interrupted`, keeping everything stored (`--on-restart
/// interrupt`). Returns their ids.
pub async fn interrupt_expired(db: &Db) -> DbResult<Vec<i64>> {
    Ok(sqlx::query_scalar(&format!(
        "UPDATE runs SET status = 'interrupted', finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), lease_expires_at = NULL \
         WHERE status = 'running' AND COALESCE(lease_expires_at, 0) < {NOW} RETURNING id"
    ))
    .fetch_all(db)
    .await?)
}

/// Cancel runs asked to cancel whose holder stopped renewing its lease (nobody else will see the
/// flag). Returns their ids.
pub async fn cancel_abandoned(db: &Db) -> DbResult<Vec<i64>> {
    let mut closed = Vec::new();
    for id in abandoned_cancels(db).await? {
        if close_abandoned_cancel(db, id, None).await? {
            closed.push(id);
        }
    }
    Ok(closed)
}

/// The runs asked to cancel whose worker died (their lease expired), to close.
pub async fn abandoned_cancels(db: &Db) -> DbResult<Vec<i64>> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT id FROM runs WHERE status = 'running' AND cancel_requested = TRUE AND COALESCE(lease_expires_at, 0) < {NOW} ORDER BY id"
    ))
    .fetch_all(db)
    .await?)
}

/// Close one of [`abandoned_cancels`] as cancelled, with the summary of what it stored, in one
/// step (a page never sees it cancelled without its summary). False when another process closed
/// it first (or its worker came back).
pub async fn close_abandoned_cancel(db: &Db, id: i64, summary: Option<&crate::domain::summary::RunSummary>) -> DbResult<bool> {
    let done = sqlx::query(&format!(
        "UPDATE runs SET status = 'cancelled', finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), lease_expires_at = NULL, \
         summary = COALESCE($1, summary) \
         WHERE id = $2 AND status = 'running' AND cancel_requested = TRUE AND COALESCE(lease_expires_at, 0) < {NOW}"
    ))
    .bind(summary.map(super::error::to_json))
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A run another worker holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldRun {
    pub run_id: i64,
    pub host: Option<String>,
    pub pid: Option<i64>,
    /// Seconds until the lease expires (negative: expired that long ago; `None`: no lease).
    pub expires_in_s: Option<i64>,
}

/// Runs `running` under a lease that is not `owner`'s.
pub async fn held_by_others(db: &Db, owner: &str) -> DbResult<Vec<HeldRun>> {
    type HeldRow = (i64, Option<String>, Option<i64>, Option<i64>);
    let rows: Vec<HeldRow> = sqlx::query_as(&format!(
        "SELECT id, lease_host, lease_pid, lease_expires_at - {NOW} FROM runs \
         WHERE status = 'running' AND lease_owner IS DISTINCT FROM $1 ORDER BY id"
    ))
    .bind(owner)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(run_id, host, pid, expires_in_s)| HeldRun {
            run_id,
            host,
            pid,
            expires_in_s,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{datasets, endpoints, runs};
    use crate::domain::dataset::DatasetItem;
    use crate::domain::spec::LaunchForm;
    use crate::domain::status::RunStatus;

    async fn fresh() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = crate::db::pool::test_db(dir.path()).await.expect("connect + migrate");
        (dir, db)
    }

    fn worker(name: &str) -> Holder {
        Holder {
            owner: format!("{name}/7/abc"),
            host: name.into(),
            pid: 7,
        }
    }

    async fn dataset(db: &Db) -> i64 {
        let items = vec![DatasetItem {
            custom_id: "a".into(),
            url: "/v1/completions".into(),
            body: serde_json::json!({"prompt": "a"}),
        }];
        datasets::insert(
            db,
            datasets::NewDataset {
                name: "d",
                description: "",
                source: "test",
                builtin: false,
                answer_schema: None,
                rubric: None,
                items: &items,
            },
        )
        .await
        .expect("dataset")
    }

    async fn queue(db: &Db, endpoint: i64, dataset: i64) -> i64 {
        let spec = LaunchForm {
            endpoint_id: endpoint.to_string(),
            dataset_id: dataset.to_string(),
            model: "m".into(),
            requests: "1".into(),
            concurrency: "1".into(),
            ..Default::default()
        }
        .parse()
        .expect("spec");
        runs::insert(db, &spec, false, None).await.expect("run")
    }

    async fn expire(db: &Db, id: i64) {
        sqlx::query("UPDATE runs SET lease_expires_at = 0 WHERE id = $1")
            .bind(id)
            .execute(db)
            .await
            .expect("expire");
    }

    async fn claim_ids(db: &Db, who: &Holder) -> Vec<i64> {
        let mut ids = Vec::new();
        while let Some(c) = claim_next(db, who, 30, true).await.expect("claim") {
            ids.push(c.id);
        }
        ids
    }

    #[tokio::test]
    async fn the_gpu_of_an_endpoint_is_its_host_and_hosted_endpoints_have_none() {
        let (_d, db) = fresh().await;
        let mut ids = Vec::new();
        for url in [
            "http://gpu-a:8000",
            "https://gpu-a/vllm",
            "http://[fd00::7]:8443/p",
            "http://10.0.0.5",
        ] {
            ids.push(endpoints::insert(&db, url, url, false, &[]).await.expect("endpoint"));
        }
        let hosted = endpoints::insert(&db, "hosted", "https://api.example.com/v1", false, &[])
            .await
            .expect("endpoint");
        sqlx::query("UPDATE endpoints SET hosted = TRUE WHERE id = $1")
            .bind(hosted)
            .execute(&db)
            .await
            .expect("hosted");
        ids.push(hosted);
        let mut gpus = Vec::new();
        for id in ids {
            let gpu: Option<String> = sqlx::query_scalar("SELECT gpu FROM endpoint_gpus WHERE endpoint_id = $1")
                .bind(id)
                .fetch_one(&db)
                .await
                .expect("gpu");
            gpus.push(gpu);
        }
        let want = ["gpu-a", "gpu-a", "[fd00::7]", "10.0.0.5"].map(|g| Some(g.to_string()));
        assert_eq!(gpus[..4], want);
        assert_eq!(gpus[4], None);
    }

    #[tokio::test]
    async fn one_run_at_a_time_per_gpu_host_and_different_gpus_in_parallel() {
        let (_d, db) = fresh().await;
        let d = dataset(&db).await;
        let a1 = endpoints::insert(&db, "a1", "http://gpu-a:8000", false, &[])
            .await
            .expect("endpoint");
        let a2 = endpoints::insert(&db, "a2", "http://gpu-a:8001", false, &[])
            .await
            .expect("endpoint");
        let b = endpoints::insert(&db, "b", "http://gpu-b:8000", false, &[])
            .await
            .expect("endpoint");
        let h = endpoints::insert(&db, "h", "https://api.example.com/v1", false, &[])
            .await
            .expect("endpoint");
        sqlx::query("UPDATE endpoints SET hosted = TRUE WHERE id = $1")
            .bind(h)
            .execute(&db)
            .await
            .expect("hosted");
        let r1 = queue(&db, a1, d).await;
        let r2 = queue(&db, a2, d).await;
        let r3 = queue(&db, b, d).await;
        let r4 = queue(&db, h, d).await;
        let r5 = queue(&db, h, d).await;
        let w = worker("w");
        assert_eq!(claim_ids(&db, &w).await, vec![r1, r3, r4, r5], "gpu-a is busy with run {r1}");
        // Another worker (the CLI) cannot claim r2 either while r1 runs.
        assert!(claim(&db, r2, &worker("cli"), 30).await.expect("claim").is_none());
        // Even with its lease expired, r1 keeps the GPU until it is taken over or ends.
        expire(&db, r1).await;
        assert_eq!(claim_ids(&db, &worker("v")).await, vec![r1], "taken over, r2 still waits");
        assert!(runs::finish(&db, r1, "v/7/abc", RunStatus::Completed, None, None)
            .await
            .expect("finish"));
        assert_eq!(claim(&db, r2, &worker("cli"), 30).await.expect("claim").map(|c| c.id), Some(r2));
    }

    #[tokio::test]
    async fn endpoints_that_share_a_gpu_take_one_lock_whatever_their_host_names() {
        let (_d, db) = fresh().await;
        let d = dataset(&db).await;
        // The same box as 127.0.0.1 and as localhost: one host.
        let ip = endpoints::insert(&db, "ip", "http://127.0.0.1:8000", false, &[])
            .await
            .expect("endpoint");
        let name = endpoints::insert(&db, "name", "http://localhost:8000", false, &[])
            .await
            .expect("endpoint");
        // A proxy's name for a server on gpu-a, said to share gpu-a's GPU.
        let a = endpoints::insert(&db, "a", "http://gpu-a:8000", false, &[])
            .await
            .expect("endpoint");
        let proxy = endpoints::insert(&db, "proxy", "http://gateway:80/gpu-a", false, &[])
            .await
            .expect("endpoint");
        let other = endpoints::insert(&db, "other", "http://gateway:80/gpu-b", false, &[])
            .await
            .expect("endpoint");
        assert_eq!(endpoints::set_shares_gpu_with(&db, proxy, Some(a)).await.expect("link"), Some(a));
        // Linked to the proxy, `other` stands for gpu-a too (one step deep).
        assert_eq!(
            endpoints::set_shares_gpu_with(&db, other, Some(proxy)).await.expect("link"),
            Some(a)
        );
        let view = endpoints::get(&db, proxy).await.expect("view");
        assert_eq!((view.gpu.as_deref(), view.shares_gpu_with.as_deref()), (Some("gpu-a"), Some("a")));
        assert_eq!(endpoints::get(&db, name).await.expect("view").gpu.as_deref(), Some("127.0.0.1"));

        let r1 = queue(&db, ip, d).await;
        let r2 = queue(&db, name, d).await;
        let r3 = queue(&db, a, d).await;
        let r4 = queue(&db, proxy, d).await;
        let r5 = queue(&db, other, d).await;
        assert_eq!(claim_ids(&db, &worker("w")).await, vec![r1, r3], "one run per GPU");
        for r in [r1, r3] {
            assert!(runs::finish(&db, r, &worker("w").owner, RunStatus::Completed, None, None)
                .await
                .expect("finish"));
        }
        assert_eq!(claim_ids(&db, &worker("w")).await, vec![r2, r4]);
        // Unlinked, the proxy's run is on its own host again.
        endpoints::set_shares_gpu_with(&db, other, None).await.expect("unlink");
        assert_eq!(claim_ids(&db, &worker("w")).await, vec![r5], "gateway is not gpu-a");
    }

    #[tokio::test]
    async fn a_live_lease_is_never_taken_over_and_only_its_holder_renews_or_closes_the_run() {
        let (_d, db) = fresh().await;
        let d = dataset(&db).await;
        let e = endpoints::insert(&db, "e", "http://gpu:8000", false, &[]).await.expect("endpoint");
        let r = queue(&db, e, d).await;
        let (a, b) = (worker("a"), worker("b"));
        let first = claim_next(&db, &a, 30, true).await.expect("claim").expect("queued");
        assert!(!first.resumed && first.taken_over.is_none());
        assert!(claim_next(&db, &b, 30, true).await.expect("claim").is_none(), "live lease");
        assert!(!renew(&db, r, &b.owner, 30).await.expect("renew"));
        assert!(!runs::finish(&db, r, &b.owner, RunStatus::Failed, None, None).await.expect("finish"));
        assert!(renew(&db, r, &a.owner, 30).await.expect("renew"));

        expire(&db, r).await;
        assert!(
            claim_next(&db, &b, 30, false).await.expect("claim").is_none(),
            "no take-over without resume"
        );
        let taken = claim_next(&db, &b, 30, true).await.expect("claim").expect("expired");
        assert!(taken.resumed);
        assert!(taken.taken_over.as_deref().is_some_and(|n| n.contains("from a (pid 7)")));
        // The old holder finds out at its next renewal, and can close nothing.
        assert!(!renew(&db, r, &a.owner, 30).await.expect("renew"));
        assert!(!release(&db, r, &a.owner).await.expect("release"));
        assert!(!runs::finish(&db, r, &a.owner, RunStatus::Completed, None, None)
            .await
            .expect("finish"));
        let view = runs::get(&db, r).await.expect("run");
        assert_eq!((view.status, view.takeovers), (RunStatus::Running, 1));
        assert_eq!(view.worker.as_deref(), Some("b (pid 7)"));
    }

    #[tokio::test]
    async fn a_drained_run_goes_back_to_the_queue_for_any_worker() {
        let (_d, db) = fresh().await;
        let d = dataset(&db).await;
        let e = endpoints::insert(&db, "e", "http://gpu:8000", false, &[]).await.expect("endpoint");
        let r = queue(&db, e, d).await;
        let (a, b) = (worker("a"), worker("b"));
        claim_next(&db, &a, 30, true).await.expect("claim").expect("queued");
        assert!(release(&db, r, &a.owner).await.expect("release"));
        assert_eq!(runs::status(&db, r).await.expect("status"), RunStatus::Queued);
        let again = claim_next(&db, &b, 30, false).await.expect("claim").expect("queued again");
        assert!(again.resumed && again.taken_over.is_none(), "a resume, not a take-over");
    }

    #[tokio::test]
    async fn cancelling_a_run_whose_worker_died_takes_effect_once_its_lease_expires() {
        let (_d, db) = fresh().await;
        let d = dataset(&db).await;
        let e = endpoints::insert(&db, "e", "http://gpu:8000", false, &[]).await.expect("endpoint");
        let r = queue(&db, e, d).await;
        claim_next(&db, &worker("dead"), 30, true).await.expect("claim").expect("queued");
        assert_eq!(runs::request_cancel(&db, r).await.expect("cancel"), RunStatus::Running, "asked");
        assert!(cancel_abandoned(&db).await.expect("sweep").is_empty(), "the lease is still live");
        expire(&db, r).await;
        assert!(
            claim_next(&db, &worker("w"), 30, true).await.expect("claim").is_none(),
            "not resumed: cancel asked"
        );
        assert_eq!(cancel_abandoned(&db).await.expect("sweep"), vec![r]);
        assert_eq!(runs::status(&db, r).await.expect("status"), RunStatus::Cancelled);

        // Asked after the lease expired: cancelled at once.
        let r2 = queue(&db, e, d).await;
        claim_next(&db, &worker("dead"), 30, true).await.expect("claim").expect("queued");
        expire(&db, r2).await;
        assert_eq!(runs::request_cancel(&db, r2).await.expect("cancel"), RunStatus::Cancelled);
    }

    #[tokio::test]
    async fn a_start_up_sees_the_other_live_workers_and_their_runs() {
        let (_d, db) = fresh().await;
        let d = dataset(&db).await;
        let e = endpoints::insert(&db, "e", "http://gpu:8000", false, &[]).await.expect("endpoint");
        let r = queue(&db, e, d).await;
        let (a, b) = (worker("a"), worker("b"));
        crate::db::workers::beat(&db, &a, &crate::db::workers::Registration::serve(30))
            .await
            .expect("beat");
        claim_next(&db, &a, 30, true).await.expect("claim").expect("queued");
        let others = crate::db::workers::others(&db, &b.owner, 30).await.expect("others");
        assert_eq!(others.iter().map(|w| (w.host.as_str(), w.pid)).collect::<Vec<_>>(), vec![("a", 7)]);
        assert!(crate::db::workers::others(&db, &a.owner, 30).await.expect("others").is_empty());
        let held = held_by_others(&db, &b.owner).await.expect("held");
        assert_eq!(held.len(), 1);
        assert_eq!((held[0].run_id, held[0].host.as_deref()), (r, Some("a")));
        assert!(held[0].expires_in_s.is_some_and(|s| s > 0));
        crate::db::workers::leave(&db, &a.owner).await.expect("leave");
        assert!(crate::db::workers::others(&db, &b.owner, 30).await.expect("others").is_empty());
    }

    #[tokio::test]
    async fn a_worker_claims_only_its_endpoints_and_managed_ones_only_when_allowed_to_launch() {
        let (_d, db) = fresh().await;
        let d = dataset(&db).await;
        let a = endpoints::insert(&db, "a", "http://gpu-a:8000", false, &[])
            .await
            .expect("endpoint");
        let b = endpoints::insert(&db, "b", "http://gpu-b:8000", false, &[])
            .await
            .expect("endpoint");
        let args = ["vllm", "serve", "{model}", "--port", "{port}"].map(String::from);
        let m = endpoints::insert_managed(&db, "m", "http://gpu-m:8000", &args, &["m".to_string()])
            .await
            .expect("managed endpoint");
        let (ra, rb, rm) = (queue(&db, a, d).await, queue(&db, b, d).await, queue(&db, m, d).await);
        let only_a = ClaimFilter {
            endpoint_ids: Some(vec![a]),
            allow_launch: false,
        };
        let no_launch = ClaimFilter {
            endpoint_ids: None,
            allow_launch: false,
        };
        let w = worker("w");
        let mut got = Vec::new();
        while let Some(c) = claim_next_for(&db, &w, 30, true, &only_a).await.expect("claim") {
            got.push(c.id);
        }
        assert_eq!(got, vec![ra], "only endpoint a's run");
        let c = claim_next_for(&db, &w, 30, true, &no_launch).await.expect("claim");
        assert_eq!(c.map(|c| c.id), Some(rb), "any unmanaged endpoint");
        assert!(
            claim_next_for(&db, &w, 30, true, &no_launch).await.expect("claim").is_none(),
            "the managed endpoint's run stays queued without --allow-launch"
        );
        assert_eq!(runs::status(&db, rm).await.expect("status"), RunStatus::Queued);
        assert_eq!(
            claim_next(&db, &w, 30, true).await.expect("claim").map(|c| c.id),
            Some(rm),
            "serve takes it"
        );
        // An expired lease on endpoint a is taken over only by a worker that takes endpoint a.
        expire(&db, ra).await;
        let only_b = ClaimFilter {
            endpoint_ids: Some(vec![b]),
            allow_launch: true,
        };
        assert!(claim_next_for(&db, &worker("v"), 30, true, &only_b).await.expect("claim").is_none());
        let taken = claim_next_for(&db, &worker("v"), 30, true, &only_a).await.expect("claim");
        assert_eq!(taken.map(|c| c.id), Some(ra));
    }

    #[tokio::test]
    async fn a_run_names_the_worker_that_measures_it_and_a_take_over_names_the_one_before() {
        let (_d, db) = fresh().await;
        let d = dataset(&db).await;
        let e = endpoints::insert(&db, "e", "http://gpu:8000", false, &[]).await.expect("endpoint");
        let r = queue(&db, e, d).await;
        let gpu = worker("gpu-box");
        let named = crate::db::workers::Registration {
            kind: crate::domain::workers::WorkerKind::Worker,
            name: Some("next-to-gpu".into()),
            filter: ClaimFilter::any(),
            lease_s: 30,
        };
        crate::db::workers::beat(&db, &gpu, &named).await.expect("beat");
        claim_next(&db, &gpu, 30, true).await.expect("claim").expect("queued");
        let view = runs::get(&db, r).await.expect("run");
        assert_eq!(view.worker.as_deref(), Some("next-to-gpu on gpu-box (pid 7)"));
        expire(&db, r).await;
        let taken = claim_next(&db, &worker("serve-box"), 30, true)
            .await
            .expect("claim")
            .expect("expired");
        assert!(
            taken
                .taken_over
                .as_deref()
                .is_some_and(|n| n.contains("from next-to-gpu on gpu-box (pid 7)")),
            "{:?}",
            taken.taken_over
        );
        assert_eq!(runs::get(&db, r).await.expect("run").worker.as_deref(), Some("serve-box (pid 7)"));
    }
}
