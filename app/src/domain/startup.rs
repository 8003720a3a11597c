//! vLLM's start-up: what it reports (read from its log) and why a start failed, with the safer
//! settings to retry with.

use serde::{Deserialize, Serialize};

/// What vLLM printed at start-up, read from its log (the truth beside the plan).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub weights_gib: Option<f64>,
    pub kv_cache_gib: Option<f64>,
    pub kv_tokens: Option<u64>,
    pub max_concurrency: Option<f64>,
    pub cuda_graphs_gib: Option<f64>,
}

fn number_after(line: &str, marker: &str) -> Option<f64> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let num: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .filter(|c| *c != ',')
        .collect();
    num.parse().ok()
}

/// Read vLLM's start-up lines ("Model loading took 8.58 GiB", "Available KV cache memory: 1.58
/// GiB", "GPU KV cache size: 11,456 tokens", "Maximum concurrency for 4096 tokens per request:
/// 2.80x", "Graph capturing finished in 12 secs, took 0.64 GiB").
pub fn read_startup_log(log: &str) -> Measured {
    let mut m = Measured::default();
    for line in log.lines() {
        if let Some(x) = number_after(line, "Model loading took") {
            m.weights_gib = Some(x);
        }
        if let Some(x) = number_after(line, "Available KV cache memory:") {
            m.kv_cache_gib = Some(x);
        }
        // "GPU KV cache size: N tokens" (CUDA) or "CPU KV cache size: N tokens" (CPU backend).
        if let Some(x) = number_after(line, "KV cache size:") {
            m.kv_tokens = Some(x as u64);
        }
        if line.contains("Maximum concurrency for") {
            if let Some(x) = line
                .rsplit(':')
                .next()
                .and_then(|r| r.trim().trim_end_matches('x').trim().parse::<f64>().ok())
            {
                m.max_concurrency = Some(x);
            }
        }
        if line.contains("Graph capturing finished") {
            if let Some(x) = number_after(line, "took") {
                m.cuda_graphs_gib = Some(x);
            }
        }
    }
    m
}

/// Why a vLLM start failed, read from its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartFailure {
    /// "CUDA out of memory" / `OutOfMemoryError`.
    OutOfMemory,
    /// "No available memory for the cache blocks".
    NoKvMemory,
    /// "max_model_len ... larger than the maximum number of tokens that can be stored in KV cache".
    ContextTooLong,
    /// Anything else (a wrong flag, a missing model): retrying with other memory settings will not help.
    Other,
}

impl StartFailure {
    pub fn label(self) -> &'static str {
        match self {
            StartFailure::OutOfMemory => "out of memory",
            StartFailure::NoKvMemory => "no memory for the KV cache",
            StartFailure::ContextTooLong => "max_model_len too large for the KV cache",
            StartFailure::Other => "failed",
        }
    }
}

pub fn classify_start_failure(log: &str) -> StartFailure {
    let l = log.to_lowercase();
    if l.contains("no available memory for the cache blocks") {
        StartFailure::NoKvMemory
    } else if l.contains("larger than the maximum number of tokens that can be stored in kv cache") {
        StartFailure::ContextTooLong
    } else if l.contains("out of memory") || l.contains("outofmemoryerror") {
        StartFailure::OutOfMemory
    } else {
        StartFailure::Other
    }
}

/// Engine settings of a managed start.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineKnobs {
    pub gpu_memory_utilization: f64,
    pub max_model_len: u64,
    pub max_num_seqs: u32,
    pub enforce_eager: bool,
}

