//! The worker processes sharing this database, and the model servers they started. A worker
//! renews its row like a lease so that a start-up can name the others that are alive; a model
//! server is written down when it is spawned so that, if its worker dies, the next worker on
//! that host stops it before anything is relaunched.

use super::error::DbResult;
use super::leases::{ClaimFilter, Holder, NOW};
use super::Db;
use crate::domain::workers::{HeldRun, Liveness, Serves, WorkerKind, WorkerView};

/// What a worker says about itself in its row: which command it is, its name, what it takes
/// from the queue, and its lease (silent for longer, it is not alive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub kind: WorkerKind,
    /// `bakeoff worker --name` (default: the host name); `None` for `serve`.
    pub name: Option<String>,
    pub filter: ClaimFilter,
    pub lease_s: i64,
}

impl Registration {
    /// The worker inside `bakeoff serve`: every run, model servers included.
    pub fn serve(lease_s: i64) -> Registration {
        Registration {
            kind: WorkerKind::Serve,
            name: None,
            filter: ClaimFilter::any(),
            lease_s,
        }
    }
}

/// Say this worker is alive (insert or renew its row, with what it takes); forget rows silent
/// for a day.
pub async fn beat(db: &Db, who: &Holder, r: &Registration) -> DbResult<()> {
    sqlx::query(&format!(
        "INSERT INTO workers (id, kind, host, pid, seen_at, name, endpoint_ids, allow_launch, lease_s) \
         VALUES ($1, $2, $3, $4, {NOW}, $5, $6, $7, $8) \
         ON CONFLICT(id) DO UPDATE SET seen_at = excluded.seen_at, kind = excluded.kind, name = excluded.name, \
         endpoint_ids = excluded.endpoint_ids, allow_launch = excluded.allow_launch, lease_s = excluded.lease_s, stopped_at = NULL"
    ))
    .bind(&who.owner)
    .bind(r.kind)
    .bind(&who.host)
    .bind(i64::from(who.pid))
    .bind(&r.name)
    .bind(r.filter.endpoint_ids_json())
    .bind(r.filter.allow_launch)
    .bind(r.lease_s)
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
    sqlx::query("UPDATE workers SET sim_url = $1 WHERE id = $2")
        .bind(url)
        .bind(owner)
        .execute(db)
        .await?;
    Ok(())
}

/// A clean stop: this worker is gone (its row stays a day, marked stopped, for the Workers page).
pub async fn leave(db: &Db, owner: &str) -> DbResult<()> {
    sqlx::query(&format!("UPDATE workers SET stopped_at = {NOW} WHERE id = $1"))
        .bind(owner)
        .execute(db)
        .await?;
    Ok(())
}

/// Another worker process, as its row says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerRow {
    pub kind: WorkerKind,
    pub host: String,
    pub pid: i64,
    pub started_at: String,
    pub seen_s_ago: i64,
    pub sim_url: Option<String>,
}

