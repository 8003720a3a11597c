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

/// Output tokens per second over time, counting each token in the bucket where it arrived:
/// a request's tokens are spread evenly over its chunks, which arrived at send + TTFT and then
/// after each inter-token gap (or, without stored gaps, evenly between TTFT and the end). A
/// request without chunk timing (imported) counts at its finish. Buckets are one second wide, or
/// wider for runs longer than a minute. (Counting a request's tokens in the second it finished
/// draws a sawtooth for long answers where the server's own line is flat.)
pub fn client_throughput(records: &[RequestRecord]) -> Vec<(f64, f64)> {
    let Some(last) = records.iter().map(|r| r.finished().as_secs_f64()).reduce(f64::max) else {
        return Vec::new();
    };
    let bucket = (last / BUCKETS).ceil().max(1.0);
    let n = (last / bucket).floor() as usize + 1;
    let mut buckets = vec![0.0; n];
    let mut add = |t: f64, tokens: f64| buckets[((t / bucket).floor().max(0.0) as usize).min(n - 1)] += tokens;
    for r in records.iter().filter(|r| r.outcome.answered()) {
        let tokens = r.completion_tokens.map(|t| t.0 as f64).unwrap_or(0.0);
        let sent = r.sent.as_secs_f64();
        match r.ttft {
            Some(ttft) => {
                let first = sent + ttft.as_secs_f64();
                if !r.itl.is_empty() {
                    let per = tokens / (r.itl.len() + 1) as f64;
                    let mut t = first;
                    add(t, per);
                    for gap in &r.itl {
                        t += gap.as_secs_f64();
                        add(t, per);
                    }
                } else {
                    let chunks = r.content_chunks.max(1) as usize;
                    let end = r.finished().as_secs_f64().max(first);
                    let per = tokens / chunks as f64;
                    for k in 0..chunks {
                        let f = if chunks == 1 { 0.0 } else { k as f64 / (chunks - 1) as f64 };
                        add(first + f * (end - first), per);
                    }
                }
            }
            None => add(r.finished().as_secs_f64(), tokens),
        }
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
    fn without_chunk_times_tokens_land_in_the_second_their_request_finished() {
        let t = client_throughput(&[rec(100, 10), rec(900, 5), rec(1500, 7)]);
        assert_eq!(t, vec![(0.0, 15.0), (1.0, 7.0)]);
    }

    #[test]
    fn tokens_land_in_the_second_their_chunk_arrived() {
        // 10 tokens in two chunks: at 0.5 s and at 1.1 s.
        let mut r = rec(2500, 10);
        r.ttft = Some(Duration::from_millis(500));
        r.itl = vec![Duration::from_millis(600)];
        r.content_chunks = 2;
        assert_eq!(client_throughput(&[r.clone()]), vec![(0.0, 5.0), (1.0, 5.0), (2.0, 0.0)]);
        // Without stored gaps: 3 chunks spread from TTFT (0.5 s) to the end (2.5 s).
        r.itl.clear();
        r.content_chunks = 3;
        let t = client_throughput(&[r]);
        let total: f64 = t.iter().map(|(_, v)| v).sum();
        assert!((total - 10.0).abs() < 1e-9, "{t:?}");
        assert!(t.iter().all(|(_, v)| *v > 0.0), "every second got tokens: {t:?}");
    }

    #[test]
    fn a_steady_stream_draws_a_flat_line() {
        // 20 requests, each 200 tokens, one token every 50 ms for 10 s, started 0.25 s apart
        // (10 ms off the second, so no chunk sits on a bucket's edge).
        let recs: Vec<RequestRecord> = (0..20)
            .map(|i| {
                let mut r = rec(10_000, 200);
                r.sent = Duration::from_millis(250 * i + 10);
                r.ttft = Some(Duration::from_millis(50));
                r.itl = vec![Duration::from_millis(50); 199];
                r.content_chunks = 200;
                r
            })
            .collect();
        let t = client_throughput(&recs);
        // Seconds 5 to 9 have all 20 requests streaming at once: 20 x 20 tokens/s.
        for (s, v) in &t[5..=9] {
            assert!((v - 400.0).abs() < 1e-6, "second {s}: {v}");
        }
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
