//! Endpoints. The API key and the extra headers' values are secrets: they are written here and
//! read back only by [`access`] (for the checks and the runs that send them); every view selects
//! whether there is one, never what it is.

use super::error::{json, to_json, DbError, DbResult};
use super::Db;
use crate::domain::access::{ApiKey, EndpointAccess, Header, RetryPolicy, RunAccess};
use crate::domain::views::{EndpointView, ServedModel};

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    name: String,
    base_url: String,
    #[sqlx(try_from = "crate::db::Flag")]
    simulated: bool,
    #[sqlx(try_from = "crate::db::Flag")]
    builtin: bool,
    models_json: String,
    checked_at: Option<String>,
    launch_template: Option<String>,
    launch_args: Option<String>,
    launch_models: String,
    #[sqlx(try_from = "crate::db::Flag")]
    has_api_key: bool,
    headers: String,
    #[sqlx(try_from = "crate::db::Flag")]
    has_ca_cert: bool,
    #[sqlx(try_from = "crate::db::Flag")]
    hosted: bool,
    price_sheet_id: Option<i64>,
    price_sheet: Option<String>,
    max_retries: i64,
    created_by: Option<String>,
    spend_cap_usd: Option<f64>,
    spent_this_month_usd: f64,
    gpu: Option<String>,
    shares_gpu_with: Option<String>,
}

impl Row {
    fn view(self) -> DbResult<EndpointView> {
        let headers: Vec<(String, String)> = json("endpoint headers", &self.headers)?;
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
            has_api_key: self.has_api_key,
            // Names only: a header's value may be a key.
            header_names: headers.into_iter().map(|(n, _)| n).collect(),
            has_ca_cert: self.has_ca_cert,
            hosted: self.hosted,
            price_sheet_id: self.price_sheet_id,
            price_sheet: self.price_sheet,
            retry: retry_policy(self.max_retries),
            created_by: self.created_by,
            spend_cap_usd: self.spend_cap_usd,
            spent_this_month_usd: self.spent_this_month_usd,
            gpu: self.gpu,
            shares_gpu_with: self.shares_gpu_with,
        })
    }
}

fn retry_policy(max_retries: i64) -> RetryPolicy {
    RetryPolicy::retries(u32::try_from(max_retries).unwrap_or(0))
}

/// Never the key or the header values: whether there is a key, and the headers (names are kept
/// by `Row::view`).
const COLUMNS: &str = "e.id, e.name, e.base_url, e.simulated, e.builtin, e.models_json, e.checked_at, e.launch_template, \
    e.launch_args, e.launch_models, e.api_key IS NOT NULL AS has_api_key, e.headers, e.ca_pem IS NOT NULL AS has_ca_cert, \
    e.hosted, e.price_sheet_id, s.name AS price_sheet, e.max_retries, e.spend_cap_usd, \
    (SELECT COALESCE(SUM(usd), 0.0) FROM run_spend WHERE endpoint_id = e.id AND month = strftime('%Y-%m', 'now')) AS spent_this_month_usd, \
    (SELECT u.name FROM users u WHERE u.id = e.created_by) AS created_by, \
    (SELECT g.gpu FROM endpoint_gpus g WHERE g.endpoint_id = e.id) AS gpu, \
    (SELECT p.name FROM endpoints p WHERE p.id = e.shares_gpu_with) AS shares_gpu_with \
    FROM endpoints e LEFT JOIN price_sheets s ON s.id = e.price_sheet_id";

