//! What a run is asked to do: the `RunSpec`, and its parsing from the launch form.

use super::errors::FieldErrors;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How requests are released: at most `concurrency` in flight, and, with `rate`, Poisson arrivals
/// at that many requests per second (seeded), still capped by `concurrency`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadShape {
    pub concurrency: u32,
    pub rate: Option<f64>,
}

/// Sampling overrides sent with every request (absent = the dataset's own body values).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
}

/// The vLLM engine settings the server was started with, as the person reports them (or as a
/// managed launch used them). Stored with the run so results can be compared like for like.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineSettings {
    pub gpu_memory_utilization: Option<f64>,
    pub max_model_len: Option<u32>,
    #[serde(default)]
    pub max_num_seqs: Option<u32>,
    pub enforce_eager: bool,
    pub other: String,
}

/// What kind of job a run is: requests sent to a server under a load (the default), an offline
/// `vllm run-batch` job on the endpoint's host, or a provider's Batch API job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunKind {
    /// Requests streamed to an OpenAI-compatible server, each timed to the token.
    #[default]
    Server,
    /// `vllm run-batch -i IN.jsonl -o OUT.jsonl` started on the endpoint's host through its
    /// admin-written launch list: job-level timing (model load apart), no per-token timing.
    Offline,
    /// The provider's Batch API (`/v1/files`, `/v1/batches`): submitted, polled, downloaded;
    /// turnaround is its figure, and it is priced at the sheet's batch prices.
    ProviderBatch,
}

impl RunKind {
    pub const ALL: [RunKind; 3] = [RunKind::Server, RunKind::Offline, RunKind::ProviderBatch];

    /// The word used in REST, the CLI and forms.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Server => "server",
            RunKind::Offline => "offline",
            RunKind::ProviderBatch => "provider-batch",
        }
    }

    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            RunKind::Server => "server mode",
            RunKind::Offline => "offline batch (vllm run-batch)",
            RunKind::ProviderBatch => "provider Batch API",
        }
    }

    pub fn parse(raw: &str) -> Option<RunKind> {
        match raw.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "" | "server" => Some(RunKind::Server),
            "offline" | "offline-batch" => Some(RunKind::Offline),
            "provider-batch" | "batch" => Some(RunKind::ProviderBatch),
            _ => None,
        }
    }

    /// A batch job (no per-request timing, speed figures are job-level).
    pub fn is_batch(self) -> bool {
        self != RunKind::Server
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    pub name: String,
    pub endpoint_id: i64,
    pub dataset_id: i64,
    pub model: String,
    /// Measured requests; the dataset's items are cycled when there are fewer.
    pub requests: u32,
    /// Requests sent (and finished) before the measured ones, excluded from statistics.
    pub warmup: u32,
    pub load: LoadShape,
    pub sampling: Sampling,
    /// Stop sending new requests after this long (those in flight finish).
    pub max_duration: Option<Duration>,
    /// A request with no complete answer after this long counts as a timeout.
    pub request_timeout: Duration,
    /// Seeds the arrival schedule (and the simulator, when it is the endpoint).
    pub seed: u64,
    pub engine: EngineSettings,
    pub notes: String,
    /// Service-level targets: the summary reports goodput against them.
    #[serde(default)]
    pub slo: Option<super::goodput::Slo>,
    /// Set on every step of an automatic sweep to saturation (`--sweep auto`).
    #[serde(default)]
    pub auto_sweep: Option<super::saturation::AutoSweep>,
    /// Server load test (default), offline batch or provider batch.
    #[serde(default)]
    pub kind: RunKind,
}

