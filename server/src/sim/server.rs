//! The simulator's HTTP side: configuration, state, routes and the request handler.

use super::answer::{answer, prompt_tokens, reasoning, tokenize, Profile};
use super::faults::{Fault, FaultCounts, FaultRates};
use super::reply::{stream_reply, whole_reply, Kind, Reply};
use app::domain::dataset::prompt_text;
use app::domain::rng::SplitMix64;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, Semaphore};

/// `owned_by` in `/v1/models`: how Bakeoff recognises its own simulator.
pub const OWNER: &str = "bakeoff-simulator";

/// The models the built-in simulator serves by default (one profile each). The "thinking" one
/// reasons before it answers (see [`ReasoningMode`]).
pub const DEFAULT_MODELS: [&str; 4] = ["sim-gemma-3-4b", "sim-llama-3.2-1b", "sim-qwen3-4b", "sim-qwen3-4b-thinking"];

/// The delta key a reasoning model streams its reasoning in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReasoningField {
    /// `delta.reasoning` (vLLM >= 0.11).
    Reasoning,
    /// `delta.reasoning_content` (older vLLM, DeepSeek's convention).
    ReasoningContent,
}

impl ReasoningField {
    pub fn key(self) -> &'static str {
        match self {
            ReasoningField::Reasoning => "reasoning",
            ReasoningField::ReasoningContent => "reasoning_content",
        }
    }

    pub fn parse(s: &str) -> Option<ReasoningField> {
        [ReasoningField::Reasoning, ReasoningField::ReasoningContent]
            .into_iter()
            .find(|f| f.key() == s)
    }
}

/// How simulated models reason, as vLLM serves gpt-oss or Qwen3 with a reasoning parser: the
/// reasoning streamed first in its own delta key, then the answer, all within `max_tokens`,
/// the usage counting both (chat only: `/v1/completions` has no reasoning parser).
#[derive(Clone, Debug, PartialEq)]
pub struct ReasoningMode {
    /// Every served model reasons (`bakeoff sim --reasoning`); otherwise only the models whose
    /// name says "thinking" (e.g. `sim-qwen3-4b-thinking`).
    pub all_models: bool,
    pub field: ReasoningField,
    /// Reasoning tokens before every answer.
    pub tokens: usize,
    /// Report `usage.completion_tokens_details.reasoning_tokens` (off: clients must count).
    pub usage_details: bool,
}

impl Default for ReasoningMode {
    fn default() -> Self {
        ReasoningMode {
            all_models: false,
            field: ReasoningField::Reasoning,
            tokens: 48,
            usage_details: true,
        }
    }
}

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub models: Vec<String>,
    pub seed: u64,
    /// Prefill time before the first token (scaled by the model's profile).
    pub ttft: Duration,
    /// Time per output token at a batch of one (scaled by the model's profile).
    pub tpot: Duration,
    /// Requests decoded at once; more wait in a queue (`num_requests_waiting`).
    pub max_concurrency: usize,
    pub max_model_len: u64,
    /// Tokens carried by each content chunk.
    pub tokens_per_chunk: usize,
    /// Per-token time grows by this fraction at a full batch: tpot x (1 + s x running / capacity).
    pub batch_slowdown: f64,
    pub faults: FaultRates,
    /// Record when each request's first and last content chunk left (ground truth for the
    /// timing-accuracy benchmark). Off by default: it costs a lock per request.
    pub record_timing: bool,
    /// Which models reason before answering, and how.
    pub reasoning: ReasoningMode,
}

/// When the simulator emitted a request's first content chunk and its `[DONE]`, as wall-clock
/// microseconds since the Unix epoch (comparable across processes on one machine).
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Emitted {
    pub first_us: u64,
    pub last_us: u64,
}

