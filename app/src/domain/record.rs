//! One request as measured: the row Bakeoff stores for every request it sends.

use super::status::Outcome;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A count of tokens as reported by the server's `usage`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Tokens(pub u64);

/// Everything measured about one request. Times are offsets from the run's start (`sent`) or
/// from the request's own send (`ttft`, `e2e`, `itl`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Position in the run's schedule (0-based).
    pub idx: u32,
    /// The dataset item's `custom_id` (with a `~k` suffix for the k-th pass when a run cycles).
    pub custom_id: String,
    /// Warm-up requests are stored but excluded from every statistic.
    pub warmup: bool,
    pub outcome: Outcome,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub finish_reason: Option<String>,
    /// From the server's `usage`; `None` when the server gave none (never the requested length).
    pub prompt_tokens: Option<Tokens>,
    pub completion_tokens: Option<Tokens>,
    /// When the schedule wanted it sent, from the run's start (rate-based schedules only).
    pub scheduled: Option<Duration>,
    /// When it was sent, from the run's start.
    pub sent: Duration,
    /// Send -> first chunk carrying content.
    pub ttft: Option<Duration>,
    /// Send -> last byte (or -> the failure).
    pub e2e: Duration,
    /// Chunks that carried content.
    pub content_chunks: u32,
    /// Gaps between consecutive content chunks.
    pub itl: Vec<Duration>,
    /// The answer's text as streamed (possibly partial for failures).
    pub response: String,
}

impl RequestRecord {
    /// When the request ended, from the run's start.
    pub fn finished(&self) -> Duration {
        self.sent + self.e2e
    }

    /// Time per output token after the first: (E2E - TTFT) / (completion tokens - 1).
    /// `None` without a TTFT, without usage, or with fewer than two tokens.
    pub fn tpot(&self) -> Option<Duration> {
        let ttft = self.ttft?;
        let n = self.completion_tokens?.0;
        if n < 2 || self.e2e < ttft {
            return None;
        }
        Some((self.e2e - ttft) / (n - 1) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> RequestRecord {
        RequestRecord {
            idx: 0,
            custom_id: "a".into(),
            warmup: false,
            outcome: Outcome::Ok,
            http_status: Some(200),
            error: None,
            finish_reason: Some("stop".into()),
            prompt_tokens: Some(Tokens(10)),
            completion_tokens: Some(Tokens(11)),
            scheduled: None,
            sent: Duration::from_millis(5),
            ttft: Some(Duration::from_millis(100)),
            e2e: Duration::from_millis(600),
            content_chunks: 11,
            itl: vec![],
            response: String::new(),
        }
    }

    #[test]
    fn tpot_divides_decode_time_by_tokens_after_the_first() {
        assert_eq!(rec().tpot(), Some(Duration::from_millis(50)));
    }

    #[test]
    fn tpot_is_unknown_without_usage_or_with_one_token() {
        let mut r = rec();
        r.completion_tokens = None;
        assert_eq!(r.tpot(), None);
        r.completion_tokens = Some(Tokens(1));
        assert_eq!(r.tpot(), None);
    }

    #[test]
    fn finished_is_send_plus_e2e() {
        assert_eq!(rec().finished(), Duration::from_millis(605));
    }
}
