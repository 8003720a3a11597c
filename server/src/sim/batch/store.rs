//! What the Files and Batch APIs keep, and a batch's life: its states along the turnaround, its
//! lines answered as they fall due, its output and error files.

use super::error;
use crate::sim::faults::FaultRates;
use crate::sim::state::{now_secs, PrefixCacheConfig, Sim, SimConfig};
use app::domain::rng::SplitMix64;
use axum::body::{Body, Bytes};
use axum::handler::Handler;
use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any_service, MethodRouter};
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::ops::Range;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Files kept at most, in bytes and in number; past either the oldest are forgotten.
const MAX_STORED_BYTES: usize = 512 * 1024 * 1024;
const MAX_FILES: usize = 1000;
/// Batches kept; past this the oldest finished one is forgotten.
pub(super) const MAX_BATCHES: usize = 1000;
/// Lines answered at once while a batch catches up with the clock.
const LINES_AT_ONCE: usize = 64;
/// Shares of the turnaround spent validating, then answering lines (the rest is finalizing).
const VALIDATING: f64 = 0.05;
const WORKING: f64 = 0.9;

/// Uploaded and generated files, and batches, by number (`file-<n>`, `batch_<n>`).
#[derive(Default)]
pub struct BatchStore {
    pub(super) files: BTreeMap<u64, StoredFile>,
    file_bytes: usize,
    next_file: u64,
    pub(super) batches: BTreeMap<u64, Batch>,
    next_batch: u64,
    /// The number of the last line's `batch_req_<n>`.
    last_request: u64,
    /// What answers the lines: the simulator's routes without delays or faults (made at first use).
    engine: Option<MethodRouter>,
}

pub(super) struct StoredFile {
    filename: String,
    pub(super) purpose: &'static str,
    created_at: u64,
    pub(super) bytes: Bytes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Status {
    Validating,
    InProgress,
    Finalizing,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    pub(super) fn name(self) -> &'static str {
        match self {
            Status::Validating => "validating",
            Status::InProgress => "in_progress",
            Status::Finalizing => "finalizing",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }
    pub(super) fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }
}

/// One input line: where it is in the input file, and whether it is one of those that fail.
struct Line {
    span: Range<usize>,
    fails: bool,
}

pub(super) struct Batch {
    endpoint: String,
    input_file_id: String,
    completion_window: String,
    metadata: Value,
    started: Instant,
    /// Seconds since the epoch, with their fraction (the other times are offsets from it).
    created_at: f64,
    turnaround: Duration,
    /// The input and its lines, until the batch ends.
    input: Bytes,
    lines: Vec<Line>,
    total: usize,
    first_request: u64,
    pub(super) status: Status,
    /// Lines answered so far, and how they went.
    done: usize,
    completed: u64,
    failed: u64,
    output: Vec<u8>,
    error_output: Vec<u8>,
    output_file_id: Option<String>,
    error_file_id: Option<String>,
    errors: Option<Value>,
    in_progress_at: Option<u64>,
    finalizing_at: Option<u64>,
    completed_at: Option<u64>,
    failed_at: Option<u64>,
    cancelled_at: Option<u64>,
}

fn file_id(n: u64) -> String {
    format!("file-{n}")
}

impl BatchStore {
    pub(super) fn add_file(&mut self, filename: String, purpose: &'static str, bytes: Bytes) -> u64 {
        self.next_file += 1;
        let n = self.next_file;
        self.file_bytes += bytes.len();
        self.files.insert(
            n,
            StoredFile {
                filename,
                purpose,
                created_at: now_secs(),
                bytes,
            },
        );
        while self.file_bytes > MAX_STORED_BYTES || self.files.len() > MAX_FILES {
            match self.files.first_key_value().map(|(k, _)| *k).filter(|k| *k != n) {
                Some(oldest) => {
                    let gone = self.files.remove(&oldest).map(|f| f.bytes.len()).unwrap_or(0);
                    self.file_bytes -= gone;
                }
                None => break,
            }
        }
        n
    }

    pub(super) fn file_object(&self, n: u64) -> Value {
        let Some(f) = self.files.get(&n) else { return Value::Null };
        json!({"id": file_id(n), "object": "file", "bytes": f.bytes.len(), "created_at": f.created_at,
               "filename": f.filename, "purpose": f.purpose})
    }

    /// Keep a new batch (forgetting the oldest finished one past the limit); `None` when every
    /// kept batch is still running.
    pub(super) fn add_batch(&mut self, mut batch: Batch) -> Option<u64> {
        if self.batches.len() >= MAX_BATCHES {
            let oldest = self.batches.iter().find(|(_, b)| b.status.is_final()).map(|(k, _)| *k)?;
            self.batches.remove(&oldest);
        }
        self.next_batch += 1;
        batch.first_request = self.last_request + 1;
        self.last_request += batch.total as u64;
        self.batches.insert(self.next_batch, batch);
        Some(self.next_batch)
    }