/// Wall-clock microseconds since the Unix epoch.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The key the ground truth is filed under: FNV-1a of the prompt text, in hex.
pub fn prompt_key(prompt: &str) -> String {
    let h = prompt.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{h:016x}")
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            models: DEFAULT_MODELS.iter().map(|m| m.to_string()).collect(),
            seed: 0,
            ttft: Duration::from_millis(30),
            tpot: Duration::from_millis(3),
            max_concurrency: 64,
            max_model_len: 4096,
            tokens_per_chunk: 1,
            batch_slowdown: 0.5,
            faults: FaultRates {
                stall_for: Duration::from_secs(3600),
                ..Default::default()
            },
            record_timing: false,
            reasoning: ReasoningMode::default(),
        }
    }
}

/// Counters for `/metrics` and for tests.
#[derive(Default, Debug)]
pub struct SimStats {
    pub requests: AtomicU64,
    pub running: AtomicU64,
    pub waiting: AtomicU64,
    pub prompt_tokens_total: AtomicU64,
    pub generation_tokens_total: AtomicU64,
    pub ttft_sum_us: AtomicU64,
    pub ttft_count: AtomicU64,
    pub faults: FaultCounts,
    /// Requests being handled now (queued or decoding), and the most seen at once.
    pub in_flight: AtomicU64,
    pub peak_in_flight: AtomicU64,
}

impl SimStats {
    fn enter(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }
}

/// Counts a request in flight until dropped (its stream ended or its client went away).
struct InFlight<'a>(&'a AtomicU64);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

pub struct Sim {
    pub config: SimConfig,
    pub stats: SimStats,
    pub(crate) capacity: Arc<Semaphore>,
    draws: AtomicU64,
    profiles: Vec<Profile>,
    /// Ground truth by prompt text, when `record_timing` is on.
    pub emitted: std::sync::Mutex<std::collections::HashMap<String, Emitted>>,
}

impl Sim {
    pub fn new(config: SimConfig) -> Arc<Sim> {
        let profiles = config.models.iter().map(|m| Profile::for_model(m)).collect();
        Arc::new(Sim {
            capacity: Arc::new(Semaphore::new(config.max_concurrency.max(1))),
            config,
            stats: SimStats::default(),
            draws: AtomicU64::new(0),
            profiles,
            emitted: std::sync::Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// The next fault draw: deterministic for a seed and the order requests arrive in.
    fn draw_fault(&self) -> Option<Fault> {
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        let mut g = SplitMix64::new(self.config.seed.wrapping_mul(0x9e37_79b9).wrapping_add(n));
        self.config.faults.pick(g.next_f64())
    }

    pub(crate) fn error(&self, status: StatusCode, message: &str, kind: &str) -> Response {
        let body = if self.config.faults.flat_errors {
            json!({"object": "error", "message": message, "type": kind, "param": null, "code": status.as_u16()})
        } else {
            json!({"error": {"message": message, "type": kind, "param": null, "code": status.as_u16()}})
        };
        (status, Json(body)).into_response()
    }
}

/// A running simulator.
pub struct SimHandle {
    pub addr: SocketAddr,
    pub sim: Arc<Sim>,
}

impl SimHandle {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Listen on `addr` (port 0 picks a free port) and serve until the process ends.
pub async fn start(config: SimConfig, addr: SocketAddr) -> std::io::Result<SimHandle> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let sim = Sim::new(config);
    let app = router(sim.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("simulator stopped: {e}");
        }
    });
    Ok(SimHandle { addr, sim })
}

pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/tokenize", post(tokenize_endpoint))
        .route("/metrics", get(metrics))
        .route("/sim/stats", get(stats))
        .route("/sim/emitted", get(emitted))
        .with_state(sim)
}

