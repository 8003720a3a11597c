//! The `bakeoff` command line.

pub mod db;
pub mod demo;
pub mod headless;
pub mod token;
pub mod worker;

use crate::serve::{self, OnRestart, ServeOptions};
use crate::sim::{self, faults::FaultRates, ReasoningField, ReasoningMode, SimConfig, DEFAULT_MODELS};
use crate::worker::PreflightPolicy;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_DB: &str = "data/bakeoff.db";

#[derive(Parser, Debug)]
#[command(
    name = "bakeoff",
    version = crate::health::VERSION,
    about = "Choose an LLM for a batch job: benchmark vLLM endpoints for speed, quality and cost."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web app (and the built-in simulator) and run queued benchmark runs (with
    /// --no-worker: the web app only, a `bakeoff worker` runs them).
    Serve(ServeArgs),
    /// Serve only the vLLM simulator (OpenAI-compatible API, simulated results).
    Sim(SimArgs),
    /// Measure queued runs next to a GPU, without the web app: for the endpoints named (default:
    /// any), starting their model servers only with --allow-launch.
    Worker(worker::WorkerArgs),
    /// Run a benchmark from the terminal (progress on stderr; results in the same database).
    Run(RunArgs),
    /// Run a batch job from the terminal: a provider's Batch API, or `vllm run-batch` (--offline).
    Batch(BatchArgs),
    /// Write a run's OpenAI Batch output JSONL and its summary JSON.
    Export(ExportArgs),
    /// Import a run measured elsewhere: a seed run summary (.json) or a Batch output (.jsonl).
    Import(ImportArgs),
    /// Print the benchmark report (Markdown or HTML) on stdout.
    Report(ReportArgs),
    /// Manage users (passwords are read from stdin).
    #[command(subcommand)]
    User(UserCommand),
    /// Back up the database while serving (`db backup FILE`), or check one (`db check`).
    #[command(subcommand)]
    Db(db::DbCommand),
    /// API tokens for scripts: create (printed once), list, revoke.
    #[command(subcommand)]
    Token(token::TokenCommand),
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user: `echo PASSWORD | bakeoff user add NAME --role reviewer`.
    Add {
        name: String,
        #[arg(long, default_value = "viewer")]
        role: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Set a user's password (read from stdin).
    Passwd {
        name: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// List users and their roles.
    List {
        #[command(flatten)]
        db: DbArg,
    },
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    anyhow::ensure!(
        !pw.is_empty(),
        "give the password on stdin, e.g. `echo 'long password' | bakeoff user add NAME --role reviewer`"
    );
    Ok(pw)
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    pub file: PathBuf,
    /// The Batch input file that goes with a Batch output (for the prompts).
    #[arg(long)]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbArg,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Md,
    Html,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[arg(long, value_enum, default_value = "md")]
    pub format: ReportFormat,
    /// The price sheet applied (default: the first, the seed's sheet).
    #[arg(long)]
    pub sheet: Option<String>,
    /// Requests per month for the monthly figures.
    #[arg(long, default_value_t = 1_000_000.0)]
    pub volume: f64,
    /// The hybrid pair: the run that screens and the run that judges (default: cheapest and best).
    #[arg(long)]
    pub screen: Option<i64>,
    #[arg(long)]
    pub judge: Option<i64>,
    /// Share of items sent to the judge, 0..1.
    #[arg(long, default_value_t = 0.2)]
    pub judge_share: f64,
    /// "Faster" compares each model at its best (its highest throughput with an E2E p90 within
    /// this many ms) instead of runs at the same load only (the default).
    #[arg(long, value_name = "MS")]
    pub best_within_p90_ms: Option<f64>,
    #[command(flatten)]
    pub db: DbArg,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The OpenAI-compatible server, e.g. http://gpu-box:8000 or https://api.parasail.io/v1
    #[arg(long)]
    pub endpoint: String,
    #[command(flatten)]
    pub access: AccessArgs,
    /// The price sheet the endpoint's runs are priced by (e.g. a hosted provider's listing).
    #[arg(long, value_name = "NAME")]
    pub price_sheet: Option<String>,
    /// The model name the endpoint serves.
    #[arg(long)]
    pub model: String,
    /// An OpenAI Batch input JSONL file.
    #[arg(long)]
    pub dataset: PathBuf,
    /// Mark the dataset internal only (personal or confidential data): it is then never sent
    /// to a hosted endpoint, by this run or any later one.
    #[arg(long)]
    pub internal_only: bool,
    #[arg(long, default_value_t = 100)]
    pub requests: u32,
    /// Requests in flight at most (with --rate: the cap on the arrivals in flight, as
    /// `vllm bench serve --max-concurrency`).
    #[arg(long)]
    pub concurrency: Option<u32>,
    /// Requests per second (Poisson arrivals); with --concurrency, capped at that many in flight.
    #[arg(long)]
    pub rate: Option<f64>,
    #[arg(long)]
    pub max_tokens: Option<u32>,
    #[arg(long, default_value_t = 0)]
    pub warmup: u32,
    /// Comma-separated concurrency levels: one run per level. `auto` (or `auto:N`): raise the
    /// concurrency (1, 2, 4, ...) until throughput stops rising or the --slo targets break (the
    /// knee), then run N (default 5) evenly spaced request rates (Poisson arrivals) from what
    /// concurrency 1 served up to what the knee served. Warm-up runs once per sweep.
    #[arg(long)]
    pub sweep: Option<String>,
    /// Service-level targets in ms, as `vllm bench serve --goodput` takes them: `--slo ttft:2000
    /// tpot:50 e2e:10000` (or repeated), each target once. The summary adds goodput: requests and
    /// output tokens per second of the requests that met every target.
    #[arg(long = "slo", alias = "goodput", value_name = "METRIC:MS", num_args = 1..)]
    pub slo: Vec<String>,
    /// The percentile the run as a whole is checked at against --slo: a number from 1 to 100
    /// (both included; decimals allowed, e.g. 99.9). Default 90.
    #[arg(long, value_name = "P")]
    pub slo_percentile: Option<f64>,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub db: DbArg,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lease: LeaseArgs,
}

/// How `run` and `batch` reach their endpoint.
#[derive(Args, Debug, Clone)]
pub struct AccessArgs {
    /// The environment variable holding the endpoint's API key (sent as `Authorization: Bearer`).
    /// Without this flag, BAKEOFF_API_KEY is read when it is set. Such a key is held in memory
    /// for this run only: it is never written to the database.
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// PEM certificate(s) trusted for an https endpoint: its private CA, or the server's own
    /// self-signed certificate (pinned).
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// An extra header sent with every request, `Name: value` (repeatable; held in memory only).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The endpoint is a hosted provider: no /health, /metrics or /tokenize (Parasail's host is
    /// known without this flag).
    #[arg(long)]
    pub hosted: bool,
    /// Send a 429 or 503 answer again up to N times, after its Retry-After (default: no retries).
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
}

/// `bakeoff batch`: one batch job, from the terminal.
#[derive(Args, Debug)]
pub struct BatchArgs {
    /// A provider's OpenAI-compatible API with a Batch API (e.g. https://api.parasail.io/v1), by
    /// URL or by the name it was registered under; with --offline, the name of a managed endpoint
    /// whose admin-written launch list runs `vllm run-batch -i {input} -o {output} --model {model}`.
    #[arg(long)]
    pub endpoint: String,
    /// The model name (served by the provider; with --offline, one the endpoint's admin listed).
    #[arg(long)]
    pub model: String,
    /// An OpenAI Batch input JSONL file.
    #[arg(long)]
    pub dataset: PathBuf,
    /// Run `vllm run-batch` on this host (the endpoint's launch list) instead of a provider's
    /// Batch API.
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub access: AccessArgs,
    /// The price sheet the endpoint's runs are priced by (a provider batch: its batch prices).
    #[arg(long, value_name = "NAME")]
    pub price_sheet: Option<String>,
    /// Lines in the job (default: every line of the dataset once; more cycles it).
    #[arg(long)]
    pub requests: Option<u32>,
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Mark the dataset internal only: it is then never sent to a hosted endpoint.
    #[arg(long)]
    pub internal_only: bool,
    #[arg(long)]
    pub name: Option<String>,
    /// Seconds between two questions to the provider about the batch.
    #[arg(long, default_value_t = 10)]
    pub poll_s: u64,
    /// --offline: the engine settings the launch list's placeholders get ({max_model_len},
    /// {util}, {max_num_seqs}, {eager}; defaults 4096, 0.9, 256, off).
    #[arg(long)]
    pub max_model_len: Option<u32>,
    #[arg(long)]
    pub gpu_memory_utilization: Option<f64>,
    #[arg(long)]
    pub max_num_seqs: Option<u32>,
    #[arg(long)]
    pub enforce_eager: bool,
    #[command(flatten)]
    pub db: DbArg,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lease: LeaseArgs,
}

/// Leases and clean shutdown (`serve` and `run`).
#[derive(Args, Debug, Clone)]
pub struct LeaseArgs {
    /// Seconds a run's lease lasts unless renewed (every 5 s): a run whose worker died is taken
    /// over (or, with --on-restart interrupt, marked interrupted) once its lease expires.
    #[arg(long = "lease-s", env = "BAKEOFF_LEASE_S", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub lease_s: u64,
    /// On SIGTERM or SIGINT, how long requests in flight may take to finish and be stored, in
    /// seconds (`30` or `30s`); the rest are aborted and sent again when the run resumes.
    #[arg(long, env = "BAKEOFF_DRAIN_TIMEOUT", default_value = "30", value_name = "SECONDS", value_parser = parse_seconds)]
    pub drain_timeout: Duration,
}

impl LeaseArgs {
    pub fn settings(&self) -> crate::worker::LeaseSettings {
        crate::worker::LeaseSettings {
            lease: Duration::from_secs(self.lease_s),
            drain_timeout: self.drain_timeout,
        }
    }
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let n = t.strip_suffix('s').unwrap_or(t);
    n.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0 && *x <= 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("expected seconds from 0 to 86400, e.g. 30 or 30s, got '{s}'"))
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    pub run_id: i64,
    /// Directory for run-ID-output.jsonl and run-ID-summary.json.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    #[command(flatten)]
    pub db: DbArg,
}

#[derive(Args, Debug, Clone)]
pub struct DbArg {
    /// The database: an SQLite file (created if needed) or a postgres:// URL.
    #[arg(long = "db", env = "BAKEOFF_DB", hide_env_values = true, default_value = DEFAULT_DB)]
    pub path: PathBuf,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[arg(long, env = "BAKEOFF_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub db: DbArg,
    /// Where `cargo leptos build` put the site (the wasm, JS and CSS).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
    /// Where the built-in simulator listens (port 0: any free port).
    #[arg(long, env = "BAKEOFF_SIM_ADDR", default_value = "127.0.0.1:8011")]
    pub sim_addr: SocketAddr,
    /// Do not start the built-in simulator.
    #[arg(long)]
    pub no_sim: bool,
    /// Serve the web app only: this process measures no run; `bakeoff worker` processes on the
    /// same database do (launched runs wait in the queue for one).
    #[arg(long)]
    pub no_worker: bool,
    /// What to do with runs whose worker died (their lease expired): take them over and resume
    /// them, or mark them interrupted.
    #[arg(long, value_enum, default_value = "resume")]
    pub on_restart: OnRestart,
    /// Seconds to wait for an endpoint's /health before a run fails.
    #[arg(long, default_value_t = 60)]
    pub health_timeout_s: u64,
    /// Seconds between two questions to a provider's Batch API about a batch in progress.
    #[arg(long, env = "BAKEOFF_BATCH_POLL_S", default_value_t = 10)]
    pub batch_poll_s: u64,
    #[command(flatten)]
    pub sim: SimTuning,
    #[command(flatten)]
    pub team: TeamArgs,
    #[command(flatten)]
    pub lease: LeaseArgs,
}

/// Serving a team: TLS, proxies, sessions, where endpoints may point.
#[derive(Args, Debug, Clone)]
pub struct TeamArgs {
    /// Serve https with this PEM certificate chain (with --tls-key).
    #[arg(long, env = "BAKEOFF_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, env = "BAKEOFF_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// A reverse proxy (IP address or network, e.g. 127.0.0.1 or 10.0.0.0/24) whose
    /// X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-For headers are believed. Repeatable.
    #[arg(long = "trusted-proxy", env = "BAKEOFF_TRUSTED_PROXY", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The address people type, e.g. https://bakeoff.example.lan (overrides Host and forwarded
    /// headers when checking that a request comes from Bakeoff's own pages).
    #[arg(long, env = "BAKEOFF_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
    /// Minutes without a request after which a log-in session ends.
    #[arg(long, env = "BAKEOFF_SESSION_IDLE_MIN", default_value_t = 480, value_parser = clap::value_parser!(u64).range(1..))]
    pub session_idle_min: u64,
    /// Host names and networks that endpoints may point at (e.g. gpu-box.lan,10.0.0.0/24).
    /// Default: any host. Link-local addresses (169.254.0.0/16, fe80::/10) are always refused.
    #[arg(long = "endpoint-allow", env = "BAKEOFF_ENDPOINT_ALLOW", value_delimiter = ',')]
    pub endpoint_allow: Vec<String>,
    /// Days a deleted run, dataset, endpoint or grading queue stays in the trash (admins restore
    /// it from the Trash page) before it is deleted for good. 0: deletes are final at once.
    #[arg(long, env = "BAKEOFF_TRASH_DAYS", default_value_t = app::domain::trash::DEFAULT_TRASH_DAYS)]
    pub trash_days: u32,
}

impl TeamArgs {
    pub fn options(&self) -> crate::serve::WebOptions {
        crate::serve::WebOptions {
            tls: self.tls_cert.clone().zip(self.tls_key.clone()),
            web: app::state::WebConfig {
                public_origin: self.public_url.clone(),
                trusted_proxies: self.trusted_proxies.clone(),
                tls: self.tls_cert.is_some(),
                session_idle: Duration::from_secs(self.session_idle_min * 60),
                trash_days: self.trash_days,
                ..Default::default()
            },
            endpoint_allow: self
                .endpoint_allow
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }
}

/// An IP address (a /32 or /128) or a network in CIDR form.
pub fn parse_net(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<ipnet::IpNet>() {
        return Ok(n.trunc());
    }
    s.parse::<std::net::IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| format!("'{s}' is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/24)"))
}

/// `scheme://host[:port]`, without a path: the origin browsers send in `Origin`.
fn parse_public_url(s: &str) -> Result<String, String> {
    let t = s.trim().trim_end_matches('/');
    let rest = t
        .strip_prefix("http://")
        .or_else(|| t.strip_prefix("https://"))
        .ok_or_else(|| format!("'{s}' must start with http:// or https://, e.g. https://bakeoff.example.lan"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) || rest.contains(char::is_whitespace) {
        return Err(format!(
            "'{s}' must be scheme://host[:port] only, e.g. https://bakeoff.example.lan:8443"
        ));
    }
    Ok(t.to_ascii_lowercase())
}

#[derive(Args, Debug)]
pub struct SimArgs {
    #[arg(long, env = "BAKEOFF_SIM_ADDR", default_value = "127.0.0.1:8011")]
    pub addr: SocketAddr,
    /// A model to serve (repeat for several). Default: the three built-in simulated models.
    #[arg(long = "model")]
    pub models: Vec<String>,
    #[command(flatten)]
    pub tuning: SimTuning,
}

/// The simulator's behaviour (shared by `sim` and the one `serve` starts).
#[derive(Args, Debug, Clone)]
pub struct SimTuning {
    #[arg(long, env = "BAKEOFF_SIM_SEED", default_value_t = 0)]
    pub seed: u64,
    /// Time to first token, ms (scaled per model).
    #[arg(long, env = "BAKEOFF_SIM_TTFT_MS", default_value_t = 30.0)]
    pub ttft_ms: f64,
    /// Time per output token at batch size 1, ms (scaled per model).
    #[arg(long, env = "BAKEOFF_SIM_TPOT_MS", default_value_t = 3.0)]
    pub tpot_ms: f64,
    /// Requests decoded at once; more wait in a queue: the saturation point, past which
    /// throughput stays flat and latency climbs (a sweep's knee).
    #[arg(long, env = "BAKEOFF_SIM_MAX_CONCURRENCY", default_value_t = 32)]
    pub max_concurrency: usize,
    /// Saturation by throughput as well: all requests together decode at most this many tokens
    /// a second (default: no such limit).
    #[arg(long, value_name = "TOK_PER_S")]
    pub max_tokens_per_s: Option<f64>,
    /// Prefix-cache capacity in blocks of 16 prompt tokens: a prompt whose leading blocks were
    /// seen before answers sooner, and /metrics counts the hits. 0 turns prefix caching off.
    #[arg(long, default_value_t = 4096)]
    pub prefix_cache_blocks: usize,
    /// TTFT of a prompt wholly in the prefix cache, as a share of an uncached prompt's.
    #[arg(long, default_value_t = 0.2)]
    pub cached_ttft_factor: f64,
    #[arg(long, default_value_t = 4096)]
    pub max_model_len: u64,
    #[arg(long, default_value_t = 1)]
    pub tokens_per_chunk: usize,
    /// Injected faults per request: http_500, http_429, stall, drop, malformed, error_frame (rates 0..1).
    #[arg(long = "fault", value_parser = parse_fault)]
    pub faults: Vec<(String, f64)>,
    /// Error bodies in the old flat vLLM shape.
    #[arg(long)]
    pub flat_errors: bool,
    /// Record when each answer's first chunk and [DONE] left (GET /sim/emitted), for the
    /// timing-accuracy benchmark.
    #[arg(long, hide = true)]
    pub record_timing: bool,
    /// Per-token slowdown at a full batch (tpot x (1 + s x running / capacity)).
    #[arg(long, default_value_t = 0.5)]
    pub batch_slowdown: f64,
    /// Every model reasons before answering (as gpt-oss or Qwen3 do), streaming its reasoning in
    /// `delta.reasoning` (vLLM >= 0.11) or, with `--reasoning reasoning_content`, in older vLLM's
    /// `delta.reasoning_content`. Models named "thinking" reason without this flag.
    #[arg(long, value_name = "FIELD", num_args = 0..=1, default_missing_value = "reasoning", value_parser = parse_reasoning_field)]
    pub reasoning: Option<ReasoningField>,
    /// Reasoning tokens before every answer of a reasoning model.
    #[arg(long, default_value_t = 48)]
    pub reasoning_tokens: usize,
    /// Leave `usage.completion_tokens_details.reasoning_tokens` out, as some servers do (clients
    /// then count the reasoning chunks).
    #[arg(long)]
    pub no_reasoning_usage: bool,
    /// Send no usage chunk even when a request asks for one (`stream_options.include_usage`), as
    /// some providers do (clients then count the tokens themselves).
    #[arg(long)]
    pub no_usage: bool,
    /// How long a batch (`/v1/batches`) takes from creation to completion, ms; its lines
    /// complete evenly over it (0: at once).
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub batch_turnaround_ms: u64,
    /// The share of a batch's lines that fail with a 500 (the same lines for a seed), 0 to 1.
    #[arg(long, value_name = "F", default_value_t = 0.0)]
    pub batch_fail_rate: f64,
}

fn parse_reasoning_field(s: &str) -> Result<ReasoningField, String> {
    ReasoningField::parse(s).ok_or_else(|| format!("expected reasoning or reasoning_content, got '{s}'"))
}

fn parse_fault(s: &str) -> Result<(String, f64), String> {
    let (name, rate) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=RATE, e.g. http_500=0.05, got '{s}'"))?;
    let rate: f64 = rate
        .parse()
        .map_err(|_| format!("rate must be a number from 0 to 1, got '{rate}'"))?;
    if !(0.0..=1.0).contains(&rate) {
        return Err(format!("rate must be from 0 to 1, got {rate}"));
    }
    if !["http_500", "http_429", "stall", "drop", "malformed", "error_frame"].contains(&name) {
        return Err(format!(
            "unknown fault '{name}': use http_500, http_429, stall, drop, malformed or error_frame"
        ));
    }
    Ok((name.to_string(), rate))
}

impl SimTuning {
    pub fn config(&self, models: &[String]) -> anyhow::Result<SimConfig> {
        let mut faults = FaultRates {
            flat_errors: self.flat_errors,
            stall_for: Duration::from_secs(3600),
            ..Default::default()
        };
        for (name, rate) in &self.faults {
            match name.as_str() {
                "http_500" => faults.http_500 = *rate,
                "http_429" => faults.http_429 = *rate,
                "stall" => faults.stall = *rate,
                "drop" => faults.drop = *rate,
                "malformed" => faults.malformed = *rate,
                _ => faults.error_frame = *rate,
            }
        }
        anyhow::ensure!(faults.total() <= 1.0, "fault rates add up to {} (more than 1)", faults.total());
        anyhow::ensure!(
            self.ttft_ms >= 0.0 && self.tpot_ms >= 0.0,
            "--ttft-ms and --tpot-ms must not be negative"
        );
        anyhow::ensure!(self.max_concurrency >= 1, "--max-concurrency must be at least 1");
        anyhow::ensure!(
            self.max_tokens_per_s.is_none_or(|t| t.is_finite() && t > 0.0),
            "--max-tokens-per-s must be more than 0"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.batch_fail_rate),
            "--batch-fail-rate must be from 0 to 1 (the share of a batch's lines that fail), got {}",
            self.batch_fail_rate
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.cached_ttft_factor),
            "--cached-ttft-factor must be from 0 to 1 (the share of the TTFT a fully cached prompt keeps)"
        );
        Ok(SimConfig {
            models: if models.is_empty() {
                DEFAULT_MODELS.iter().map(|m| m.to_string()).collect()
            } else {
                models.to_vec()
            },
            seed: self.seed,
            ttft: Duration::from_secs_f64(self.ttft_ms / 1e3),
            tpot: Duration::from_secs_f64(self.tpot_ms / 1e3),
            max_concurrency: self.max_concurrency,
            max_model_len: self.max_model_len,
            tokens_per_chunk: self.tokens_per_chunk.max(1),
            batch_slowdown: self.batch_slowdown,
            faults,
            record_timing: self.record_timing,
            reasoning: ReasoningMode {
                all_models: self.reasoning.is_some(),
                field: self.reasoning.unwrap_or(ReasoningField::Reasoning),
                tokens: self.reasoning_tokens,
                usage_details: !self.no_reasoning_usage,
            },
            prefix_cache: crate::sim::PrefixCacheConfig {
                capacity_blocks: self.prefix_cache_blocks,
                cached_ttft_factor: self.cached_ttft_factor,
            },
            max_tokens_per_s: self.max_tokens_per_s,
            batch_turnaround: Duration::from_millis(self.batch_turnaround_ms),
            batch_fail_rate: self.batch_fail_rate,
            no_usage: self.no_usage,
            ..SimConfig::default()
        })
    }
}

/// How `bakeoff run` reaches its endpoint: the key from the environment (`--api-key-env VAR`, else
/// `BAKEOFF_API_KEY` when set), `--ca-cert`, `--header`, `--hosted`, `--retries`. Read here, at
/// the edge; the key then lives only in memory.
fn run_access(a: &AccessArgs) -> anyhow::Result<app::api::endpoints::access::EndpointAccess> {
    use app::api::endpoints::access::{check_ca_pem, parse_headers, ApiKey, EndpointAccess, RetryPolicy, MAX_RETRIES};
    let key = match &a.api_key_env {
        Some(var) => Some(
            std::env::var(var)
                .map_err(|_| anyhow::anyhow!("--api-key-env {var}: the environment variable {var} is not set (export it first)"))?,
        ),
        None => std::env::var("BAKEOFF_API_KEY").ok(),
    };
    let var = a.api_key_env.as_deref().unwrap_or("BAKEOFF_API_KEY");
    let api_key = ApiKey::parse(&key.unwrap_or_default()).map_err(|m| anyhow::anyhow!("{var}: {m}"))?;
    let headers = parse_headers(&a.headers.join("\n")).map_err(|m| anyhow::anyhow!("--header: {m}"))?;
    let ca_pem = match &a.ca_cert {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("--ca-cert {}: {e}", path.display()))?;
            check_ca_pem(&text).map_err(|m| anyhow::anyhow!("--ca-cert {}: {m}", path.display()))?
        }
        None => None,
    };
    let retries = a.retries.unwrap_or(0);
    anyhow::ensure!(retries <= MAX_RETRIES, "--retries must be at most {MAX_RETRIES}");
    Ok(EndpointAccess {
        api_key,
        headers,
        ca_pem,
        hosted: a.hosted,
        retry: RetryPolicy::retries(retries),
    })
}

