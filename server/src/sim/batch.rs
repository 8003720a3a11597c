//! The OpenAI Files and Batch APIs, as a provider serves them, so provider batch runs work
//! without a provider: `POST /v1/files` (multipart: `purpose=batch` and `file`), `GET
//! /v1/files/{id}` and `/v1/files/{id}/content`, `POST /v1/batches`, `GET /v1/batches/{id}` and
//! `POST /v1/batches/{id}/cancel`.
//!
//! A batch's life follows the time since its creation, worked out whenever it is looked at:
//! `validating` for the first 5% of the configured turnaround, `in_progress` while its lines
//! complete one by one, evenly over the next 90%, `finalizing` for the last 5%, then `completed`
//! with its output file (and error file, when a line failed). A turnaround of zero completes at
//! once. Each line is answered by the simulator's own chat (or completions) handler, on a copy of
//! the simulator without delays or injected faults, so a line gets the very answer, usage and
//! errors (404 for a model it does not serve, 400 past the context length) that the route gives
//! the same body without streaming. A share `batch_fail_rate` of the lines, picked from the seed
//! and each `custom_id`, fail with a 500 instead. Keys are not checked (as on the other routes).
//!
//! Errors have OpenAI's shape, `{"error": {"message", "type": "invalid_request_error", "param",
//! "code": null}}`: 400 for bad input (an upload that is not multipart or lacks `file`, a
//! `purpose` other than `batch`, an `endpoint` or `completion_window` not served, cancelling a
//! finished batch), 404 for an unknown file or batch, 413 past the file size limit. A batch whose
//! input has bad lines is created `failed`, with `errors` naming each bad line. Everything is
//! kept in memory, bounded: files up to 200 MB, 512 MB and 1,000 files in all (the oldest are
//! forgotten first), 50,000 lines a batch, 1,000 batches (the oldest finished go first).

mod input;
mod store;
#[cfg(test)]
mod tests;

pub use store::BatchStore;

use super::state::Sim;
use axum::body::Bytes;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use store::{Batch, MAX_BATCHES};

/// Largest file accepted (OpenAI's limit for batch input files).
pub const MAX_FILE_BYTES: usize = 200 * 1024 * 1024;
/// The endpoints a batch may target.
const ENDPOINTS: [&str; 2] = ["/v1/chat/completions", "/v1/completions"];

pub(super) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route(
            "/v1/files",
            // Room for the form's boundaries and headers around the largest file.
            post(upload).layer(DefaultBodyLimit::max(MAX_FILE_BYTES + 64 * 1024)),
        )
        .route("/v1/files/{id}", get(file))
        .route("/v1/files/{id}/content", get(content))
        .route("/v1/batches", post(create))
        .route("/v1/batches/{id}", get(retrieve))
        .route("/v1/batches/{id}/cancel", post(cancel))
}

/// OpenAI's error shape.
fn error(status: StatusCode, message: &str, param: Option<&str>) -> Response {
    let body = json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": null}});
    (status, Json(body)).into_response()
}

/// The number in `file-<n>` or `batch_<n>`.
fn number(id: &str, prefix: &str) -> Option<u64> {
    id.strip_prefix(prefix)?.parse().ok()
}

async fn upload(State(sim): State<Arc<Sim>>, form: Result<Multipart, MultipartRejection>) -> Response {
    let mut form = match form {
        Ok(f) => f,
        Err(e) => {
            let m = format!(
                "send multipart/form-data with the fields `purpose` (batch) and `file` (the JSONL): {}",
                e.body_text()
            );
            return error(StatusCode::BAD_REQUEST, &m, None);
        }
    };
    let (mut purpose, mut file) = (None, None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return upload_problem(&e),
        };
        match field.name() {
            Some("purpose") => match field.text().await {
                Ok(p) => purpose = Some(p),
                Err(e) => return upload_problem(&e),
            },
            Some("file") => {
                let name = field.file_name().unwrap_or("upload.jsonl").to_string();
                match field.bytes().await {
                    Ok(b) => file = Some((name, b)),
                    Err(e) => return upload_problem(&e),
                }
            }
            _ => {}
        }
    }
    match purpose.as_deref() {
        Some("batch") => {}
        Some(p) => {
            let m = format!("`purpose` must be \"batch\" (the only purpose the simulator serves), not \"{p}\"");
            return error(StatusCode::BAD_REQUEST, &m, Some("purpose"));
        }
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "`purpose` is missing: send the field purpose=batch",
                Some("purpose"),
            )
        }
    }
    let Some((filename, bytes)) = file else {
        let m = "`file` is missing: send the JSONL as the multipart field `file`, with a filename";
        return error(StatusCode::BAD_REQUEST, m, Some("file"));
    };
    if bytes.len() > MAX_FILE_BYTES {
        return too_large();
    }
    let mut store = sim.batches.lock().await;
    let n = store.add_file(filename, "batch", bytes);
    Json(store.file_object(n)).into_response()
}

