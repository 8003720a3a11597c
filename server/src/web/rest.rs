//! The REST API for scripts. Same checks and same code paths as the pages.

use app::api::datasets::{check_upload, store_upload, Upload};
use app::api::guard::{Caller, Permission, Site};
use app::api::runs::queue_runs_as;
use app::api::runs::rest as manage;
use app::api::spool::{DatasetSpool, ImportSpool};
use app::api::AppError;
use app::db;
use app::domain::export::summary_json;
use app::domain::spec::LaunchForm;
use app::state::AppState;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, MethodRouter};
use axum::Extension;
use axum::{Json, Router};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

/// Every REST route, one method each: the router is built from this list, and the
/// authorization table test walks it, so a new route cannot miss the test.
pub fn table() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        (Method::GET, "/api/runs", get(list_runs)),
        (Method::POST, "/api/runs", post(launch)),
        (Method::GET, "/api/runs/{id}", get(get_run)),
        (Method::GET, "/api/runs/{id}/records", get(records)),
        (Method::POST, "/api/runs/{id}/cancel", post(cancel)),
        (Method::GET, "/api/runs/{id}/metrics", get(metrics)),
        (Method::GET, "/api/runs/{id}/events", get(crate::events::run_events)),
        (Method::GET, "/api/sweeps/{id}", get(get_sweep)),
        (Method::GET, "/api/endpoints", get(list_endpoints)),
        (Method::POST, "/api/endpoints", post(add_endpoint)),
        (Method::GET, "/api/prices", get(list_prices)),
        (Method::POST, "/api/import", post(import)),
        (Method::GET, "/api/report", get(report)),
        (Method::GET, "/api/datasets", get(list_datasets)),
        (Method::POST, "/api/datasets", post(upload_dataset)),
        (Method::DELETE, "/api/runs/{id}", axum::routing::delete(manage::delete_run)),
        (Method::PATCH, "/api/runs/{id}", axum::routing::patch(manage::rename_run)),
        (Method::DELETE, "/api/datasets/{id}", axum::routing::delete(manage::delete_dataset)),
        (Method::PATCH, "/api/datasets/{id}", axum::routing::patch(manage::rename_dataset)),
        (
            Method::DELETE,
            "/api/endpoints/{id}",
            axum::routing::delete(manage::delete_endpoint),
        ),
        (
            Method::PATCH,
            "/api/endpoints/{id}",
            axum::routing::patch(app::api::endpoints::rest::patch_endpoint),
        ),
        (Method::DELETE, "/api/queues/{id}", axum::routing::delete(manage::delete_queue)),
        (Method::PATCH, "/api/queues/{id}", axum::routing::patch(manage::rename_queue)),
        // The trash (issue 17, item 3): admins only.
        (Method::GET, "/api/trash", get(app::api::trash::rest::list)),
        (Method::POST, "/api/trash/{kind}/{id}/restore", post(app::api::trash::rest::restore)),
        (
            Method::DELETE,
            "/api/trash/{kind}/{id}",
            axum::routing::delete(app::api::trash::rest::purge),
        ),
        // API tokens and the audit log (issue 17).
        (Method::GET, "/api/tokens", get(app::api::tokens::rest::list)),
        (Method::POST, "/api/tokens", post(app::api::tokens::rest::create)),
        (
            Method::DELETE,
            "/api/tokens/{id}",
            axum::routing::delete(app::api::tokens::rest::revoke),
        ),
        (Method::GET, "/api/audit", get(crate::web::audit::entries)),
        // Data that must not leave, spend caps (issue 17, item 6).
        (Method::GET, "/api/launch/preview", get(app::api::data_rules::rest::launch_preview)),
        (
            Method::PUT,
            "/api/datasets/{id}/internal_only",
            axum::routing::put(app::api::data_rules::rest::set_dataset_internal_only),
        ),
        (
            Method::PUT,
            "/api/endpoints/{id}/spend_cap",
            axum::routing::put(app::api::data_rules::rest::set_spend_cap),
        ),
        (
            Method::PUT,
            "/api/endpoints/{id}/shares_gpu_with",
            axum::routing::put(app::api::endpoints::gpu::rest::set_shared_gpu),
        ),
        // Workers next to each GPU (issue 13): who measures, what each takes, its heartbeat.
        (Method::GET, "/api/workers", get(app::api::workers::rest::list)),
    ]
}

