//! The client for vLLM's OpenAI-compatible API: endpoint checks and one streamed request,
//! measured. It classifies every way a request can end (DESIGN.md "Outcomes").
//!
//! A `Client` reaches endpoints anywhere its policy allows with the default TLS trust and no
//! key; [`Client::for_endpoint`] gives one bound to an endpoint's access (API key, extra headers,
//! CA certificate, hosted flag, retry policy), for its checks and its runs.

mod about;
mod allow;
pub mod batch;
mod checks;
pub mod chunk;
pub mod http1;
pub mod probe;
pub mod sse;
mod stream;
pub mod tls;

pub use allow::{is_link_local, EndpointPolicy};
pub use checks::{parse_models, status_hint, ModelsReport, MAX_MODELS, MAX_MODEL_ID};
pub use stream::Measured;

use crate::http1::{BodyEnd, Encoding, Flow, Pool, Route, Target};
use crate::sse::SseParser;
use app::api::endpoints::access::{EndpointAccess, RetryPolicy};
use app::domain::dataset::DatasetItem;
use app::domain::spec::Sampling;
use app::domain::status::Outcome;
use bytes::Bytes;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use stream::StreamState;

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
    /// The endpoint's https settings cannot be used (its CA certificate).
    #[error("{reason}")]
    Tls { reason: String },
}

#[derive(Clone)]
pub struct Client {
    /// Endpoint checks, /metrics, /tokenize (with this client's TLS trust).
    http: reqwest::Client,
    /// The checks' client with the default TLS trust, shared by every bound client without a CA.
    base_http: reqwest::Client,
    /// The measured requests (see `http1`: kernel receive times, one task per request).
    pool: Arc<Pool>,
    /// Where endpoints may point.
    policy: Arc<EndpointPolicy>,
    /// How this client reaches its endpoint.
    bound: Arc<Bound>,
    /// Access held only in memory, by base URL: a CLI run's key from the environment, never
    /// written to the database.
    remembered: Arc<RwLock<HashMap<String, EndpointAccess>>>,
}

/// An endpoint's access, ready to use.
struct Bound {
    route: Route,
    /// The key (marked sensitive) and extra headers, for the checks.
    headers: reqwest::header::HeaderMap,
    hosted: bool,
    retry: RetryPolicy,
    /// Requests sent again under the retry policy, and how many of those were 429s.
    retries: AtomicU64,
    rate_limited: AtomicU64,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

/// The checks' HTTP client with `tls` trust.
fn build_http(policy: &Arc<EndpointPolicy>, tls: &rustls::ClientConfig) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(4096)
        .connect_timeout(Duration::from_secs(10))
        // The measured streams (http1) connect directly; so do the checks, to reach the same server.
        .no_proxy()
        // A redirect could lead a check anywhere: it is reported, not followed.
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(allow::PolicyResolver(policy.clone())))
        .use_preconfigured_tls(tls.clone())
        .build()
}

/// A pool partition for a CA certificate (FNV-1a of its text; 0 is the default trust's).
fn partition(ca_pem: Option<&str>) -> u64 {
    ca_pem.map_or(0, |pem| {
        pem.bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
            })
            .max(1)
    })
}

/// The route and headers for `access`.
fn bind(policy: &Arc<EndpointPolicy>, access: &EndpointAccess, mut route: Route) -> Result<Bound, ClientError> {
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
    let mut lines = Vec::new();
    let mut headers = HeaderMap::new();
    let bad = |what: &str| ClientError::Tls {
        reason: format!("{what} cannot be sent in an HTTP header"),
    };
    if let Some(key) = &access.api_key {
        let mut v = HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| bad("the API key"))?;
        v.set_sensitive(true);
        headers.insert(AUTHORIZATION, v);
        lines.extend_from_slice(b"authorization: Bearer ");
        lines.extend_from_slice(key.expose().as_bytes());
        lines.extend_from_slice(b"\r\n");
    }
    for h in &access.headers {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| bad("a header name"))?;
        let mut v = HeaderValue::from_str(&h.value).map_err(|_| bad("a header value"))?;
        v.set_sensitive(true);
        headers.insert(name, v);
        lines.extend_from_slice(format!("{}: {}\r\n", h.name, h.value).as_bytes());
    }
    let policy = policy.clone();
    route.headers = Arc::from(lines);
    route.allow = Some(Arc::new(move |host, addrs| policy.decide(host, addrs)));
    Ok(Bound {
        route,
        headers,
        hosted: access.hosted,
        retry: access.retry,
        retries: AtomicU64::new(0),
        rate_limited: AtomicU64::new(0),
    })
}

