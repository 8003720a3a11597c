//! Per-run series for charts: latency samples and throughput over time, from stored records.

use super::metrics::MetricsSample;
use super::record::RequestRecord;
use serde::{Deserialize, Serialize};

/// What the run page charts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSeries {
    pub run_id: i64,
    pub label: String,
    /// Per answered measured request, ms.
    pub ttft_ms: Vec<f64>,
    pub e2e_ms: Vec<f64>,
    /// (seconds from the run's start, output tokens/s in that second), by finish time.
    pub client_tps: Vec<(f64, f64)>,
    /// The endpoint's /metrics samples.
    pub server: Vec<MetricsSample>,
}

/// About this many buckets over a run (at least one second each), so long runs stay readable.
pub const BUCKETS: f64 = 60.0;

/// Output tokens per second over time, attributing each request's tokens to the bucket it
/// finished in (the client's view; the server's counter is charted beside it). Buckets are one
/// second wide, or wider for runs longer than a minute.
pub fn client_throughput(records: &[RequestRecord]) -> Vec<(f64, f64)> {
    let Some(last) = records.iter().map(|r| r.finished().as_secs_f64()).reduce(f64::max) else {
        return Vec::new();
    };
    let bucket = (last / BUCKETS).ceil().max(1.0);
    let n = (last / bucket).floor() as usize + 1;
    let mut buckets = vec![0.0; n];
    for r in records.iter().filter(|r| r.outcome.answered()) {
        let i = (r.finished().as_secs_f64() / bucket).floor() as usize;
        buckets[i.min(n - 1)] += r.completion_tokens.map(|t| t.0 as f64).unwrap_or(0.0);
    }
    buckets
        .into_iter()
        .enumerate()
        .map(|(i, tokens)| (i as f64 * bucket, tokens / bucket))
        .collect()
}

/// The server's generation rate between consecutive scrapes (tokens/s), at each later scrape.
pub fn server_throughput(samples: &[MetricsSample]) -> Vec<(f64, f64)> {
    samples
        .windows(2)
        .filter_map(|w| {
            let (a, b) = (&w[0], &w[1]);
            let dt = (b.t_ms as f64 - a.t_ms as f64) / 1e3;
            let dg = b.generation_tokens_total? - a.generation_tokens_total?;
            (dt > 0.0 && dg >= 0.0).then(|| (b.t_ms as f64 / 1e3, dg / dt))
        })
        .collect()
}

pub fn run_series(run_id: i64, label: String, records: &[RequestRecord], server: Vec<MetricsSample>) -> RunSeries {
    let answered = records.iter().filter(|r| !r.warmup && r.outcome.answered());
    RunSeries {
        run_id,
        label,
        ttft_ms: answered.clone().filter_map(|r| r.ttft).map(|d| d.as_secs_f64() * 1e3).collect(),
        e2e_ms: answered.map(|r| r.e2e.as_secs_f64() * 1e3).collect(),
        client_tps: client_throughput(records),
        server,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::record::Tokens;
    use crate::domain::status::Outcome;
    use std::time::Duration;

    fn rec(finish_ms: u64, tokens: u64) -> RequestRecord {
        RequestRecord {
            idx: 0,
            custom_id: String::new(),
            warmup: false,
            outcome: Outcome::Ok,
            http_status: None,
            error: None,
            finish_reason: None,
            prompt_tokens: None,
            completion_tokens: Some(Tokens(tokens)),
            scheduled: None,
            sent: Duration::ZERO,
            ttft: None,
            e2e: Duration::from_millis(finish_ms),
            content_chunks: 0,
            itl: vec![],
            response: String::new(),
            reasoning: None,
        }
    }

    #[test]
    fn tokens_land_in_the_second_their_request_finished() {
        let t = client_throughput(&[rec(100, 10), rec(900, 5), rec(1500, 7)]);
        assert_eq!(t, vec![(0.0, 15.0), (1.0, 7.0)]);
    }

    #[test]
    fn server_rate_is_the_counter_slope() {
        let s = |t_ms, g| MetricsSample {
            t_ms,
            generation_tokens_total: Some(g),
            ..Default::default()
        };
        assert_eq!(server_throughput(&[s(0, 100.0), s(2000, 300.0)]), vec![(2.0, 100.0)]);
    }
}