pub fn routes() -> Router<AppState> {
    table()
        .into_iter()
        .fold(Router::new(), |r, (_, path, handler)| r.route(path, handler))
}

async fn list_runs(State(s): State<AppState>, Extension(caller): Extension<Caller>) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::View)?;
    Ok(Json(db::runs::list(&s.db).await?))
}

async fn get_run(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::View)?;
    let run = db::runs::get(&s.db, id).await?;
    let mut body = json!({"run": run});
    if let Some(summary) = &run.summary {
        let sj = summary_json(summary);
        body["summary"] = sj["summary"].clone();
        body["definitions"] = sj["definitions"].clone();
    }
    Ok(Json(body))
}

/// A sweep: its steps (load, status, headline figures) and the verdict its page shows (knee,
/// best setting, cache note). Summaries only, so reviewers may read it too.
async fn get_sweep(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::View)?;
    let runs = app::api::runs::sweep_steps(&s.db, id).await?;
    Ok(Json(app::domain::sweep_json::sweep_json(id, &runs)))
}

#[derive(Deserialize)]
struct RecordsQuery {
    #[serde(default)]
    format: String,
}

/// All records of a run, streamed as they are read: JSON lines (times in milliseconds) by
/// default, `?format=csv`, or `?format=batch` for OpenAI Batch output lines.
async fn records(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    Query(q): Query<RecordsQuery>,
) -> Result<impl IntoResponse, AppError> {
    use crate::download::{self, Format};
    // Answers beside their run: not for reviewers, who grade blind.
    caller.require(Permission::ReadAnswers)?;
    let format = Format::parse(&q.format)
        .ok_or_else(|| AppError::validation("format", format!("unknown format '{}': use jsonl, csv or batch", q.format)))?;
    let run = db::runs::get(&s.db, id).await?;
    let body = Body::from_stream(download::records(s.db.clone(), id, format, run.model, db::records::PAGE));
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", format.file_name(id)),
            ),
        ],
        body,
    ))
}

/// Launch from JSON: the launch form's fields, numbers or strings.
async fn launch(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    site: Option<Extension<Site>>,
    Json(body): Json<Value>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::Run)?;
    let form = form_from_json(&body)?;
    let launched = queue_runs_as(&s, &form, caller.require(Permission::Admin).is_ok()).await?;
    db::trash::set_created_by(&s.db, app::api::trash::TrashKind::Run, &launched.run_ids, caller.id).await?;
    app::api::audit::launched(&s.db, &actor_of(&caller, &site), &form, &launched).await;
    s.wake_worker.notify_one();
    Ok((StatusCode::CREATED, Json(launched)))
}

fn form_from_json(body: &Value) -> Result<LaunchForm, AppError> {
    let Some(obj) = body.as_object() else {
        return Err(AppError::validation("body", "expected a JSON object with the launch form's fields"));
    };
    // A misspelt field is refused, not dropped (`max_token` ran with the dataset's max tokens).
    let known: Vec<String> = serde_json::to_value(LaunchForm::default())
        .ok()
        .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
        .unwrap_or_default();
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    let mut errs = app::domain::errors::FieldErrors::default();
    for k in obj.keys().filter(|k| !known.contains(&k.as_str())) {
        errs.push(k, app::domain::errors::unknown_field(k, &known));
    }
    errs.into_result(()).map_err(AppError::Validation)?;
    let strings: serde_json::Map<String, Value> = obj
        .iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                Value::Array(a) => a.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","),
                other => other.to_string(),
            };
            (k.clone(), Value::String(s))
        })
        .collect();
    serde_json::from_value(Value::Object(strings)).map_err(|e| AppError::validation("body", e.to_string()))
}

