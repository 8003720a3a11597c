//! Per-run series for charts: latency samples and throughput over time, from stored records.

use super::metrics::MetricsSample;
use super::record::RequestRecord;
use serde::{Deserialize, Serialize};

/// What the run page charts: what is drawn (bins, curve points, per-bucket rates), never every
/// request, so a page of a run of a million requests is as light as one of ten.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSeries {
    pub run_id: i64,
    pub label: String,
    pub charts: RunCharts,
    /// The endpoint's /metrics samples (at most [`SERVER_POINTS`], evenly thinned).
    pub server: Vec<MetricsSample>,
}

/// The charts' data from a run's records: computed once when the run ends and stored, or on
/// the fly (from the stored records) while it runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunCharts {
    /// Answered measured requests.
    pub ttft: Option<LatencyChart>,
    pub e2e: Option<LatencyChart>,
    /// (seconds from the run's start, output tokens/s in that bucket), by arrival time.
    pub client_tps: Vec<(f64, f64)>,
}

/// One latency's histogram and cumulative curve (ms).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyChart {
    pub count: u64,
    /// Left edge of the first bin and the bins' width.
    pub lo: f64,
    pub width: f64,
    pub bins: Vec<u64>,
    /// (value, fraction of requests <= value), at most [`CDF_POINTS`] + 1 points.
    pub cdf: Vec<(f64, f64)>,
}

pub const HISTOGRAM_BINS: usize = 30;
pub const CDF_POINTS: usize = 400;
pub const SERVER_POINTS: usize = 600;

impl LatencyChart {
    /// From samples (any order; sorted in place). `None` without a finite one.
    pub fn of(samples: &mut Vec<f64>) -> Option<LatencyChart> {
        samples.retain(|v| v.is_finite());
        if samples.is_empty() {
            return None;
        }
        samples.sort_by(f64::total_cmp);
        let (lo, hi) = (samples[0], samples[samples.len() - 1]);
        let width = ((hi - lo) / HISTOGRAM_BINS as f64).max(1e-3);
        let mut bins = vec![0u64; HISTOGRAM_BINS];
        for v in samples.iter() {
            bins[(((v - lo) / width).floor() as usize).min(HISTOGRAM_BINS - 1)] += 1;
        }
        // Microseconds and five digits of a fraction are all a chart can show.
        let round = |v: f64, k: f64| (v * k).round() / k;
        Some(LatencyChart {
            count: samples.len() as u64,
            lo,
            width,
            bins,
            cdf: super::stats::ecdf(samples, CDF_POINTS)
                .into_iter()
                .map(|(x, f)| (round(x, 1e3), round(f, 1e5)))
                .collect(),
        })
    }
}

/// About this many buckets over a run (at least one second each), so long runs stay readable.
pub const BUCKETS: f64 = 60.0;

/// Output tokens per second over time, gathered one record at a time: each token counts in the
/// second where it arrived (a request's tokens are spread evenly over its chunks, which arrived
/// at send + TTFT and then after each inter-token gap, or, without stored gaps, evenly between
/// TTFT and the end; a request without chunk timing, e.g. imported, counts at its finish).
/// Counting a request's tokens in the second it finished draws a sawtooth for long answers where
/// the server's own line is flat. Memory: one number per second of the run.
#[derive(Clone, Debug, Default)]
pub struct ThroughputBuilder {
    per_second: Vec<f64>,
    last: Option<f64>,
}

impl ThroughputBuilder {
    fn at(&mut self, t: f64, tokens: f64) {
        let i = t.floor().max(0.0) as usize;
        if self.per_second.len() <= i {
            self.per_second.resize(i + 1, 0.0);
        }
        self.per_second[i] += tokens;
    }

    pub fn add(&mut self, r: &RequestRecord) {
        let end = r.finished().as_secs_f64();
        self.last = Some(self.last.map_or(end, |l: f64| l.max(end)));
        if !r.outcome.answered() {
            return;
        }
        let tokens = r.completion_tokens.map(|t| t.0 as f64).unwrap_or(0.0);
        let sent = r.sent.as_secs_f64();
        match r.ttft {
            Some(ttft) => {
                let first = sent + ttft.as_secs_f64();
                if !r.itl.is_empty() {
                    let per = tokens / (r.itl.len() + 1) as f64;
                    let mut t = first;
                    self.at(t, per);
                    for gap in &r.itl {
                        t += gap.as_secs_f64();
                        self.at(t, per);
                    }
                } else {
                    let chunks = r.content_chunks.max(1) as usize;
                    let end = end.max(first);
                    let per = tokens / chunks as f64;
                    for k in 0..chunks {
                        let f = if chunks == 1 { 0.0 } else { k as f64 / (chunks - 1) as f64 };
                        self.at(first + f * (end - first), per);
                    }
                }
            }
            None => self.at(end, tokens),
        }
    }