pub const MAX_REQUESTS: u32 = 1_000_000;
/// The most lines of one provider batch (OpenAI's Batch API limit; larger jobs are split).
pub const MAX_BATCH_LINES: u32 = 50_000;
/// The largest provider batch input file, in bytes (OpenAI's Batch API limit).
pub const MAX_BATCH_BYTES: usize = 200 << 20;
pub const MAX_CONCURRENCY: u32 = 10_000;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The launch form as submitted: every field a string, so that bad input gets a message that
/// names the field instead of a decoding error.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub endpoint_id: String,
    #[serde(default)]
    pub dataset_id: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub requests: String,
    #[serde(default)]
    pub concurrency: String,
    #[serde(default)]
    pub rate: String,
    #[serde(default)]
    pub warmup: String,
    #[serde(default)]
    pub max_tokens: String,
    #[serde(default)]
    pub temperature: String,
    #[serde(default)]
    pub max_duration_s: String,
    #[serde(default)]
    pub timeout_s: String,
    #[serde(default)]
    pub seed: String,
    #[serde(default)]
    pub gpu_memory_utilization: String,
    #[serde(default)]
    pub max_model_len: String,
    #[serde(default)]
    pub max_num_seqs: String,
    #[serde(default)]
    pub enforce_eager: Option<String>,
    #[serde(default)]
    pub engine_other: String,
    #[serde(default)]
    pub notes: String,
    /// Comma-separated concurrency levels: one run per level, grouped as a sweep; or `auto`
    /// (`auto:N`): find the saturation, then N evenly spaced request rates up to what it served.
    #[serde(default)]
    pub sweep: String,
    /// Service-level targets as `ttft:2000 tpot:50 e2e:10000` (vLLM's `--goodput` form) or a
    /// JSON object `{"ttft_ms": 2000, "tpot_ms": 50, "e2e_ms": null, "percentile": 90}`.
    #[serde(default)]
    pub slo: String,
    /// One target per field (the launch form's inputs), in ms; they override `slo`'s.
    #[serde(default)]
    pub slo_ttft_ms: String,
    #[serde(default)]
    pub slo_tpot_ms: String,
    #[serde(default)]
    pub slo_e2e_ms: String,
    /// The percentile the run as a whole is checked at (default 90).
    #[serde(default)]
    pub slo_percentile: String,
    /// `server` (default), `offline` or `provider-batch` (see [`RunKind`]).
    #[serde(default)]
    pub kind: String,
}

/// How a launch is spread over runs.
#[derive(Clone, Debug, PartialEq)]
pub enum SweepPlan {
    /// One run.
    Single,
    /// One run per concurrency level, queued together.
    Levels(Vec<u32>),
    /// Find the saturation step by step, then `steps` evenly spaced request rates up to it.
    Auto { steps: u32 },
}

/// Parsing helpers: each records a message for its field and returns `None` on failure.
struct Fields {
    errors: FieldErrors,
}

impl Fields {
    fn required_int(&mut self, field: &str, raw: &str, min: i64, max: i64, what: &str) -> Option<i64> {
        let raw = raw.trim();
        if raw.is_empty() {
            self.errors.push(field, format!("{what} is required"));
            return None;
        }
        self.int(field, raw, min, max, what)
    }

    fn int(&mut self, field: &str, raw: &str, min: i64, max: i64, what: &str) -> Option<i64> {
        match raw.trim().parse::<i64>() {
            Ok(v) if v < min => {
                self.errors.push(field, format!("{what} must be at least {min}, got {v}"));
                None
            }
            Ok(v) if v > max => {
                self.errors.push(field, format!("{what} must be at most {max}, got {v}"));
                None
            }
            Ok(v) => Some(v),
            Err(_) => {
                self.errors
                    .push(field, format!("{what} must be a whole number, got '{}'", raw.trim()));
                None
            }
        }
    }

    fn optional_int(&mut self, field: &str, raw: &str, min: i64, max: i64, what: &str) -> Option<i64> {
        if raw.trim().is_empty() {
            None
        } else {
            self.int(field, raw, min, max, what)
        }
    }

    fn optional_float(&mut self, field: &str, raw: &str, min_exclusive: f64, max: f64, what: &str) -> Option<f64> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        match raw.parse::<f64>() {
            Ok(v) if v.is_finite() && v > min_exclusive && v <= max => Some(v),
            Ok(v) => {
                self.errors.push(
                    field,
                    format!(
                        "{what} must be greater than {min_exclusive} and at most {max}, got {}",
                        super::format::quoted(v)
                    ),
                );
                None
            }
            Err(_) => {
                self.errors.push(field, format!("{what} must be a number, got '{raw}'"));
                None
            }
        }
    }
}

