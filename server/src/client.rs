//! The client for vLLM's OpenAI-compatible API: endpoint checks and one streamed request,
//! measured. It classifies every way a request can end (DESIGN.md "Outcomes").

mod allow;

pub use allow::{is_link_local, EndpointPolicy};

use crate::http1::{BodyEnd, Flow, Pool, Target};
use crate::sse::SseParser;
use app::api::types::ServedModel;
use app::domain::dataset::DatasetItem;
use app::domain::record::Tokens;
use app::domain::spec::Sampling;
use app::domain::status::Outcome;
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("could not connect to {url} ({reason}). Is the server running there? For vLLM: `vllm serve MODEL --host 0.0.0.0 --port PORT`")]
    Connect { url: String, reason: String },
    /// `message` says what the status means: never the body (whatever answered wrote it).
    #[error("{url} answered HTTP {status}: {message}")]
    Http { url: String, status: u16, message: String },
    #[error("{url} did not answer within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("{url} answered something that is not the OpenAI API: {reason}")]
    Protocol { url: String, reason: String },
    /// The endpoint policy refuses the URL (see `allow`).
    #[error("{reason}")]
    NotAllowed { url: String, reason: String },
}

/// What `/v1/models` says.
#[derive(Clone, Debug)]
pub struct ModelsReport {
    pub models: Vec<ServedModel>,
    /// `owned_by: "bakeoff-simulator"`: the endpoint is Bakeoff's simulator.
    pub simulated: bool,
}

/// One request as measured, before it is placed on the run's time line.
#[derive(Clone, Debug)]
pub struct Measured {
    pub outcome: Outcome,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub finish_reason: Option<String>,
    pub prompt_tokens: Option<Tokens>,
    pub completion_tokens: Option<Tokens>,
    pub sent: Instant,
    pub ttft: Option<Duration>,
    pub e2e: Duration,
    pub content_chunks: u32,
    pub itl: Vec<Duration>,
    pub response: String,
}

#[derive(Clone)]
pub struct Client {
    /// Endpoint checks, /metrics, /tokenize.
    http: reqwest::Client,
    /// The measured requests (see `http1`: kernel receive times, one task per request).
    pool: Arc<Pool>,
    /// Where endpoints may point.
    policy: Arc<EndpointPolicy>,
}