/// The endpoint's /metrics series scraped during the run.
async fn metrics(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::View)?;
    db::runs::get(&s.db, id).await?;
    Ok(Json(db::metrics::for_run(&s.db, id).await?))
}

async fn cancel(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    site: Option<Extension<Site>>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::Run)?;
    let status = db::runs::request_cancel(&s.db, id).await?;
    app::api::audit::cancelled(&s.db, &actor_of(&caller, &site), id, &status.to_string()).await;
    // A running run stops when its worker sees the request (within a second): say so.
    let pending = status == app::domain::status::RunStatus::Running;
    let mut reply = json!({"status": status, "cancel_requested": true});
    if pending {
        reply["message"] = json!(format!(
            "cancel requested: run {id} stops within a second or two (requests in flight are dropped)"
        ));
    }
    Ok(Json(reply))
}

async fn list_endpoints(State(s): State<AppState>, Extension(caller): Extension<Caller>) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::View)?;
    Ok(Json(db::endpoints::list(&s.db).await?))
}

#[derive(Deserialize)]
struct NewEndpoint {
    #[serde(default)]
    name: String,
    base_url: String,
    /// Managed (admins only): Bakeoff starts the server with this argument list for each run.
    #[serde(default)]
    launch_args: Option<Vec<String>>,
    /// The same as one line, split on whitespace into arguments (never given to a shell).
    #[serde(default)]
    launch_template: Option<String>,
    /// The models a managed endpoint may be started with.
    #[serde(default)]
    models: Option<Vec<String>>,
    /// Sent as `Authorization: Bearer KEY`; write-only (no answer ever holds it).
    #[serde(default)]
    api_key: Option<String>,
    /// Extra headers: `{"Name": "value"}`, `["Name: value"]` or `"Name: value\n…"` (values write-only).
    #[serde(default)]
    headers: Option<Value>,
    /// PEM certificate(s) trusted for https: a private CA, or the server's own (pinned).
    #[serde(default)]
    ca_cert: Option<String>,
    /// A hosted provider (no /health, /metrics, /tokenize).
    #[serde(default)]
    hosted: Option<bool>,
    /// The price sheet its runs are priced by, by id or by name.
    #[serde(default)]
    price_sheet_id: Option<i64>,
    #[serde(default)]
    price_sheet: Option<String>,
    /// 429/503 answers sent again up to this many times (default 0: off).
    #[serde(default)]
    retries: Option<u32>,
    /// Spend cap in dollars a month (null or absent: none).
    #[serde(default)]
    spend_cap_usd: Value,
}

