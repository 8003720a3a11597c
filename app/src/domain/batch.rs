//! Batch jobs (issue 14): an offline `vllm run-batch` job or a provider's Batch API job, measured
//! as a whole. Their records carry answers and usage but no per-request timing, so their speed
//! figures are job-level: tokens over the job's time. For a provider batch the figure a user
//! cares about is the turnaround (submitted -> completed, on the provider's clock).

use super::spec::RunKind;
use super::summary::RunSummary;
use serde::{Deserialize, Serialize};

/// How a batch job went, as stored with its run and copied into its summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JobTiming {
    pub kind: RunKind,
    /// Unix seconds: when Bakeoff submitted the job (provider: the batch's `created_at`; offline:
    /// when the process started).
    pub submitted_at: Option<f64>,
    /// Provider: the batch's `in_progress_at`; offline: when the model was loaded.
    pub started_at: Option<f64>,
    /// Provider: `completed_at` (or `cancelled_at`, `failed_at`, `expired_at`); offline: when the
    /// process exited.
    pub completed_at: Option<f64>,
    /// Offline: the model load read from vLLM's log (kept apart from the job time).
    pub load_time_s: Option<f64>,
    /// Lines in the job, and how the job counted them (provider `request_counts`; offline: lines
    /// written to the output file, and lines whose answer failed).
    pub total: u64,
    pub completed: u64,
    pub failed: u64,
    /// The provider's batch id, or the offline command as run.
    pub reference: Option<String>,
    /// The provider's final status (`completed`, `cancelled`, `expired`, `failed`) or the
    /// process's exit (`exit 0`).
    pub final_status: Option<String>,
    /// What to know when reading the figures (model load not found in the log, ...).
    #[serde(default)]
    pub notes: Vec<String>,
}

impl JobTiming {
    /// Submitted -> completed.
    pub fn turnaround_s(&self) -> Option<f64> {
        match (self.submitted_at, self.completed_at) {
            (Some(a), Some(b)) if b >= a => Some(b - a),
            _ => None,
        }
    }

    /// Submitted -> started (the provider's queue; offline: the model load).
    pub fn queued_s(&self) -> Option<f64> {
        match (self.submitted_at, self.started_at) {
            (Some(a), Some(b)) if b >= a => Some(b - a),
            _ => None,
        }
    }

    /// The time the speed figures are computed over: offline, the job without the model load
    /// (as the seed team's "vLLM native" figure: model load excluded); provider, the turnaround
    /// (what the user waits for, queue included).
    pub fn job_time_s(&self) -> Option<f64> {
        let turnaround = self.turnaround_s()?;
        Some(match self.kind {
            RunKind::Offline => (turnaround - self.load_time_s.unwrap_or(0.0)).max(0.0),
            _ => turnaround,
        })
    }

    /// What the job's speed figures mean, for the pages.
    pub fn definition(&self) -> &'static str {
        match self.kind {
            RunKind::Offline => {
                "Offline batch (vllm run-batch): throughput = tokens / (process time - model load read from vLLM's log). \
                 No per-request timing: TTFT, TPOT and latency do not exist for this job."
            }
            RunKind::ProviderBatch => {
                "Provider Batch API: turnaround = submitted -> completed on the provider's clock; throughput = tokens / \
                 turnaround (queueing included). No per-request timing: TTFT, TPOT and latency do not exist for this job."
            }
            RunKind::Server => "",
        }
    }
}