/// The most models a well-formed `/v1/models` answer may list.
pub const MAX_MODELS: usize = 1000;
/// The longest model id accepted from `/v1/models`.
pub const MAX_MODEL_ID: usize = 256;
/// The most of a check's answer (`/v1/models`, `/metrics`) that is read.
const ANSWER_MAX: usize = 4 << 20;

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A client for endpoints anywhere but link-local addresses.
    pub fn new() -> Self {
        Self::with_policy(EndpointPolicy::default())
    }

    /// A client that reaches only the endpoints `policy` allows.
    pub fn with_policy(policy: EndpointPolicy) -> Self {
        let policy = Arc::new(policy);
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(4096)
            .connect_timeout(Duration::from_secs(10))
            // The measured streams (http1) connect directly; so do the checks, to reach the same server.
            .no_proxy()
            // A redirect could lead a check anywhere: it is reported, not followed.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(allow::PolicyResolver(policy.clone())))
            .build()
            .expect("the HTTP client's fixed settings are valid");
        Client {
            http,
            pool: Arc::new(Pool::new(Duration::from_secs(10))),
            policy,
        }
    }

    pub fn endpoint_policy(&self) -> &EndpointPolicy {
        &self.policy
    }

    /// May `url` be reached (`--endpoint-allow`, never link-local)? Resolves its host name.
    pub async fn check_allowed(&self, url: &str) -> Result<(), ClientError> {
        self.policy.check(url).await.map_err(|r| match r {
            allow::Refusal::Resolve(reason) => ClientError::Connect { url: url.into(), reason },
            allow::Refusal::Denied(reason) => ClientError::NotAllowed { url: url.into(), reason },
        })
    }

    /// `GET /health`: Ok on 200.
    pub async fn health(&self, base_url: &str) -> Result<(), ClientError> {
        let url = format!("{base_url}/health");
        let resp = self.get(&url, Duration::from_secs(10)).await?;
        let status = resp.status().as_u16();
        if status == 200 {
            Ok(())
        } else {
            Err(ClientError::Http {
                url,
                status,
                message: status_hint(status).into(),
            })
        }
    }

    /// `GET /v1/models`: the models served and their `max_model_len`. Only a well-formed answer
    /// counts: an object with a `data` list (at most [`MAX_MODELS`]) of objects, each with a
    /// string `id` of 1 to [`MAX_MODEL_ID`] characters and no control characters.
    pub async fn models(&self, base_url: &str) -> Result<ModelsReport, ClientError> {
        let url = format!("{base_url}/v1/models");
        let text = self.get_text(&url, Duration::from_secs(10)).await?;
        parse_models(&text).map_err(|reason| ClientError::Protocol { url, reason })
    }

    /// `GET /metrics` (Prometheus text), for the server-side series.
    pub async fn metrics(&self, base_url: &str) -> Result<String, ClientError> {
        let url = format!("{base_url}/metrics");
        self.get_text(&url, Duration::from_secs(5)).await
    }

    /// GET a body as text (at most [`ANSWER_MAX`] bytes, all within `timeout`); anything but 200
    /// is an error naming the status.
    async fn get_text(&self, url: &str, timeout: Duration) -> Result<String, ClientError> {
        let read = async {
            let mut resp = self.get(url, timeout).await?;
            let status = resp.status().as_u16();
            if status != 200 {
                return Err(ClientError::Http {
                    url: url.to_string(),
                    status,
                    message: status_hint(status).into(),
                });
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| ClientError::Connect {
                url: url.to_string(),
                reason: format!("the answer broke off: {}", reason(&e)),
            })? {
                if body.len() + chunk.len() > ANSWER_MAX {
                    return Err(ClientError::Protocol {
                        url: url.to_string(),
                        reason: format!("the answer is larger than {} MiB", ANSWER_MAX >> 20),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            String::from_utf8(body).map_err(|_| ClientError::Protocol {
                url: url.to_string(),
                reason: "the answer is not UTF-8 text".into(),
            })
        };
        tokio::time::timeout(timeout, read).await.unwrap_or_else(|_| {
            Err(ClientError::Timeout {
                url: url.to_string(),
                secs: timeout.as_secs(),
            })
        })
    }

    /// `POST /tokenize` (vLLM): the prompt's exact token count and the server's `max_model_len`.
    /// `Ok(None)` when the server has no such endpoint.
    pub async fn tokenize(&self, base_url: &str, model: &str, body: &Value) -> Result<Option<(u64, Option<u64>)>, ClientError> {
        let url = format!("{base_url}/tokenize");
        self.check_allowed(&url).await?;
        let mut req = serde_json::json!({"model": model});
        for key in ["messages", "prompt"] {
            if let Some(v) = body.get(key) {
                req[key] = v.clone();
            }
        }
        let resp = match tokio::time::timeout(Duration::from_secs(20), self.http.post(&url).json(&req).send()).await {
            Err(_) => return Err(ClientError::Timeout { url, secs: 20 }),
            Ok(Err(e)) => return Err(ClientError::Connect { url, reason: reason(&e) }),
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        if status == 404 || status == 405 {
            return Ok(None);
        }
        if status != 200 {
            return Err(ClientError::Http {
                url,
                status,
                message: status_hint(status).into(),
            });
        }
        let text = resp.text().await.unwrap_or_default();
        let v: Value = serde_json::from_str(&text).map_err(|e| ClientError::Protocol {
            url: url.clone(),
            reason: format!("not JSON ({e})"),
        })?;
        let count = v.get("count").and_then(Value::as_u64).ok_or_else(|| ClientError::Protocol {
            url,
            reason: "no `count`".into(),
        })?;
        Ok(Some((count, v.get("max_model_len").and_then(Value::as_u64))))
    }

    /// GET `url` if the endpoint policy allows it; redirects are answers, not followed.
    async fn get(&self, url: &str, timeout: Duration) -> Result<reqwest::Response, ClientError> {
        self.check_allowed(url).await?;
        match tokio::time::timeout(timeout, self.http.get(url).send()).await {
            Err(_) => Err(ClientError::Timeout {
                url: url.into(),
                secs: timeout.as_secs(),
            }),
            Ok(Err(e)) => Err(ClientError::Connect {
                url: url.into(),
                reason: reason(&e),
            }),
            Ok(Ok(r)) => Ok(r),
        }
    }

    /// Send one prepared request, streamed, and measure it. Never fails: every ending is an
    /// outcome. `timeout` bounds the whole request.
    pub async fn send(&self, url: &str, body: Bytes, timeout: Duration) -> Measured {
        let sent = Instant::now();
        let mut st = StreamState::new(sent);
        let finished = tokio::time::timeout(timeout, self.stream(url, body, &mut st)).await;
        if finished.is_err() && !st.ended() {
            st.fail(
                Outcome::Timeout,
                None,
                format!("no complete answer within {} s", timeout.as_secs_f64()),
            );
            st.last_byte = Instant::now();
        }
        st.into_measured()
    }

    async fn stream(&self, url: &str, body: Bytes, st: &mut StreamState) -> Option<()> {
        let target = match Target::parse(url) {
            Ok(t) => t,
            Err(e) => {
                st.last_byte = Instant::now();
                st.fail(Outcome::ConnectionError, None, e);
                return None;
            }
        };
        let (mut conn, head) = match self.pool.request(&target, &body).await {
            Ok(r) => r,
            Err(e) => {
                st.last_byte = Instant::now();
                st.fail(Outcome::ConnectionError, None, e);
                return None;
            }
        };
        let status = head.status;
        st.http_status = Some(status);
        if !resp_ok(status) {
            let mut text = Vec::new();
            let _ = conn
                .read_body(head.framing, |data, _| {
                    let room = ERROR_BODY_MAX.saturating_sub(text.len());
                    text.extend_from_slice(&data[..data.len().min(room)]);
                    Flow::More
                })
                .await;
            st.last_byte = conn.received_at();
            st.fail(Outcome::HttpError, Some(status), error_message(&String::from_utf8_lossy(&text)));
            return None;
        }
        let mut parser = SseParser::new();
        let read = conn
            .read_body(head.framing, |data, at| {
                // `at`: when the bytes arrived (the kernel's receive time), not when they were read.
                st.last_byte = at;
                parser.feed(data, |event| st.on_event(event, at));
                if st.done {
                    Flow::Drain // only the end of the body is left; then the connection is reused
                } else if st.ended() {
                    Flow::Stop // a failed stream's connection is not reused
                } else {
                    Flow::More
                }
            })
            .await;
        match read {
            Ok(BodyEnd::Complete) => {
                if !st.ended() {
                    if st.finish_reason.is_some() {
                        st.done = true;
                    } else {
                        st.fail(
                            Outcome::StreamError,
                            Some(status),
                            "the stream ended without [DONE] or a finish_reason".into(),
                        );
                    }
                }
                if st.done && head.keep_alive {
                    self.pool.checkin(&target, conn);
                }
            }
            Ok(BodyEnd::Stopped) => {}
            Err(e) => {
                if !st.ended() {
                    st.last_byte = Instant::now();
                    st.fail(Outcome::ConnectionError, Some(status), format!("connection lost mid-stream: {e}"));
                    return None;
                }
            }
        }
        Some(())
    }
}

/// How much of an error response's body is kept for its message.
const ERROR_BODY_MAX: usize = 64 * 1024;

fn resp_ok(status: u16) -> bool {
    (200..300).contains(&status)
}

/// An error and its sources, joined (the sources name the cause).
fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    msg
}

/// The request body for `item`, as sent: the run's model, streaming with usage, and the run's
/// sampling overrides.
pub fn prepare_body(item: &DatasetItem, model: &str, sampling: &Sampling) -> Bytes {
    let mut body = item.body.clone();
    if let Some(obj) = body.as_object_mut() {
        obj.insert("model".into(), Value::from(model));
        obj.insert("stream".into(), Value::Bool(true));
        obj.insert("stream_options".into(), serde_json::json!({"include_usage": true}));
        if let Some(m) = sampling.max_tokens {
            obj.remove("max_completion_tokens");
            obj.insert("max_tokens".into(), Value::from(m));
        }
        if let Some(t) = sampling.temperature {
            obj.insert("temperature".into(), Value::from(t));
        }
    }
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

/// A person-readable reason for a reqwest failure (its source chain, which names the cause).
fn reason(e: &reqwest::Error) -> String {
    if e.is_connect() {
        let cause = std::error::Error::source(e).map(chain).unwrap_or_default();
        format!("connection refused or unreachable: {cause}")
    } else {
        chain(e)
    }
}

/// What an HTTP status means for an endpoint check, for people fixing the URL. The body is not
/// shown: whatever answered wrote it.
pub fn status_hint(status: u16) -> &'static str {
    match status {
        301 | 302 | 303 | 307 | 308 => {
            "a redirect, which Bakeoff does not follow: give the address of the server itself (host, port and path prefix)"
        }
        401 => "the server wants an API key (e.g. vLLM started with --api-key)",
        403 => "access refused (an API key, or a proxy's rules?)",
        404 => "no such path: is this the base URL of an OpenAI-compatible server (without /v1)?",
        405 => "method not allowed: is this an OpenAI-compatible server?",
        429 => "too many requests (rate-limited): try again later",
        502 | 504 => "a proxy could not reach the server behind it",
        503 => "unavailable (still loading the model?)",
        500..=599 => "the server failed (its log says why)",
        _ => "not the answer an OpenAI-compatible server gives",
    }
}

/// Read a `/v1/models` answer (see [`Client::models`]); the reason names what is wrong without
/// repeating what the server wrote.
pub fn parse_models(text: &str) -> Result<ModelsReport, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("/v1/models is not JSON ({e})"))?;
    let data = v
        .as_object()
        .and_then(|o| o.get("data"))
        .and_then(Value::as_array)
        .ok_or("/v1/models is not an object with a `data` list of models")?;
    if data.len() > MAX_MODELS {
        return Err(format!(
            "/v1/models lists {} models, more than the {MAX_MODELS} Bakeoff reads",
            data.len()
        ));
    }
    let mut simulated = !data.is_empty();
    let mut models = Vec::with_capacity(data.len());
    for (i, m) in data.iter().enumerate() {
        let id = m
            .as_object()
            .and_then(|o| o.get("id"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("model {} in /v1/models has no string `id`", i + 1))?;
        if id.trim().is_empty() || id.chars().count() > MAX_MODEL_ID || id.chars().any(char::is_control) {
            return Err(format!(
                "model {} in /v1/models has an `id` that is empty, longer than {MAX_MODEL_ID} characters or holds control characters",
                i + 1
            ));
        }
        simulated &= m.get("owned_by").and_then(Value::as_str) == Some(crate::sim::OWNER);
        models.push(ServedModel {
            id: id.to_string(),
            max_model_len: m.get("max_model_len").and_then(Value::as_u64),
        });
    }
    Ok(ModelsReport { models, simulated })
}

/// The message of an OpenAI/vLLM error body: nested `{"error": {"message"}}` (new vLLM),
/// flat `{"object": "error", "message"}` (old vLLM), or the raw text.
pub fn error_message(text: &str) -> String {
    let short = |s: &str| s.chars().take(500).collect::<String>();
    match serde_json::from_str::<Value>(text) {
        Ok(v) => v
            .get("error")
            .and_then(|e| {
                e.get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| e.as_str().map(str::to_string))
            })
            .or_else(|| v.get("message").and_then(Value::as_str).map(str::to_string))
            .or_else(|| v.get("detail").map(|d| d.to_string()))
            .map(|m| short(&m))
            .unwrap_or_else(|| short(text)),
        Err(_) => short(text.trim()),
    }
}

/// What has been seen of one stream so far.
struct StreamState {
    sent: Instant,
    last_byte: Instant,
    first_content: Option<Instant>,
    last_content: Option<Instant>,
    itl: Vec<Duration>,
    chunks: u32,
    text: String,
    finish_reason: Option<String>,
    usage: Option<(Option<u64>, Option<u64>)>,
    http_status: Option<u16>,
    done: bool,
    failure: Option<(Outcome, String)>,
}

impl StreamState {
    fn new(sent: Instant) -> Self {
        StreamState {
            sent,
            last_byte: sent,
            first_content: None,
            last_content: None,
            itl: Vec::new(),
            chunks: 0,
            text: String::new(),
            finish_reason: None,
            usage: None,
            http_status: None,
            done: false,
            failure: None,
        }
    }

    fn ended(&self) -> bool {
        self.done || self.failure.is_some()
    }

    fn fail(&mut self, outcome: Outcome, status: Option<u16>, message: String) {
        if self.failure.is_none() && !self.done {
            self.failure = Some((outcome, message));
            if status.is_some() {
                self.http_status = status;
            }
        }
    }

    fn on_event(&mut self, data: &[u8], now: Instant) {
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
        if let Some(c) = chunk.content.filter(|c| !c.is_empty()) {
            match self.last_content {
                None => self.first_content = Some(now),
                Some(prev) => self.itl.push(now - prev),
            }
            self.last_content = Some(now);
            self.chunks += 1;
            self.text.push_str(&c);
        }
        if let Some(f) = chunk.finish_reason {
            self.finish_reason = Some(f.into_owned());
        }
        if let Some(u) = chunk.usage {
            self.usage = Some((u.prompt_tokens, u.completion_tokens));
        }
    }

    fn into_measured(self) -> Measured {
        let (outcome, error) = match self.failure {
            Some((o, m)) => (o, Some(m)),
            None if self.finish_reason.as_deref() == Some("length") => (Outcome::Truncated, None),
            None => (Outcome::Ok, None),
        };
        let (prompt, completion) = self.usage.unwrap_or((None, None));
        Measured {
            outcome,
            http_status: self.http_status,
            error,
            finish_reason: self.finish_reason,
            prompt_tokens: prompt.map(Tokens),
            completion_tokens: completion.map(Tokens),
            sent: self.sent,
            ttft: self.first_content.map(|t| t - self.sent),
            e2e: self.last_byte.saturating_duration_since(self.sent),
            content_chunks: self.chunks,
            itl: self.itl,
            response: self.text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_model_list_is_read() {
        let r = parse_models(r#"{"object":"list","data":[{"id":"m","max_model_len":4096,"owned_by":"vllm"}]}"#).expect("valid");
        assert_eq!(r.models.len(), 1);
        assert_eq!(r.models[0].id, "m");
        assert_eq!(r.models[0].max_model_len, Some(4096));
        assert!(!r.simulated);
    }

    #[test]
    fn a_malformed_model_list_is_refused_without_echoing_it() {
        for bad in [
            "SECRET-BODY",
            r#"["SECRET-BODY"]"#,
            r#"{"data": "SECRET-BODY"}"#,
            r#"{"data": ["SECRET-BODY"]}"#,
            r#"{"data": [{"id": 7, "name": "SECRET-BODY"}]}"#,
            r#"{"data": [{"id": ""}]}"#,
            "{\"data\": [{\"id\": \"SECRET\\nBODY\"}]}",
        ] {
            let e = parse_models(bad).expect_err(bad);
            assert!(!e.contains("SECRET"), "{e}");
        }
        let long = format!(r#"{{"data": [{{"id": "{}"}}]}}"#, "x".repeat(MAX_MODEL_ID + 1));
        assert!(parse_models(&long).is_err());
        let many = format!(r#"{{"data": [{}]}}"#, vec![r#"{"id":"m"}"#; MAX_MODELS + 1].join(","));
        assert!(parse_models(&many).expect_err("too many").contains("1000"));
    }

    #[test]
    fn status_hints_name_the_likely_cause() {
        assert!(status_hint(401).contains("API key"));
        assert!(status_hint(302).contains("redirect"));
        assert!(status_hint(500).contains("failed"));
    }

    #[test]
    fn error_bodies_nested_flat_and_plain() {
        assert_eq!(error_message(r#"{"error":{"message":"boom","type":"x","code":400}}"#), "boom");
        assert_eq!(error_message(r#"{"object":"error","message":"old","type":"x","code":400}"#), "old");
        assert_eq!(error_message("Internal Server Error"), "Internal Server Error");
    }

    #[test]
    fn a_stream_with_role_chunk_then_content_measures_ttft_at_content() {
        let t0 = Instant::now();
        let mut st = StreamState::new(t0);
        st.on_event(
            br#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#,
            t0 + Duration::from_millis(5),
        );
        st.on_event(br#"{"choices":[{"delta":{"content":"Hi"}}]}"#, t0 + Duration::from_millis(50));
        st.on_event(
            br#"{"choices":[{"delta":{"content":" there"},"finish_reason":"length"}]}"#,
            t0 + Duration::from_millis(70),
        );
        st.on_event(
            br#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#,
            t0 + Duration::from_millis(71),
        );
        st.on_event(b"[DONE]", t0 + Duration::from_millis(72));
        st.last_byte = t0 + Duration::from_millis(72);
        let m = st.into_measured();
        assert_eq!(m.outcome, Outcome::Truncated);
        assert_eq!(m.ttft, Some(Duration::from_millis(50)));
        assert_eq!(m.itl, vec![Duration::from_millis(20)]);
        assert_eq!(m.content_chunks, 2);
        assert_eq!(m.completion_tokens, Some(Tokens(2)));
        assert_eq!(m.response, "Hi there");
        assert_eq!(m.e2e, Duration::from_millis(72));
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
        let t0 = Instant::now();
        let mut st = StreamState::new(t0);
        st.on_event(br#"{"choices":[{"text":"x","finish_reason":"stop"}]}"#, t0);
        st.on_event(b"[DONE]", t0);
        let m = st.into_measured();
        assert_eq!(m.outcome, Outcome::Ok);
        assert_eq!(m.completion_tokens, None);
    }

    #[test]
    fn the_body_gets_the_run_model_streaming_and_overrides() {
        let item = DatasetItem {
            custom_id: "a".into(),
            url: "/v1/chat/completions".into(),
            body: serde_json::json!({"model": "other", "messages": [], "max_tokens": 1000}),
        };
        let b = prepare_body(
            &item,
            "m",
            &Sampling {
                max_tokens: Some(7),
                temperature: Some(0.0),
            },
        );
        let v: Value = serde_json::from_slice(&b).expect("json");
        assert_eq!(v["model"], "m");
        assert_eq!(v["stream"], true);
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert_eq!(v["max_tokens"], 7);
        assert_eq!(v["temperature"], 0.0);
    }
}
