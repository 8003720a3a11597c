//! Data that must not leave the building, and spend caps: the internal-only flag of datasets,
//! endpoints' monthly caps, what each run spent, and datasets' token estimates (migration 0017).

use super::error::{DbError, DbResult};
use super::Db;
use crate::domain::spend::DatasetTokens;
use std::collections::HashMap;

/// This month, by the database's clock (UTC), as runs' spend is filed.
const THIS_MONTH: &str = "strftime('%Y-%m', 'now')";

/// Mark a dataset internal only, or clear the mark. Works on an upload still under way too (so
/// the mark is there before the dataset becomes visible).
pub async fn set_internal_only(db: &Db, dataset_id: i64, internal_only: bool) -> DbResult<()> {
    let r = sqlx::query("UPDATE datasets SET internal_only = $1 WHERE id = $2")
        .bind(internal_only)
        .bind(dataset_id)
        .execute(db)
        .await?;
    if r.rows_affected() == 0 {
        return Err(DbError::NotFound(format!("dataset {dataset_id}")));
    }
    Ok(())
}

/// Set or clear an endpoint's monthly spend cap (dollars).
pub async fn set_spend_cap(db: &Db, endpoint_id: i64, cap: Option<f64>) -> DbResult<()> {
    let r = sqlx::query("UPDATE endpoints SET spend_cap_usd = $1 WHERE id = $2")
        .bind(cap)
        .bind(endpoint_id)
        .execute(db)
        .await?;
    if r.rows_affected() == 0 {
        return Err(DbError::NotFound(format!("endpoint {endpoint_id}")));
    }
    Ok(())
}

/// What runs on the endpoint spent this month, leaving out run `except` (the one asking).
pub async fn spent_this_month(db: &Db, endpoint_id: i64, except: Option<i64>) -> DbResult<f64> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT COALESCE(SUM(usd), 0.0) FROM run_spend WHERE endpoint_id = $1 AND month = {THIS_MONTH} \
         AND (run_id IS NULL OR run_id IS DISTINCT FROM $2)"
    ))
    .bind(endpoint_id)
    .bind(except)
    .fetch_one(db)
    .await?)
}

/// Every endpoint's spend this month.
pub async fn spent_this_month_by_endpoint(db: &Db) -> DbResult<HashMap<i64, f64>> {
    let rows: Vec<(i64, f64)> = sqlx::query_as(&format!(
        "SELECT endpoint_id, SUM(usd) FROM run_spend WHERE month = {THIS_MONTH} GROUP BY endpoint_id"
    ))
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().collect())
}

/// File run `run_id`'s spend under its endpoint and this month (kept as it is when the run
/// resumes: a run counts in the month it started).
pub async fn open_run_spend(db: &Db, run_id: i64, endpoint_id: i64) -> DbResult<()> {
    sqlx::query(&format!(
        "INSERT INTO run_spend (run_id, endpoint_id, month) VALUES ($1, $2, {THIS_MONTH}) ON CONFLICT(run_id) DO NOTHING"
    ))
    .bind(run_id)
    .bind(endpoint_id)
    .execute(db)
    .await?;
    Ok(())
}

/// What run `run_id` has spent so far (all of it: a resumed run's earlier requests included).
pub async fn set_run_spend(db: &Db, run_id: i64, usd: f64, requests: u64) -> DbResult<()> {
    sqlx::query("UPDATE run_spend SET usd = $1, requests = $2 WHERE run_id = $3")
        .bind(usd)
        .bind(requests as i64)
        .bind(run_id)
        .execute(db)
        .await?;
    Ok(())
}

/// What run `run_id` spent, as filed (`None`: nothing filed).
pub async fn run_spend(db: &Db, run_id: i64) -> DbResult<Option<(f64, i64)>> {
    Ok(sqlx::query_as("SELECT usd, requests FROM run_spend WHERE run_id = $1")
        .bind(run_id)
        .fetch_optional(db)
        .await?)
}

/// A running run's ask for room under its endpoint's cap: its reservation (what it may reach,
/// spent and in flight together) becomes `want`, or as much of it as the cap leaves, but never
/// less than `at_least`. Granted in one write transaction (Postgres: the endpoint's row locked),
/// so two runs asking at once take turns and each sees the other's reservation. The others'
/// share: what each spent, plus what a running run (its lease alive) holds beyond that.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reservation {
    /// The run's new reservation; `None`: not even `at_least` fits.
    pub granted: Option<f64>,
    pub cap: Option<f64>,
    /// What the endpoint's other runs spent or hold this month.
    pub others_usd: f64,
}

pub async fn reserve_spend(db: &Db, run_id: i64, endpoint_id: i64, at_least: f64, want: f64) -> DbResult<Reservation> {
    use super::leases::NOW;
    let mut tx = super::pool::write_tx(db).await?;
    let postgres = super::pool::Backend::of_pool(db) == super::pool::Backend::Postgres;
    let cap: Option<Option<f64>> = sqlx::query_scalar(if postgres {
        "SELECT spend_cap_usd FROM endpoints WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT spend_cap_usd FROM endpoints WHERE id = $1"
    })
    .bind(endpoint_id)
    .fetch_optional(&mut *tx)
    .await?;
    let cap = cap.ok_or_else(|| DbError::NotFound(format!("endpoint {endpoint_id}")))?;
    let others_usd: f64 = sqlx::query_scalar(&format!(
        "SELECT COALESCE(SUM(s.usd + CASE WHEN r.status = 'running' AND COALESCE(r.lease_expires_at, {NOW}) >= {NOW} \
         AND s.reserved_usd > s.usd THEN s.reserved_usd - s.usd ELSE 0.0 END), 0.0) \
         FROM run_spend s LEFT JOIN runs r ON r.id = s.run_id \
         WHERE s.endpoint_id = $1 AND s.month = {THIS_MONTH} AND (s.run_id IS NULL OR s.run_id <> $2)"
    ))
    .bind(endpoint_id)
    .bind(run_id)
    .fetch_one(&mut *tx)
    .await?;
    let granted = match cap {
        None => Some(want),
        Some(cap) if others_usd + at_least <= cap + 1e-12 => Some(want.min(cap - others_usd).max(at_least)),
        Some(_) => None,
    };
    if let Some(g) = granted {
        sqlx::query("UPDATE run_spend SET reserved_usd = $1 WHERE run_id = $2")
            .bind(g)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Reservation { granted, cap, others_usd })
}