/// Put a batch job's job-level timing into the summary made from its records (whose records have
/// no times): wall time, throughput and request rate over the job's time, no latency
/// distributions, and the job itself for the pages.
pub fn apply_job(summary: &mut RunSummary, job: &JobTiming) {
    summary.ttft_ms = None;
    summary.answer_ttft_ms = None;
    summary.tpot_ms = None;
    summary.itl_ms = None;
    summary.e2e_ms = None;
    summary.chunks_per_token = None;
    summary.goodput = None;
    summary.integrity = None;
    summary.model_load_time_s = job.load_time_s;
    match job.job_time_s() {
        Some(t) if t > 0.0 => {
            summary.wall_time_s = t;
            summary.output_tokens_per_s = summary.completion_tokens as f64 / t;
            summary.total_tokens_per_s = summary.total_tokens() as f64 / t;
            summary.requests_per_s = summary.requests as f64 / t;
            summary.timing_known = true;
        }
        _ => {
            summary.wall_time_s = 0.0;
            summary.output_tokens_per_s = 0.0;
            summary.total_tokens_per_s = 0.0;
            summary.requests_per_s = 0.0;
            summary.timing_known = false;
        }
    }
    summary.job = Some(job.clone());
}

/// One line of a Batch input file (OpenAI's format, which `vllm run-batch` reads too): the
/// item's body with the run's model and sampling overrides, not streamed.
pub fn input_line(custom_id: &str, item: &super::dataset::DatasetItem, model: &str, sampling: &super::spec::Sampling) -> String {
    let mut body = item.body.clone();
    if let Some(obj) = body.as_object_mut() {
        obj.insert("model".into(), serde_json::Value::from(model));
        obj.remove("stream");
        obj.remove("stream_options");
        if let Some(m) = sampling.max_tokens {
            obj.remove("max_completion_tokens");
            obj.insert("max_tokens".into(), serde_json::Value::from(m));
        }
        if let Some(t) = sampling.temperature {
            obj.insert("temperature".into(), serde_json::Value::from(t));
        }
    }
    let url = if item.url.is_empty() {
        "/v1/chat/completions"
    } else {
        item.url.as_str()
    };
    serde_json::json!({"custom_id": custom_id, "method": "POST", "url": url, "body": body}).to_string()
}

/// The figures of vLLM's `run-batch` log: the model load, and its progress bar's `N/M`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunBatchLog {
    /// The engine's own load figure ("Model loading took 7.1 GiB and 26.08 seconds").
    pub load_time_s: Option<f64>,
    /// The batch started: the log shows its progress bar (the worker times this moment, which
    /// covers the whole start: weights, profiling, KV cache, warm-up).
    pub started: bool,
    /// The last `done/total` the progress bar printed.
    pub progress: Option<(u64, u64)>,
}

