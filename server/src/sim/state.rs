//! The simulator's state: its configuration, counters and what it emitted, shared by the
//! request handlers (`server`) and the replies they build (`reply`).

use super::answer::Profile;
use super::faults::{Fault, FaultCounts, FaultRates};
use app::domain::rng::SplitMix64;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;

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
    /// Repeated prompt prefixes skip their prefill (vLLM's automatic prefix caching).
    pub prefix_cache: PrefixCacheConfig,
    /// Saturation by throughput: all sequences together decode at most this many tokens a
    /// second (each one's per-token time grows as more share the budget). `None`: only the
    /// concurrency limit (`max_concurrency`) saturates.
    pub max_tokens_per_s: Option<f64>,
    /// What `/version` answers (vLLM answers its version, e.g. "0.32.0").
    pub version: String,
    /// How long a batch (`/v1/batches`) takes from creation to completion; its lines complete
    /// evenly over it (zero: at once).
    pub batch_turnaround: Duration,
    /// The share of a batch's lines that fail with a 500 (chosen from the seed and each line's
    /// `custom_id`), from 0 to 1.
    pub batch_fail_rate: f64,
    /// Send no usage chunk even when asked (`stream_options.include_usage`), as some providers do.
    pub no_usage: bool,
}

/// The simulated prefix cache (see `prefix`).
#[derive(Clone, Debug, PartialEq)]
pub struct PrefixCacheConfig {
    /// Blocks of 16 tokens kept (least recently used forgotten first); 0: prefix caching off.
    pub capacity_blocks: usize,
    /// TTFT of a prompt served wholly from the cache, as a share of an uncached one: a prompt
    /// whose share `h` of tokens hit gets ttft x (1 - h x (1 - this)).
    pub cached_ttft_factor: f64,
}

impl PrefixCacheConfig {
    /// Prefix caching off (the library default, so tests that time prefills see whole ones).
    pub const OFF: PrefixCacheConfig = PrefixCacheConfig {
        capacity_blocks: 0,
        cached_ttft_factor: 0.2,
    };
    pub fn enabled(&self) -> bool {
        self.capacity_blocks > 0
    }
}

/// Tokens per prefix-cache block (vLLM's default block size).
pub const BLOCK_TOKENS: usize = 16;

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
            prefix_cache: PrefixCacheConfig::OFF,
            max_tokens_per_s: None,
            version: format!("bakeoff-sim-{}", env!("CARGO_PKG_VERSION")),
            batch_turnaround: Duration::from_secs(2),
            batch_fail_rate: 0.0,
            no_usage: false,
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
    /// Prefix-cache lookups and hits, in prompt tokens (vLLM's counters).
    pub prefix_queries: AtomicU64,
    pub prefix_hits: AtomicU64,
}

impl SimStats {
    pub(super) fn enter(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }
}

/// Counts a request in flight until dropped (its stream ended or its client went away).
pub(super) struct InFlight<'a>(&'a AtomicU64);
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
    pub(super) profiles: Vec<Profile>,
    /// Ground truth by prompt text, when `record_timing` is on.
    pub emitted: std::sync::Mutex<std::collections::HashMap<String, Emitted>>,
    pub(super) prefix: std::sync::Mutex<super::prefix::PrefixCache>,
    /// The Files and Batch APIs' uploads, batches and results (see `batch`).
    pub(super) batches: tokio::sync::Mutex<super::batch::BatchStore>,
}

impl Sim {
    pub fn new(config: SimConfig) -> Arc<Sim> {
        let profiles = config.models.iter().map(|m| Profile::for_model(m)).collect();
        Arc::new(Sim {
            capacity: Arc::new(Semaphore::new(config.max_concurrency.max(1))),
            stats: SimStats::default(),
            draws: AtomicU64::new(0),
            profiles,
            emitted: std::sync::Mutex::new(std::collections::HashMap::new()),
            prefix: std::sync::Mutex::new(super::prefix::PrefixCache::new(config.prefix_cache.capacity_blocks)),
            batches: tokio::sync::Mutex::new(super::batch::BatchStore::default()),
            config,
        })
    }

    /// The prefill time of a prompt of `n_prompt` tokens given its text: the whole `ttft` less
    /// what the prefix cache saves; the lookup is counted in the prefix-cache counters.
    pub(super) fn prefill(&self, prompt: &str, n_prompt: u64, ttft: Duration) -> Duration {
        let pc = &self.config.prefix_cache;
        if !pc.enabled() || n_prompt == 0 {
            return ttft;
        }
        let hashes = super::prefix::block_hashes(prompt.as_bytes(), BLOCK_TOKENS * super::prefix::BYTES_PER_TOKEN);
        let blocks = match self.prefix.lock() {
            Ok(mut c) => c.lookup_and_keep(&hashes),
            Err(_) => 0,
        };
        let hits = ((blocks * BLOCK_TOKENS) as u64).min(n_prompt);
        self.stats.prefix_queries.fetch_add(n_prompt, Ordering::Relaxed);
        self.stats.prefix_hits.fetch_add(hits, Ordering::Relaxed);
        let share = hits as f64 / n_prompt as f64;
        ttft.mul_f64(1.0 - share * (1.0 - pc.cached_ttft_factor.clamp(0.0, 1.0)))
    }

    /// The next fault draw: deterministic for a seed and the order requests arrive in.
    pub(super) fn draw_fault(&self) -> Option<Fault> {
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

/// Decrements a gauge when dropped (the request left the queue or the batch).
pub(crate) struct Gauge<'a>(pub(crate) &'a AtomicU64);
impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