/// Say that endpoint `id` shares a GPU with endpoint `peer` (`None`: only with endpoints on its
/// own host): their runs then take one lock. The link is kept one step deep: `peer` stands for
/// the endpoint it shares with in turn, and endpoints that named `id` follow it to the same GPU.
/// Returns the endpoint the link was made to.
pub async fn set_shares_gpu_with(db: &Db, id: i64, peer: Option<i64>) -> DbResult<Option<i64>> {
    let mut tx = super::pool::write_tx(db).await?;
    let root = match peer {
        None => None,
        Some(p) => {
            let up: Option<Option<i64>> = sqlx::query_scalar("SELECT shares_gpu_with FROM endpoints WHERE id = $1")
                .bind(p)
                .fetch_optional(&mut *tx)
                .await?;
            let up = up.ok_or_else(|| DbError::NotFound(format!("endpoint {p}")))?;
            Some(up.filter(|u| *u != id).unwrap_or(p))
        }
    };
    let done = sqlx::query("UPDATE endpoints SET shares_gpu_with = $1 WHERE id = $2")
        .bind(root)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(DbError::NotFound(format!("endpoint {id}")));
    }
    // Those that named `id` share its GPU: with `id` linked elsewhere, they follow.
    if let Some(r) = root {
        sqlx::query("UPDATE endpoints SET shares_gpu_with = $1 WHERE shares_gpu_with = $2 AND id <> $1")
            .bind(r)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(root)
}

pub async fn list(db: &Db) -> DbResult<Vec<EndpointView>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} WHERE e.deleted_at IS NULL ORDER BY e.builtin DESC, e.id"
    ))
    .fetch_all(db)
    .await?;
    rows.into_iter().map(Row::view).collect()
}

pub async fn get(db: &Db, id: i64) -> DbResult<EndpointView> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} WHERE e.id = $1 AND e.deleted_at IS NULL"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.ok_or_else(|| DbError::NotFound(format!("endpoint {id}")))?.view()
}

/// What a unique-constraint failure on `endpoints` means, for the person who caused it. A URL
/// stays taken while its endpoint is in the trash (names do not): that is said.
async fn conflict(db: &Db, e: &dyn sqlx::error::DatabaseError, name: &str, base_url: &str) -> DbError {
    // SQLite names the column in its message; Postgres names the index.
    if e.message().contains("endpoints.name") || e.constraint() == Some("endpoints_by_name") {
        return DbError::Conflict(format!("an endpoint named '{name}' exists: choose another name"));
    }
    let trashed: Option<super::Flag> = sqlx::query_scalar("SELECT deleted_at IS NOT NULL FROM endpoints WHERE base_url = $1")
        .bind(base_url)
        .fetch_optional(db)
        .await
        .unwrap_or(None);
    if trashed == Some(super::Flag(true)) {
        DbError::Conflict(format!(
            "the endpoint with URL {base_url} is in the trash: an admin can restore it or delete it forever on the Trash page"
        ))
    } else {
        DbError::Conflict(format!("an endpoint with URL {base_url} is already registered"))
    }
}

/// An endpoint to store after its check.
pub struct NewEndpoint<'a> {
    pub name: &'a str,
    pub base_url: &'a str,
    pub simulated: bool,
    pub models: &'a [ServedModel],
    pub access: &'a EndpointAccess,
    /// Store the key and the header values (false for a CLI run's, held only in memory).
    pub store_secrets: bool,
    pub price_sheet_id: Option<i64>,
}

/// Add an endpoint that was just checked. A URL already registered is a conflict.
pub async fn insert(db: &Db, name: &str, base_url: &str, simulated: bool, models: &[ServedModel]) -> DbResult<i64> {
    insert_with(
        db,
        &NewEndpoint {
            name,
            base_url,
            simulated,
            models,
            access: &EndpointAccess::default(),
            store_secrets: false,
            price_sheet_id: None,
        },
    )
    .await
}