    pub(super) fn batch_object(&self, n: u64) -> Response {
        match self.batches.get(&n) {
            Some(b) => Json(b.object(n)).into_response(),
            None => error(StatusCode::NOT_FOUND, &format!("No such Batch object: batch_{n}"), Some("batch_id")),
        }
    }

    /// The simulator's own routes, without delays or injected faults, to answer lines with.
    fn engine(&mut self, sim: &Sim) -> MethodRouter {
        self.engine
            .get_or_insert_with(|| {
                let config = SimConfig {
                    ttft: Duration::ZERO,
                    tpot: Duration::ZERO,
                    max_concurrency: LINES_AT_ONCE,
                    max_tokens_per_s: None,
                    faults: FaultRates {
                        flat_errors: sim.config.faults.flat_errors,
                        ..FaultRates::default()
                    },
                    prefix_cache: PrefixCacheConfig::OFF,
                    record_timing: false,
                    ..sim.config.clone()
                };
                any_service(crate::sim::router(Sim::new(config)))
            })
            .clone()
    }

    /// Bring batch `n` up to the clock: answer the lines now due, and move it through its states.
    pub(super) async fn advance(&mut self, n: u64, sim: &Sim) {
        let engine = self.engine(sim);
        let Some(b) = self.batches.get_mut(&n) else { return };
        if b.status.is_final() {
            return;
        }
        let elapsed = b.started.elapsed();
        let t = b.turnaround;
        if b.status == Status::Validating && elapsed >= t.mul_f64(VALIDATING) {
            b.status = Status::InProgress;
            b.in_progress_at = Some(b.at(VALIDATING));
        }
        if b.status == Status::InProgress {
            b.answer(&engine, sim.config.seed, b.due(elapsed)).await;
            if b.done == b.total && elapsed >= t.mul_f64(VALIDATING + WORKING) {
                b.status = Status::Finalizing;
                b.finalizing_at = Some(b.at(VALIDATING + WORKING));
            }
        }
        if b.status == Status::Finalizing && elapsed >= t {
            b.status = Status::Completed;
            b.completed_at = Some(b.at(1.0));
            self.close(n, true);
        }
    }

    /// Cancel batch `n` (brought up to the clock first): the lines done so far go to its files.
    /// `Err` with the status of a batch that has already ended.
    pub(super) async fn cancel(&mut self, n: u64, sim: &Sim) -> Result<(), Status> {
        self.advance(n, sim).await;
        if let Some(b) = self.batches.get_mut(&n) {
            if b.status.is_final() {
                return Err(b.status);
            }
            b.status = Status::Cancelled;
            b.cancelled_at = Some(now_secs());
        }
        self.close(n, false);
        Ok(())
    }

    /// Write batch `n`'s results to its output file (always, or only when it has lines) and
    /// error file (when it has lines), and let its input go.
    fn close(&mut self, n: u64, always_output: bool) {
        let Some(b) = self.batches.get_mut(&n) else { return };
        let (output, errors) = (std::mem::take(&mut b.output), std::mem::take(&mut b.error_output));
        b.input = Bytes::new();
        b.lines = Vec::new();
        let output = (always_output || !output.is_empty())
            .then(|| file_id(self.add_file(format!("batch_{n}_output.jsonl"), "batch_output", output.into())));
        let errors = (!errors.is_empty()).then(|| file_id(self.add_file(format!("batch_{n}_error.jsonl"), "batch_output", errors.into())));
        if let Some(b) = self.batches.get_mut(&n) {
            b.output_file_id = output;
            b.error_file_id = errors;
        }
    }
}

impl Batch {
    /// A batch created now, `validating`, still without lines.
    pub(super) fn new(endpoint: &str, input_file_id: &str, completion_window: &str, metadata: Value, turnaround: Duration) -> Batch {
        Batch {
            endpoint: endpoint.to_string(),
            input_file_id: input_file_id.to_string(),
            completion_window: completion_window.to_string(),
            metadata,
            started: Instant::now(),
            created_at: SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64(),
            turnaround,
            input: Bytes::new(),
            lines: Vec::new(),
            total: 0,
            first_request: 0,
            status: Status::Validating,
            done: 0,
            completed: 0,
            failed: 0,
            output: Vec::new(),
            error_output: Vec::new(),
            output_file_id: None,
            error_file_id: None,
            errors: None,
            in_progress_at: None,
            finalizing_at: None,
            completed_at: None,
            failed_at: None,
            cancelled_at: None,
        }
    }

