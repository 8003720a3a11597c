//! A run's summary, computed from its stored records (never from running counters), so the same
//! numbers come out after a crash, a resume, or an import.

use super::record::{RequestRecord, TokenSource};
use super::stats::Distribution;
use super::status::Outcome;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

pub mod sample;

/// What the pages show instead of a speed figure (wall time, rates, latencies) that was never
/// measured: an import whose format has no times (an OpenAI Batch output file, a run summary
/// without a time).
pub const NO_TIMING: &str = "timing not recorded (imported)";

/// How many measured requests ended each way. HTTP errors are kept per status code.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub ok: u64,
    pub truncated: u64,
    pub http_error: u64,
    pub http_status: BTreeMap<u16, u64>,
    pub timeout: u64,
    pub connection_error: u64,
    pub stream_error: u64,
    /// Failures an imported file counted without saying how they failed.
    #[serde(default)]
    pub unclassified: u64,
}

impl OutcomeCounts {
    pub fn add(&mut self, outcome: Outcome, status: Option<u16>) {
        match outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Truncated => self.truncated += 1,
            Outcome::HttpError => {
                self.http_error += 1;
                *self.http_status.entry(status.unwrap_or(0)).or_default() += 1;
            }
            Outcome::Timeout => self.timeout += 1,
            Outcome::ConnectionError => self.connection_error += 1,
            Outcome::StreamError => self.stream_error += 1,
        }
    }
    pub fn get(&self, outcome: Outcome) -> u64 {
        match outcome {
            Outcome::Ok => self.ok,
            Outcome::Truncated => self.truncated,
            Outcome::HttpError => self.http_error,
            Outcome::Timeout => self.timeout,
            Outcome::ConnectionError => self.connection_error,
            Outcome::StreamError => self.stream_error,
        }
    }
    pub fn total(&self) -> u64 {
        Outcome::ALL.iter().map(|o| self.get(*o)).sum::<u64>() + self.unclassified
    }
    pub fn answered(&self) -> u64 {
        self.ok + self.truncated
    }
    pub fn failed(&self) -> u64 {
        self.total() - self.answered()
    }
}

/// What a finished (or partly finished) run measured. Latencies are in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Measured requests (warm-up excluded).
    pub requests: u64,
    pub warmup_requests: u64,
    pub outcomes: OutcomeCounts,
    pub success_rate: f64,
    pub wall_time_s: f64,
    /// Time the server took to load the model, when known; never part of `wall_time_s`.
    pub model_load_time_s: Option<f64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Answered requests whose server gave no usage: their tokens are not in the sums.
    pub usage_unknown: u64,
    pub output_tokens_per_s: f64,
    pub total_tokens_per_s: f64,
    pub requests_per_s: f64,
    pub mean_prompt_tokens: Option<f64>,
    pub mean_completion_tokens: Option<f64>,
    /// Send -> first generated token of any kind (answer, reasoning or tool call).
    pub ttft_ms: Option<Distribution>,
    /// Send -> first answer token (content or tool call), after any reasoning; the same as
    /// `ttft_ms` for models that do not reason.
    #[serde(default)]
    pub answer_ttft_ms: Option<Distribution>,
    pub tpot_ms: Option<Distribution>,
    pub itl_ms: Option<Distribution>,
    pub e2e_ms: Option<Distribution>,
    pub chunks_per_token: Option<f64>,
    /// Reasoning tokens of the requests counted in `completion_tokens` (and included in it).
    #[serde(default)]
    pub reasoning_tokens: u64,
    /// Where `reasoning_tokens` comes from: "usage" when the server counted every request's,
    /// "counted" when any request's count is Bakeoff's count of reasoning chunks; `None` when
    /// no request reasoned.
    #[serde(default)]
    pub reasoning_tokens_source: Option<TokenSource>,
    /// Was the client the limit? Filled in by the worker, which knows the schedule and its CPU.
    #[serde(default)]
    pub integrity: Option<super::integrity::Integrity>,
    /// False for imports without times (e.g. a Batch output file): rates are then unknown.
    #[serde(default = "known")]
    pub timing_known: bool,
    /// Total tokens when a file gives only the total, not the prompt/completion split.
    #[serde(default)]
    pub total_tokens_only: Option<u64>,
    /// Requests (and tokens) per second within the run's service-level targets, when it has
    /// targets (see [`super::goodput`]).
    #[serde(default)]
    pub goodput: Option<super::goodput::Goodput>,
    /// A batch job's job-level timing (offline `vllm run-batch` or a provider's Batch API):
    /// its records have no per-request times (see [`super::batch`]).
    #[serde(default)]
    pub job: Option<super::batch::JobTiming>,
}

