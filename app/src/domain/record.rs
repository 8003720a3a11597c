//! One request as measured: the row Bakeoff stores for every request it sends.

use super::status::Outcome;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A count of tokens as reported by the server's `usage`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Tokens(pub u64);

/// Where a count of reasoning tokens comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenSource {
    /// The server's `usage.completion_tokens_details.reasoning_tokens`.
    Usage,
    /// The server gave no such count: Bakeoff's estimate from the chunks that carried reasoning,
    /// at the tokens a chunk carried in that answer (close, not exact).
    Counted,
}

impl TokenSource {
    pub fn label(self) -> &'static str {
        match self {
            TokenSource::Usage => "usage",
            TokenSource::Counted => "counted",
        }
    }
}

/// What a reasoning model (gpt-oss, Qwen3 thinking, ...) streamed as its reasoning, kept apart
/// from the answer: quality checks and blind grading read only the answer (`response`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reasoning {
    /// Send -> first chunk carrying answer content or a tool call; `None` when none came (e.g.
    /// cut off at `max_tokens` while still reasoning).
    pub answer_ttft: Option<Duration>,
    /// Reasoning tokens; they are part of `completion_tokens` too.
    pub tokens: Tokens,
    pub tokens_source: TokenSource,
    /// The reasoning text as streamed (`delta.reasoning`, older vLLM `delta.reasoning_content`).
    pub text: String,
}

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
    /// Send -> first chunk carrying a generated token of any kind: answer content, reasoning or a
    /// tool call (see `answer_ttft` for the answer's first token).
    pub ttft: Option<Duration>,
    /// Send -> last byte (or -> the failure).
    pub e2e: Duration,
    /// Chunks that carried a generated token (answer content, reasoning or a tool call).
    pub content_chunks: u32,
    /// Gaps between consecutive chunks that carried a generated token.
    pub itl: Vec<Duration>,
    /// The answer's text as streamed (possibly partial for failures); never the reasoning.
    pub response: String,
    /// Set when the model reasoned before answering; `None` for a model that answers straight
    /// away (then the answer's first token is the first generated token).
    #[serde(default)]
    pub reasoning: Option<Reasoning>,
}

impl RequestRecord {
    /// When the request ended, from the run's start.
    pub fn finished(&self) -> Duration {
        self.sent + self.e2e
    }

    /// Send -> first chunk carrying answer content or a tool call (after any reasoning).
    pub fn answer_ttft(&self) -> Option<Duration> {
        match &self.reasoning {
            Some(r) => r.answer_ttft,
            None => self.ttft,
        }
    }

    /// Reasoning tokens (0 for a model that did not reason).
    pub fn reasoning_tokens(&self) -> Tokens {
        self.reasoning.as_ref().map(|r| r.tokens).unwrap_or_default()
    }

    /// Time per output token after the first: (E2E - TTFT) / (completion tokens - 1), over every
    /// generated token (reasoning included: TTFT is the first token of any kind, and the server's
    /// completion tokens count the reasoning). `None` without a TTFT, without usage, or with
    /// fewer than two tokens.
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
            reasoning: None,
        }
    }

    fn reasoned(answer_ms: Option<u64>) -> RequestRecord {
        RequestRecord {
            reasoning: Some(Reasoning {
                answer_ttft: answer_ms.map(Duration::from_millis),
                tokens: Tokens(8),
                tokens_source: TokenSource::Usage,
                text: "think".into(),
            }),
            ..rec()
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
    fn tpot_counts_reasoning_tokens_from_the_first_generated_token() {
        // TTFT 100 ms is the first reasoning token; 11 tokens in all, reasoning included.
        assert_eq!(reasoned(Some(400)).tpot(), Some(Duration::from_millis(50)));
    }

    #[test]
    fn answer_ttft_is_ttft_without_reasoning_and_the_answer_time_with_it() {
        assert_eq!(rec().answer_ttft(), Some(Duration::from_millis(100)));
        assert_eq!(rec().reasoning_tokens(), Tokens(0));
        assert_eq!(reasoned(Some(400)).answer_ttft(), Some(Duration::from_millis(400)));
        assert_eq!(reasoned(Some(400)).reasoning_tokens(), Tokens(8));
        assert_eq!(reasoned(None).answer_ttft(), None, "cut off while reasoning: no answer token");
    }

    #[test]
    fn records_stored_before_reasoning_existed_still_read() {
        let mut v = serde_json::to_value(rec()).expect("json");
        v.as_object_mut().expect("object").remove("reasoning");
        let back: RequestRecord = serde_json::from_value(v).expect("old shape");
        assert_eq!(back, rec());
    }

    #[test]
    fn finished_is_send_plus_e2e() {
        assert_eq!(rec().finished(), Duration::from_millis(605));
    }
}

crate::sql_text!(TokenSource);
