//! What one streamed answer measured: every chunk's arrival fed to a `StreamState`, which keeps
//! the times (first generated token, first answer token, gaps), the answer and the reasoning
//! apart, the usage, and how the stream ended.
//!
//! A generated token is answer content, reasoning (`delta.reasoning`, older vLLM
//! `delta.reasoning_content`) or a tool call (DESIGN.md "Definitions"); vLLM's first chat chunk
//! carries only the role and is none of them.

use app::domain::record::{Reasoning, TokenSource, Tokens};
use app::domain::status::Outcome;
use std::time::{Duration, Instant};

/// One request as measured, before it is placed on the run's time line.
#[derive(Clone, Debug)]
pub struct Measured {
    pub outcome: Outcome,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub finish_reason: Option<String>,
    pub prompt_tokens: Option<Tokens>,
    /// The server's count: reasoning included.
    pub completion_tokens: Option<Tokens>,
    pub sent: Instant,
    /// Send -> first chunk carrying a generated token of any kind.
    pub ttft: Option<Duration>,
    pub e2e: Duration,
    /// Chunks that carried a generated token.
    pub content_chunks: u32,
    /// Gaps between consecutive chunks that carried a generated token.
    pub itl: Vec<Duration>,
    /// The answer (content) only.
    pub response: String,
    /// The reasoning, its token count and the answer's first token; `None` if the model did not
    /// reason.
    pub reasoning: Option<Reasoning>,
}

/// What has been seen of one stream so far.
pub(super) struct StreamState {
    sent: Instant,
    pub(super) last_byte: Instant,
    /// The first chunk carrying a generated token of any kind.
    first_token: Option<Instant>,
    /// The first chunk carrying answer content or a tool call.
    first_answer: Option<Instant>,
    last_token: Option<Instant>,
    itl: Vec<Duration>,
    chunks: u32,
    text: String,
    reasoning: String,
    reasoning_chunks: u32,
    pub(super) finish_reason: Option<String>,
    usage: Option<crate::chunk::Usage>,
    pub(super) http_status: Option<u16>,
    pub(super) done: bool,
    failure: Option<(Outcome, String)>,
}

impl StreamState {
    pub(super) fn new(sent: Instant) -> Self {
        StreamState {
            sent,
            last_byte: sent,
            first_token: None,
            first_answer: None,
            last_token: None,
            itl: Vec::new(),
            chunks: 0,
            text: String::new(),
            reasoning: String::new(),
            reasoning_chunks: 0,
            finish_reason: None,
            usage: None,
            http_status: None,
            done: false,
            failure: None,
        }
    }

    pub(super) fn ended(&self) -> bool {
        self.done || self.failure.is_some()
    }

    pub(super) fn fail(&mut self, outcome: Outcome, status: Option<u16>, message: String) {
        if self.failure.is_none() && !self.done {
            self.failure = Some((outcome, message));
            if status.is_some() {
                self.http_status = status;
            }
        }
    }

    pub(super) fn on_event(&mut self, data: &[u8], now: Instant) {
        if self.ended() {
            return;
        }
        if data == b"[DONE]" {
            self.done = true;
            return;
        }
        let chunk = match crate::chunk::decode(data) {
            Ok(c) => c,
            Err(e) => {
                let shown = String::from_utf8_lossy(&data[..data.len().min(120)]).into_owned();
                self.fail(Outcome::StreamError, None, format!("malformed frame ({e}): {shown}"));
                return;
            }
        };
        if let Some(err) = chunk.error {
            self.fail(Outcome::StreamError, None, format!("error frame mid-stream: {err}"));
            return;
        }
        let content = chunk.content.filter(|c| !c.is_empty());
        let reasoning = chunk.reasoning.filter(|r| !r.is_empty());
        let answer = content.is_some() || chunk.tool_call;
        if answer || reasoning.is_some() {
            match self.last_token {
                None => self.first_token = Some(now),
                Some(prev) => self.itl.push(now - prev),
            }
            self.last_token = Some(now);
            self.chunks += 1;
            if answer && self.first_answer.is_none() {
                self.first_answer = Some(now);
            }
            if let Some(r) = reasoning {
                self.reasoning_chunks += 1;
                self.reasoning.push_str(&r);
            }
            if let Some(c) = content {
                self.text.push_str(&c);
            }
        }
        if let Some(f) = chunk.finish_reason {
            self.finish_reason = Some(f.into_owned());
        }
        if let Some(u) = chunk.usage {
            self.usage = Some(u);
        }
    }