    /// Its lines (where each is in `input`, and whether it fails), once they are found good.
    pub(super) fn with_lines(mut self, input: Bytes, lines: Vec<(Range<usize>, bool)>) -> Batch {
        self.lines = lines.into_iter().map(|(span, fails)| Line { span, fails }).collect();
        self.total = self.lines.len();
        self.input = input;
        self
    }

    /// Failed at validation, with OpenAI's list of the problems.
    pub(super) fn refused(mut self, problems: Vec<Value>) -> Batch {
        self.status = Status::Failed;
        self.failed_at = Some(self.created_at as u64);
        self.errors = Some(json!({"object": "list", "data": problems}));
        self
    }

    /// Seconds since the epoch at `share` of the turnaround.
    fn at(&self, share: f64) -> u64 {
        (self.created_at + self.turnaround.as_secs_f64() * share) as u64
    }

    /// Lines due `elapsed` after creation: line i (from 0) at the start of the working share
    /// plus (i + 1) / total of it.
    fn due(&self, elapsed: Duration) -> usize {
        let t = self.turnaround.as_secs_f64();
        if t <= 0.0 {
            return self.total;
        }
        let share = (elapsed.as_secs_f64() / t - VALIDATING) / WORKING;
        ((share * self.total as f64).floor().max(0.0) as usize).min(self.total)
    }

    /// Answer the lines up to `due`, a few at a time, in order.
    async fn answer(&mut self, engine: &MethodRouter, seed: u64, due: usize) {
        while self.done < due {
            let upto = due.min(self.done + LINES_AT_ONCE);
            let results = futures::future::join_all((self.done..upto).map(|i| self.answer_line(engine, seed, i))).await;
            for (ok, line) in results {
                if ok {
                    self.completed += 1;
                    self.output.extend_from_slice(&line);
                } else {
                    self.failed += 1;
                    self.error_output.extend_from_slice(&line);
                }
            }
            self.done = upto;
        }
    }

    /// Line `i`'s line of the output (true) or error file, in OpenAI's Batch output format.
    async fn answer_line(&self, engine: &MethodRouter, seed: u64, i: usize) -> (bool, Vec<u8>) {
        let n = self.first_request + i as u64;
        let line = &self.lines[i];
        // Validated when the batch was created.
        let input: Value = serde_json::from_slice(&self.input[line.span.clone()]).unwrap_or_default();
        let (status, mut body) = if line.fails {
            let e = json!({"message": "simulated failure of this request (the simulator's batch fail rate)",
                           "type": "server_error", "param": null, "code": null});
            (500, json!({"error": e}))
        } else {
            let mut body = input.get("body").cloned().unwrap_or_default();
            body["stream"] = Value::Bool(false);
            ask(engine, &self.endpoint, &body).await
        };
        if status == 200 {
            // The engine numbers answers as they arrive; number them by line instead.
            let kind = if self.endpoint == "/v1/completions" { "cmpl" } else { "chatcmpl" };
            body["id"] = Value::from(format!("{kind}-batch-{n}"));
        }
        let mut g = SplitMix64::new(seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let request_id = format!("req_{:016x}{:016x}", g.next_u64(), g.next_u64());
        let out = json!({"id": format!("batch_req_{n}"), "custom_id": input.get("custom_id"),
                         "response": {"status_code": status, "request_id": request_id, "body": body}, "error": null});
        let mut bytes = serde_json::to_vec(&out).unwrap_or_default();
        bytes.push(b'\n');
        (status == 200, bytes)
    }

    fn object(&self, n: u64) -> Value {
        let created = self.created_at as u64;
        json!({
            "id": format!("batch_{n}"), "object": "batch", "endpoint": self.endpoint, "errors": self.errors,
            "input_file_id": self.input_file_id, "completion_window": self.completion_window,
            "status": self.status.name(), "output_file_id": self.output_file_id, "error_file_id": self.error_file_id,
            "created_at": created, "in_progress_at": self.in_progress_at, "expires_at": created + 24 * 3600,
            "finalizing_at": self.finalizing_at, "completed_at": self.completed_at, "failed_at": self.failed_at,
            "expired_at": null, "cancelling_at": self.cancelled_at, "cancelled_at": self.cancelled_at,
            "request_counts": {"total": self.total, "completed": self.completed, "failed": self.failed},
            "metadata": self.metadata,
        })
    }
}

/// What the simulator's route at `path` answers `body`: its status and JSON body.
async fn ask(engine: &MethodRouter, path: &str, body: &Value) -> (u16, Value) {
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap_or_default()));
    let Ok(req) = req else {
        return (
            500,
            json!({"error": {"message": "could not build the request", "type": "server_error"}}),
        );
    };
    let resp = Handler::call(engine.clone(), req, ()).await;
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 16 * 1024 * 1024).await.unwrap_or_default();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}
