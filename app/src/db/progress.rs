//! A run's live progress through the database (issue 13): the process that measures a run writes
//! its last [`Progress`] about once a second and when the run ends, so that a page served by
//! another process on the same database follows the run. `seq` grows with every write of a run's
//! row: a reader knows a newer one by it, without comparing clocks.

use super::error::{json, to_json, DbResult};
use super::Db;
use crate::domain::progress::Progress;
use crate::domain::status::RunStatus;

/// A run's progress as last written, and which write it was.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredProgress {
    /// 1 for the first write of the run's row, one more for each write after it.
    pub seq: i64,
    pub progress: Progress,
}

/// Write a run's progress as it is now (the run is `progress.run_id`).
pub async fn put(db: &Db, progress: &Progress) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO run_progress (run_id, progress) VALUES ($1, $2) \
         ON CONFLICT (run_id) DO UPDATE SET progress = excluded.progress, seq = run_progress.seq + 1, \
         updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    )
    .bind(progress.run_id)
    .bind(to_json(progress))
    .execute(db)
    .await?;
    if super::pool::Backend::of_pool(db) == super::pool::Backend::Postgres {
        // Pages served by other processes wake at once (LISTEN on NOTIFY_CHANNEL) instead of at
        // their next poll.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(NOTIFY_CHANNEL)
            .bind(progress.run_id.to_string())
            .execute(db)
            .await?;
    }
    Ok(())
}

/// The Postgres channel a run's id is sent on each time its progress is written.
pub const NOTIFY_CHANNEL: &str = "bakeoff_progress";

/// A run's last written progress, if any was written.
pub async fn get(db: &Db, run_id: i64) -> DbResult<Option<StoredProgress>> {
    let row: Option<(i64, String)> = sqlx::query_as("SELECT seq, progress FROM run_progress WHERE run_id = $1")
        .bind(run_id)
        .fetch_optional(db)
        .await?;
    row.map(|(seq, text)| stored(seq, &text)).transpose()
}

/// What a live view polls: the run's status and its last written progress (`None` when the run
/// is gone or in the trash).
pub async fn poll(db: &Db, run_id: i64) -> DbResult<Option<(RunStatus, Option<StoredProgress>)>> {
    let row: Option<(RunStatus, Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT r.status, p.seq, p.progress FROM runs r LEFT JOIN run_progress p ON p.run_id = r.id \
         WHERE r.id = $1 AND r.deleted_at IS NULL",
    )
    .bind(run_id)
    .fetch_optional(db)
    .await?;
    let Some((status, seq, text)) = row else {
        return Ok(None);
    };
    let progress = match (seq, text) {
        (Some(seq), Some(text)) => Some(stored(seq, &text)?),
        _ => None,
    };
    Ok(Some((status, progress)))
}

fn stored(seq: i64, text: &str) -> DbResult<StoredProgress> {
    Ok(StoredProgress {
        seq,
        progress: json("run progress", text)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::tests::{fresh, seed, spec};

    fn progress(run_id: i64, done: u64, status: RunStatus) -> Progress {
        Progress {
            run_id,
            status,
            done,
            total: 4,
            errors: 1,
            elapsed_s: 2.5,
            tokens_per_s: 120.0,
            eta_s: Some(1.0),
            message: Some("pre-flight".into()),
        }
    }

    /// Postgres only (run by scripts/test.sh with BAKEOFF_TEST_PG): each write is announced to
    /// listeners with the run's id.
    #[tokio::test]
    #[ignore = "needs Postgres: BAKEOFF_TEST_PG=URL cargo test -p app --features ssr --lib db::progress -- --ignored"]
    async fn on_postgres_each_write_is_announced_to_listeners() {
        let (_dir, db) = fresh().await;
        assert_eq!(
            crate::db::pool::Backend::of_pool(&db),
            crate::db::pool::Backend::Postgres,
            "set BAKEOFF_TEST_PG"
        );
        let (e, d) = seed(&db).await;
        let run = crate::db::runs::insert(&db, &spec(e, d), false, None).await.expect("run");
        let url = db.connect_options().database_url.to_string();
        let mut listener = sqlx::postgres::PgListener::connect(&url).await.expect("listener");
        listener.listen(NOTIFY_CHANNEL).await.expect("listen");
        put(&db, &progress(run, 1, RunStatus::Running)).await.expect("put");
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
            .await
            .expect("a notification within 10 s")
            .expect("recv");
        assert_eq!((n.channel(), n.payload()), (NOTIFY_CHANNEL, run.to_string().as_str()));
    }

    #[tokio::test]
    async fn progress_is_stored_replaced_and_each_write_counts_one_more() {
        let (_dir, db) = fresh().await;
        let (e, d) = seed(&db).await;
        let run = crate::db::runs::insert(&db, &spec(e, d), false, None).await.expect("run");
        assert_eq!(get(&db, run).await.expect("get"), None);

        let first = progress(run, 1, RunStatus::Running);
        put(&db, &first).await.expect("put");
        assert_eq!(get(&db, run).await.expect("get"), Some(StoredProgress { seq: 1, progress: first }));

        let last = Progress {
            message: None,
            eta_s: None,
            ..progress(run, 4, RunStatus::Completed)
        };
        put(&db, &last).await.expect("put again");
        put(&db, &last).await.expect("and again");
        assert_eq!(get(&db, run).await.expect("get"), Some(StoredProgress { seq: 3, progress: last }));
    }

    #[tokio::test]
    async fn a_poll_gives_the_runs_status_with_its_progress_and_nothing_for_a_run_in_the_trash() {
        let (_dir, db) = fresh().await;
        let (e, d) = seed(&db).await;
        let run = crate::db::runs::insert(&db, &spec(e, d), false, None).await.expect("run");
        let other = crate::db::runs::insert(&db, &spec(e, d), false, None).await.expect("run");
        assert_eq!(poll(&db, run).await.expect("poll"), Some((RunStatus::Queued, None)));

        let p = progress(run, 2, RunStatus::Running);
        put(&db, &p).await.expect("put");
        put(&db, &progress(other, 3, RunStatus::Running)).await.expect("put other");
        assert_eq!(
            poll(&db, run).await.expect("poll"),
            Some((RunStatus::Queued, Some(StoredProgress { seq: 1, progress: p })))
        );
        assert_eq!(poll(&db, 9999).await.expect("poll"), None);

        sqlx::query("UPDATE runs SET deleted_at = CAST(strftime('%s', 'now') AS INTEGER) WHERE id = $1")
            .bind(run)
            .execute(&db)
            .await
            .expect("to the trash");
        assert_eq!(poll(&db, run).await.expect("poll"), None);
    }

    #[tokio::test]
    async fn progress_of_a_run_that_does_not_exist_is_refused_and_goes_with_its_run() {
        let (_dir, db) = fresh().await;
        assert!(put(&db, &progress(4242, 1, RunStatus::Running)).await.is_err(), "no run 4242");
        let (e, d) = seed(&db).await;
        let run = crate::db::runs::insert(&db, &spec(e, d), false, None).await.expect("run");
        put(&db, &progress(run, 1, RunStatus::Running)).await.expect("put");
        sqlx::query("DELETE FROM runs WHERE id = $1")
            .bind(run)
            .execute(&db)
            .await
            .expect("delete the run");
        assert_eq!(get(&db, run).await.expect("get"), None);
    }
}