/// The slowest request rate a run takes (per second).
pub const MIN_RATE: f64 = 0.01;

impl LaunchForm {
    /// Validate every field; all problems are reported together.
    pub fn parse(&self) -> Result<RunSpec, FieldErrors> {
        let mut f = Fields {
            errors: FieldErrors::default(),
        };
        let endpoint_id = f.required_int("endpoint_id", &self.endpoint_id, 1, i64::MAX, "Endpoint");
        let dataset_id = f.required_int("dataset_id", &self.dataset_id, 1, i64::MAX, "Dataset");
        let model = self.model.trim().to_string();
        if model.is_empty() {
            f.errors
                .push("model", "Model is required: the name the endpoint serves (see its /v1/models)");
        }
        let requests = f.required_int("requests", &self.requests, 1, i64::from(MAX_REQUESTS), "Request count");
        let concurrency = if self.concurrency.trim().is_empty() && !self.rate.trim().is_empty() {
            Some(i64::from(MAX_CONCURRENCY))
        } else if self.concurrency.trim().is_empty() && RunKind::parse(&self.kind).is_some_and(RunKind::is_batch) {
            // A batch job has no concurrency of its own (the engine or the provider decides).
            Some(1)
        } else if self.concurrency.trim().is_empty() && super::saturation::parse_auto(&self.sweep).is_some() {
            // An automatic sweep chooses each step's concurrency.
            Some(i64::from(super::saturation::START))
        } else if self.concurrency.trim().is_empty() && !self.sweep.trim().is_empty() {
            // A sweep of levels gives each run its concurrency (the levels are checked below).
            Some(1)
        } else {
            f.required_int("concurrency", &self.concurrency, 1, i64::from(MAX_CONCURRENCY), "Concurrency")
        };
        let rate = f.optional_float("rate", &self.rate, 0.0, 1e6, "Request rate (per second)");
        // A rate so low the run would never end holds its GPU's lock for as long: one request
        // every 100 s is the slowest taken.
        let rate = match rate {
            Some(r) if r < MIN_RATE => {
                f.errors.push(
                    "rate",
                    format!(
                        "Request rate must be at least {MIN_RATE} per second (one request every {:.0} s), got {}",
                        1.0 / MIN_RATE,
                        super::format::quoted(r)
                    ),
                );
                None
            }
            other => other,
        };
        let warmup = f
            .optional_int("warmup", &self.warmup, 0, i64::from(MAX_REQUESTS), "Warm-up requests")
            .unwrap_or(0);
        let max_tokens = f.optional_int("max_tokens", &self.max_tokens, 1, 1_000_000, "Max tokens");
        let temperature = match self.temperature.trim() {
            "" => None,
            "0" | "0.0" => Some(0.0),
            raw => f.optional_float("temperature", raw, 0.0, 2.0, "Temperature"),
        };
        let max_duration = f.optional_int("max_duration_s", &self.max_duration_s, 1, 7 * 24 * 3600, "Maximum duration (s)");
        let timeout = f.optional_int("timeout_s", &self.timeout_s, 1, 24 * 3600, "Request timeout (s)");
        let seed = f.optional_int("seed", &self.seed, 0, i64::MAX, "Seed").unwrap_or(0);
        let gpu_util = f.optional_float(
            "gpu_memory_utilization",
            &self.gpu_memory_utilization,
            0.0,
            1.0,
            "GPU memory utilization",
        );
        let max_model_len = f.optional_int("max_model_len", &self.max_model_len, 1, 10_000_000, "max_model_len");
        let max_num_seqs = f.optional_int("max_num_seqs", &self.max_num_seqs, 1, 100_000, "max_num_seqs");
        let name = self.name.trim().to_string();
        if name.len() > 200 {
            f.errors.push("name", "Name must be at most 200 characters");
        }
        let slo = self.parse_slo(&mut f);
        let kind = RunKind::parse(&self.kind).unwrap_or_else(|| {
            f.errors.push(
                "kind",
                format!("Kind must be server, offline or provider-batch, got '{}'", self.kind.trim()),
            );
            RunKind::Server
        });
        if kind.is_batch() {
            // A batch job is one job: no load shape, no warm-up, no sweep, no latency targets.
            let what = kind.label();
            if !self.rate.trim().is_empty() {
                f.errors.push(
                    "rate",
                    format!("A {what} job has no request rate: the engine or the provider schedules it"),
                );
            }
            if warmup > 0 {
                f.errors.push("warmup", format!("A {what} job has no warm-up: leave it empty"));
            }
            if !self.sweep.trim().is_empty() {
                f.errors.push("sweep", format!("A {what} job is one job: it cannot be swept"));
            }
            if kind == RunKind::ProviderBatch && requests.is_some_and(|n| n > i64::from(MAX_BATCH_LINES)) {
                f.errors.push(
                    "requests",
                    format!(
                        "A provider batch takes at most {MAX_BATCH_LINES} lines (the Batch API's limit): split the job into several runs"
                    ),
                );
            }
            if slo.is_some() {
                f.errors.push(
                    "slo",
                    format!("A {what} job has no per-request timing, so no latency targets: leave them empty"),
                );
            }
        }

        f.errors.into_result(())?;
        // Every `None` below was reported above; the `Some`s are checked values.
        match (endpoint_id, dataset_id, requests, concurrency) {
            (Some(endpoint_id), Some(dataset_id), Some(requests), Some(concurrency)) => Ok(RunSpec {
                name,
                endpoint_id,
                dataset_id,
                model,
                requests: requests as u32,
                warmup: warmup as u32,
                load: LoadShape {
                    concurrency: concurrency as u32,
                    rate,
                },
                sampling: Sampling {
                    max_tokens: max_tokens.map(|v| v as u32),
                    temperature,
                },
                max_duration: max_duration.map(|s| Duration::from_secs(s as u64)),
                request_timeout: timeout.map(|s| Duration::from_secs(s as u64)).unwrap_or(DEFAULT_TIMEOUT),
                seed: seed as u64,
                engine: EngineSettings {
                    gpu_memory_utilization: gpu_util,
                    max_model_len: max_model_len.map(|v| v as u32),
                    max_num_seqs: max_num_seqs.map(|v| v as u32),
                    enforce_eager: self.enforce_eager.as_deref().is_some_and(|v| !v.is_empty() && v != "false"),
                    other: self.engine_other.trim().to_string(),
                },
                notes: self.notes.trim().to_string(),
                slo,
                auto_sweep: None,
                kind,
            }),
            _ => Err(FieldErrors::one("form", "incomplete form")),
        }
    }

