//! A run's stored chart data (see migration 0013).

use super::error::{json, to_json, DbResult};
use super::Db;
use crate::domain::series::RunCharts;

/// Store (or replace) a run's charts, computed from `records` records.
pub async fn put(db: &Db, run_id: i64, records: u64, charts: &RunCharts) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO run_charts (run_id, records, data) VALUES ($1, $2, $3) \
         ON CONFLICT (run_id) DO UPDATE SET records = excluded.records, data = excluded.data",
    )
    .bind(run_id)
    .bind(records as i64)
    .bind(to_json(charts))
    .execute(db)
    .await?;
    Ok(())
}

/// A run's stored charts and how many records they were computed from.
pub async fn get(db: &Db, run_id: i64) -> DbResult<Option<(u64, RunCharts)>> {
    let row: Option<(i64, String)> = sqlx::query_as("SELECT records, data FROM run_charts WHERE run_id = $1")
        .bind(run_id)
        .fetch_optional(db)
        .await?;
    row.map(|(n, data)| Ok((n.max(0) as u64, json("run charts", &data)?))).transpose()
}
