//! A run's summary, computed from its stored records (never from running counters), so the same
//! numbers come out after a crash, a resume, or an import.

use super::record::{RequestRecord, TokenSource};
use super::stats::Distribution;
use super::status::Outcome;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

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
}

/// Summarise stored records by DESIGN.md's definitions. Warm-up records are ignored.
pub fn summarize(records: &[RequestRecord]) -> RunSummary {
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
    let reasoning_tokens: u64 = reasoned().map(|r| r.tokens.0).sum();
    let reasoning_tokens_source = reasoned().map(|r| r.tokens_source).reduce(|a, b| {
        if a == TokenSource::Counted || b == TokenSource::Counted {
            TokenSource::Counted
        } else {
            TokenSource::Usage
        }
    });
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
        reasoning_tokens,
        reasoning_tokens_source,
        integrity: None,
        timing_known: true,
        total_tokens_only: None,
        outcomes,
    }
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
}