    /// The targets from `slo` and the per-target fields (a field's value wins over `slo`'s).
    fn parse_slo(&self, f: &mut Fields) -> Option<super::goodput::Slo> {
        use super::goodput::{Slo, DEFAULT_PERCENTILE};
        let base = match Slo::parse(&self.slo, "slo") {
            Ok(s) => s,
            Err(e) => {
                f.errors.0.extend(e.0);
                return None;
            }
        };
        let ttft = f.optional_float("slo_ttft_ms", &self.slo_ttft_ms, 0.0, 86_400_000.0, "TTFT target (ms)");
        let tpot = f.optional_float("slo_tpot_ms", &self.slo_tpot_ms, 0.0, 86_400_000.0, "TPOT target (ms)");
        let e2e = f.optional_float("slo_e2e_ms", &self.slo_e2e_ms, 0.0, 86_400_000.0, "E2E target (ms)");
        // The percentile's rule in the same words as REST's `slo` and the CLI's.
        let pct = match self.slo_percentile.trim() {
            "" => None,
            raw => match raw.parse::<f64>() {
                Ok(p) => super::goodput::check_percentile(p)
                    .map_err(|m| f.errors.push("slo_percentile", m))
                    .ok(),
                Err(_) => {
                    f.errors
                        .push("slo_percentile", super::goodput::percentile_error(format!("'{raw}'")));
                    None
                }
            },
        };
        if base.is_none() && ttft.is_none() && tpot.is_none() && e2e.is_none() {
            if pct.is_some() {
                f.errors
                    .push("slo_percentile", "A percentile needs at least one target (TTFT, TPOT or E2E in ms)");
            }
            return None;
        }
        let mut slo = base.unwrap_or(Slo {
            ttft_ms: None,
            tpot_ms: None,
            e2e_ms: None,
            percentile: DEFAULT_PERCENTILE,
        });
        slo.ttft_ms = ttft.or(slo.ttft_ms);
        slo.tpot_ms = tpot.or(slo.tpot_ms);
        slo.e2e_ms = e2e.or(slo.e2e_ms);
        slo.percentile = pct.unwrap_or(slo.percentile);
        // No model answers in under a millisecond: a target that small was typed in seconds.
        let typed = [(ttft, "slo_ttft_ms"), (tpot, "slo_tpot_ms"), (e2e, "slo_e2e_ms")];
        let mut seconds = false;
        for ((metric, target), (own, field)) in super::goodput::SloMetric::ALL.iter().map(|m| (*m, slo.target(*m))).zip(typed) {
            let Some(v) = target.filter(|v| *v > 0.0 && *v < 1.0) else {
                continue;
            };
            seconds = true;
            f.errors.push(
                if own.is_some() { field } else { "slo" },
                format!(
                    "targets are in milliseconds: did you mean {} ms? (the {} target {v} ms is under 1 ms, which no model answers in)",
                    trim_number(v * 1000.0),
                    metric.label()
                ),
            );
        }
        if seconds {
            return None;
        }
        match slo.checked("slo") {
            Ok(s) => Some(s),
            Err(e) => {
                f.errors.0.extend(e.0);
                None
            }
        }
    }