/// Read `vllm run-batch`'s log: the engine's load figure when it prints one ("Model loading
/// took 7.1 GiB and 26.08 seconds"), whether the batch has started, and the last progress bar
/// `Running batch: ... | N/M [` (tqdm redraws it with carriage returns).
pub fn read_run_batch_log(log: &str) -> RunBatchLog {
    let mut out = RunBatchLog::default();
    for piece in log.split(['\n', '\r']) {
        if piece.contains("Model loading took") {
            if let Some(secs) = piece
                .split(" and ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse::<f64>().ok())
            {
                out.load_time_s = Some(secs);
            }
        }
        if !piece.contains("Running batch") {
            continue;
        }
        out.started = true;
        // vLLM 0.32: "Running batch: 100% Completed | 5/5 [00:00<00:00, 13.52req/s]"; tqdm's
        // default bar: "Running batch:  45%|####5     | 45/100 [00:01<00:01, ...]".
        let fraction = piece
            .split(['|', ' '])
            .filter_map(|w| w.split_once('/'))
            .find_map(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)));
        if let Some(f) = fraction {
            out.progress = Some(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> RunSummary {
        RunSummary {
            requests: 100,
            prompt_tokens: 80_000,
            completion_tokens: 20_000,
            wall_time_s: 0.0,
            ..Default::default()
        }
    }

    #[test]
    fn offline_throughput_leaves_the_model_load_out() {
        let job = JobTiming {
            kind: RunKind::Offline,
            submitted_at: Some(1000.0),
            completed_at: Some(1050.0),
            load_time_s: Some(10.0),
            total: 100,
            completed: 100,
            ..Default::default()
        };
        let mut s = summary();
        apply_job(&mut s, &job);
        assert_eq!(s.wall_time_s, 40.0);
        assert_eq!(s.total_tokens_per_s, 2500.0);
        assert_eq!(s.output_tokens_per_s, 500.0);
        assert_eq!(s.requests_per_s, 2.5);
        assert_eq!(s.model_load_time_s, Some(10.0));
        assert!(s.ttft_ms.is_none() && s.e2e_ms.is_none());
        assert_eq!(s.job.as_ref().and_then(JobTiming::turnaround_s), Some(50.0));
    }

    #[test]
    fn provider_throughput_is_over_the_turnaround_queue_included() {
        let job = JobTiming {
            kind: RunKind::ProviderBatch,
            submitted_at: Some(1000.0),
            started_at: Some(1030.0),
            completed_at: Some(1100.0),
            ..Default::default()
        };
        let mut s = summary();
        apply_job(&mut s, &job);
        assert_eq!(s.wall_time_s, 100.0);
        assert_eq!(s.total_tokens_per_s, 1000.0);
        assert_eq!(job.queued_s(), Some(30.0));
    }

    #[test]
    fn an_unfinished_job_has_no_rates() {
        let job = JobTiming {
            kind: RunKind::ProviderBatch,
            submitted_at: Some(1000.0),
            ..Default::default()
        };
        let mut s = summary();
        apply_job(&mut s, &job);
        assert!(!s.timing_known);
        assert_eq!(s.total_tokens_per_s, 0.0);
    }

    #[test]
    fn an_input_line_carries_the_runs_model_and_overrides_and_is_not_streamed() {
        let item = super::super::dataset::DatasetItem {
            custom_id: "a".into(),
            url: "/v1/chat/completions".into(),
            body: serde_json::json!({"model": "x", "messages": [], "stream": true, "max_completion_tokens": 9}),
        };
        let line = input_line(
            "a~1",
            &item,
            "m",
            &super::super::spec::Sampling {
                max_tokens: Some(7),
                temperature: None,
            },
        );
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["custom_id"], "a~1");
        assert_eq!(v["method"], "POST");
        assert_eq!(v["url"], "/v1/chat/completions");
        assert_eq!(v["body"]["model"], "m");
        assert_eq!(v["body"]["max_tokens"], 7);
        assert!(v["body"].get("stream").is_none() && v["body"].get("max_completion_tokens").is_none());
    }

    #[test]
    fn the_run_batch_log_gives_the_load_and_the_last_progress() {
        let log = "INFO 10-28 12:00:01 [default_loader.py:262] Loading weights took 20.10 seconds\n\
                   INFO 10-28 12:00:02 [gpu_model_runner.py:1892] Model loading took 7.1 GiB and 26.08 seconds\n\
                   Running batch:   0%|          | 0/100 [00:00<?, ?req/s]\rRunning batch:  45%|####5     | 45/100 [00:01<00:01, 40.1req/s]\r\
                   Running batch:  50%|#####     | 50/100 [00:01<00:01, 40.1req/s]\n";
        let r = read_run_batch_log(log);
        assert_eq!(r.progress, Some((50, 100)));
        assert_eq!(r.load_time_s, Some(26.08));
        assert!(r.started);
        assert!(!read_run_batch_log("INFO loading\n").started);
        // vLLM 0.32's own bar (CPU build, as run here).
        let real =
            "(EngineCore pid=23811) INFO 11-30 10:06:40 [core.py:402] init engine (profile, create kv cache, warmup model) took 2.90 s\n\
                    Running batch:   0% Completed | 0/5 [00:00<?, ?req/s]\n\
                    Running batch: 100% Completed | 5/5 [00:00<00:00, 13.52req/s]\n";
        let r = read_run_batch_log(real);
        assert_eq!((r.progress, r.started), (Some((5, 5)), true));
    }
}
