use super::error::{json, to_json, DbError, DbResult};
use super::Db;
use crate::domain::models::{ModelEntry, Quant};
use crate::domain::views::{LaunchView, PlannedTest};

#[derive(sqlx::FromRow)]
struct ModelRow {
    id: i64,
    name: String,
    arch: String,
    quant: String,
    source: String,
    weights_gb: Option<f64>,
}

fn model(r: ModelRow) -> DbResult<ModelEntry> {
    Ok(ModelEntry {
        id: r.id,
        name: r.name,
        arch: json("model architecture", &r.arch)?,
        quant: Quant::parse(&r.quant).ok_or_else(|| DbError::Corrupt(format!("quantisation '{}'", r.quant)))?,
        source: r.source,
        weights_gb: r.weights_gb,
    })
}

pub async fn models(db: &Db) -> DbResult<Vec<ModelEntry>> {
    let rows: Vec<ModelRow> = sqlx::query_as("SELECT id, name, arch, quant, source, weights_gb FROM models ORDER BY builtin DESC, name")
        .fetch_all(db)
        .await?;
    rows.into_iter().map(model).collect()
}

pub async fn model_by_name(db: &Db, name: &str) -> DbResult<Option<ModelEntry>> {
    let row: Option<ModelRow> = sqlx::query_as("SELECT id, name, arch, quant, source, weights_gb FROM models WHERE name = $1")
        .bind(name)
        .fetch_optional(db)
        .await?;
    row.map(model).transpose()
}