/// Add an endpoint that was just checked, with how it is reached. A URL or name already
/// registered is a conflict.
pub async fn insert_with(db: &Db, e: &NewEndpoint<'_>) -> DbResult<i64> {
    let (key, headers) = secrets(e.access, e.store_secrets);
    let res = sqlx::query_scalar::<_, i64>(
        "INSERT INTO endpoints (name, base_url, simulated, models_json, checked_at, api_key, headers, ca_pem, hosted, price_sheet_id, max_retries) \
         VALUES ($1, $2, $3, $4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(e.name)
    .bind(e.base_url)
    .bind(e.simulated)
    .bind(to_json(&e.models))
    .bind(key)
    .bind(headers)
    .bind(&e.access.ca_pem)
    .bind(e.access.hosted)
    .bind(e.price_sheet_id)
    .bind(i64::from(e.access.retry.max_retries))
    .fetch_one(db)
    .await;
    match res {
        Ok(r) => Ok(r),
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => Err(conflict(db, d.as_ref(), e.name, e.base_url).await),
        Err(err) => Err(err.into()),
    }
}

/// The key and the headers as stored (`None`/`[]` when they are not to be stored).
fn secrets(access: &EndpointAccess, store: bool) -> (Option<String>, String) {
    if !store {
        return (None, "[]".into());
    }
    let headers: Vec<(&str, &str)> = access.headers.iter().map(|h| (h.name.as_str(), h.value.as_str())).collect();
    (access.api_key.as_ref().map(|k| k.expose().to_string()), to_json(&headers))
}

/// How to reach endpoint `id`: the one query that reads its key and header values back.
pub async fn access(db: &Db, id: i64) -> DbResult<EndpointAccess> {
    type Stored = (Option<String>, String, Option<String>, super::Flag, i64);
    let row: Option<Stored> = sqlx::query_as("SELECT api_key, headers, ca_pem, hosted, max_retries FROM endpoints WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?;
    let (key, headers, ca_pem, hosted, max_retries) = row.ok_or_else(|| DbError::NotFound(format!("endpoint {id}")))?;
    let pairs: Vec<(String, String)> = json("endpoint headers", &headers)?;
    Ok(EndpointAccess {
        // Stored keys were checked when they were written; one that no longer parses is dropped.
        api_key: key.as_deref().and_then(|k| ApiKey::parse(k).ok().flatten()),
        headers: pairs.iter().filter_map(|(n, v)| Header::new(n, v).ok()).collect(),
        ca_pem,
        hosted: hosted.0,
        retry: retry_policy(max_retries),
    })
}

/// A change to how an endpoint is reached. `None` keeps what is stored.
#[derive(Debug, Default)]
pub struct AccessUpdate {
    /// `Some(None)`: remove the key; `Some(Some(k))`: replace it.
    pub api_key: Option<Option<ApiKey>>,
    pub headers: Option<Vec<Header>>,
    /// `Some(None)`: remove the CA certificate.
    pub ca_pem: Option<Option<String>>,
    pub hosted: Option<bool>,
    /// `Some(None)`: unlink the price sheet.
    pub price_sheet_id: Option<Option<i64>>,
    pub retry: Option<RetryPolicy>,
}

/// Runs on endpoint `id` that are queued or running.
pub async fn active_runs(db: &Db, id: i64) -> DbResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM runs WHERE endpoint_id = $1 AND status IN ('queued', 'running') AND deleted_at IS NULL")
            .bind(id)
            .fetch_one(db)
            .await?,
    )
}

