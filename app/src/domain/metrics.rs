//! vLLM's Prometheus `/metrics`, reduced to the series Bakeoff charts beside its own numbers.

use serde::{Deserialize, Serialize};

/// One scrape of the endpoint's `/metrics`, at `t_ms` from the run's start. A field is `None`
/// when the server does not export that metric.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsSample {
    pub t_ms: u64,
    pub running: Option<f64>,
    pub waiting: Option<f64>,
    /// KV-cache usage, 0..=1 (`vllm:kv_cache_usage_perc`, or the older `vllm:gpu_cache_usage_perc`).
    pub kv_cache_usage: Option<f64>,
    pub prompt_tokens_total: Option<f64>,
    pub generation_tokens_total: Option<f64>,
}

/// Parse Prometheus text exposition. Values of a metric are summed over its label sets (one per
/// model or engine); `_created` samples and comments are ignored.
pub fn parse_vllm_metrics(text: &str, t_ms: u64) -> MetricsSample {
    let mut s = MetricsSample {
        t_ms,
        ..Default::default()
    };
    let mut kv_new: Option<f64> = None;
    let mut kv_old: Option<f64> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name_labels, rest) = match line.find('{') {
            Some(i) => match line[i..].find('}') {
                Some(j) => (&line[..i], line[i + j + 1..].trim()),
                None => continue,
            },
            None => match line.split_once(char::is_whitespace) {
                Some((n, r)) => (n, r.trim()),
                None => continue,
            },
        };
        let Some(value) = rest.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        let slot = match name_labels {
            "vllm:num_requests_running" => &mut s.running,
            "vllm:num_requests_waiting" => &mut s.waiting,
            "vllm:kv_cache_usage_perc" => &mut kv_new,
            "vllm:gpu_cache_usage_perc" => &mut kv_old,
            "vllm:prompt_tokens_total" => &mut s.prompt_tokens_total,
            "vllm:generation_tokens_total" => &mut s.generation_tokens_total,
            _ => continue,
        };
        *slot = Some(slot.unwrap_or(0.0) + value);
    }
    s.kv_cache_usage = kv_new.or(kv_old);
    s
}

/// KV-cache blocks and tokens per block from `vllm:cache_config_info` (an info gauge whose labels
/// carry the engine's cache settings): blocks x block size = the KV cache's token capacity.
pub fn cache_config(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("vllm:cache_config_info{"))?;
    let labels = &line[line.find('{')? + 1..line.rfind('}')?];
    let label = |name: &str| {
        labels.split(',').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"').parse::<u64>().ok()).flatten()
        })
    };
    let blocks = label("num_gpu_blocks").or_else(|| label("num_cpu_blocks"))?;
    Some((blocks, label("block_size")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = "# HELP vllm:num_requests_running x\n# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{engine=\"0\",model_name=\"m\"} 7.0\nvllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} 2.0\nvllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.25\nvllm:prompt_tokens_total{engine=\"0\",model_name=\"m\"} 1234.0\nvllm:generation_tokens_total{engine=\"0\",model_name=\"m\"} 5678.0\nvllm:generation_tokens_created{model_name=\"m\"} 1.7e9\n";

    #[test]
    fn new_names_are_read() {
        let s = parse_vllm_metrics(NEW, 5);
        assert_eq!((s.running, s.waiting, s.kv_cache_usage), (Some(7.0), Some(2.0), Some(0.25)));
        assert_eq!((s.prompt_tokens_total, s.generation_tokens_total), (Some(1234.0), Some(5678.0)));
        assert_eq!(s.t_ms, 5);
    }

    #[test]
    fn the_old_kv_cache_name_is_read_too() {
        let s = parse_vllm_metrics("vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.5\n", 0);
        assert_eq!(s.kv_cache_usage, Some(0.5));
        assert_eq!(s.running, None);
    }

    #[test]
    fn the_cache_config_gives_the_kv_token_capacity() {
        let t = "vllm:cache_config_info{block_size=\"16\",cache_dtype=\"auto\",gpu_memory_utilization=\"0.9\",num_gpu_blocks=\"716\",num_cpu_blocks=\"None\"} 1.0\n";
        assert_eq!(cache_config(t), Some((716, 16)));
        assert_eq!(cache_config("vllm:num_requests_running 1\n"), None);
    }

    #[test]
    fn several_engines_are_summed() {
        let s = parse_vllm_metrics(
            "vllm:num_requests_running{engine=\"0\"} 1\nvllm:num_requests_running{engine=\"1\"} 2\n",
            0,
        );
        assert_eq!(s.running, Some(3.0));
    }
}