fn too_large() -> Response {
    let m = format!("the file is larger than the limit of {} MB", MAX_FILE_BYTES / (1024 * 1024));
    error(StatusCode::PAYLOAD_TOO_LARGE, &m, Some("file"))
}

fn upload_problem(e: &MultipartError) -> Response {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    error(
        e.status(),
        &format!("the multipart body could not be read: {}", e.body_text()),
        None,
    )
}

fn no_file(id: &str) -> Response {
    error(StatusCode::NOT_FOUND, &format!("No such File object: {id}"), Some("file_id"))
}

async fn file(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let store = sim.batches.lock().await;
    match number(&id, "file-").filter(|n| store.files.contains_key(n)) {
        Some(n) => Json(store.file_object(n)).into_response(),
        None => no_file(&id),
    }
}

async fn content(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let store = sim.batches.lock().await;
    match number(&id, "file-").and_then(|n| store.files.get(&n)) {
        Some(f) => ([(header::CONTENT_TYPE, "application/octet-stream")], f.bytes.clone()).into_response(),
        None => no_file(&id),
    }
}

async fn create(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            let m = "send a JSON object: {\"input_file_id\": \"file-...\", \"endpoint\": \"/v1/chat/completions\", \"completion_window\": \"24h\"}";
            return error(StatusCode::BAD_REQUEST, m, None);
        }
    };
    let field = |k: &str| req.get(k).and_then(Value::as_str);
    let Some(input_file_id) = field("input_file_id") else {
        let m = "`input_file_id` is missing: upload the JSONL to /v1/files (purpose batch) and give its id";
        return error(StatusCode::BAD_REQUEST, m, Some("input_file_id"));
    };
    let endpoint = field("endpoint").unwrap_or("");
    if !ENDPOINTS.contains(&endpoint) {
        let m = format!("`endpoint` must be /v1/chat/completions or /v1/completions, not \"{endpoint}\"");
        return error(StatusCode::BAD_REQUEST, &m, Some("endpoint"));
    }
    let window = field("completion_window").unwrap_or("");
    if window != "24h" {
        let m = format!("`completion_window` must be \"24h\", not \"{window}\"");
        return error(StatusCode::BAD_REQUEST, &m, Some("completion_window"));
    }
    let metadata = req.get("metadata").cloned().unwrap_or(Value::Null);
    if !(metadata.is_null() || metadata.is_object()) {
        return error(StatusCode::BAD_REQUEST, "`metadata` must be an object of strings", Some("metadata"));
    }
    let input = {
        let store = sim.batches.lock().await;
        match number(input_file_id, "file-").and_then(|n| store.files.get(&n)) {
            None => return no_file(input_file_id),
            Some(f) if f.purpose != "batch" => {
                let m = format!("{input_file_id} has purpose {}: give a file uploaded with purpose batch", f.purpose);
                return error(StatusCode::BAD_REQUEST, &m, Some("input_file_id"));
            }
            Some(f) => f.bytes.clone(),
        }
    };
    let batch = Batch::new(endpoint, input_file_id, window, metadata, sim.config.batch_turnaround);
    let batch = match input::validate(&input, endpoint) {
        Ok(lines) => {
            let ids: Vec<&str> = lines.iter().map(|(_, id)| id.as_str()).collect();
            let fails = input::failing(sim.config.seed, &ids, sim.config.batch_fail_rate);
            let lines = lines.into_iter().zip(fails).map(|((span, _), fails)| (span, fails)).collect();
            batch.with_lines(input, lines)
        }
        Err(problems) => batch.refused(problems),
    };
    let mut store = sim.batches.lock().await;
    let Some(n) = store.add_batch(batch) else {
        let m = format!("{MAX_BATCHES} batches are in progress: wait for one to finish, or cancel one");
        return error(StatusCode::TOO_MANY_REQUESTS, &m, None);
    };
    store.advance(n, &sim).await;
    store.batch_object(n)
}

async fn retrieve(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let mut store = sim.batches.lock().await;
    let Some(n) = number(&id, "batch_").filter(|n| store.batches.contains_key(n)) else {
        return error(StatusCode::NOT_FOUND, &format!("No such Batch object: {id}"), Some("batch_id"));
    };
    store.advance(n, &sim).await;
    store.batch_object(n)
}

async fn cancel(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let mut store = sim.batches.lock().await;
    let Some(n) = number(&id, "batch_").filter(|n| store.batches.contains_key(n)) else {
        return error(StatusCode::NOT_FOUND, &format!("No such Batch object: {id}"), Some("batch_id"));
    };
    if let Err(status) = store.cancel(n, &sim).await {
        let m = format!("Cannot cancel a batch with status {}.", status.name());
        return error(StatusCode::BAD_REQUEST, &m, None);
    }
    store.batch_object(n)
}