impl NewEndpoint {
    /// The access fields, checked, each problem named at its field.
    async fn access(&self, s: &AppState) -> Result<app::api::endpoints::access::CheckedAccess, AppError> {
        let headers = match &self.headers {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(Value::Object(m)) => Some(
                m.iter()
                    .map(|(k, v)| format!("{k}: {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|v| v.as_str().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            Some(_) => {
                return Err(AppError::validation(
                    "headers",
                    "give headers as {\"Name\": \"value\"} or [\"Name: value\"]",
                ))
            }
        };
        let sheet = match (&self.price_sheet_id, &self.price_sheet) {
            (Some(id), _) => Some(*id),
            (None, Some(name)) => Some(
                db::prices::by_name(&s.db, name)
                    .await
                    .map_err(|_| AppError::validation("price_sheet", format!("no price sheet named '{name}' (see GET /api/prices)")))?
                    .id,
            ),
            (None, None) => None,
        };
        app::api::endpoints::access::AccessForm {
            api_key: self.api_key.clone(),
            headers,
            ca_cert: self.ca_cert.clone(),
            hosted: self.hosted.map(|h| h.to_string()),
            price_sheet_id: sheet.map(|id| id.to_string()),
            retries: self.retries.map(|r| r.to_string()),
        }
        .parse()
        .map_err(AppError::Validation)
    }
}

/// Register an endpoint after checking it answers (`/health`, `/v1/models`), or, with a launch
/// command (admins only), a managed endpoint that Bakeoff starts for each run.
async fn add_endpoint(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    site: Option<Extension<Site>>,
    Json(body): Json<Value>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::Run)?;
    // A field of the wrong type is named at its field (422), not left to the decoder.
    app::api::endpoints::check_json_fields(&body)?;
    let e: NewEndpoint = serde_json::from_value(body).map_err(|e| AppError::validation("body", e.to_string()))?;
    let checked = e.access(&s).await?;
    let cap = app::api::data_rules::rest::cap_from_json(&e.spend_cap_usd)?;
    let args = match (e.launch_args, e.launch_template) {
        (Some(a), _) if !a.is_empty() => Some(a),
        (_, Some(t)) if !t.trim().is_empty() => Some(app::api::endpoints::command::split_template(&t)),
        _ => None,
    };
    let models = e.models.unwrap_or_default();
    if let Some(args) = args {
        caller.require(Permission::Admin)?;
        let id = app::api::endpoints::register_managed_with(&s, &e.name, &e.base_url, &args, &models, &checked).await?;
        db::trash::set_created_by(&s.db, app::api::trash::TrashKind::Endpoint, &[id], caller.id).await?;
        app::api::audit::endpoint_created(&s.db, &actor_of(&caller, &site), id).await;
        app::api::data_rules::initial_cap(&s.db, &actor_of(&caller, &site), id, cap).await?;
        return Ok((StatusCode::CREATED, Json(json!({"id": id, "managed": true}))));
    }
    if !models.is_empty() {
        return Err(AppError::validation(
            "launch_args",
            "models are listed for a managed endpoint: give its launch_args too, or leave out models",
        ));
    }
    let (id, models) = app::api::endpoints::register_with(&s, &e.name, &e.base_url, &checked, true).await?;
    db::trash::set_created_by(&s.db, app::api::trash::TrashKind::Endpoint, &[id], caller.id).await?;
    app::api::audit::endpoint_created(&s.db, &actor_of(&caller, &site), id).await;
    app::api::data_rules::initial_cap(&s.db, &actor_of(&caller, &site), id, cap).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id, "models": models}))))
}

async fn list_prices(State(s): State<AppState>, Extension(caller): Extension<Caller>) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::View)?;
    Ok(Json(db::prices::list(&s.db).await?))
}

#[derive(Deserialize)]
struct ImportQuery {
    /// The file's name (its extension tells a run summary `.json` from a Batch output `.jsonl`).
    filename: String,
}

/// `POST /api/import?filename=F` with the file as the body.
async fn import(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    site: Option<Extension<Site>>,
    Query(q): Query<ImportQuery>,
    body: Body,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::Run)?;
    // The file's name is kept with the run (its provenance): one line, as any name.
    let filename =
        app::api::runs::one_line(&q.filename, 255).map_err(|m| AppError::validation("filename", format!("the filename parameter: {m}")))?;
    // Read line by line as it arrives, spooled to a temporary file, in the upload's turn; stored
    // only when every line is good.
    let _turn = s.uploads.enter().await?;
    let mut spool = ImportSpool::new(&filename, s.uploads.limits())?;
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        if !spool.push(&chunk.map_err(cut_short)?).await? {
            break;
        }
    }
    let id = app::api::import::import_spooled(&s.db, spool.finish().await?, None).await?;
    db::trash::set_created_by(&s.db, app::api::trash::TrashKind::Run, &[id], caller.id).await?;
    app::api::audit::imported(&s.db, &actor_of(&caller, &site), id, &filename).await;
    Ok((StatusCode::CREATED, Json(json!({"run_id": id}))))
}