/// Workers other than `owner` seen within the last `within_s` seconds.
pub async fn others(db: &Db, owner: &str, within_s: i64) -> DbResult<Vec<WorkerRow>> {
    type WorkerTuple = (WorkerKind, String, i64, String, i64, Option<String>);
    let rows: Vec<WorkerTuple> = sqlx::query_as(&format!(
        "SELECT kind, host, pid, started_at, {NOW} - seen_at, sim_url FROM workers \
         WHERE id <> $1 AND stopped_at IS NULL AND seen_at >= {NOW} - $2 ORDER BY started_at"
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
    let r = sqlx::query_scalar::<_, i64>(
        "INSERT INTO model_servers (run_id, host, boot_id, pgid, start_ticks, command) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(run_id)
    .bind(host)
    .bind(&s.boot_id)
    .bind(s.pgid)
    .bind(s.start_ticks)
    .bind(&s.command)
    .fetch_one(db)
    .await?;
    Ok(r)
}

pub async fn model_server_stopped(db: &Db, id: i64) -> DbResult<()> {
    sqlx::query("UPDATE model_servers SET stopped_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = $1")
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
         WHERE m.stopped_at IS NULL AND m.host = $1 AND ($2 IS NULL OR m.run_id = $3) \
         AND NOT (r.status = 'running' AND r.lease_owner IS DISTINCT FROM $4 AND COALESCE(r.lease_expires_at, 0) >= {NOW}) ORDER BY m.id"
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
/// latest heartbeat of any worker not stopped cleanly (None: none beat), from the database's clock.
pub async fn health(db: &Db, within_s: i64) -> DbResult<(i64, Option<i64>)> {
    Ok(sqlx::query_as(
        "SELECT COUNT(CASE WHEN seen_at >= CAST(strftime('%s', 'now') AS INTEGER) - $1 THEN 1 END), \
                CAST(strftime('%s', 'now') AS INTEGER) - MAX(seen_at) FROM workers WHERE stopped_at IS NULL",
    )
    .bind(within_s)
    .fetch_one(db)
    .await?)
}

/// A `workers` row for the page, before its endpoints and runs are attached.
#[derive(sqlx::FromRow)]
struct ListRow {
    id: String,
    kind: WorkerKind,
    name: String,
    host: String,
    pid: i64,
    /// JSON array of the current names of its endpoints (NULL: any endpoint).
    endpoint_names: Option<String>,
    #[sqlx(try_from = "crate::db::Flag")]
    allow_launch: bool,
    started_at: String,
    age_s: i64,
    lease_s: i64,
    stopped_at: Option<i64>,
}

/// Every worker seen in the last day, live ones first (oldest first), with the runs each holds
/// now (`running` under its lease). Endpoints are named as they are called now (an endpoint
/// deleted for good: `#ID (deleted)`).
pub async fn list(db: &Db) -> DbResult<Vec<WorkerView>> {
    let rows: Vec<ListRow> = sqlx::query_as(&format!(
        "SELECT w.id, w.kind, COALESCE(w.name, w.host) AS name, w.host, w.pid, \
         CASE WHEN w.endpoint_ids IS NULL THEN NULL ELSE \
           (SELECT json_group_array(COALESCE(e.name, '#' || j.value || ' (deleted)')) \
            FROM json_each(w.endpoint_ids) j LEFT JOIN endpoints e ON e.id = CAST(j.value AS BIGINT)) END AS endpoint_names, \
         w.allow_launch, w.started_at, {NOW} - w.seen_at AS age_s, w.lease_s, w.stopped_at \
         FROM workers w WHERE w.seen_at >= {NOW} - 86400 \
         ORDER BY w.stopped_at IS NOT NULL, w.started_at, w.id"
    ))
    .fetch_all(db)
    .await?;
    let held: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT lease_owner, id, name FROM runs WHERE status = 'running' AND lease_owner IS NOT NULL AND deleted_at IS NULL ORDER BY id",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let endpoints = match r.endpoint_names.as_deref() {
                None => Serves::ANY,
                Some(names) => {
                    let mut names: Vec<String> = serde_json::from_str(names).unwrap_or_default();
                    names.sort();
                    Serves::Only(names)
                }
            };
            let runs = held
                .iter()
                .filter(|(owner, _, _)| *owner == r.id)
                .map(|(_, id, name)| HeldRun {
                    id: *id,
                    name: name.clone(),
                    url: format!("/runs/{id}"),
                })
                .collect();
            WorkerView {
                name: r.name,
                kind: r.kind,
                host: r.host,
                pid: r.pid,
                endpoints,
                may_launch: r.allow_launch,
                started: r.started_at,
                heartbeat_age_s: r.age_s,
                lease_s: r.lease_s,
                state: Liveness::of(r.age_s, r.lease_s, r.stopped_at.is_some()),
                stopped_at_s: r.stopped_at,
                runs,
            }
        })
        .collect())
}