    /// Buckets one second wide, or wider (whole seconds) for runs longer than a minute. The
    /// last bucket ends with the run, mostly part-way through: its rate is its tokens over the
    /// time it covers (a run of 19.06 s does not end on a line falling to 6% of the rate), and it
    /// is left out when it covers under a quarter of a bucket (too short to be a rate), unless it
    /// is the only one.
    pub fn finish(&self) -> Vec<(f64, f64)> {
        let Some(last) = self.last else { return Vec::new() };
        let bucket = (last / BUCKETS).ceil().max(1.0);
        let n = (last / bucket).floor() as usize + 1;
        let mut buckets = vec![0.0; n];
        for (s, tokens) in self.per_second.iter().enumerate() {
            buckets[((s as f64 / bucket).floor() as usize).min(n - 1)] += tokens;
        }
        let tail = last - (n - 1) as f64 * bucket;
        let keep_tail = n == 1 && tail > 0.0 || tail >= bucket / 4.0;
        buckets
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i + 1 < n || keep_tail)
            .map(|(i, tokens)| {
                let covers = if i + 1 == n { tail.min(bucket) } else { bucket };
                (i as f64 * bucket, tokens / covers)
            })
            .collect()
    }
}

pub fn client_throughput(records: &[RequestRecord]) -> Vec<(f64, f64)> {
    let mut b = ThroughputBuilder::default();
    for r in records {
        b.add(r);
    }
    b.finish()
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

/// At most `max` samples, evenly spaced, the first and last kept (a long run scrapes once a
/// second; a chart 900 px wide shows no more).
pub fn thin<T: Clone>(samples: Vec<T>, max: usize) -> Vec<T> {
    if samples.len() <= max || max < 2 {
        return samples;
    }
    let n = samples.len();
    (0..max).map(|k| samples[k * (n - 1) / (max - 1)].clone()).collect()
}

/// The charts of a run, gathered one record at a time (see [`ThroughputBuilder`]).
#[derive(Clone, Debug, Default)]
pub struct ChartsBuilder {
    ttft: Vec<f64>,
    e2e: Vec<f64>,
    tps: ThroughputBuilder,
}

impl ChartsBuilder {
    pub fn add(&mut self, r: &RequestRecord) {
        self.tps.add(r);
        if r.warmup || !r.outcome.answered() {
            return;
        }
        if let Some(t) = r.ttft {
            self.ttft.push(t.as_secs_f64() * 1e3);
        }
        self.e2e.push(r.e2e.as_secs_f64() * 1e3);
    }

    pub fn finish(mut self) -> RunCharts {
        RunCharts {
            ttft: LatencyChart::of(&mut self.ttft),
            e2e: LatencyChart::of(&mut self.e2e),
            client_tps: self.tps.finish(),
        }
    }

    /// The charts of `ttft` and `e2e` samples gathered elsewhere (sorted in place), with the
    /// throughput of the records added here.
    pub fn finish_with(self, ttft: &mut Vec<f64>, e2e: &mut Vec<f64>) -> RunCharts {
        RunCharts {
            ttft: LatencyChart::of(ttft),
            e2e: LatencyChart::of(e2e),
            client_tps: self.tps.finish(),
        }
    }

    /// Only the throughput over time (the latencies are gathered by the caller).
    pub fn add_throughput(&mut self, r: &RequestRecord) {
        self.tps.add(r);
    }
}

pub fn run_charts(records: &[RequestRecord]) -> RunCharts {
    let mut b = ChartsBuilder::default();
    for r in records {
        b.add(r);
    }
    b.finish()
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
        // The run ends at 1.5 s: its last second is half a second, 7 tokens in it = 14/s.
        assert_eq!(t, vec![(0.0, 15.0), (1.0, 14.0)]);
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
        // Rate x the time each bucket covers (the last, 2 to 2.5 s, half a second).
        let total: f64 = t.iter().map(|(at, v)| v * (2.5 - at).min(1.0)).sum();
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
    fn the_last_partial_second_is_a_rate_over_its_own_length_or_left_out() {
        // 100 tokens a second, one every 10 ms, from 0 to 19.06 s: the last 0.06 s holds 6
        // tokens, a rate of 100/s, not 6/s; too short to draw: left out.
        let stream = |end_ms: u64| {
            let mut r = rec(end_ms, end_ms / 10);
            r.ttft = Some(Duration::from_millis(10));
            r.itl = vec![Duration::from_millis(10); (end_ms / 10 - 1) as usize];
            r.content_chunks = (end_ms / 10) as u32;
            r
        };
        let t = client_throughput(&[stream(19_060)]);
        assert_eq!(t.len(), 19, "seconds 0 to 18; the last 0.06 s left out: {t:?}");
        assert!(t.iter().all(|(_, v)| (v - 100.0).abs() < 1.5), "a flat line: {t:?}");
        // Half a second left over: drawn at its own rate.
        let t = client_throughput(&[stream(19_500)]);
        assert_eq!(t.len(), 20);
        let (at, v) = t[19];
        assert_eq!(at, 19.0);
        assert!((v - 100.0).abs() < 2.5, "the last half second at 100/s, not 50/s: {v}");
        // A run shorter than a second is its own rate.
        let t = client_throughput(&[stream(400)]);
        assert_eq!(t.len(), 1);
        assert!((t[0].1 - 100.0).abs() < 1e-9, "{t:?}");
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