impl Client {
    /// A client for endpoints anywhere but link-local addresses.
    pub fn new() -> Self {
        Self::with_policy(EndpointPolicy::default())
    }

    /// A client that reaches only the endpoints `policy` allows.
    pub fn with_policy(policy: EndpointPolicy) -> Self {
        let policy = Arc::new(policy);
        let tls = tls::default_config();
        let http = build_http(&policy, &tls).expect("the HTTP client's fixed settings are valid");
        let bound = bind(&policy, &EndpointAccess::default(), Route::plain(tls)).expect("no key, no headers");
        Client {
            base_http: http.clone(),
            http,
            pool: Arc::new(Pool::new(Duration::from_secs(10))),
            policy,
            bound: Arc::new(bound),
            remembered: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    /// A client bound to the endpoint at `base_url` reached with `stored` (what the database
    /// holds), and over it whatever [`Client::remember`] holds for that URL. Connections are
    /// shared with this client's other bound clients.
    pub fn for_endpoint(&self, base_url: &str, stored: &EndpointAccess) -> Result<Client, ClientError> {
        let access = match self.remembered.read().ok().and_then(|m| m.get(base_url).cloned()) {
            Some(over) => stored.overlaid(&over),
            None => stored.clone(),
        };
        let (tls, http) = match &access.ca_pem {
            None => (tls::default_config(), self.base_http.clone()),
            Some(pem) => {
                let tls = tls::config_with_ca(pem).map_err(|reason| ClientError::Tls { reason })?;
                let http = build_http(&self.policy, &tls).map_err(|e| ClientError::Tls { reason: chain(&e) })?;
                (tls, http)
            }
        };
        let route = Route {
            partition: partition(access.ca_pem.as_deref()),
            tls,
            headers: Arc::from(&b""[..]),
            allow: None,
        };
        Ok(Client {
            http,
            bound: Arc::new(bind(&self.policy, &access, route)?),
            ..self.clone()
        })
    }

    /// Keep `access` in memory for the endpoint at `base_url` (a CLI run's key): every client
    /// bound to it from this one (or its clones) uses it, over what the database holds.
    pub fn remember(&self, base_url: &str, access: EndpointAccess) {
        if let Ok(mut m) = self.remembered.write() {
            m.insert(base_url.to_string(), access);
        }
    }

    pub fn endpoint_policy(&self) -> &EndpointPolicy {
        &self.policy
    }

    /// The bound endpoint is a hosted provider (no /health, /metrics or /tokenize expected).
    pub fn hosted(&self) -> bool {
        self.bound.hosted
    }

    /// The bound endpoint's retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.bound.retry
    }

    /// Requests sent again under the retry policy so far, and how many of them answered 429.
    pub fn retry_counts(&self) -> (u64, u64) {
        (
            self.bound.retries.load(Ordering::Relaxed),
            self.bound.rate_limited.load(Ordering::Relaxed),
        )
    }

    /// Send one prepared request, streamed, and measure it. Never fails: every ending is an
    /// outcome. `timeout` bounds the whole request, retries included. Under the endpoint's retry
    /// policy a 429 or 503 answer is sent again after its `Retry-After` (or 1, 2, 4 … s), and the
    /// last attempt is what is measured; without one (the default) it is measured as it came.
    pub async fn send(&self, url: &str, body: Bytes, timeout: Duration) -> Measured {
        let deadline = Instant::now() + timeout;
        let retry = self.bound.retry;
        let mut attempt = 0u32;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (m, retry_after) = self.send_once(url, body.clone(), left).await;
            let status = m.http_status.filter(|_| m.outcome == Outcome::HttpError);
            if !matches!(status, Some(429 | 503)) || attempt >= retry.max_retries {
                return m;
            }
            let wait = retry_after
                .as_deref()
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or(Duration::from_secs(1 << attempt.min(6)));
            if wait > Duration::from_secs(u64::from(retry.max_wait_s)) || Instant::now() + wait >= deadline {
                return m;
            }
            self.bound.retries.fetch_add(1, Ordering::Relaxed);
            if status == Some(429) {
                self.bound.rate_limited.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One attempt of [`Client::send`], with the answer's `Retry-After`, if any.
    async fn send_once(&self, url: &str, body: Bytes, timeout: Duration) -> (Measured, Option<String>) {
        let sent = Instant::now();
        let mut st = StreamState::new(sent);
        let mut retry_after = None;
        let finished = tokio::time::timeout(timeout, self.stream(url, body, &mut st, &mut retry_after)).await;
        if finished.is_err() && !st.ended() {
            st.fail(
                Outcome::Timeout,
                None,
                format!("no complete answer within {} s", timeout.as_secs_f64()),
            );
            st.last_byte = Instant::now();
        }
        (st.into_measured(), retry_after)
    }

    async fn stream(&self, url: &str, body: Bytes, st: &mut StreamState, retry_after: &mut Option<String>) -> Option<()> {
        let route = &self.bound.route;
        let target = match Target::parse(url) {
            Ok(t) => t,
            Err(e) => {
                st.last_byte = Instant::now();
                st.fail(Outcome::ConnectionError, None, e);
                return None;
            }
        };
        let (mut conn, head) = match self.pool.request(route, &target, &body).await {
            Ok(r) => r,
            Err(e) => {
                st.last_byte = Instant::now();
                st.fail(Outcome::ConnectionError, None, e);
                return None;
            }
        };
        let status = head.status;
        st.http_status = Some(status);
        retry_after.clone_from(&head.retry_after);
        if let Encoding::Other(name) = &head.encoding {
            st.last_byte = conn.received_at();
            st.fail(
                Outcome::StreamError,
                Some(status),
                format!(
                    "the answer came compressed as '{name}', which Bakeoff does not decode (it asks for identity, and decodes gzip and deflate): is a gateway compressing?"
                ),
            );
            return None;
        }
        if !resp_ok(status) {
            let mut text = Vec::new();
            let _ = conn
                .read_content(&head, |data, _| {
                    let room = ERROR_BODY_MAX.saturating_sub(text.len());
                    text.extend_from_slice(&data[..data.len().min(room)]);
                    Flow::More
                })
                .await;
            st.last_byte = conn.received_at();
            let message = error_message(&String::from_utf8_lossy(&text));
            st.fail(
                Outcome::HttpError,
                Some(status),
                http_error(status, head.retry_after.as_deref(), message),
            );
            return None;
        }
        let mut parser = SseParser::new();
        let read = conn
            .read_content(&head, |data, at| {
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
                    self.pool.checkin(route, &target, conn);
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

/// The error of a non-2xx answer: the server's message, with what the status means where a
/// person must act (a key; a rate limit and its `Retry-After`).
fn http_error(status: u16, retry_after: Option<&str>, message: String) -> String {
    let retry = match retry_after {
        Some(r) => format!("Retry-After: {r}"),
        None => "no Retry-After".into(),
    };
    match status {
        401 => format!("HTTP 401: the endpoint refused the API key, or wants one (set the endpoint's key): {message}"),
        403 => format!("HTTP 403: access refused (the API key's rights, or a gateway's rules): {message}"),
        429 => format!("rate-limited (HTTP 429, {retry}): {message}"),
        _ if retry_after.is_some() => format!("{message} (HTTP {status}, {retry})"),
        _ => message,
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

pub use chunk::error_message;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_nested_flat_and_plain() {
        assert_eq!(error_message(r#"{"error":{"message":"boom","type":"x","code":400}}"#), "boom");
        assert_eq!(error_message(r#"{"object":"error","message":"old","type":"x","code":400}"#), "old");
        assert_eq!(error_message("Internal Server Error"), "Internal Server Error");
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