#[derive(Deserialize)]
struct ReportQuery {
    #[serde(default)]
    format: Option<String>,
    sheet: Option<String>,
    volume: Option<f64>,
    screen: Option<i64>,
    judge: Option<i64>,
    judge_share: Option<f64>,
    /// `best`: "faster" compares each model at its best within `p90_ms` (default: same load).
    speed: Option<String>,
    p90_ms: Option<f64>,
}

/// `GET /api/report?format=md|html&sheet=NAME&volume=N[&speed=best&p90_ms=MS]`: the report as a
/// download.
async fn report(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ReportQuery>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::View)?;
    // Reviewers grade blind: their download has no sample answers.
    let samples = caller.require(Permission::ReadAnswers).is_ok();
    let options = app::api::report::ReportOptions {
        sheet: q.sheet,
        volume: q.volume,
        screen: q.screen,
        judge: q.judge,
        judge_share: q.judge_share,
    };
    use app::domain::report::load::SpeedBasis;
    let speed = match (q.speed.as_deref().unwrap_or("same"), q.p90_ms) {
        ("same" | "", _) => SpeedBasis::SameLoad,
        ("best", Some(p90_target_ms)) => SpeedBasis::EachAtBest { p90_target_ms },
        ("best", None) => return Err(AppError::validation("p90_ms", "speed=best needs p90_ms: the E2E p90 target in ms")),
        (other, _) => return Err(AppError::validation("speed", format!("speed must be same or best, got '{other}'"))),
    };
    let doc = app::api::report::build_report_with(&s.db, &options, &app::api::report::chrono_now(), samples, speed).await?;
    let (body, ctype, ext) = match q.format.as_deref().unwrap_or("md") {
        "html" => (doc.to_html("Bakeoff benchmark report"), "text/html; charset=utf-8", "html"),
        "md" => (doc.to_markdown(), "text/markdown; charset=utf-8", "md"),
        other => return Err(AppError::validation("format", format!("format must be md or html, got '{other}'"))),
    };
    Ok((
        [
            (header::CONTENT_TYPE, ctype.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"bakeoff-report.{ext}\""),
            ),
        ],
        body,
    ))
}

async fn list_datasets(State(s): State<AppState>, Extension(caller): Extension<Caller>) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::View)?;
    Ok(Json(db::datasets::list(&s.db).await?))
}

#[derive(Deserialize)]
struct UploadQuery {
    /// Required: a missing one is named at its field (not a query-decoding error).
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    /// `true`: never sent to a hosted endpoint.
    #[serde(default)]
    internal_only: bool,
}

/// `POST /api/datasets?name=...` with the JSONL file as the body.
async fn upload_dataset(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    site: Option<Extension<Site>>,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::Run)?;
    if q.name.trim().is_empty() {
        return Err(AppError::validation("name", "give the dataset a name (?name=...)"));
    }
    let upload = Upload {
        name: &q.name,
        description: &q.description,
        filename: "REST upload",
        schema: None,
        rubric: None,
    };
    let mut checked = check_upload(&s.db, &upload).await?;
    checked.internal_only = q.internal_only;
    // Checked line by line as it arrives, into a spool; any Content-Type (the body is the file).
    let mut spool = DatasetSpool::new(s.uploads.enter().await?)?;
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        if !spool.push(&chunk.map_err(cut_short)?).await? {
            break;
        }
    }
    let id = store_upload(&s.db, &checked, spool.finish().await?).await?;
    db::trash::set_created_by(&s.db, app::api::trash::TrashKind::Dataset, &[id], caller.id).await?;
    app::api::audit::dataset_uploaded(&s.db, &actor_of(&caller, &site), id).await;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))))
}

/// The audit actor of a REST call: the caller, from the client's address.
fn actor_of(caller: &Caller, site: &Option<Extension<Site>>) -> db::audit::Actor {
    app::api::audit::actor_at(caller, site.as_ref().map(|e| &e.0))
}

fn cut_short(e: axum::Error) -> AppError {
    AppError::validation("file", format!("the upload was cut short ({e})"))
}