fn known() -> bool {
    true
}

impl RunSummary {
    pub fn total_tokens(&self) -> u64 {
        self.total_tokens_only.unwrap_or(self.prompt_tokens + self.completion_tokens)
    }
    pub fn mean_total_tokens(&self) -> Option<f64> {
        Some(self.mean_prompt_tokens? + self.mean_completion_tokens?)
    }

    /// No timing was recorded and no job timed the run as a whole: its wall time, rates and
    /// latencies are unknown, whatever numbers the summary holds (pages say [`NO_TIMING`]). A
    /// batch job still waiting for its time is not this: its job section says so.
    pub fn untimed(&self) -> bool {
        !self.timing_known && self.job.is_none()
    }

    /// Output tokens per second as a page shows it: unknown (not 0) when the run's file gave only
    /// total tokens, with no completion count.
    pub fn output_rate_text(&self, show: fn(f64) -> String) -> String {
        match self.output_unknown() {
            Some(_) => "unknown".into(),
            None => show(self.output_tokens_per_s),
        }
    }

    /// Why the output rate is unknown (its 0 in the JSON is no measurement): the file gave only
    /// total tokens, or the server sent no token usage for any answer.
    pub fn output_unknown(&self) -> Option<&'static str> {
        if self.total_tokens_only.is_some() {
            Some("only total tokens recorded")
        } else if self.completion_tokens == 0 && self.usage_unknown > 0 {
            Some("the server sent no token usage")
        } else {
            None
        }
    }

    /// The summary of records that carry no times (an OpenAI Batch output has none, and its
    /// records store 0 ms): the figures made from those zeros are dropped, not shown as
    /// measured. Latency distributions and goodput become `None` (null in JSON); the rates, plain
    /// numbers in the JSON, stay 0 with `timing_known: false` saying they are unknown.
    pub fn without_timing(self) -> RunSummary {
        RunSummary {
            wall_time_s: 0.0,
            output_tokens_per_s: 0.0,
            total_tokens_per_s: 0.0,
            requests_per_s: 0.0,
            ttft_ms: None,
            answer_ttft_ms: None,
            tpot_ms: None,
            itl_ms: None,
            e2e_ms: None,
            chunks_per_token: None,
            goodput: None,
            integrity: None,
            timing_known: false,
            ..self
        }
    }
}

/// Summarise stored records by DESIGN.md's definitions. Warm-up records are ignored.
pub fn summarize(records: &[RequestRecord]) -> RunSummary {
    summarize_with(records, None)
}

/// [`summarize`], with goodput against `slo` when the run has targets.
pub fn summarize_with(records: &[RequestRecord], slo: Option<super::goodput::Slo>) -> RunSummary {
    let mut b = SummaryBuilder::default();
    b.set_slo(slo);
    for r in records {
        b.add(r);
    }
    b.finish()
}