pub async fn add_model(db: &Db, m: &ModelEntry, builtin: bool) -> DbResult<i64> {
    let quant = serde_json::to_value(m.quant)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let r = sqlx::query_scalar::<_, i64>(
        "INSERT INTO models (name, arch, quant, source, weights_gb, builtin) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(&m.name)
    .bind(to_json(&m.arch))
    .bind(quant)
    .bind(&m.source)
    .bind(m.weights_gb)
    .bind(builtin)
    .fetch_one(db)
    .await;
    match r {
        Ok(r) => Ok(r),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(DbError::Conflict(format!("a model named '{}' is registered", m.name)))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn ensure_presets(db: &Db) -> DbResult<()> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM models WHERE builtin = TRUE")
        .fetch_one(db)
        .await?;
    if n == 0 {
        for m in crate::domain::models::presets() {
            add_model(db, &m, true).await?;
        }
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct TestRow {
    id: i64,
    position: i64,
    title: String,
    model_id: Option<i64>,
    endpoint_id: Option<i64>,
    dataset_id: Option<i64>,
    serve_model: String,
    requests: i64,
    concurrency: i64,
    expected: String,
    plan: Option<String>,
    status: crate::domain::views::TestStatus,
    run_id: Option<i64>,
}

pub async fn tests(db: &Db) -> DbResult<Vec<PlannedTest>> {
    let rows: Vec<TestRow> = sqlx::query_as(
        "SELECT id, position, title, model_id, endpoint_id, dataset_id, serve_model, requests, concurrency, expected, plan, status, run_id FROM planned_tests ORDER BY position, id",
    )
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(PlannedTest {
                id: r.id,
                position: r.position,
                title: r.title,
                model_id: r.model_id,
                endpoint_id: r.endpoint_id,
                dataset_id: r.dataset_id,
                serve_model: r.serve_model,
                requests: r.requests,
                concurrency: r.concurrency,
                expected: r.expected,
                plan: r.plan.as_deref().map(|p| json("plan", p)).transpose()?,
                status: r.status,
                run_id: r.run_id,
            })
        })
        .collect()
}

pub async fn add_test(db: &Db, t: &PlannedTest) -> DbResult<i64> {
    let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), -1) + 1 FROM planned_tests")
        .fetch_one(db)
        .await?;
    let r = sqlx::query_scalar::<_, i64>(
        "INSERT INTO planned_tests (position, title, model_id, endpoint_id, dataset_id, serve_model, requests, concurrency, expected, plan) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(next)
    .bind(&t.title)
    .bind(t.model_id)
    .bind(t.endpoint_id)
    .bind(t.dataset_id)
    .bind(&t.serve_model)
    .bind(t.requests)
    .bind(t.concurrency)
    .bind(&t.expected)
    .bind(t.plan.as_ref().map(to_json))
    .fetch_one(db)
    .await?;
    Ok(r)
}

/// Move a test up (-1) or down (+1) in the queue by swapping positions with its neighbour.
pub async fn move_test(db: &Db, id: i64, delta: i64) -> DbResult<()> {
    let all = tests(db).await?;
    let Some(i) = all.iter().position(|t| t.id == id) else {
        return Err(DbError::NotFound(format!("planned test {id}")));
    };
    let j = i as i64 + delta.signum();
    if j < 0 || j as usize >= all.len() {
        return Ok(());
    }
    let mut tx = super::write_tx(db).await?;
    // Renumber densely, then swap.
    let mut order: Vec<i64> = all.iter().map(|t| t.id).collect();
    order.swap(i, j as usize);
    for (pos, tid) in order.iter().enumerate() {
        sqlx::query("UPDATE planned_tests SET position = $1 WHERE id = $2")
            .bind(pos as i64)
            .bind(tid)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn set_test_run(db: &Db, id: i64, run_id: i64) -> DbResult<()> {
    sqlx::query("UPDATE planned_tests SET status = 'launched', run_id = $1 WHERE id = $2")
        .bind(run_id)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn delete_test(db: &Db, id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM planned_tests WHERE id = $1").bind(id).execute(db).await?;
    Ok(())
}

/// Set (`Some((args, models))`) or clear an endpoint's launch command. Either way an old shell
/// line is dropped; the models become what the launch form offers.
pub async fn set_launch_command(db: &Db, endpoint_id: i64, command: Option<(&[String], &[String])>) -> DbResult<()> {
    let res = match command {
        Some((args, models)) => {
            let served: Vec<crate::domain::views::ServedModel> = models
                .iter()
                .map(|m| crate::domain::views::ServedModel {
                    id: m.clone(),
                    max_model_len: None,
                })
                .collect();
            sqlx::query("UPDATE endpoints SET launch_args = $1, launch_models = $2, models_json = $3, launch_template = NULL WHERE id = $4")
                .bind(to_json(&args))
                .bind(to_json(&models))
                .bind(to_json(&served))
                .bind(endpoint_id)
                .execute(db)
                .await?
        }
        None => {
            sqlx::query("UPDATE endpoints SET launch_args = NULL, launch_models = '[]', launch_template = NULL WHERE id = $1")
                .bind(endpoint_id)
                .execute(db)
                .await?
        }
    };
    if res.rows_affected() == 0 {
        return Err(DbError::NotFound(format!("endpoint {endpoint_id}")));
    }
    Ok(())
}

pub async fn add_launch(db: &Db, l: &LaunchView) -> DbResult<i64> {
    let r = sqlx::query_scalar::<_, i64>(
        "INSERT INTO launches (run_id, attempt, command, settings, outcome, load_time_s, log, measured) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(l.run_id)
    .bind(l.attempt)
    .bind(&l.command)
    .bind(to_json(&l.settings))
    .bind(l.outcome)
    .bind(l.load_time_s)
    .bind(&l.log)
    .bind(l.measured.as_ref().map(to_json))
    .fetch_one(db)
    .await?;
    Ok(r)
}

pub async fn launches(db: &Db, run_id: i64) -> DbResult<Vec<LaunchView>> {
    let rows: Vec<(
        i64,
        i64,
        String,
        String,
        crate::domain::views::LaunchOutcome,
        Option<f64>,
        String,
        Option<String>,
    )> = sqlx::query_as(
        "SELECT run_id, attempt, command, settings, outcome, load_time_s, log, measured FROM launches WHERE run_id = $1 ORDER BY attempt",
    )
    .bind(run_id)
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|(run_id, attempt, command, settings, outcome, load_time_s, log, measured)| {
            Ok(LaunchView {
                run_id,
                attempt,
                command,
                settings: json("launch settings", &settings)?,
                outcome,
                load_time_s,
                log,
                measured: measured.as_deref().map(|m| json("measured", m)).transpose()?,
            })
        })
        .collect()
}
