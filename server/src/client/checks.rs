//! Endpoint checks and the calls beside the measured streams (reqwest): the endpoint policy,
//! `/health`, a well-formed `/v1/models`, `/metrics`, `/tokenize`, each with the endpoint's key
//! and headers, asking for an uncompressed answer. Redirects are answers, not followed; a
//! failure names what failed (refused, timed out, HTTP status, certificate), never the body.

use super::{allow, chain, tls, Client, ClientError};
use app::api::types::ServedModel;
use serde_json::Value;
use std::time::Duration;

/// What `/v1/models` says.
#[derive(Clone, Debug)]
pub struct ModelsReport {
    pub models: Vec<ServedModel>,
    /// `owned_by: "bakeoff-simulator"`: the endpoint is Bakeoff's simulator.
    pub simulated: bool,
}

/// The most models a well-formed `/v1/models` answer may list.
pub const MAX_MODELS: usize = 1000;
/// The longest model id accepted from `/v1/models`.
pub const MAX_MODEL_ID: usize = 256;
/// The most of a check's answer (`/v1/models`, `/metrics`) that is read.
const ANSWER_MAX: usize = 4 << 20;

impl Client {
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
            return Ok(());
        }
        // Plain http to a TLS port: nginx answers 400 "The plain HTTP request was sent to HTTPS
        // port" (its page is read only to say so, never shown).
        let mut message = status_hint(status).to_string();
        if status == 400 && url.starts_with("http://") {
            let page = tokio::time::timeout(Duration::from_secs(2), resp.bytes()).await;
            if let Ok(Ok(page)) = page {
                let page = String::from_utf8_lossy(&page[..page.len().min(4096)]).to_ascii_lowercase();
                if page.contains("https port") || page.contains("plain http request") {
                    message = "this port speaks https: write the base URL with https://".into();
                }
            }
        }
        Err(ClientError::Http { url, status, message })
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
    pub(super) async fn get_text(&self, url: &str, timeout: Duration) -> Result<String, ClientError> {
        let read = async {
            let resp = self.get(url, timeout).await?;
            let status = resp.status().as_u16();
            if status != 200 {
                return Err(ClientError::Http {
                    url: url.to_string(),
                    status,
                    message: status_hint(status).into(),
                });
            }
            read_text(url, resp).await
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
        let send = self
            .http
            .post(&url)
            .headers(self.bound.headers.clone())
            .header(reqwest::header::ACCEPT_ENCODING, "identity")
            .json(&req)
            .send();
        let resp = match tokio::time::timeout(Duration::from_secs(20), send).await {
            Err(_) => return Err(ClientError::Timeout { url, secs: 20 }),
            Ok(Err(e)) => return Err(connect_error(&url, &e)),
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
        let text = read_text(&url, resp).await?;
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

    /// GET `url` if the endpoint policy allows it, with the endpoint's key and headers, asking
    /// for an uncompressed answer; redirects are answers, not followed.
    async fn get(&self, url: &str, timeout: Duration) -> Result<reqwest::Response, ClientError> {
        self.check_allowed(url).await?;
        let send = self
            .http
            .get(url)
            .headers(self.bound.headers.clone())
            .header(reqwest::header::ACCEPT_ENCODING, "identity")
            .send();
        match tokio::time::timeout(timeout, send).await {
            Err(_) => Err(ClientError::Timeout {
                url: url.into(),
                secs: timeout.as_secs(),
            }),
            Ok(Err(e)) => Err(connect_error(url, &e)),
            Ok(Ok(r)) => Ok(r),
        }
    }
}

/// An answer's body as text: at most [`ANSWER_MAX`] bytes, decoded when a gateway compressed
/// it although asked not to (gzip, deflate); another encoding is named.
async fn read_text(url: &str, mut resp: reqwest::Response) -> Result<String, ClientError> {
    let encoding = resp
        .headers()
        .get(reqwest::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let protocol = |reason: String| ClientError::Protocol {
        url: url.to_string(),
        reason,
    };
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| ClientError::Connect {
        url: url.to_string(),
        reason: format!("the answer broke off: {}", reason(&e)),
    })? {
        if body.len() + chunk.len() > ANSWER_MAX {
            return Err(protocol(format!("the answer is larger than {} MiB", ANSWER_MAX >> 20)));
        }
        body.extend_from_slice(&chunk);
    }
    let body = match encoding.as_str() {
        "" | "identity" => body,
        "gzip" | "x-gzip" | "deflate" => {
            use std::io::Read;
            let mut out = Vec::new();
            let limit = ANSWER_MAX as u64 + 1;
            let read = if encoding == "deflate" {
                flate2::read::ZlibDecoder::new(&body[..]).take(limit).read_to_end(&mut out)
            } else {
                flate2::read::GzDecoder::new(&body[..]).take(limit).read_to_end(&mut out)
            };
            read.map_err(|e| protocol(format!("the {encoding}-compressed answer could not be decoded ({e})")))?;
            if out.len() > ANSWER_MAX {
                return Err(protocol(format!("the answer is larger than {} MiB", ANSWER_MAX >> 20)));
            }
            out
        }
        other => {
            let shown: String = other.chars().filter(|c| c.is_ascii_graphic()).take(32).collect();
            return Err(protocol(format!(
                "the answer came compressed as '{shown}', which Bakeoff does not decode (it asks for identity, and decodes gzip and deflate)"
            )));
        }
    };
    String::from_utf8(body).map_err(|_| protocol("the answer is not UTF-8 text".into()))
}

/// A failed connection: a TLS failure says what to fix about https (the server is there: asking
/// whether it runs would point the wrong way), anything else is a connection failure.
fn connect_error(url: &str, e: &reqwest::Error) -> ClientError {
    if e.is_connect() {
        let cause = std::error::Error::source(e).map(chain).unwrap_or_default();
        if let Some(hint) = tls::hint(&cause) {
            return ClientError::Tls {
                reason: format!("could not connect to {url}: https failed: {hint} ({cause})"),
            };
        }
    }
    ClientError::Connect {
        url: url.into(),
        reason: reason(e),
    }
}

/// A person-readable reason for a reqwest failure (its source chain, which names the cause).
fn reason(e: &reqwest::Error) -> String {
    if e.is_connect() {
        let cause = std::error::Error::source(e).map(chain).unwrap_or_default();
        match tls::hint(&cause) {
            Some(hint) => format!("https failed: {hint} ({cause})"),
            None => format!("connection refused or unreachable: {cause}"),
        }
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
        401 => "the server wants an API key, or refused the one given (e.g. vLLM started with --api-key): set the endpoint's API key",
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
}
