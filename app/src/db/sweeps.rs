//! The steps of a sweep, for planning an automatic sweep's next step (issue 18), and the
//! conditions captured for a run.

use super::error::{json, to_json, DbResult};
use super::Db;
use crate::domain::conditions::Conditions;
use crate::domain::saturation::Step;
use crate::domain::spec::RunSpec;
use crate::domain::status::RunStatus;
use crate::domain::summary::RunSummary;

/// The sweep a run belongs to.
pub async fn sweep_of(db: &Db, run_id: i64) -> DbResult<Option<i64>> {
    let s: Option<Option<i64>> = sqlx::query_scalar("SELECT sweep_id FROM runs WHERE id = $1")
        .bind(run_id)
        .fetch_optional(db)
        .await?;
    Ok(s.flatten())
}

/// The automatic-sweep steps of a sweep, in the order they were queued.
pub async fn steps(db: &Db, sweep_id: i64) -> DbResult<Vec<Step>> {
    let rows: Vec<(i64, RunStatus, String, Option<String>)> =
        sqlx::query_as("SELECT id, status, spec, summary FROM runs WHERE sweep_id = $1 ORDER BY id")
            .bind(sweep_id)
            .fetch_all(db)
            .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, status, spec, summary) in rows {
        let spec: Option<RunSpec> = json("run spec", &spec)?;
        let summary: Option<RunSummary> = summary.as_deref().map(|s| json("run summary", s)).transpose()?;
        if let Some(step) = spec.as_ref().and_then(|s| Step::from_parts(id, status, s, summary.as_ref())) {
            out.push(step);
        }
    }
    Ok(out)
}

/// The steps of a sweep that are in the trash: (run id, its load), in the order they ran.
pub async fn trashed_steps(db: &Db, sweep_id: i64) -> DbResult<Vec<(i64, String)>> {
    let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, spec FROM runs WHERE sweep_id = $1 AND deleted_at IS NOT NULL ORDER BY id")
        .bind(sweep_id)
        .fetch_all(db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, spec) in rows {
        let spec: Option<RunSpec> = json("run spec", &spec)?;
        out.push((id, spec.map(|s| s.load_label()).unwrap_or_default()));
    }
    Ok(out)
}

/// Queue the next step of a sweep: a run in the same sweep, made by whoever launched the sweep.
pub async fn add_step(db: &Db, sweep_id: i64, spec: &RunSpec, simulated: bool) -> DbResult<i64> {
    let id = super::runs::insert(db, spec, simulated, Some(sweep_id)).await?;
    sqlx::query("UPDATE runs SET created_by = (SELECT created_by FROM runs WHERE id = $1) WHERE id = $2")
        .bind(sweep_id)
        .bind(id)
        .execute(db)
        .await?;
    Ok(id)
}

/// The sweep's step waiting in the queue, if any (the CLI follows it).
pub async fn queued_step(db: &Db, sweep_id: i64) -> DbResult<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM runs WHERE sweep_id = $1 AND status = 'queued' ORDER BY id LIMIT 1")
            .bind(sweep_id)
            .fetch_optional(db)
            .await?,
    )
}

/// Store what the endpoint said about itself for a run.
pub async fn set_conditions(db: &Db, run_id: i64, c: &Conditions) -> DbResult<()> {
    sqlx::query("UPDATE runs SET conditions = $1 WHERE id = $2")
        .bind(to_json(c))
        .bind(run_id)
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::conditions::PrefixCacheUse;
    use crate::domain::saturation::{AutoSweep, SweepPhase};

    #[tokio::test]
    async fn steps_of_a_sweep_come_back_in_order_with_their_phase() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = crate::db::pool::test_db(dir.path()).await.expect("connect + migrate");
        let e = crate::db::endpoints::insert(&db, "e", "http://x:1", false, &[])
            .await
            .expect("endpoint");
        let d = crate::db::datasets::insert(
            &db,
            crate::db::datasets::NewDataset {
                name: "d",
                description: "",
                source: "test",
                builtin: false,
                answer_schema: None,
                rubric: None,
                items: &[],
            },
        )
        .await
        .expect("dataset");
        let mut spec = crate::domain::spec::LaunchForm {
            endpoint_id: e.to_string(),
            dataset_id: d.to_string(),
            model: "m".into(),
            requests: "4".into(),
            concurrency: "1".into(),
            ..Default::default()
        }
        .parse()
        .expect("spec");
        spec.auto_sweep = Some(AutoSweep {
            steps: 3,
            phase: SweepPhase::Search,
        });
        let first = crate::db::runs::insert_sweep(&db, std::slice::from_ref(&spec), true)
            .await
            .expect("sweep")[0];
        spec.load.concurrency = 2;
        let second = add_step(&db, first, &spec, true).await.expect("step");
        assert_eq!(sweep_of(&db, second).await.expect("sweep"), Some(first));
        let s = steps(&db, first).await.expect("steps");
        assert_eq!(
            s.iter().map(|s| (s.run_id, s.concurrency)).collect::<Vec<_>>(),
            vec![(first, 1), (second, 2)]
        );
        assert_eq!(queued_step(&db, first).await.expect("queued"), Some(first));
        let c = Conditions {
            version: Some("0.32.0".into()),
            prefix_cache: Some(PrefixCacheUse { queries: 10.0, hits: 5.0 }),
            ..Default::default()
        };
        set_conditions(&db, second, &c).await.expect("store");
        assert_eq!(crate::db::runs::get(&db, second).await.expect("run").conditions, Some(c));
        assert_eq!(crate::db::runs::get(&db, first).await.expect("run").conditions, None);
    }
}