/// Safer settings after a failed start (`None`: nothing memory-related to change):
/// - context too long: the context vLLM says fits (from its message), else half;
/// - no KV memory / out of memory: eager mode (frees CUDA graph memory), at most 64 sequences,
///   a 25 % shorter context, and, for "no KV memory", 5 points more utilisation (up to 0.95).
pub fn safer(k: EngineKnobs, failure: StartFailure, log: &str) -> Option<EngineKnobs> {
    let mut s = k;
    match failure {
        StartFailure::Other => return None,
        StartFailure::ContextTooLong => {
            // "... maximum number of tokens that can be stored in KV cache (2048)".
            let fits = log
                .split("stored in KV cache")
                .nth(1)
                .and_then(|r| r.split(['(', ')']).nth(1))
                .and_then(|n| n.trim().replace(',', "").parse::<u64>().ok());
            s.max_model_len = fits.filter(|f| *f < k.max_model_len).unwrap_or(k.max_model_len / 2).max(256) / 256 * 256;
        }
        StartFailure::NoKvMemory | StartFailure::OutOfMemory => {
            s.enforce_eager = true;
            s.max_num_seqs = k.max_num_seqs.min(64);
            s.max_model_len = (k.max_model_len * 3 / 4).max(256) / 256 * 256;
            if failure == StartFailure::NoKvMemory {
                s.gpu_memory_utilization = (k.gpu_memory_utilization + 0.05).min(0.95);
            }
        }
    }
    (s != k).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vllm_start_up_lines_are_read() {
        let log = "INFO 10-28 08:40:05 [gpu_model_runner.py:1892] Model loading took 8.5781 GiB and 20.1 seconds\n\
                   INFO [gpu_worker.py:276] Available KV cache memory: 1.58 GiB\n\
                   INFO [kv_cache_utils.py:849] GPU KV cache size: 11,456 tokens\n\
                   INFO [kv_cache_utils.py:853] Maximum concurrency for 4,096 tokens per request: 2.80x\n\
                   INFO [gpu_model_runner.py:2343] Graph capturing finished in 12 secs, took 0.64 GiB\n";
        let m = read_startup_log(log);
        assert_eq!(m.weights_gib, Some(8.5781));
        assert_eq!(m.kv_cache_gib, Some(1.58));
        assert_eq!(m.kv_tokens, Some(11_456));
        assert_eq!(m.max_concurrency, Some(2.80));
        assert_eq!(m.cuda_graphs_gib, Some(0.64));
        let cpu = read_startup_log("(EngineCore pid=1) INFO [kv_cache_utils.py:2327] CPU KV cache size: 262,144 tokens, Maximum concurrency for 2,048 tokens per request: 128.00x");
        assert_eq!((cpu.kv_tokens, cpu.max_concurrency), (Some(262_144), Some(128.0)));
    }

    const K: EngineKnobs = EngineKnobs {
        gpu_memory_utilization: 0.9,
        max_model_len: 4096,
        max_num_seqs: 256,
        enforce_eager: false,
    };

    #[test]
    fn failures_are_recognised_from_vllms_messages() {
        assert_eq!(
            classify_start_failure("ValueError: No available memory for the cache blocks. Try increasing"),
            StartFailure::NoKvMemory
        );
        assert_eq!(
            classify_start_failure("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"),
            StartFailure::OutOfMemory
        );
        assert_eq!(
            classify_start_failure("ValueError: The model's max seq len (4096) is larger than the maximum number of tokens that can be stored in KV cache (2048)."),
            StartFailure::ContextTooLong
        );
        assert_eq!(
            classify_start_failure("error: unrecognized arguments: --bogus"),
            StartFailure::Other
        );
    }

    #[test]
    fn safer_settings_follow_the_failure() {
        let log = "is larger than the maximum number of tokens that can be stored in KV cache (2,300). Try";
        assert_eq!(safer(K, StartFailure::ContextTooLong, log).map(|s| s.max_model_len), Some(2048));
        let s = safer(K, StartFailure::NoKvMemory, "").expect("safer");
        assert!(s.enforce_eager && s.max_num_seqs == 64 && s.max_model_len == 3072 && (s.gpu_memory_utilization - 0.95).abs() < 1e-9);
        assert_eq!(safer(K, StartFailure::Other, ""), None);
    }
}