/// Move endpoint `id` to another base URL (checked by the caller). Each URL is registered once.
pub async fn set_base_url(db: &Db, id: i64, url: &str) -> DbResult<()> {
    let r = sqlx::query("UPDATE endpoints SET base_url = $1 WHERE id = $2 AND deleted_at IS NULL")
        .bind(url)
        .bind(id)
        .execute(db)
        .await;
    match r {
        Ok(done) if done.rows_affected() == 0 => Err(DbError::NotFound(format!("endpoint {id}"))),
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(DbError::Conflict(format!(
            "another endpoint (perhaps one in the trash) already has the URL {url}: each URL is registered once"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Change how endpoint `id` is reached (each field only when given).
pub async fn set_access(db: &Db, id: i64, u: &AccessUpdate) -> DbResult<()> {
    let mut tx = super::write_tx(db).await?;
    let exists = sqlx::query("UPDATE endpoints SET id = id WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if exists == 0 {
        return Err(DbError::NotFound(format!("endpoint {id}")));
    }
    if let Some(k) = &u.api_key {
        sqlx::query("UPDATE endpoints SET api_key = $1 WHERE id = $2")
            .bind(k.as_ref().map(|k| k.expose().to_string()))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(h) = &u.headers {
        let pairs: Vec<(&str, &str)> = h.iter().map(|h| (h.name.as_str(), h.value.as_str())).collect();
        sqlx::query("UPDATE endpoints SET headers = $1 WHERE id = $2")
            .bind(to_json(&pairs))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(c) = &u.ca_pem {
        sqlx::query("UPDATE endpoints SET ca_pem = $1 WHERE id = $2")
            .bind(c)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(h) = u.hosted {
        sqlx::query("UPDATE endpoints SET hosted = $1 WHERE id = $2")
            .bind(h)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(s) = u.price_sheet_id {
        sqlx::query("UPDATE endpoints SET price_sheet_id = $1 WHERE id = $2")
            .bind(s)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(r) = u.retry {
        sqlx::query("UPDATE endpoints SET max_retries = $1 WHERE id = $2")
            .bind(i64::from(r.max_retries))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
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
        sqlx::query_scalar::<_, i64>("INSERT INTO endpoints (name, base_url, simulated, models_json, launch_args, launch_models) VALUES ($1, $2, FALSE, $3, $4, $5) RETURNING id")
            .bind(name)
            .bind(base_url)
            .bind(to_json(&served))
            .bind(to_json(&args))
            .bind(to_json(&models))
            .fetch_one(db)
            .await;
    match res {
        Ok(r) => Ok(r),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(conflict(db, e.as_ref(), name, base_url).await),
        Err(e) => Err(e.into()),
    }
}

/// Register (or move) the built-in simulator: there is one built-in endpoint row, whose URL
/// follows wherever the simulator listens this time.
///
/// An endpoint registered by hand at that URL earlier (URLs are unique, in the trash too) steps
/// aside, never deleted: if no run uses it, it goes to the trash (deleted by the server, for an
/// admin to restore) with its address set aside as `URL/moved-aside-ID`, keeping everything else;
/// the audit log says so. One that runs use is not touched, and the move is refused, naming it.
pub async fn upsert_builtin(db: &Db, name: &str, base_url: &str, models: &[ServedModel]) -> DbResult<i64> {
    use crate::domain::dataset::clip;
    let models = to_json(&models);
    let mut tx = super::write_tx(db).await?;
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM endpoints WHERE builtin = TRUE")
        .fetch_optional(&mut *tx)
        .await?;
    let holders: Vec<(i64, String, super::Flag)> =
        sqlx::query_as("SELECT id, name, deleted_at IS NOT NULL FROM endpoints WHERE base_url = $1 AND builtin = FALSE")
            .bind(base_url)
            .fetch_all(&mut *tx)
            .await?;
    let mut aside = Vec::new();
    for (other, other_name, in_trash) in holders {
        let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM runs WHERE endpoint_id = $1")
            .bind(other)
            .fetch_one(&mut *tx)
            .await?;
        if runs > 0 {
            return Err(DbError::Conflict(format!(
                "the built-in simulator listens at {base_url} now, and endpoint '{}' (id {other}), used by {runs} run(s), is registered there: \
                 change that endpoint's URL (Endpoints page), or start the simulator elsewhere (--sim-addr)",
                clip(&other_name)
            )));
        }
        let moved_to = format!("{}/moved-aside-{other}", base_url.trim_end_matches('/'));
        sqlx::query(&format!(
            "UPDATE endpoints SET base_url = $1, deleted_at = COALESCE(deleted_at, {NOW}) WHERE id = $2",
            NOW = super::leases::NOW
        ))
        .bind(&moved_to)
        .bind(other)
        .execute(&mut *tx)
        .await?;
        aside.push((other, other_name, in_trash.0, moved_to));
    }
    let id = match existing {
        Some(id) => {
            sqlx::query("UPDATE endpoints SET name = $1, base_url = $2, simulated = TRUE, models_json = $3, checked_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = $4")
                .bind(name)
                .bind(base_url)
                .bind(&models)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            id
        }
        None => {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO endpoints (name, base_url, simulated, builtin, models_json, checked_at) VALUES ($1, $2, TRUE, TRUE, $3, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) RETURNING id",
            )
            .bind(name)
            .bind(base_url)
            .bind(&models)
            .fetch_one(&mut *tx)
            .await?
        }
    };
    tx.commit().await?;
    let server = super::audit::Actor::named("server");
    for (other, other_name, was_in_trash, moved_to) in aside {
        let target = crate::domain::trash::TrashKind::Endpoint.target(other, &other_name);
        let (action, detail) = if was_in_trash {
            (
                "endpoint.url",
                format!("the built-in simulator listens at {base_url} now: this endpoint in the trash had that address, moved aside to {moved_to}"),
            )
        } else {
            (
                "endpoint.delete",
                format!(
                    "the built-in simulator listens at {base_url} now, where this endpoint pointed (no run used it): moved to the trash, \
                     its address set aside as {moved_to}; restore it and correct its URL to use it again"
                ),
            )
        };
        super::audit::record(db, &server, action, &target, &detail).await;
    }
    Ok(id)
}

/// Record what a fresh check of the endpoint found.
pub async fn set_models(db: &Db, id: i64, models: &[ServedModel]) -> DbResult<()> {
    sqlx::query("UPDATE endpoints SET models_json = $1, checked_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = $2")
        .bind(to_json(&models))
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Find an endpoint by URL (used by the CLI, which takes URLs).
pub async fn find_by_url(db: &Db, base_url: &str) -> DbResult<Option<EndpointView>> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} WHERE e.base_url = $1"))
        .bind(base_url)
        .fetch_optional(db)
        .await?;
    row.map(Row::view).transpose()
}

/// Record how run `run_id` reaches its endpoint, as the run starts (kept if the run resumes).
pub async fn record_run_access(db: &Db, run_id: i64, hosted: bool, price_sheet_id: Option<i64>, retry: &RetryPolicy) -> DbResult<()> {
    sqlx::query("INSERT INTO run_access (run_id, hosted, price_sheet_id, retry) VALUES ($1, $2, $3, $4) ON CONFLICT (run_id) DO NOTHING")
        .bind(run_id)
        .bind(hosted)
        .bind(price_sheet_id)
        .bind(to_json(retry))
        .execute(db)
        .await?;
    Ok(())
}

/// Count what the retry policy did during (a part of) run `run_id`.
pub async fn add_run_retries(db: &Db, run_id: i64, retries: u64, rate_limited: u64) -> DbResult<()> {
    sqlx::query("UPDATE run_access SET retries_made = retries_made + $1, rate_limited = rate_limited + $2 WHERE run_id = $3")
        .bind(i64::try_from(retries).unwrap_or(i64::MAX))
        .bind(i64::try_from(rate_limited).unwrap_or(i64::MAX))
        .bind(run_id)
        .execute(db)
        .await?;
    Ok(())
}

/// How every run that recorded it reached its endpoint, by run id.
pub async fn run_accesses(db: &Db) -> DbResult<std::collections::HashMap<i64, RunAccess>> {
    type Stored = (i64, super::Flag, Option<i64>, Option<String>, Option<String>, String, i64, i64);
    let rows: Vec<Stored> = sqlx::query_as(
        "SELECT a.run_id, a.hosted, a.price_sheet_id, s.name, s.provider, a.retry, a.retries_made, a.rate_limited \
         FROM run_access a LEFT JOIN price_sheets s ON s.id = a.price_sheet_id",
    )
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|(run_id, hosted, price_sheet_id, sheet, provider, retry, made, limited)| {
            Ok((
                run_id,
                RunAccess {
                    hosted: hosted.0,
                    price_sheet_id,
                    price_sheet: sheet,
                    provider,
                    retry: json("run retry policy", &retry)?,
                    retries_made: u64::try_from(made).unwrap_or(0),
                    rate_limited: u64::try_from(limited).unwrap_or(0),
                },
            ))
        })
        .collect()
}

/// Give an endpoint another name (unique, ignoring case). The built-in simulator keeps its own:
/// it is registered again under it at every start.
pub async fn rename(db: &Db, id: i64, name: &str) -> DbResult<()> {
    let builtin: Option<super::Flag> = sqlx::query_scalar("SELECT builtin FROM endpoints WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .fetch_optional(db)
        .await?;
    match builtin {
        None => return Err(DbError::NotFound(format!("endpoint {id}"))),
        Some(super::Flag(true)) => return Err(DbError::Conflict(BUILTIN_KEPT.into())),
        Some(super::Flag(false)) => {}
    }
    let res = sqlx::query("UPDATE endpoints SET name = $1 WHERE id = $2")
        .bind(name)
        .bind(id)
        .execute(db)
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(DbError::Conflict(format!(
            "an endpoint named '{}' exists: choose another name",
            crate::domain::dataset::clip(name)
        ))),
        Err(e) => Err(e.into()),
    }
}

const BUILTIN_KEPT: &str =
    "the built-in simulator is registered again, under its own name, every time Bakeoff starts: it cannot be renamed or deleted";

/// What deleting endpoint `id` takes with it (its key, headers and launch command, and the runs
/// in the trash that used it, purged with it; pending tests lose their link only when it is
/// purged). With `deleting`, it is refused while runs not in the trash use it, naming them: a
/// run's page and costs need its endpoint. The endpoint may be in the trash.
pub(crate) async fn removal(c: &mut sqlx::AnyConnection, id: i64, deleting: bool) -> DbResult<crate::domain::views::Removal> {
    use super::runs::{count, users_of};
    use crate::domain::dataset::clip;
    let row: Option<(String, super::Flag)> = sqlx::query_as("SELECT name, builtin FROM endpoints WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *c)
        .await?;
    let Some((name, builtin)) = row else {
        return Err(DbError::NotFound(format!("endpoint {id}")));
    };
    if deleting && builtin.0 {
        return Err(DbError::Conflict(BUILTIN_KEPT.into()));
    }
    if deleting {
        if let Some((n, runs)) = users_of(c, "endpoint_id", id).await? {
            return Err(DbError::Conflict(format!(
                "endpoint '{}' is used by {} run{}: {runs}. Delete {} first (with {} records and grades), or keep the endpoint.",
                clip(&name),
                n,
                if n == 1 { "" } else { "s" },
                if n == 1 { "that run" } else { "those runs" },
                if n == 1 { "its" } else { "their" },
            )));
        }
    }
    let mut r = crate::domain::views::Removal::new(format!("endpoint '{}'", clip(&name)));
    let secrets: (super::Flag, String, super::Flag) =
        sqlx::query_as("SELECT api_key IS NOT NULL, headers, launch_args IS NOT NULL FROM endpoints WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *c)
            .await?;
    r.counted(i64::from(secrets.0 .0), "stored API key");
    r.counted(
        json::<Vec<(String, String)>>("endpoint headers", &secrets.1)?.len() as i64,
        "extra header",
    );
    r.counted(i64::from(secrets.2 .0), "launch command");
    r.counted(
        count(c, "SELECT COUNT(*) FROM runs WHERE endpoint_id = $1 AND deleted_at IS NOT NULL", id).await?,
        "run in the trash",
    );
    r.unlinked(
        count(c, "SELECT COUNT(*) FROM planned_tests WHERE endpoint_id = $1", id).await?,
        "pending test",
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::parse_headers;

    async fn fresh() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = crate::db::pool::test_db(dir.path()).await.expect("connect + migrate");
        (dir, db)
    }

    fn keyed() -> EndpointAccess {
        EndpointAccess {
            api_key: ApiKey::parse("sk-stored-secret").expect("key"),
            headers: parse_headers("X-Api-Key: header-secret").expect("headers"),
            ca_pem: Some("-----BEGIN CERTIFICATE-----\n".into()),
            hosted: true,
            retry: RetryPolicy::retries(3),
        }
    }

    fn new<'a>(name: &'a str, url: &'a str, access: &'a EndpointAccess, store_secrets: bool) -> NewEndpoint<'a> {
        NewEndpoint {
            name,
            base_url: url,
            simulated: false,
            models: &[],
            access,
            store_secrets,
            price_sheet_id: None,
        }
    }

    #[tokio::test]
    async fn a_key_is_stored_and_read_back_for_use_but_no_view_holds_it() {
        let (_dir, db) = fresh().await;
        let access = keyed();
        let id = insert_with(&db, &new("gw", "https://gw.lan", &access, true)).await.expect("insert");
        assert_eq!(self::access(&db, id).await.expect("access"), access);
        let view = get(&db, id).await.expect("view");
        assert!(view.has_api_key && view.has_ca_cert && view.hosted);
        assert_eq!(view.header_names, vec!["x-api-key".to_string()]);
        assert_eq!(view.retry.max_retries, 3);
        let shown = serde_json::to_string(&list(&db).await.expect("list")).expect("json");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[tokio::test]
    async fn secrets_held_in_memory_are_not_written() {
        let (_dir, db) = fresh().await;
        let access = keyed();
        let id = insert_with(&db, &new("cli", "http://gw.lan:8000", &access, false))
            .await
            .expect("insert");
        let stored = self::access(&db, id).await.expect("access");
        assert!(stored.api_key.is_none() && stored.headers.is_empty());
        assert!(stored.hosted && stored.ca_pem.is_some(), "what is not secret is kept");
    }

    #[tokio::test]
    async fn names_are_unique_whatever_their_case() {
        let (_dir, db) = fresh().await;
        let none = EndpointAccess::default();
        insert_with(&db, &new("GPU box", "http://a:1", &none, true)).await.expect("first");
        let e = insert_with(&db, &new("gpu BOX", "http://b:1", &none, true))
            .await
            .expect_err("same name");
        assert!(e.to_string().contains("named 'gpu BOX'"), "{e}");
        let e = insert_with(&db, &new("other", "http://a:1", &none, true))
            .await
            .expect_err("same URL");
        assert!(e.to_string().contains("URL"), "{e}");
    }

    #[tokio::test]
    async fn access_changes_only_what_is_given() {
        let (_dir, db) = fresh().await;
        let id = insert_with(&db, &new("gw", "https://gw.lan", &keyed(), true))
            .await
            .expect("insert");
        let keep = AccessUpdate {
            retry: Some(RetryPolicy::default()),
            ..Default::default()
        };
        set_access(&db, id, &keep).await.expect("update");
        let a = self::access(&db, id).await.expect("access");
        assert!(a.api_key.is_some() && a.retry.is_off());
        let clear = AccessUpdate {
            api_key: Some(None),
            headers: Some(Vec::new()),
            ..Default::default()
        };
        set_access(&db, id, &clear).await.expect("update");
        let a = self::access(&db, id).await.expect("access");
        assert!(a.api_key.is_none() && a.headers.is_empty() && a.ca_pem.is_some());
        assert!(matches!(set_access(&db, 999, &clear).await, Err(DbError::NotFound(_))));
    }
}