/// A run that stopped sending holds nothing beyond what it spent.
pub async fn release_spend(db: &Db, run_id: i64) -> DbResult<()> {
    sqlx::query("UPDATE run_spend SET reserved_usd = usd WHERE run_id = $1")
        .bind(run_id)
        .execute(db)
        .await?;
    Ok(())
}

/// The usage of the requests stored for a run: (requests, prompt tokens, completion tokens),
/// for a resumed run's spend so far.
pub async fn stored_usage(db: &Db, run_id: i64) -> DbResult<(u64, u64, u64)> {
    let (n, p, c): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT) FROM request_records WHERE run_id = $1",
    )
    .bind(run_id)
    .fetch_one(db)
    .await?;
    Ok((n.max(0) as u64, p.max(0) as u64, c.max(0) as u64))
}

/// A dataset's token estimates, if computed already.
pub async fn dataset_tokens(db: &Db, dataset_id: i64) -> DbResult<Option<DatasetTokens>> {
    let row: Option<(i64, i64, i64, i64)> =
        sqlx::query_as("SELECT items, prompt_tokens, max_tokens, without_max FROM dataset_tokens WHERE dataset_id = $1")
            .bind(dataset_id)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(items, prompt, max, without)| DatasetTokens {
        items: items.max(0) as u64,
        prompt_tokens: prompt.max(0) as u64,
        max_tokens: max.max(0) as u64,
        without_max: without.max(0) as u64,
    }))
}

pub async fn put_dataset_tokens(db: &Db, dataset_id: i64, t: &DatasetTokens) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO dataset_tokens (dataset_id, items, prompt_tokens, max_tokens, without_max) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT(dataset_id) DO UPDATE SET items = excluded.items, prompt_tokens = excluded.prompt_tokens, \
         max_tokens = excluded.max_tokens, without_max = excluded.without_max",
    )
    .bind(dataset_id)
    .bind(t.items as i64)
    .bind(t.prompt_tokens as i64)
    .bind(t.max_tokens as i64)
    .bind(t.without_max as i64)
    .execute(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fresh() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = crate::db::pool::test_db(dir.path()).await.expect("connect + migrate");
        (dir, db)
    }

    async fn endpoint_and_run(db: &Db) -> (i64, i64) {
        let e = crate::db::endpoints::insert(db, "e", "http://e:1", false, &[])
            .await
            .expect("endpoint");
        let run: i64 = sqlx::query_scalar(
            "INSERT INTO runs (name, status, endpoint_id, model, spec, total_requests) VALUES ('r', 'queued', $1, 'm', '{}', 1) RETURNING id",
        )
        .bind(e)
        .fetch_one(db)
        .await
        .expect("run");
        (e, run)
    }

    #[tokio::test]
    async fn a_runs_spend_counts_in_its_endpoints_month_and_outlives_the_run() {
        let (_dir, db) = fresh().await;
        let (e, run) = endpoint_and_run(&db).await;
        open_run_spend(&db, run, e).await.expect("open");
        set_run_spend(&db, run, 1.25, 10).await.expect("set");
        open_run_spend(&db, run, e).await.expect("a resume keeps what was filed");
        assert_eq!(run_spend(&db, run).await.expect("spend"), Some((1.25, 10)));
        assert_eq!(spent_this_month(&db, e, None).await.expect("month"), 1.25);
        assert_eq!(
            spent_this_month(&db, e, Some(run)).await.expect("month"),
            0.0,
            "the asking run is left out"
        );
        sqlx::query("DELETE FROM runs WHERE id = $1")
            .bind(run)
            .execute(&db)
            .await
            .expect("delete");
        assert_eq!(spent_this_month(&db, e, None).await.expect("month"), 1.25, "the money stays spent");
        assert_eq!(spent_this_month_by_endpoint(&db).await.expect("all").get(&e), Some(&1.25));
    }

    #[tokio::test]
    async fn flags_and_caps_are_set_on_what_exists_only() {
        let (_dir, db) = fresh().await;
        let (e, _) = endpoint_and_run(&db).await;
        set_spend_cap(&db, e, Some(5.0)).await.expect("cap");
        let cap: Option<f64> = sqlx::query_scalar("SELECT spend_cap_usd FROM endpoints WHERE id = $1")
            .bind(e)
            .fetch_one(&db)
            .await
            .expect("cap");
        assert_eq!(cap, Some(5.0));
        assert!(matches!(set_spend_cap(&db, 999, None).await, Err(DbError::NotFound(_))));
        assert!(matches!(set_internal_only(&db, 999, true).await, Err(DbError::NotFound(_))));
    }
}