async fn models(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let data: Vec<Value> = sim
        .config
        .models
        .iter()
        .map(|m| json!({"id": m, "object": "model", "created": now_secs(), "owned_by": OWNER, "root": m, "parent": null, "max_model_len": sim.config.max_model_len}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

/// vLLM's `/tokenize`: the prompt's token count (the simulator's counting) and `max_model_len`.
async fn tokenize_endpoint(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return sim.error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}"), "BadRequestError"),
    };
    let messages = req.get("messages").and_then(Value::as_array).map(Vec::len).unwrap_or(1);
    let count = prompt_tokens(&prompt_text(&req), messages);
    Json(json!({"count": count, "max_model_len": sim.config.max_model_len, "tokens": []})).into_response()
}

/// Ground truth for the timing benchmark (empty unless started with timing recorded).
async fn emitted(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let m = sim.emitted.lock().map(|m| m.clone()).unwrap_or_default();
    Json(serde_json::to_value(m).unwrap_or(Value::Null))
}

async fn stats(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let s = &sim.stats;
    let faults: serde_json::Map<String, Value> = Fault::ALL
        .iter()
        .map(|f| (f.name().to_string(), Value::from(s.faults.get(*f))))
        .collect();
    Json(json!({
        "requests": s.requests.load(Ordering::Relaxed),
        "peak_in_flight": s.peak_in_flight.load(Ordering::Relaxed),
        "generation_tokens_total": s.generation_tokens_total.load(Ordering::Relaxed),
        "faults": faults,
    }))
}

async fn metrics(State(sim): State<Arc<Sim>>) -> impl IntoResponse {
    let s = &sim.stats;
    let running = s.running.load(Ordering::Relaxed);
    let cap = sim.config.max_concurrency.max(1) as f64;
    let model = sim.config.models.first().cloned().unwrap_or_default();
    let l = format!("{{model_name=\"{model}\"}}");
    let text = format!(
        "# HELP vllm:num_requests_running Number of requests in model execution batches.\n# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{l} {running}\n\
         # HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{l} {waiting}\n\
         # HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{l} {kv}\n\
         # HELP vllm:prompt_tokens_total Number of prefill tokens processed.\n# TYPE vllm:prompt_tokens_total counter\nvllm:prompt_tokens_total{l} {prompt}\n\
         # HELP vllm:generation_tokens_total Number of generation tokens processed.\n# TYPE vllm:generation_tokens_total counter\nvllm:generation_tokens_total{l} {generation}\n\
         # HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n# TYPE vllm:cache_config_info gauge\nvllm:cache_config_info{{block_size=\"16\",cache_dtype=\"auto\",num_gpu_blocks=\"{blocks}\"}} 1.0\n\
         # HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.\n# TYPE vllm:time_to_first_token_seconds histogram\nvllm:time_to_first_token_seconds_sum{l} {ttft_sum}\nvllm:time_to_first_token_seconds_count{l} {ttft_count}\n",
        waiting = s.waiting.load(Ordering::Relaxed),
        kv = (running as f64 / cap).min(1.0),
        prompt = s.prompt_tokens_total.load(Ordering::Relaxed),
        generation = s.generation_tokens_total.load(Ordering::Relaxed),
        ttft_sum = s.ttft_sum_us.load(Ordering::Relaxed) as f64 / 1e6,
        ttft_count = s.ttft_count.load(Ordering::Relaxed),
        blocks = sim.config.max_model_len * sim.config.max_concurrency as u64 / 16,
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

async fn chat(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    generate(sim, body, Kind::Chat).await
}

async fn completions(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    generate(sim, body, Kind::Completions).await
}

/// Decrements a gauge when dropped (the request left the queue or the batch).
pub(crate) struct Gauge<'a>(pub(crate) &'a AtomicU64);
impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn generate(sim: Arc<Sim>, body: Bytes, kind: Kind) -> Response {
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return sim.error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}"), "BadRequestError"),
    };
    let model = req.get("model").and_then(Value::as_str).unwrap_or("");
    let Some(profile) = sim.profiles.iter().find(|p| p.name == model).cloned() else {
        return sim.error(
            StatusCode::NOT_FOUND,
            &format!("The model `{model}` does not exist."),
            "NotFoundError",
        );
    };
    let prompt = prompt_text(&req);
    let messages = req.get("messages").and_then(Value::as_array).map(Vec::len).unwrap_or(1);
    let n_prompt = prompt_tokens(&prompt, messages);
    let max_len = sim.config.max_model_len;
    let max_tokens = req
        .get("max_tokens")
        .or_else(|| req.get("max_completion_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(max_len.saturating_sub(n_prompt));
    if n_prompt + max_tokens > max_len {
        return sim.error(
            StatusCode::BAD_REQUEST,
            &format!(
                "This model's maximum context length is {max_len} tokens. However, you requested {} tokens ({n_prompt} in the messages, {max_tokens} in the completion). Please reduce the length of the messages or completion.",
                n_prompt + max_tokens
            ),
            "BadRequestError",
        );
    }
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = req
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let schema = req
        .get("response_format")
        .filter(|f| f.get("type").and_then(Value::as_str) == Some("json_schema"))
        .and_then(|f| f.pointer("/json_schema/schema"))
        .cloned();

    sim.stats.requests.fetch_add(1, Ordering::Relaxed);
    let sim_for_guard = sim.clone();
    let in_flight = sim_for_guard.stats.enter();
    let fault = sim.draw_fault();
    if let Some(f @ (Fault::Http500 | Fault::Http429)) = fault {
        sim.stats.faults.add(f);
        return if f == Fault::Http500 {
            sim.error(StatusCode::INTERNAL_SERVER_ERROR, "simulated engine failure", "InternalServerError")
        } else {
            sim.error(
                StatusCode::TOO_MANY_REQUESTS,
                "simulated overload: too many requests",
                "RateLimitError",
            )
        };
    }

    let text = answer(&profile, sim.config.seed, &prompt, schema.as_ref());
    let mode = &sim.config.reasoning;
    let reasons = kind == Kind::Chat && (profile.reasons || mode.all_models);
    let thought = if reasons {
        reasoning(&profile, sim.config.seed, &prompt, mode.tokens)
    } else {
        String::new()
    };
    // Reasoning first, then the answer, within max_tokens together (as vLLM counts them).
    let (think, say) = (tokenize(&thought), tokenize(&text));
    let budget = max_tokens as usize;
    let r = think.len().min(budget);
    let n = say.len().min(budget - r);
    let finish = if think.len() + say.len() > r + n { "length" } else { "stop" };
    let pieces: Vec<String> = think[..r].iter().chain(&say[..n]).map(|p| p.to_string()).collect();

    sim.stats.waiting.fetch_add(1, Ordering::Relaxed);
    let waiting = Gauge(&sim.stats.waiting);
    let Ok(permit) = sim.capacity.clone().acquire_owned().await else {
        return sim.error(StatusCode::SERVICE_UNAVAILABLE, "simulator shutting down", "ServiceUnavailable");
    };
    drop(waiting);
    sim.stats.prompt_tokens_total.fetch_add(n_prompt, Ordering::Relaxed);
    let ttft = sim.config.ttft.mul_f64(profile.ttft_factor);
    let reply = Reply {
        key: if sim.config.record_timing {
            Some(prompt_key(&prompt))
        } else {
            None
        },
        id: format!(
            "{}-{}",
            if kind == Kind::Chat { "chatcmpl" } else { "cmpl" },
            sim.stats.requests.load(Ordering::Relaxed)
        ),
        model: model.to_string(),
        kind,
        pieces,
        reasoning: reasons.then_some(r),
        reasoning_key: mode.field.key(),
        usage_details: mode.usage_details,
        finish,
        n_prompt,
        include_usage,
        ttft,
        tpot_factor: profile.tpot_factor,
        fault,
    };
    if stream {
        let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(32);
        drop(in_flight);
        tokio::spawn(async move {
            let _in_flight = sim.stats.enter();
            stream_reply(sim.clone(), reply, permit, tx).await;
        });
        let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }));
        Response::builder()
            .header(header::CONTENT_TYPE, "text/event-stream")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(body)
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    } else {
        let r = whole_reply(sim, reply, permit).await;
        drop(in_flight);
        r
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