/// A run's summary gathered one record at a time, so a run of any size is summarised from its
/// stored records read page by page. It keeps counts and sums, one number per answered request
/// for each per-request latency (exact percentiles need every value: 8 bytes each, never the
/// records), and the inter-token gaps as counts per distinct gap (the stored resolution is a
/// microsecond), so the percentiles stay exact.
#[derive(Clone, Debug, Default)]
pub struct SummaryBuilder {
    records: u64,
    measured: u64,
    outcomes: OutcomeCounts,
    start: Option<Duration>,
    end: Option<Duration>,
    answered: u64,
    with_usage: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    chunks: u64,
    reasoning_tokens: u64,
    reasoning_source: Option<TokenSource>,
    ttft: Vec<f64>,
    answer_ttft: Vec<f64>,
    tpot: Vec<f64>,
    e2e: Vec<f64>,
    /// Inter-token gap (ns) -> how many.
    itl: BTreeMap<u64, u64>,
    /// The run's service-level targets and what met them (counted in this same pass).
    slo: Option<(super::goodput::Slo, super::goodput::GoodputCounter)>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl SummaryBuilder {
    /// Count goodput against these targets too (`None`: no targets, no goodput).
    pub fn set_slo(&mut self, slo: Option<super::goodput::Slo>) {
        self.slo = slo.map(|s| (s, Default::default()));
    }

    pub fn add(&mut self, r: &RequestRecord) {
        self.records += 1;
        if r.warmup {
            return;
        }
        self.measured += 1;
        if let Some((slo, counter)) = &mut self.slo {
            counter.add(slo, r);
        }
        self.outcomes.add(r.outcome, r.http_status);
        self.start = Some(self.start.map_or(r.sent, |s| s.min(r.sent)));
        self.end = Some(self.end.map_or(r.finished(), |e| e.max(r.finished())));
        if !r.outcome.answered() {
            return;
        }
        self.answered += 1;
        if let Some(t) = r.ttft {
            self.ttft.push(ms(t));
        }
        if let Some(t) = r.answer_ttft() {
            self.answer_ttft.push(ms(t));
        }
        if let Some(t) = r.tpot() {
            self.tpot.push(ms(t));
        }
        self.e2e.push(ms(r.e2e));
        for gap in &r.itl {
            *self.itl.entry(u64::try_from(gap.as_nanos()).unwrap_or(u64::MAX)).or_default() += 1;
        }
        if let (Some(p), Some(c)) = (r.prompt_tokens, r.completion_tokens) {
            self.with_usage += 1;
            self.prompt_tokens += p.0;
            self.completion_tokens += c.0;
            self.chunks += u64::from(r.content_chunks);
            if let Some(x) = &r.reasoning {
                self.reasoning_tokens += x.tokens.0;
                self.reasoning_source = Some(match (self.reasoning_source, x.tokens_source) {
                    (Some(TokenSource::Counted), _) | (_, TokenSource::Counted) => TokenSource::Counted,
                    _ => TokenSource::Usage,
                });
            }
        }
    }

    /// Room for `n` more records' latencies at once (a run's record count is known before its
    /// pass: no vector grows to twice what it needs).
    pub fn reserve(&mut self, n: usize) {
        for v in [&mut self.ttft, &mut self.answer_ttft, &mut self.tpot, &mut self.e2e] {
            v.reserve_exact(n);
        }
    }

    /// The answered requests' TTFTs and E2E latencies so far (ms, in the order added), for the
    /// charts (which draw the very samples the summary counts).
    pub fn latencies_mut(&mut self) -> (&mut Vec<f64>, &mut Vec<f64>) {
        (&mut self.ttft, &mut self.e2e)
    }

    pub fn finish(&self) -> RunSummary {
        let wall = match (self.start, self.end) {
            (Some(s), Some(e)) if e > s => e - s,
            _ => Duration::ZERO,
        };
        let per_s = |x: f64| if wall.is_zero() { 0.0 } else { x / wall.as_secs_f64() };
        let mean = |sum: u64| (self.with_usage > 0).then(|| sum as f64 / self.with_usage as f64);
        let (ttft_ms, tpot_ms, e2e_ms) = (
            Distribution::of(&self.ttft),
            Distribution::of(&self.tpot),
            Distribution::of(&self.e2e),
        );
        let goodput = self.slo.as_ref().map(|(slo, counter)| {
            counter.finish(slo, self.measured, wall, |m| {
                use super::goodput::SloMetric;
                let (d, samples) = match m {
                    SloMetric::Ttft => (ttft_ms, &self.ttft),
                    SloMetric::Tpot => (tpot_ms, &self.tpot),
                    SloMetric::E2e => (e2e_ms, &self.e2e),
                };
                percentile_of(d?, samples, slo.percentile)
            })
        });
        RunSummary {
            requests: self.measured,
            warmup_requests: self.records - self.measured,
            success_rate: if self.measured == 0 {
                0.0
            } else {
                self.answered as f64 / self.measured as f64
            },
            wall_time_s: wall.as_secs_f64(),
            model_load_time_s: None,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            usage_unknown: self.answered - self.with_usage,
            output_tokens_per_s: per_s(self.completion_tokens as f64),
            total_tokens_per_s: per_s((self.prompt_tokens + self.completion_tokens) as f64),
            requests_per_s: per_s(self.measured as f64),
            mean_prompt_tokens: mean(self.prompt_tokens),
            mean_completion_tokens: mean(self.completion_tokens),
            ttft_ms,
            answer_ttft_ms: Distribution::of(&self.answer_ttft),
            tpot_ms,
            itl_ms: of_counts(&self.itl),
            e2e_ms,
            chunks_per_token: (self.completion_tokens > 0).then(|| self.chunks as f64 / self.completion_tokens as f64),
            reasoning_tokens: self.reasoning_tokens,
            reasoning_tokens_source: self.reasoning_source,
            integrity: None,
            timing_known: true,
            total_tokens_only: None,
            outcomes: self.outcomes.clone(),
            goodput,
            job: None,
        }
    }
}

/// Percentile `p` (1..=100) of the samples behind `d`, by the same rule as [`Distribution`]: the
/// distribution's own figure for p50, p90 and p99, else from a sorted copy.
fn percentile_of(d: Distribution, samples: &[f64], p: f64) -> Option<f64> {
    let exact = |q: f64| (p - q).abs() < 1e-12;
    if exact(50.0) {
        return Some(d.p50);
    }
    if exact(90.0) {
        return Some(d.p90);
    }
    if exact(99.0) {
        return Some(d.p99);
    }
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    (!sorted.is_empty()).then(|| super::stats::percentile_sorted(&sorted, p / 100.0))
}

/// The distribution of durations kept as counts per distinct value (ns -> how many), in ms: the
/// same figures as [`Distribution::of`] over the expanded values (percentiles by the same rule).
fn of_counts(counts: &BTreeMap<u64, u64>) -> Option<Distribution> {
    let n: u64 = counts.values().sum();
    if n == 0 {
        return None;
    }
    let value = |ns: u64| ms(Duration::from_nanos(ns));
    let sum: f64 = counts.iter().map(|(k, c)| value(*k) * *c as f64).sum();
    // The value at each 0-based rank, in one walk (ranks ascending).
    let at = |ranks: &[u64]| -> Vec<f64> {
        let mut out = Vec::with_capacity(ranks.len());
        let mut seen = 0u64;
        let mut it = counts.iter();
        let mut cur = it.next();
        for &rank in ranks {
            while let Some((k, c)) = cur {
                if rank < seen + c {
                    out.push(value(*k));
                    break;
                }
                seen += c;
                cur = it.next();
            }
        }
        out
    };
    let pct = |q: f64| {
        let h = (n - 1) as f64 * q;
        let (lo, hi) = (h.floor() as u64, h.ceil() as u64);
        let v = at(&[lo, hi]);
        v[0] + (h - lo as f64) * (v[1] - v[0])
    };
    let (min, max) = (
        counts.keys().next().copied().map(value)?,
        counts.keys().next_back().copied().map(value)?,
    );
    Some(Distribution {
        count: n,
        mean: sum / n as f64,
        min,
        p50: pct(0.50),
        p90: pct(0.90),
        p99: pct(0.99),
        max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::record::{Reasoning, Tokens};

    fn rec(idx: u32, outcome: Outcome, sent_ms: u64, e2e_ms: u64, usage: Option<(u64, u64)>) -> RequestRecord {
        RequestRecord {
            idx,
            custom_id: format!("c{idx}"),
            warmup: false,
            outcome,
            http_status: if outcome == Outcome::HttpError { Some(500) } else { Some(200) },
            error: None,
            finish_reason: None,
            prompt_tokens: usage.map(|u| Tokens(u.0)),
            completion_tokens: usage.map(|u| Tokens(u.1)),
            scheduled: None,
            sent: Duration::from_millis(sent_ms),
            ttft: outcome.answered().then(|| Duration::from_millis(10)),
            e2e: Duration::from_millis(e2e_ms),
            content_chunks: usage.map(|u| u.1 as u32).unwrap_or(0),
            itl: vec![Duration::from_millis(2)],
            response: String::new(),
            reasoning: None,
        }
    }

    /// An answered record that reasoned `tokens` tokens, answering at `answer_ms`.
    fn thinking(idx: u32, tokens: u64, source: TokenSource, answer_ms: u64) -> RequestRecord {
        RequestRecord {
            reasoning: Some(Reasoning {
                answer_ttft: Some(Duration::from_millis(answer_ms)),
                tokens: Tokens(tokens),
                tokens_source: source,
                text: "hmm".into(),
            }),
            ..rec(idx, Outcome::Ok, 0, 1000, Some((10, tokens + 10)))
        }
    }

    #[test]
    fn throughput_uses_server_usage_over_wall_time() {
        // Two requests: 0..1000 ms and 500..2000 ms: wall time 2 s.
        let rs = vec![
            rec(0, Outcome::Ok, 0, 1000, Some((100, 50))),
            rec(1, Outcome::Truncated, 500, 1500, Some((100, 150))),
        ];
        let s = summarize(&rs);
        assert!((s.wall_time_s - 2.0).abs() < 1e-9);
        assert!((s.output_tokens_per_s - 100.0).abs() < 1e-9);
        assert!((s.total_tokens_per_s - 200.0).abs() < 1e-9);
        assert!((s.requests_per_s - 1.0).abs() < 1e-9);
        assert_eq!(s.mean_completion_tokens, Some(100.0));
        assert_eq!(s.outcomes.ok, 1);
        assert_eq!(s.outcomes.truncated, 1);
        assert!((s.success_rate - 1.0).abs() < 1e-9);
    }

    #[test]
    fn failures_count_in_requests_but_not_in_latency() {
        let rs = vec![
            rec(0, Outcome::Ok, 0, 1000, Some((10, 10))),
            rec(1, Outcome::HttpError, 0, 5, None),
            rec(2, Outcome::Timeout, 0, 3000, None),
        ];
        let s = summarize(&rs);
        assert_eq!(s.requests, 3);
        assert_eq!(s.outcomes.http_error, 1);
        assert_eq!(s.outcomes.http_status.get(&500), Some(&1));
        assert_eq!(s.outcomes.timeout, 1);
        assert_eq!(s.e2e_ms.map(|d| d.count), Some(1));
        assert!((s.success_rate - 1.0 / 3.0).abs() < 1e-9);
        // The timeout still ends the wall-time window.
        assert!((s.wall_time_s - 3.0).abs() < 1e-9);
    }

    #[test]
    fn missing_usage_is_unknown_not_guessed() {
        let rs = vec![rec(0, Outcome::Ok, 0, 1000, None), rec(1, Outcome::Ok, 0, 1000, Some((5, 7)))];
        let s = summarize(&rs);
        assert_eq!(s.usage_unknown, 1);
        assert_eq!(s.completion_tokens, 7);
        assert_eq!(s.mean_completion_tokens, Some(7.0));
    }

    #[test]
    fn warmup_is_excluded_from_everything() {
        let mut w = rec(0, Outcome::Ok, 0, 10_000, Some((1000, 1000)));
        w.warmup = true;
        let rs = vec![w, rec(1, Outcome::Ok, 10_000, 1000, Some((10, 10)))];
        let s = summarize(&rs);
        assert_eq!(s.requests, 1);
        assert_eq!(s.warmup_requests, 1);
        assert!((s.wall_time_s - 1.0).abs() < 1e-9);
        assert_eq!(s.completion_tokens, 10);
    }

    #[test]
    fn reasoning_tokens_are_summed_and_answer_ttft_is_apart_from_ttft() {
        let rs = vec![
            thinking(0, 30, TokenSource::Usage, 200),
            thinking(1, 50, TokenSource::Usage, 400),
            rec(2, Outcome::Ok, 0, 1000, Some((10, 10))),
        ];
        let s = summarize(&rs);
        assert_eq!(s.reasoning_tokens, 80);
        assert_eq!(s.completion_tokens, 40 + 60 + 10, "completion tokens include reasoning");
        assert_eq!(s.reasoning_tokens_source, Some(TokenSource::Usage));
        let ttft = s.ttft_ms.expect("ttft");
        let answer = s.answer_ttft_ms.expect("answer ttft");
        assert!((ttft.max - 10.0).abs() < 1e-9);
        // 200, 400 and, for the record that did not reason, its TTFT (10).
        assert!((answer.p50 - 200.0).abs() < 1e-9 && (answer.max - 400.0).abs() < 1e-9 && (answer.min - 10.0).abs() < 1e-9);
    }

    #[test]
    fn one_counted_reasoning_count_marks_the_total_counted() {
        let s = summarize(&[thinking(0, 30, TokenSource::Usage, 200), thinking(1, 5, TokenSource::Counted, 90)]);
        assert_eq!(s.reasoning_tokens, 35);
        assert_eq!(s.reasoning_tokens_source, Some(TokenSource::Counted));
    }

    #[test]
    fn a_run_without_reasoning_has_no_reasoning_source_and_equal_ttfts() {
        let s = summarize(&[rec(0, Outcome::Ok, 0, 1000, Some((10, 10)))]);
        assert_eq!((s.reasoning_tokens, s.reasoning_tokens_source), (0, None));
        assert_eq!(s.ttft_ms, s.answer_ttft_ms);
    }

    #[test]
    fn summaries_stored_before_reasoning_existed_still_read() {
        let mut v = serde_json::to_value(summarize(&[rec(0, Outcome::Ok, 0, 1000, Some((10, 10)))])).expect("json");
        for k in ["answer_ttft_ms", "reasoning_tokens", "reasoning_tokens_source"] {
            v.as_object_mut().expect("object").remove(k);
        }
        let back: RunSummary = serde_json::from_value(v).expect("old shape");
        assert_eq!((back.reasoning_tokens, back.answer_ttft_ms), (0, None));
    }

    #[test]
    fn empty_run_has_zero_rates_and_no_percentiles() {
        let s = summarize(&[]);
        assert_eq!(s.requests, 0);
        assert_eq!(s.output_tokens_per_s, 0.0);
        assert!(s.ttft_ms.is_none());
    }

    /// The summary as first written (every record in memory, every latency in one vector): the
    /// streaming [`SummaryBuilder`] must give the same figures.
    fn in_memory(records: &[RequestRecord]) -> RunSummary {
        let measured: Vec<&RequestRecord> = records.iter().filter(|r| !r.warmup).collect();
        let mut outcomes = OutcomeCounts::default();
        for r in &measured {
            outcomes.add(r.outcome, r.http_status);
        }
        let start = measured.iter().map(|r| r.sent).min();
        let end = measured.iter().map(|r| r.finished()).max();
        let wall = match (start, end) {
            (Some(s), Some(e)) if e > s => e - s,
            _ => Duration::ZERO,
        };
        let answered: Vec<&&RequestRecord> = measured.iter().filter(|r| r.outcome.answered()).collect();
        let with_usage: Vec<&&&RequestRecord> = answered
            .iter()
            .filter(|r| r.prompt_tokens.is_some() && r.completion_tokens.is_some())
            .collect();
        let prompt_tokens: u64 = with_usage.iter().filter_map(|r| r.prompt_tokens).map(|t| t.0).sum();
        let completion_tokens: u64 = with_usage.iter().filter_map(|r| r.completion_tokens).map(|t| t.0).sum();
        let per_s = |x: f64| if wall.is_zero() { 0.0 } else { x / wall.as_secs_f64() };
        let mean = |sum: u64| (!with_usage.is_empty()).then(|| sum as f64 / with_usage.len() as f64);
        let chunks: u64 = with_usage.iter().map(|r| u64::from(r.content_chunks)).sum();
        let reasoned = || with_usage.iter().filter_map(|r| r.reasoning.as_ref());
        RunSummary {
            requests: measured.len() as u64,
            warmup_requests: (records.len() - measured.len()) as u64,
            success_rate: if measured.is_empty() {
                0.0
            } else {
                answered.len() as f64 / measured.len() as f64
            },
            wall_time_s: wall.as_secs_f64(),
            model_load_time_s: None,
            prompt_tokens,
            completion_tokens,
            usage_unknown: (answered.len() - with_usage.len()) as u64,
            output_tokens_per_s: per_s(completion_tokens as f64),
            total_tokens_per_s: per_s((prompt_tokens + completion_tokens) as f64),
            requests_per_s: per_s(measured.len() as f64),
            mean_prompt_tokens: mean(prompt_tokens),
            mean_completion_tokens: mean(completion_tokens),
            ttft_ms: Distribution::of_durations_ms(answered.iter().filter_map(|r| r.ttft)),
            answer_ttft_ms: Distribution::of_durations_ms(answered.iter().filter_map(|r| r.answer_ttft())),
            tpot_ms: Distribution::of_durations_ms(answered.iter().filter_map(|r| r.tpot())),
            itl_ms: Distribution::of_durations_ms(answered.iter().flat_map(|r| r.itl.iter().copied())),
            e2e_ms: Distribution::of_durations_ms(answered.iter().map(|r| r.e2e)),
            chunks_per_token: (completion_tokens > 0).then(|| chunks as f64 / completion_tokens as f64),
            reasoning_tokens: reasoned().map(|r| r.tokens.0).sum(),
            reasoning_tokens_source: reasoned().map(|r| r.tokens_source).reduce(|a, b| {
                if a == TokenSource::Counted || b == TokenSource::Counted {
                    TokenSource::Counted
                } else {
                    TokenSource::Usage
                }
            }),
            integrity: None,
            timing_known: true,
            total_tokens_only: None,
            outcomes,
            goodput: None,
            job: None,
        }
    }

    /// Equal, with the mean (a sum in another order) allowed a rounding difference.
    fn same_distribution(a: Option<Distribution>, b: Option<Distribution>) -> Result<(), String> {
        match (a, b) {
            (None, None) => Ok(()),
            (Some(a), Some(b)) => {
                let close = (a.mean - b.mean).abs() <= 1e-9 * a.mean.abs().max(1.0);
                let exact = (a.count, a.min, a.p50, a.p90, a.p99, a.max) == (b.count, b.min, b.p50, b.p90, b.p99, b.max);
                (close && exact).then_some(()).ok_or(format!("{a:?} != {b:?}"))
            }
            _ => Err(format!("{a:?} vs {b:?}")),
        }
    }

    fn arb_record() -> impl proptest::strategy::Strategy<Value = RequestRecord> {
        use proptest::prelude::*;
        let outcome = prop_oneof![
            Just(Outcome::Ok),
            Just(Outcome::Ok),
            Just(Outcome::Truncated),
            Just(Outcome::HttpError),
            Just(Outcome::Timeout)
        ];
        (
            (
                any::<bool>(),
                outcome,
                0u64..5_000_000,
                proptest::option::of(0u64..900_000),
                0u64..9_000_000,
            ),
            (
                proptest::option::of((1u64..500, 0u64..300)),
                proptest::collection::vec(0u64..60_000, 0..8),
            ),
            proptest::option::of((0u64..50, any::<bool>(), proptest::option::of(0u64..900_000))),
        )
            .prop_map(|((warmup, outcome, sent, ttft, e2e), (usage, itl), reasoning)| RequestRecord {
                warmup: warmup && sent % 7 == 0,
                reasoning: reasoning.map(|(tokens, counted, answer)| Reasoning {
                    answer_ttft: answer.map(Duration::from_micros),
                    tokens: Tokens(tokens),
                    tokens_source: if counted { TokenSource::Counted } else { TokenSource::Usage },
                    text: String::new(),
                }),
                sent: Duration::from_micros(sent),
                ttft: ttft.map(Duration::from_micros),
                e2e: Duration::from_micros(e2e),
                itl: itl.into_iter().map(Duration::from_micros).collect(),
                ..rec(0, outcome, 0, 0, usage)
            })
    }

    proptest::proptest! {
        #[test]
        fn the_streaming_summary_equals_the_in_memory_one(records in proptest::collection::vec(arb_record(), 0..60)) {
            let (a, b) = (summarize(&records), in_memory(&records));
            for (x, y) in [(a.ttft_ms, b.ttft_ms), (a.answer_ttft_ms, b.answer_ttft_ms), (a.tpot_ms, b.tpot_ms), (a.itl_ms, b.itl_ms), (a.e2e_ms, b.e2e_ms)] {
                same_distribution(x, y).map_err(proptest::test_runner::TestCaseError::fail)?;
            }
            let strip = |s: RunSummary| RunSummary { ttft_ms: None, answer_ttft_ms: None, tpot_ms: None, itl_ms: None, e2e_ms: None, ..s };
            proptest::prop_assert_eq!(strip(a), strip(b));
        }
    }

    #[test]
    fn records_without_times_give_no_latency_and_say_timing_is_unknown() {
        // As an OpenAI Batch output is read: every record sent at 0 and lasting 0 ms.
        let rs = vec![rec(0, Outcome::Ok, 0, 0, Some((10, 20))), rec(1, Outcome::Ok, 0, 0, Some((10, 30)))];
        let measured = summarize(&rs);
        assert_eq!(measured.e2e_ms.map(|d| d.p99), Some(0.0), "the zeros the records hold");
        let s = measured.without_timing();
        assert!(s.untimed() && !s.timing_known);
        assert_eq!(
            (s.ttft_ms, s.tpot_ms, s.itl_ms, s.e2e_ms, s.chunks_per_token),
            (None, None, None, None, None)
        );
        assert_eq!((s.requests, s.completion_tokens, s.outcomes.ok), (2, 50, 2), "counts are kept");
        let v = serde_json::to_value(&s).expect("json");
        assert!(v["e2e_ms"].is_null() && v["ttft_ms"].is_null(), "{v}");
        assert!(v["output_tokens_per_s"].is_number(), "the JSON keeps its shape: {v}");
    }

    #[test]
    fn a_batch_job_waiting_for_its_time_is_not_untimed() {
        let mut s = summarize(&[]).without_timing();
        s.job = Some(Default::default());
        assert!(!s.untimed());
    }

    #[test]
    fn gaps_kept_as_counts_give_exact_percentiles() {
        // 1, 2, 2, 3, 10 ms: p50 2, p90 = 3 + 0.6 x 7 = 7.2 by the interpolation rule.
        let mut r = rec(0, Outcome::Ok, 0, 1000, Some((10, 6)));
        r.itl = [1, 2, 2, 3, 10].into_iter().map(Duration::from_millis).collect();
        let d = summarize(&[r]).itl_ms.expect("itl");
        assert_eq!((d.count, d.min, d.p50, d.max), (5, 1.0, 2.0, 10.0));
        assert!((d.p90 - 7.2).abs() < 1e-9 && (d.mean - 3.6).abs() < 1e-9, "{d:?}");
    }
}