    /// How the launch is spread over runs: one, fixed levels, or an automatic sweep.
    pub fn sweep_plan(&self) -> Result<SweepPlan, FieldErrors> {
        if let Some(auto) = super::saturation::parse_auto(&self.sweep) {
            let steps = auto.map_err(|m| FieldErrors::one("sweep", m))?;
            if !self.rate.trim().is_empty() {
                return Err(FieldErrors::one(
                    "sweep",
                    "An automatic sweep raises the concurrency step by step: leave the request rate empty",
                ));
            }
            return Ok(SweepPlan::Auto { steps });
        }
        let levels = self.sweep_levels()?;
        Ok(if levels.is_empty() {
            SweepPlan::Single
        } else {
            SweepPlan::Levels(levels)
        })
    }

    /// The concurrency levels of a sweep (empty when the field is empty).
    pub fn sweep_levels(&self) -> Result<Vec<u32>, FieldErrors> {
        let raw = self.sweep.trim();
        if raw.is_empty() {
            return Ok(Vec::new());
        }
        let mut levels = Vec::new();
        // Commas separate levels (spaces may too); an empty place between commas ("1,,4", "1,4,")
        // is a level left out, refused rather than guessed.
        let parts: Vec<&str> = raw.split(',').map(str::trim).collect();
        if parts.len() > 1 && parts.iter().any(|p| p.is_empty()) {
            return Err(FieldErrors::one(
                "sweep",
                format!("Sweep '{raw}' has an empty level between commas: write each level once, e.g. 1,4,16"),
            ));
        }
        for part in parts.iter().flat_map(|p| p.split_whitespace()) {
            match part.parse::<u32>() {
                Ok(v) if (1..=MAX_CONCURRENCY).contains(&v) => levels.push(v),
                _ => {
                    return Err(FieldErrors::one(
                        "sweep",
                        format!("Sweep levels must be whole numbers from 1 to {MAX_CONCURRENCY}, separated by commas (or 'auto' to find the saturation); '{part}' is not"),
                    ))
                }
            }
        }
        levels.sort_unstable();
        levels.dedup();
        if levels.len() < 2 {
            return Err(FieldErrors::one(
                "sweep",
                "A sweep needs at least two different concurrency levels, e.g. 1,4,16",
            ));
        }
        Ok(levels)
    }
}