/// SIGTERM (service managers) and SIGINT (Ctrl-C): both mean "stop cleanly".
pub struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Listen from now on (the default action, dying at once, no longer applies).
    pub fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// The next signal's name.
    pub async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    // No subcommand: serve the demo.
    let command = match cli.command {
        Some(c) => c,
        None => match Cli::parse_from(["bakeoff", "serve"]).command {
            Some(c) => c,
            None => anyhow::bail!("no command"),
        },
    };
    match command {
        Command::Serve(a) => {
            let sim = if a.no_sim { None } else { Some((a.sim.config(&[])?, a.sim_addr)) };
            // From here on SIGTERM and SIGINT stop cleanly (drain) instead of killing at once.
            let mut signals = Signals::new()?;
            let measuring = if a.no_worker {
                serve::Measuring::Elsewhere
            } else {
                serve::Measuring::Here
            };
            let opts = ServeOptions {
                addr: a.addr,
                db_path: a.db.path.clone(),
                site_root: a.site_root,
                sim,
                on_restart: a.on_restart,
                preflight: PreflightPolicy {
                    health_timeout: Duration::from_secs(a.health_timeout_s),
                    batch_poll: Duration::from_secs(a.batch_poll_s.max(1)),
                    ..Default::default()
                },
                web: a.team.options(),
                lease: a.lease.settings(),
            };
            let running = serve::start_measuring(opts, measuring).await?;
            eprintln!(
                "Bakeoff is serving on {} (database: {})",
                running.base_url(),
                app::db::pool::redacted(&a.db.path.to_string_lossy())
            );
            let first = signals.next().await;
            eprintln!(
                "{first}: stopping; requests in flight may finish (up to {:?}), then runs in progress go back to the queue",
                a.lease.drain_timeout
            );
            tokio::select! {
                _ = running.drain() => {
                    eprintln!("stopped cleanly");
                    Ok(())
                }
                second = signals.next() => {
                    anyhow::bail!("{second} again: stopped without draining; runs in progress resume once their lease expires")
                }
            }
        }
        Command::Batch(a) => {
            let access = run_access(&a.access)?;
            let form = app::domain::spec::LaunchForm {
                name: a.name.unwrap_or_default(),
                kind: if a.offline { "offline" } else { "provider-batch" }.into(),
                requests: match a.requests {
                    Some(n) => n.to_string(),
                    None => crate::headless::dataset_lines(&a.dataset)?.to_string(),
                },
                max_tokens: a.max_tokens.map(|m| m.to_string()).unwrap_or_default(),
                max_model_len: a.max_model_len.map(|m| m.to_string()).unwrap_or_default(),
                gpu_memory_utilization: a.gpu_memory_utilization.map(|m| m.to_string()).unwrap_or_default(),
                max_num_seqs: a.max_num_seqs.map(|m| m.to_string()).unwrap_or_default(),
                enforce_eager: a.enforce_eager.then(|| "on".to_string()),
                ..Default::default()
            };
            crate::headless::run(crate::headless::RunRequest {
                db: a.db.path,
                endpoint: a.endpoint,
                access,
                price_sheet: a.price_sheet,
                model: a.model,
                dataset: a.dataset,
                internal_only: a.internal_only,
                form,
                json: a.json,
                lease: a.lease.settings(),
                batch_poll: Some(Duration::from_secs(a.poll_s.max(1))),
            })
            .await?;
            Ok(())
        }
        Command::Run(a) => {
            let access = run_access(&a.access)?;
            let form = app::domain::spec::LaunchForm {
                name: a.name.unwrap_or_default(),
                requests: a.requests.to_string(),
                concurrency: a
                    .concurrency
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| if a.rate.is_some() { String::new() } else { "1".into() }),
                rate: a.rate.map(|r| r.to_string()).unwrap_or_default(),
                max_tokens: a.max_tokens.map(|m| m.to_string()).unwrap_or_default(),
                warmup: a.warmup.to_string(),
                seed: a.seed.to_string(),
                sweep: a.sweep.unwrap_or_default(),
                slo: a.slo.join(" "),
                slo_percentile: a.slo_percentile.map(|p| p.to_string()).unwrap_or_default(),
                ..Default::default()
            };
            crate::headless::run(crate::headless::RunRequest {
                db: a.db.path,
                endpoint: a.endpoint,
                access,
                price_sheet: a.price_sheet,
                model: a.model,
                dataset: a.dataset,
                internal_only: a.internal_only,
                form,
                json: a.json,
                lease: a.lease.settings(),
                batch_poll: None,
            })
            .await?;
            Ok(())
        }
        Command::Import(a) => {
            let pool = crate::serve::prepare(&a.db.path, std::path::Path::new("target/site"), "127.0.0.1:0".parse()?)
                .await?
                .0
                .db;
            let read = |p: &PathBuf| std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()));
            let text = read(&a.file)?;
            let input = a
                .input
                .as_ref()
                .map(|p| Ok::<_, anyhow::Error>((p.display().to_string(), read(p)?)))
                .transpose()?;
            let name = a.file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            let id = app::api::import::import_file(&pool, &name, &text, input.as_ref().map(|(n, t)| (n.as_str(), t.as_str())))
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", a.file.display()))?;
            let cli = app::db::audit::Actor::named("cli");
            app::db::audit::record(&pool, &cli, "run.import", &format!("run {id}"), &format!("file {name}")).await;
            eprintln!("imported {} as run {id}", a.file.display());
            Ok(())
        }
        Command::Report(a) => {
            let pool = crate::serve::prepare(&a.db.path, std::path::Path::new("target/site"), "127.0.0.1:0".parse()?)
                .await?
                .0
                .db;
            let options = app::api::report::ReportOptions {
                sheet: a.sheet,
                volume: Some(a.volume),
                screen: a.screen,
                judge: a.judge,
                judge_share: Some(a.judge_share),
            };
            let speed = match a.best_within_p90_ms {
                Some(p90_target_ms) => app::domain::report::load::SpeedBasis::EachAtBest { p90_target_ms },
                None => app::domain::report::load::SpeedBasis::SameLoad,
            };
            let doc = app::api::report::build_report_with(&pool, &options, &app::api::report::chrono_now(), true, speed)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            match a.format {
                ReportFormat::Md => print!("{}", doc.to_markdown()),
                ReportFormat::Html => print!("{}", doc.to_html("Bakeoff benchmark report")),
            }
            Ok(())
        }
        Command::User(u) => {
            let open = |p: &PathBuf| {
                let p = p.clone();
                async move {
                    crate::serve::prepare(&p, std::path::Path::new("target/site"), "127.0.0.1:0".parse()?)
                        .await
                        .map(|x| x.0.db)
                }
            };
            match u {
                UserCommand::Add { name, role, db } => {
                    let password = read_password()?;
                    let pool = open(&db.path).await?;
                    let id = app::api::accounts::create_user(&pool, &name, &role, &password)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    let cli = app::db::audit::Actor::named("cli");
                    app::db::audit::record(&pool, &cli, "user.create", &format!("user {name}"), &format!("role {role}")).await;
                    eprintln!("user {name} ({role}) added with id {id}");
                }
                UserCommand::Passwd { name, db } => {
                    let password = read_password()?;
                    app::domain::accounts::valid_password(&password).map_err(|m| anyhow::anyhow!(m))?;
                    let pool = open(&db.path).await?;
                    let (user, _) = app::db::users::credentials(&pool, &name)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("no user named '{name}'"))?;
                    let hash = app::api::accounts::hash_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
                    app::db::users::set_password(&pool, user.id, &hash, false).await?;
                    app::db::users::delete_sessions_of(&pool, user.id, None).await?;
                    let cli = app::db::audit::Actor::named("cli");
                    let detail = "password set from the command line; their sessions were closed";
                    app::db::audit::record(&pool, &cli, "user.password_reset", &format!("user {name}"), detail).await;
                    eprintln!("password of {name} changed; their sessions were closed");
                }
                UserCommand::List { db } => {
                    for u in app::db::users::list(&open(&db.path).await?).await? {
                        println!(
                            "{}\t{}{}",
                            u.name,
                            u.role.label(),
                            if u.must_change_password {
                                "\t(one-time password not yet changed)"
                            } else {
                                ""
                            }
                        );
                    }
                }
            }
            Ok(())
        }
        Command::Token(t) => token::dispatch(t).await,
        Command::Worker(a) => worker::run(a).await,
        Command::Db(c) => db::dispatch(c).await,
        Command::Export(a) => {
            let (out, summary) = crate::headless::export(&a.db.path, a.run_id, &a.out).await?;
            eprintln!("wrote {} and {}", out.display(), summary.display());
            Ok(())
        }
        Command::Sim(a) => {
            let handle = sim::start(a.tuning.config(&a.models)?, a.addr).await?;
            eprintln!(
                "vLLM simulator (simulated results) on {} serving {:?}",
                handle.base_url(),
                handle.sim.config.models
            );
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
    }
}