    pub(super) fn into_measured(self) -> Measured {
        let (outcome, error) = match self.failure {
            Some((o, m)) => (o, Some(m)),
            None if self.finish_reason.as_deref() == Some("length") => (Outcome::Truncated, None),
            None => (Outcome::Ok, None),
        };
        let usage = self.usage.unwrap_or_default();
        let since_sent = |t: Instant| t.saturating_duration_since(self.sent);
        // The server's count where it gives one; else the chunks that carried reasoning, at the
        // tokens a chunk carried in this answer where the server counted the completion (a
        // server sending 3 tokens a chunk is not counted a third), else one a chunk.
        let reasoning_tokens = match (usage.reasoning_tokens, self.reasoning_chunks) {
            (None | Some(0), 0) => None,
            (Some(n), _) => Some((n, TokenSource::Usage)),
            (None, n) => {
                let per_chunk = match usage.completion_tokens {
                    Some(c) if self.chunks > 0 && c >= u64::from(self.chunks) => c as f64 / f64::from(self.chunks),
                    _ => 1.0,
                };
                let estimate = (f64::from(n) * per_chunk).round() as u64;
                Some((estimate.min(usage.completion_tokens.unwrap_or(u64::MAX)), TokenSource::Counted))
            }
        };
        Measured {
            outcome,
            http_status: self.http_status,
            error,
            finish_reason: self.finish_reason,
            prompt_tokens: usage.prompt_tokens.map(Tokens),
            completion_tokens: usage.completion_tokens.map(Tokens),
            sent: self.sent,
            ttft: self.first_token.map(since_sent),
            e2e: since_sent(self.last_byte),
            content_chunks: self.chunks,
            itl: self.itl,
            response: self.text,
            reasoning: reasoning_tokens.map(|(n, source)| Reasoning {
                answer_ttft: self.first_answer.map(since_sent),
                tokens: Tokens(n),
                tokens_source: source,
                text: self.reasoning,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `(ms after send, frame)` pairs, then `[DONE]`; the last byte at the last frame.
    fn measure(frames: &[(u64, &str)]) -> Measured {
        let t0 = Instant::now();
        let mut st = StreamState::new(t0);
        let mut last = 0;
        for (ms, data) in frames {
            st.on_event(data.as_bytes(), t0 + Duration::from_millis(*ms));
            last = *ms;
        }
        st.on_event(b"[DONE]", t0 + Duration::from_millis(last));
        st.last_byte = t0 + Duration::from_millis(last);
        st.into_measured()
    }

    const ROLE: &str = r#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#;

    #[test]
    fn a_stream_with_role_chunk_then_content_measures_ttft_at_content() {
        let m = measure(&[
            (5, ROLE),
            (50, r#"{"choices":[{"delta":{"content":"Hi"}}]}"#),
            (70, r#"{"choices":[{"delta":{"content":" there"},"finish_reason":"length"}]}"#),
            (72, r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#),
        ]);
        assert_eq!(m.outcome, Outcome::Truncated);
        assert_eq!(m.ttft, Some(Duration::from_millis(50)));
        assert_eq!(m.itl, vec![Duration::from_millis(20)]);
        assert_eq!(m.content_chunks, 2);
        assert_eq!(m.completion_tokens, Some(Tokens(2)));
        assert_eq!(m.response, "Hi there");
        assert_eq!(m.e2e, Duration::from_millis(72));
        assert!(m.reasoning.is_none(), "no reasoning: the answer's first token is the first token");
    }

    /// A reasoning stream in `key`'s spelling: role, three reasoning chunks, two answer chunks.
    fn reasoning_stream(key: &str, usage: &str) -> Measured {
        let r = |t: &str| format!(r#"{{"choices":[{{"index":0,"delta":{{"{key}":"{t}"}},"finish_reason":null}}]}}"#);
        let (a, b, c) = (r("Let"), r(" me"), r(" think."));
        measure(&[
            (5, ROLE),
            (40, a.as_str()),
            (44, b.as_str()),
            (48, c.as_str()),
            (60, r#"{"choices":[{"delta":{"content":"Yes"}}]}"#),
            (64, r#"{"choices":[{"delta":{"content":"."},"finish_reason":"stop"}]}"#),
            (65, usage),
        ])
    }

    #[test]
    fn reasoning_in_either_spelling_starts_ttft_and_is_kept_apart_from_the_answer() {
        let usage =
            r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":5,"completion_tokens_details":{"reasoning_tokens":3}}}"#;
        for key in ["reasoning", "reasoning_content"] {
            let m = reasoning_stream(key, usage);
            assert_eq!(m.outcome, Outcome::Ok, "{key}");
            assert_eq!(m.ttft, Some(Duration::from_millis(40)), "{key}: TTFT at the first reasoning chunk");
            assert_eq!(m.response, "Yes.", "{key}: the answer holds no reasoning");
            assert_eq!(m.content_chunks, 5, "{key}: every generated chunk counts");
            assert_eq!(m.itl.len(), 4, "{key}");
            assert_eq!(m.itl[2], Duration::from_millis(12), "{key}: the gap from reasoning to the answer");
            let r = m.reasoning.expect("reasoned");
            assert_eq!(
                r.answer_ttft,
                Some(Duration::from_millis(60)),
                "{key}: answer TTFT at the first content"
            );
            assert_eq!(r.text, "Let me think.", "{key}");
            assert_eq!((r.tokens, r.tokens_source), (Tokens(3), TokenSource::Usage), "{key}");
            assert_eq!(m.completion_tokens, Some(Tokens(5)));
        }
    }

    #[test]
    fn reasoning_tokens_are_counted_when_usage_has_no_details() {
        let m = reasoning_stream("reasoning", r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":5}}"#);
        let r = m.reasoning.expect("reasoned");
        assert_eq!((r.tokens, r.tokens_source), (Tokens(3), TokenSource::Counted));
        let m = reasoning_stream(
            "reasoning",
            r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":5,"completion_tokens_details":null}}"#,
        );
        assert_eq!(m.reasoning.map(|r| r.tokens_source), Some(TokenSource::Counted));
        // Three tokens a chunk (the completion counted 15 over 5 chunks): 3 reasoning chunks are
        // 9 tokens, not 3.
        let m = reasoning_stream("reasoning", r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":15}}"#);
        let r = m.reasoning.expect("reasoned");
        assert_eq!((r.tokens, r.tokens_source), (Tokens(9), TokenSource::Counted));
    }

    #[test]
    fn the_usage_count_wins_over_the_chunk_count() {
        // Two tokens per reasoning chunk: the server's 6 is the count, not the 3 chunks.
        let m = reasoning_stream(
            "reasoning_content",
            r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":8,"completion_tokens_details":{"reasoning_tokens":6}}}"#,
        );
        let r = m.reasoning.expect("reasoned");
        assert_eq!((r.tokens, r.tokens_source), (Tokens(6), TokenSource::Usage));
    }

    #[test]
    fn cut_off_while_reasoning_has_no_answer_ttft() {
        let m = measure(&[
            (5, ROLE),
            (30, r#"{"choices":[{"delta":{"reasoning":"Hmm"}}]}"#),
            (34, r#"{"choices":[{"delta":{"reasoning":" so"},"finish_reason":"length"}]}"#),
        ]);
        assert_eq!(m.outcome, Outcome::Truncated);
        assert_eq!(m.ttft, Some(Duration::from_millis(30)));
        assert_eq!(m.response, "");
        let r = m.reasoning.expect("reasoned");
        assert_eq!(r.answer_ttft, None);
        assert_eq!((r.tokens, r.tokens_source), (Tokens(2), TokenSource::Counted));
    }

    #[test]
    fn a_tool_call_is_a_generated_token_and_an_answer() {
        let m = measure(&[
            (5, ROLE),
            (
                25,
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}"#,
            ),
            (
                29,
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#,
            ),
        ]);
        assert_eq!(m.outcome, Outcome::Ok);
        assert_eq!(m.ttft, Some(Duration::from_millis(25)));
        assert_eq!(m.content_chunks, 2);
        assert!(m.reasoning.is_none());
        // After reasoning, the tool call is the answer's first token.
        let m = measure(&[
            (10, r#"{"choices":[{"delta":{"reasoning":"Call f."}}]}"#),
            (
                20,
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f"}}]},"finish_reason":"tool_calls"}]}"#,
            ),
        ]);
        assert_eq!(m.ttft, Some(Duration::from_millis(10)));
        assert_eq!(m.reasoning.and_then(|r| r.answer_ttft), Some(Duration::from_millis(20)));
    }

    #[test]
    fn a_mid_stream_error_frame_is_a_stream_error() {
        let t0 = Instant::now();
        let mut st = StreamState::new(t0);
        st.on_event(br#"{"choices":[{"delta":{"content":"a"}}]}"#, t0);
        st.on_event(br#"{"error":{"message":"engine died","code":500}}"#, t0);
        let m = st.into_measured();
        assert_eq!(m.outcome, Outcome::StreamError);
        assert!(m.error.as_deref().is_some_and(|e| e.contains("engine died")));
    }

    #[test]
    fn a_malformed_frame_is_a_stream_error() {
        let t0 = Instant::now();
        let mut st = StreamState::new(t0);
        st.on_event(b"{\"choices\": [", t0);
        assert_eq!(st.into_measured().outcome, Outcome::StreamError);
    }

    #[test]
    fn no_usage_means_unknown_tokens() {
        let m = measure(&[(0, r#"{"choices":[{"text":"x","finish_reason":"stop"}]}"#)]);
        assert_eq!(m.outcome, Outcome::Ok);
        assert_eq!(m.completion_tokens, None);
    }
}