/// Is the run's endpoint managed (Bakeoff starts its model server)? With the endpoint's name,
/// for [`crate::domain::workers::queue_wait`]. `None`: no such run.
pub async fn run_endpoint(db: &Db, run_id: i64) -> DbResult<Option<(String, bool)>> {
    let row: Option<(String, super::Flag)> = sqlx::query_as(
        "SELECT COALESCE(e.name, ''), (e.launch_args IS NOT NULL OR e.launch_template IS NOT NULL) \
         FROM runs r LEFT JOIN endpoints e ON e.id = r.endpoint_id WHERE r.id = $1 AND r.deleted_at IS NULL",
    )
    .bind(run_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(name, managed)| (name, managed.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{datasets, endpoints, leases, runs};
    use crate::domain::dataset::DatasetItem;
    use crate::domain::spec::LaunchForm;

    fn holder(name: &str) -> Holder {
        Holder {
            owner: format!("{name}/9/x"),
            host: name.into(),
            pid: 9,
        }
    }

    #[tokio::test]
    async fn the_page_lists_each_worker_with_its_endpoints_and_the_runs_it_holds() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = crate::db::pool::test_db(dir.path()).await.expect("connect + migrate");
        let a = endpoints::insert(&db, "gpu-a", "http://gpu-a:8000", false, &[])
            .await
            .expect("endpoint");
        let items = vec![DatasetItem {
            custom_id: "a".into(),
            url: "/v1/completions".into(),
            body: serde_json::json!({"prompt": "a"}),
        }];
        let d = datasets::insert(
            &db,
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
        .expect("dataset");
        let spec = LaunchForm {
            endpoint_id: a.to_string(),
            dataset_id: d.to_string(),
            model: "m".into(),
            requests: "1".into(),
            concurrency: "1".into(),
            ..Default::default()
        }
        .parse()
        .expect("spec");
        let run = runs::insert(&db, &spec, false, None).await.expect("run");

        let (gpu, web) = (holder("gpu-a"), holder("web"));
        let only_a = Registration {
            kind: WorkerKind::Worker,
            name: Some("next-to-a".into()),
            filter: ClaimFilter {
                endpoint_ids: Some(vec![a]),
                allow_launch: false,
            },
            lease_s: 5,
        };
        beat(&db, &gpu, &only_a).await.expect("beat");
        beat(&db, &web, &Registration::serve(30)).await.expect("beat");
        leases::claim_next_for(&db, &gpu, 5, true, &only_a.filter)
            .await
            .expect("claim")
            .expect("queued");
        leave(&db, &web.owner).await.expect("leave");

        let list = list(&db).await.expect("list");
        assert_eq!(list.len(), 2, "{list:?}");
        let w = &list[0];
        assert_eq!(
            (w.name.as_str(), w.kind, w.host.as_str(), w.pid),
            ("next-to-a", WorkerKind::Worker, "gpu-a", 9)
        );
        assert_eq!(w.endpoints, Serves::Only(vec!["gpu-a".into()]));
        assert!(!w.may_launch);
        assert_eq!((w.state, w.lease_s), (Liveness::Alive, 5));
        assert_eq!(
            w.runs.iter().map(|r| (r.id, r.url.as_str())).collect::<Vec<_>>(),
            vec![(run, format!("/runs/{run}").as_str())]
        );
        let s = &list[1];
        assert_eq!(
            (s.name.as_str(), s.kind, &s.endpoints, s.may_launch),
            ("web", WorkerKind::Serve, &Serves::ANY, true)
        );
        assert_eq!(s.state, Liveness::Stopped, "a clean stop is kept, marked stopped");
        assert!(
            others(&db, &gpu.owner, 30).await.expect("others").is_empty(),
            "a stopped serve is not another live worker"
        );
        assert_eq!(health(&db, 60).await.expect("health").0, 1);

        // Renamed endpoints show their current name; a silent worker is no longer alive.
        sqlx::query("UPDATE endpoints SET name = 'gpu-a-renamed' WHERE id = $1")
            .bind(a)
            .execute(&db)
            .await
            .expect("rename");
        sqlx::query("UPDATE workers SET seen_at = seen_at - 60 WHERE id = $1")
            .bind(&gpu.owner)
            .execute(&db)
            .await
            .expect("age");
        let w = list_one(&db, "next-to-a").await;
        assert_eq!(w.endpoints, Serves::Only(vec!["gpu-a-renamed".into()]));
        assert_eq!(w.state, Liveness::Silent);
    }

    async fn list_one(db: &Db, name: &str) -> WorkerView {
        list(db).await.expect("list").into_iter().find(|w| w.name == name).expect("listed")
    }
}
