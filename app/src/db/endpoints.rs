use super::error::{json, to_json, DbError, DbResult};
use super::Db;
use crate::api::types::{EndpointView, ServedModel};

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    name: String,
    base_url: String,
    simulated: bool,
    builtin: bool,
    models_json: String,
    checked_at: Option<String>,
    launch_template: Option<String>,
    launch_args: Option<String>,
    launch_models: String,
}

impl Row {
    fn view(self) -> DbResult<EndpointView> {
        Ok(EndpointView {
            id: self.id,
            name: self.name,
            base_url: self.base_url,
            simulated: self.simulated,
            builtin: self.builtin,
            models: json("endpoint models", &self.models_json)?,
            checked_at: self.checked_at,
            launch_args: self.launch_args.as_deref().map(|a| json("launch command", a)).transpose()?,
            launch_models: json("launch models", &self.launch_models)?,
            // An old shell line is shown (for re-entry) only while no argument list replaced it.
            legacy_launch_template: self.launch_template.filter(|_| self.launch_args.is_none()),
        })
    }
}

const COLUMNS: &str = "id, name, base_url, simulated, builtin, models_json, checked_at, launch_template, launch_args, launch_models";

pub async fn list(db: &Db) -> DbResult<Vec<EndpointView>> {
    let rows: Vec<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM endpoints ORDER BY builtin DESC, id"))
        .fetch_all(db)
        .await?;
    rows.into_iter().map(Row::view).collect()
}

pub async fn get(db: &Db, id: i64) -> DbResult<EndpointView> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM endpoints WHERE id = ?"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.ok_or_else(|| DbError::NotFound(format!("endpoint {id}")))?.view()
}

/// Add an endpoint that was just checked. A URL already registered is a conflict.
pub async fn insert(db: &Db, name: &str, base_url: &str, simulated: bool, models: &[ServedModel]) -> DbResult<i64> {
    let res = sqlx::query(
        "INSERT INTO endpoints (name, base_url, simulated, models_json, checked_at) VALUES (?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
    )
    .bind(name)
    .bind(base_url)
    .bind(simulated)
    .bind(to_json(&models))
    .execute(db)
    .await;
    match res {
        Ok(r) => Ok(r.last_insert_rowid()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(DbError::Conflict(format!("an endpoint with URL {base_url} is already registered")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Add a managed endpoint: Bakeoff starts its server with `args` (an admin's argument list) for
/// each run, with one of `models`, which are also what the launch form offers.
pub async fn insert_managed(db: &Db, name: &str, base_url: &str, args: &[String], models: &[String]) -> DbResult<i64> {
    let served: Vec<ServedModel> = models
        .iter()
        .map(|m| ServedModel {
            id: m.clone(),
            max_model_len: None,
        })
        .collect();
    let res =
        sqlx::query("INSERT INTO endpoints (name, base_url, simulated, models_json, launch_args, launch_models) VALUES (?, ?, 0, ?, ?, ?)")
            .bind(name)
            .bind(base_url)
            .bind(to_json(&served))
            .bind(to_json(&args))
            .bind(to_json(&models))
            .execute(db)
            .await;
    match res {
        Ok(r) => Ok(r.last_insert_rowid()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(DbError::Conflict(format!("an endpoint with URL {base_url} is already registered")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Register (or move) the built-in simulator: there is one built-in endpoint row, whose URL
/// follows wherever the simulator listens this time.
pub async fn upsert_builtin(db: &Db, name: &str, base_url: &str, models: &[ServedModel]) -> DbResult<i64> {
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM endpoints WHERE builtin = 1")
        .fetch_optional(db)
        .await?;
    let models = to_json(&models);
    match existing {
        Some(id) => {
            // Another row may hold this URL from an earlier manual registration: free it first.
            sqlx::query("DELETE FROM endpoints WHERE base_url = ? AND id <> ? AND id NOT IN (SELECT endpoint_id FROM runs WHERE endpoint_id IS NOT NULL)")
                .bind(base_url)
                .bind(id)
                .execute(db)
                .await?;
            sqlx::query("UPDATE endpoints SET name = ?, base_url = ?, simulated = 1, models_json = ?, checked_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?")
                .bind(name)
                .bind(base_url)
                .bind(&models)
                .bind(id)
                .execute(db)
                .await?;
            Ok(id)
        }
        None => {
            let r = sqlx::query(
                "INSERT INTO endpoints (name, base_url, simulated, builtin, models_json, checked_at) VALUES (?, ?, 1, 1, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
            )
            .bind(name)
            .bind(base_url)
            .bind(&models)
            .execute(db)
            .await?;
            Ok(r.last_insert_rowid())
        }
    }
}

/// Record what a fresh check of the endpoint found.
pub async fn set_models(db: &Db, id: i64, models: &[ServedModel]) -> DbResult<()> {
    sqlx::query("UPDATE endpoints SET models_json = ?, checked_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?")
        .bind(to_json(&models))
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Find an endpoint by URL (used by the CLI, which takes URLs).
pub async fn find_by_url(db: &Db, base_url: &str) -> DbResult<Option<EndpointView>> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM endpoints WHERE base_url = ?"))
        .bind(base_url)
        .fetch_optional(db)
        .await?;
    row.map(Row::view).transpose()
}
