//! Batch jobs' state (issue 14): written as the job goes, read by the worker that resumes it and
//! by the run page.

use super::error::{json, to_json, DbResult};
use super::Db;
use crate::domain::batch::JobTiming;

/// A batch run's job as stored: its timing and the provider's file ids.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoredJob {
    pub job: JobTiming,
    pub input_file_id: Option<String>,
    pub output_file_id: Option<String>,
    pub error_file_id: Option<String>,
}

/// The job of a run, if it has one.
pub async fn get(db: &Db, run_id: i64) -> DbResult<Option<StoredJob>> {
    let row: Option<(String, Option<String>, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT job, input_file_id, output_file_id, error_file_id FROM run_jobs WHERE run_id = $1")
            .bind(run_id)
            .fetch_optional(db)
            .await?;
    row.map(|(job, input_file_id, output_file_id, error_file_id)| {
        Ok(StoredJob {
            job: json("batch job", &job)?,
            input_file_id,
            output_file_id,
            error_file_id,
        })
    })
    .transpose()
}

/// Write the job as it is now (a new row, or the run's row replaced).
pub async fn put(db: &Db, run_id: i64, stored: &StoredJob) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO run_jobs (run_id, job, input_file_id, output_file_id, error_file_id) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (run_id) DO UPDATE SET job = excluded.job, input_file_id = excluded.input_file_id, \
         output_file_id = excluded.output_file_id, error_file_id = excluded.error_file_id, \
         updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
    )
    .bind(run_id)
    .bind(to_json(&stored.job))
    .bind(&stored.input_file_id)
    .bind(&stored.output_file_id)
    .bind(&stored.error_file_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Forget a run's job (an offline job that starts again from the beginning).
pub async fn clear(db: &Db, run_id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM run_jobs WHERE run_id = $1")
        .bind(run_id)
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::spec::RunKind;

    #[tokio::test]
    async fn a_job_is_stored_replaced_and_read_back() {
        let (_dir, db) = crate::db::tests::fresh().await;
        let (e, d) = crate::db::tests::seed(&db).await;
        let run = crate::db::runs::insert(&db, &crate::db::tests::spec(e, d), false, None)
            .await
            .expect("run");
        assert_eq!(get(&db, run).await.expect("get"), None);
        let mut s = StoredJob {
            job: JobTiming {
                kind: RunKind::ProviderBatch,
                submitted_at: Some(1.0),
                reference: Some("batch_1".into()),
                total: 10,
                ..Default::default()
            },
            input_file_id: Some("file-1".into()),
            ..Default::default()
        };
        put(&db, run, &s).await.expect("put");
        s.job.completed = 10;
        s.output_file_id = Some("file-2".into());
        put(&db, run, &s).await.expect("replace");
        assert_eq!(get(&db, run).await.expect("get"), Some(s));
        clear(&db, run).await.expect("clear");
        assert_eq!(get(&db, run).await.expect("get"), None);
    }
}
