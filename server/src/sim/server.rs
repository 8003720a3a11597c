//! The simulator's HTTP side: its routes and the request handler (its state is in `state`, the replies it builds in `reply`).

use super::answer::{answer, prompt_tokens, reasoning, tokenize};
use super::faults::Fault;
use super::reply::{stream_reply, whole_reply, Kind, Reply};
use super::state::{now_secs, Gauge, Sim, SimConfig};
use super::state::{prompt_key, OWNER};
use app::domain::dataset::prompt_text;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

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
    use axum::serve::ListenerExt;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    // Each chunk leaves when it is written, as from vLLM's server: without TCP_NODELAY a chunk
    // written soon after another waits for the client's delayed ACK (up to 40 ms on Linux),
    // which would add that to the simulated TTFT.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
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
        .route("/version", get(version))
        .route("/sim/stats", get(stats))
        .route("/sim/emitted", get(emitted))
        // The OpenAI Files and Batch APIs (a provider's batch jobs).
        .merge(super::batch::routes())
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

/// vLLM's `/version`.
async fn version(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({"version": sim.config.version}))
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
         # HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n# TYPE vllm:cache_config_info gauge\nvllm:cache_config_info{{block_size=\"{block}\",cache_dtype=\"auto\",enable_prefix_caching=\"{caching}\",gpu_memory_utilization=\"0.9\",num_gpu_blocks=\"{blocks}\"}} 1.0\n\
         # HELP vllm:prefix_cache_queries Prefix cache queries, in terms of number of queried tokens.\n# TYPE vllm:prefix_cache_queries counter\nvllm:prefix_cache_queries_total{l} {pq}\n\
         # HELP vllm:prefix_cache_hits Prefix cache hits, in terms of number of cached tokens.\n# TYPE vllm:prefix_cache_hits counter\nvllm:prefix_cache_hits_total{l} {ph}\n\
         # HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.\n# TYPE vllm:time_to_first_token_seconds histogram\nvllm:time_to_first_token_seconds_sum{l} {ttft_sum}\nvllm:time_to_first_token_seconds_count{l} {ttft_count}\n",
        waiting = s.waiting.load(Ordering::Relaxed),
        kv = (running as f64 / cap).min(1.0),
        prompt = s.prompt_tokens_total.load(Ordering::Relaxed),
        generation = s.generation_tokens_total.load(Ordering::Relaxed),
        ttft_sum = s.ttft_sum_us.load(Ordering::Relaxed) as f64 / 1e6,
        ttft_count = s.ttft_count.load(Ordering::Relaxed),
        blocks = sim.config.max_model_len * sim.config.max_concurrency as u64 / 16,
        block = super::state::BLOCK_TOKENS,
        caching = if sim.config.prefix_cache.enabled() { "True" } else { "False" },
        pq = s.prefix_queries.load(Ordering::Relaxed),
        ph = s.prefix_hits.load(Ordering::Relaxed),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

async fn chat(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    generate(sim, body, Kind::Chat).await
}

async fn completions(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    generate(sim, body, Kind::Completions).await
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
    if kind == Kind::Chat {
        if let Some(m) = bad_messages(&req) {
            return sim.error(StatusCode::BAD_REQUEST, &m, "BadRequestError");
        }
    }
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
    let include_usage = !sim.config.no_usage
        && req
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
    // Prefill: shorter for the part of the prompt the prefix cache already holds.
    let ttft = sim.prefill(&prompt, n_prompt, sim.config.ttft.mul_f64(profile.ttft_factor));
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

/// Why a chat request's messages would be refused by vLLM's request validation, if they would:
/// a list of objects, each with one of the roles OpenAI's chat API defines.
fn bad_messages(req: &Value) -> Option<String> {
    const ROLES: [&str; 6] = ["system", "developer", "user", "assistant", "tool", "function"];
    let Some(list) = req.get("messages").and_then(Value::as_array) else {
        return Some("messages: field required (a list of {\"role\", \"content\"} objects)".into());
    };
    list.iter()
        .enumerate()
        .find_map(|(i, m)| match m.get("role").and_then(Value::as_str) {
            Some(r) if ROLES.contains(&r) => None,
            Some(r) => Some(format!("messages.{i}.role: '{r}' is not one of {}", ROLES.join(", "))),
            None => Some(format!("messages.{i}.role: field required")),
        })
}