/// A number as typed: no trailing zeros ("500", "0.5").
fn trim_number(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl RunSpec {
    /// Why this run cannot fit a model whose context (`max_model_len`, as its endpoint reported
    /// it) holds prompt and answer together, when that is certain before anything is sent: a
    /// max_tokens (the run's, or else the dataset's requests' own) of `max_model_len` or more
    /// leaves no room for any prompt. `tokens` (the dataset's estimates) gives the advice its
    /// numbers. Borderline cases (a long prompt plus a max_tokens under the limit) are left to
    /// the worker's pre-flight check, which counts the longest prompts with the server's
    /// tokenizer.
    pub fn context_refusal(&self, max_model_len: u64, tokens: &super::spend::DatasetTokens) -> Option<String> {
        let prompt = if tokens.items > 0 {
            tokens.prompt_tokens.div_ceil(tokens.items)
        } else {
            0
        };
        let (max_tokens, whose) = match self.sampling.max_tokens {
            Some(m) => (u64::from(m), format!("max_tokens {m}")),
            None => {
                let own = tokens.items.saturating_sub(tokens.without_max);
                if own == 0 {
                    return None;
                }
                // At least one request's own max_tokens is at least their mean.
                let mean = tokens.max_tokens / own;
                (
                    mean,
                    format!("the dataset's requests set their own max_tokens ({mean} on average) and"),
                )
            }
        };
        if max_tokens < max_model_len {
            return None;
        }
        let about = if prompt > 0 {
            format!("; this dataset's prompts take about {prompt} tokens on average, estimated")
        } else {
            String::new()
        };
        let room = max_model_len.saturating_sub(prompt.max(1));
        let set = if self.sampling.max_tokens.is_some() {
            "Lower max_tokens"
        } else {
            "Set max_tokens for the run (it overrides the requests' own)"
        };
        Some(format!(
            "{whose} cannot fit: '{}' has max_model_len {max_model_len}, prompt and answer together{about}. \
             {set} to at most {}{room} or start vLLM with --max-model-len {} or more.",
            self.model,
            if prompt > 0 { "about " } else { "" },
            max_tokens + prompt.max(1)
        ))
    }

    /// The load shape in words, for lists and charts.
    pub fn load_label(&self) -> String {
        match self.load.rate {
            Some(r) if self.load.concurrency >= MAX_CONCURRENCY => format!("{r} req/s (Poisson)"),
            Some(r) => format!("{r} req/s (Poisson), ≤{} in flight", self.load.concurrency),
            None => format!("concurrency {}", self.load.concurrency),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> LaunchForm {
        LaunchForm {
            endpoint_id: "1".into(),
            dataset_id: "2".into(),
            model: "m".into(),
            requests: "200".into(),
            concurrency: "16".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_complete_form_parses() {
        let s = form().parse().expect("valid");
        assert_eq!((s.endpoint_id, s.dataset_id, s.requests, s.load.concurrency), (1, 2, 200, 16));
        assert_eq!(s.request_timeout, DEFAULT_TIMEOUT);
        assert_eq!(s.load.rate, None);
    }

    #[test]
    fn zero_requests_and_negative_concurrency_are_named_at_their_fields() {
        let mut f = form();
        f.requests = "0".into();
        f.concurrency = "-3".into();
        let e = f.parse().expect_err("invalid");
        assert_eq!(e.for_field("requests"), Some("Request count must be at least 1, got 0"));
        assert_eq!(e.for_field("concurrency"), Some("Concurrency must be at least 1, got -3"));
    }

    #[test]
    fn words_where_numbers_go_are_quoted_back() {
        let mut f = form();
        f.max_tokens = "lots".into();
        let e = f.parse().expect_err("invalid");
        assert_eq!(e.for_field("max_tokens"), Some("Max tokens must be a whole number, got 'lots'"));
    }

    #[test]
    fn a_rate_that_would_never_end_is_refused() {
        let mut f = form();
        f.rate = "1e-9".into();
        let e = f.parse().expect_err("too slow");
        assert_eq!(
            e.for_field("rate"),
            Some("Request rate must be at least 0.01 per second (one request every 100 s), got 1e-9")
        );
        f.rate = "0.01".into();
        assert!(f.parse().is_ok());
    }

    #[test]
    fn a_huge_rate_is_quoted_back_short() {
        let mut f = form();
        f.rate = "1e308".into();
        let e = f.parse().expect_err("out of range");
        assert_eq!(
            e.for_field("rate"),
            Some("Request rate (per second) must be greater than 0 and at most 1000000, got 1e308")
        );
    }

    #[test]
    fn rate_alone_means_uncapped_concurrency() {
        let mut f = form();
        f.concurrency = String::new();
        f.rate = "2.5".into();
        let s = f.parse().expect("valid");
        assert_eq!(s.load.rate, Some(2.5));
        assert_eq!(s.load.concurrency, MAX_CONCURRENCY);
    }

    #[test]
    fn targets_come_from_the_text_or_the_fields_and_bad_ones_are_named() {
        let mut f = form();
        f.slo = "ttft:2000 tpot:50".into();
        f.slo_e2e_ms = "10000".into();
        f.slo_percentile = "95".into();
        let s = f.parse().expect("valid").slo.expect("targets");
        assert_eq!(
            (s.ttft_ms, s.tpot_ms, s.e2e_ms, s.percentile),
            (Some(2000.0), Some(50.0), Some(10000.0), 95.0)
        );
        assert_eq!(form().parse().expect("valid").slo, None);
        let mut f = form();
        f.slo_percentile = "90".into();
        let e = f.parse().expect_err("percentile alone");
        assert!(e.for_field("slo_percentile").is_some());
        let mut f = form();
        f.slo_ttft_ms = "soon".into();
        let e = f.parse().expect_err("words");
        assert_eq!(e.for_field("slo_ttft_ms"), Some("TTFT target (ms) must be a number, got 'soon'"));
        // The percentile field says what REST and the CLI say, and refuses what they refuse.
        for (typed, got) in [("0.5", "0.5"), ("101", "101"), ("high", "'high'")] {
            let mut f = form();
            f.slo_ttft_ms = "2000".into();
            f.slo_percentile = typed.into();
            let e = f.parse().expect_err(typed);
            assert_eq!(
                e.for_field("slo_percentile"),
                Some(
                    format!("the percentile must be a number from 1 to 100 (both included; decimals allowed, e.g. 99.9), got {got}")
                        .as_str()
                ),
                "{typed}"
            );
        }
    }

    #[test]
    fn specs_stored_before_targets_existed_still_read() {
        let mut v = serde_json::to_value(form().parse().expect("valid")).expect("json");
        for k in ["slo", "auto_sweep"] {
            v.as_object_mut().expect("object").remove(k);
        }
        let back: RunSpec = serde_json::from_value(v).expect("old shape");
        assert_eq!((back.slo, back.auto_sweep), (None, None));
    }

    #[test]
    fn a_sweep_is_fixed_levels_or_auto_and_auto_takes_no_rate() {
        let mut f = form();
        assert_eq!(f.sweep_plan().expect("single"), SweepPlan::Single);
        f.sweep = "auto".into();
        assert_eq!(f.sweep_plan().expect("auto"), SweepPlan::Auto { steps: 5 });
        f.sweep = "auto:3".into();
        assert_eq!(f.sweep_plan().expect("auto"), SweepPlan::Auto { steps: 3 });
        f.rate = "2".into();
        assert!(f.sweep_plan().is_err());
        f.rate.clear();
        f.sweep = "1,4".into();
        assert_eq!(f.sweep_plan().expect("levels"), SweepPlan::Levels(vec![1, 4]));
    }

    #[test]
    fn a_sweep_of_levels_needs_no_concurrency_of_its_own() {
        let mut f = form();
        f.concurrency.clear();
        assert!(f.parse().expect_err("no load").for_field("concurrency").is_some());
        f.sweep = "1,4".into();
        assert!(f.parse().is_ok(), "the levels give each run its concurrency");
        assert_eq!(f.sweep_plan().expect("levels"), SweepPlan::Levels(vec![1, 4]));
    }

    #[test]
    fn sweep_levels_are_sorted_unique_and_need_two() {
        let mut f = form();
        f.sweep = "16, 1,4,4".into();
        assert_eq!(f.sweep_levels().expect("valid"), vec![1, 4, 16]);
        f.sweep = "8".into();
        assert!(f.sweep_levels().is_err());
        f.sweep = "1,x".into();
        assert!(f.sweep_levels().is_err());
        f.sweep = "1 4 16".into();
        assert_eq!(f.sweep_levels().expect("spaces"), vec![1, 4, 16]);
    }

    #[test]
    fn a_sweep_with_an_empty_level_is_refused_not_read_as_fewer_levels() {
        let mut f = form();
        for raw in ["1,,4", "1,4,", ",1,4", "1, ,4"] {
            f.sweep = raw.into();
            let e = f.sweep_levels().expect_err(raw);
            let m = e.for_field("sweep").expect("at the sweep field");
            assert!(m.contains("empty level"), "{raw}: {m}");
        }
    }

    #[test]
    fn targets_under_a_millisecond_were_typed_in_seconds_and_are_refused() {
        let mut f = form();
        f.slo_ttft_ms = "0.5".into();
        f.slo_tpot_ms = "0.05".into();
        let e = f.parse().expect_err("seconds");
        assert_eq!(
            e.for_field("slo_ttft_ms"),
            Some("targets are in milliseconds: did you mean 500 ms? (the TTFT target 0.5 ms is under 1 ms, which no model answers in)")
        );
        assert!(
            e.for_field("slo_tpot_ms").is_some_and(|m| m.contains("did you mean 50 ms?")),
            "{e:?}"
        );
        let mut f = form();
        f.slo = r#"{"e2e_ms": 0.8}"#.into();
        let e = f.parse().expect_err("seconds in the JSON");
        assert!(e.for_field("slo").is_some_and(|m| m.contains("did you mean 800 ms?")), "{e:?}");
        let mut f = form();
        f.slo_ttft_ms = "1".into();
        assert_eq!(f.parse().expect("1 ms is a target").slo.and_then(|s| s.ttft_ms), Some(1.0));
    }

    fn tokens(items: u64, prompt_tokens: u64, own_max: u64, without_max: u64) -> crate::domain::spend::DatasetTokens {
        crate::domain::spend::DatasetTokens {
            items,
            prompt_tokens,
            max_tokens: own_max,
            without_max,
        }
    }

    #[test]
    fn a_max_tokens_as_large_as_the_context_is_refused_with_what_to_change() {
        let mut f = form();
        f.max_tokens = "100000".into();
        let s = f.parse().expect("valid form");
        let m = s.context_refusal(4096, &tokens(500, 500 * 333, 0, 500)).expect("cannot fit");
        assert_eq!(
            m,
            "max_tokens 100000 cannot fit: 'm' has max_model_len 4096, prompt and answer together; this dataset's prompts take about 333 tokens on average, estimated. Lower max_tokens to at most about 3763 or start vLLM with --max-model-len 100333 or more."
        );
        f.max_tokens = "4096".into();
        assert!(
            f.parse().expect("valid").context_refusal(4096, &tokens(1, 10, 0, 1)).is_some(),
            "no room for a prompt"
        );
        f.max_tokens = "4000".into();
        assert_eq!(
            f.parse().expect("valid").context_refusal(4096, &tokens(1, 10, 0, 1)),
            None,
            "left to the pre-flight"
        );
    }

    #[test]
    fn the_requests_own_max_tokens_count_when_the_run_sets_none() {
        let s = form().parse().expect("valid");
        let m = s.context_refusal(2048, &tokens(10, 1000, 10 * 8192, 0)).expect("cannot fit");
        assert!(
            m.starts_with("the dataset's requests set their own max_tokens (8192 on average)"),
            "{m}"
        );
        assert!(m.contains("Set max_tokens for the run"), "{m}");
        assert_eq!(s.context_refusal(2048, &tokens(10, 1000, 10 * 512, 0)), None);
        assert_eq!(
            s.context_refusal(2048, &tokens(10, 1000, 0, 10)),
            None,
            "none set: nothing to check"
        );
    }
}
