use super::error::DbResult;
use super::Db;
use crate::domain::metrics::MetricsSample;

pub async fn insert(db: &Db, run_id: i64, s: &MetricsSample) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO server_metrics (run_id, t_ms, running, waiting, kv_cache_usage, prompt_tokens_total, generation_tokens_total) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (run_id, t_ms) DO UPDATE SET running = excluded.running, waiting = excluded.waiting, kv_cache_usage = excluded.kv_cache_usage, prompt_tokens_total = excluded.prompt_tokens_total, generation_tokens_total = excluded.generation_tokens_total",
    )
    .bind(run_id)
    .bind(s.t_ms as i64)
    .bind(s.running)
    .bind(s.waiting)
    .bind(s.kv_cache_usage)
    .bind(s.prompt_tokens_total)
    .bind(s.generation_tokens_total)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    t_ms: i64,
    running: Option<f64>,
    waiting: Option<f64>,
    kv_cache_usage: Option<f64>,
    prompt_tokens_total: Option<f64>,
    generation_tokens_total: Option<f64>,
}

/// The run's scraped series, in time order.
pub async fn for_run(db: &Db, run_id: i64) -> DbResult<Vec<MetricsSample>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT t_ms, running, waiting, kv_cache_usage, prompt_tokens_total, generation_tokens_total FROM server_metrics WHERE run_id = $1 ORDER BY t_ms",
    )
    .bind(run_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| MetricsSample {
            t_ms: r.t_ms.max(0) as u64,
            running: r.running,
            waiting: r.waiting,
            kv_cache_usage: r.kv_cache_usage,
            prompt_tokens_total: r.prompt_tokens_total,
            generation_tokens_total: r.generation_tokens_total,
        })
        .collect())
}
