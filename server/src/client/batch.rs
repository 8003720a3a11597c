//! A provider's Batch API (issue 14): upload the input file (`POST /v1/files`, purpose `batch`),
//! create the batch (`POST /v1/batches`), poll it, cancel it, and read its output and error
//! files line by line. Each call goes with the endpoint's key and headers, under the endpoint
//! policy, like the checks; a refusal names the status and the provider's own error message.

use super::checks::status_hint;
use super::{chain, Client, ClientError};
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// A batch as the provider describes it (OpenAI's batch object; unknown fields ignored).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct BatchObject {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub output_file_id: Option<String>,
    #[serde(default)]
    pub error_file_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<f64>,
    #[serde(default)]
    pub in_progress_at: Option<f64>,
    #[serde(default)]
    pub completed_at: Option<f64>,
    #[serde(default)]
    pub failed_at: Option<f64>,
    #[serde(default)]
    pub expired_at: Option<f64>,
    #[serde(default)]
    pub cancelled_at: Option<f64>,
    #[serde(default)]
    pub request_counts: Option<RequestCounts>,
    /// Validation errors (`{"data": [{"code", "message", "line"}]}`).
    #[serde(default)]
    pub errors: Option<Value>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
pub struct RequestCounts {
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub completed: u64,
    #[serde(default)]
    pub failed: u64,
}

impl BatchObject {
    /// The batch has ended (no more lines will be answered).
    pub fn ended(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "failed" | "expired" | "cancelled")
    }

    /// When it ended, on the provider's clock.
    pub fn ended_at(&self) -> Option<f64> {
        self.completed_at.or(self.cancelled_at).or(self.failed_at).or(self.expired_at)
    }

    /// The validation errors, as one line ("line 3: ...; ...").
    pub fn error_text(&self) -> Option<String> {
        let data = self.errors.as_ref()?.get("data")?.as_array()?;
        let parts: Vec<String> = data
            .iter()
            .take(5)
            .map(|e| {
                let msg = e.get("message").and_then(Value::as_str).unwrap_or("invalid");
                match e.get("line").and_then(Value::as_u64) {
                    Some(l) => format!("line {l}: {msg}"),
                    None => msg.to_string(),
                }
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// The most of a JSON answer (a batch object, a file object) that is read.
const ANSWER_MAX: usize = 4 << 20;
/// The most of a refusal's body that is read (its message is kept, cut to 300 characters).
const ERROR_MAX: usize = 64 << 10;
/// The longest line of an output or error file (one answer).
pub const LINE_MAX: usize = 16 << 20;

/// An id the provider gave (a file's, a batch's), checked before it goes into a URL, a log or the
/// database: letters, digits, `_`, `-`, `.`, at most 256, and not a path step (`.`, `..`).
pub fn checked_id(url: &str, what: &str, id: &str) -> Result<String, ClientError> {
    let ok = !id.is_empty()
        && id.len() <= 256
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        && !id.bytes().all(|b| b == b'.');
    if ok {
        Ok(id.to_string())
    } else {
        let shown: String = id.chars().take(40).flat_map(char::escape_default).collect();
        Err(ClientError::Protocol {
            url: url.to_string(),
            reason: format!("the provider gave a {what} id Bakeoff does not accept ('{shown}'): ids are letters, digits, _, - and ."),
        })
    }
}

/// Read at most `max` bytes of an answer; more is an error naming the limit.
async fn read_capped(url: &str, mut resp: reqwest::Response, max: usize) -> Result<String, ClientError> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| ClientError::Connect {
        url: url.to_string(),
        reason: format!("the answer broke off: {}", chain(&e)),
    })? {
        if body.len() + chunk.len() > max {
            return Err(ClientError::Protocol {
                url: url.to_string(),
                reason: format!("the answer is larger than {} KiB", max >> 10),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Calls that answer within this; an upload of a large file gets longer.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

impl Client {
    /// `POST /v1/files` (multipart: `purpose=batch`, `file`): the new file's id.
    pub async fn upload_batch_file(&self, base_url: &str, filename: &str, jsonl: Vec<u8>) -> Result<String, ClientError> {
        let url = format!("{base_url}/v1/files");
        // A boundary the body cannot hold: it would have to start a line, and every JSONL line starts with `{`.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let boundary = format!("bakeoff-{nanos:x}");
        let mut body = Vec::with_capacity(jsonl.len() + 512);
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n").as_bytes());
        let safe_name: String = filename.chars().filter(|c| *c != '"' && *c != '\r' && *c != '\n').collect();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{safe_name}\"\r\nContent-Type: application/jsonl\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&jsonl);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let v = self
            .call(
                reqwest::Method::POST,
                &url,
                Some((format!("multipart/form-data; boundary={boundary}"), body)),
                UPLOAD_TIMEOUT,
            )
            .await?;
        let id = v.get("id").and_then(Value::as_str).ok_or_else(|| ClientError::Protocol {
            url: url.clone(),
            reason: "the answer has no file `id`".into(),
        })?;
        checked_id(&url, "file", id)
    }

    /// `POST /v1/batches` over an uploaded file, completion window 24 h.
    pub async fn create_batch(&self, base_url: &str, input_file_id: &str, endpoint: &str, run_id: i64) -> Result<BatchObject, ClientError> {
        let url = format!("{base_url}/v1/batches");
        let req = serde_json::json!({
            "input_file_id": input_file_id,
            "endpoint": endpoint,
            "completion_window": "24h",
            "metadata": {"source": "bakeoff", "run": run_id.to_string()},
        });
        let body = serde_json::to_vec(&req).unwrap_or_default();
        let v = self
            .call(reqwest::Method::POST, &url, Some(("application/json".into(), body)), CALL_TIMEOUT)
            .await?;
        batch_object(&url, v)
    }

    /// `GET /v1/batches/{id}`.
    pub async fn get_batch(&self, base_url: &str, id: &str) -> Result<BatchObject, ClientError> {
        let id = checked_id(&format!("{base_url}/v1/batches"), "batch", id)?;
        let url = format!("{base_url}/v1/batches/{id}");
        let v = self.call(reqwest::Method::GET, &url, None, CALL_TIMEOUT).await?;
        batch_object(&url, v)
    }

    /// `POST /v1/batches/{id}/cancel`.
    pub async fn cancel_batch(&self, base_url: &str, id: &str) -> Result<BatchObject, ClientError> {
        let id = checked_id(&format!("{base_url}/v1/batches"), "batch", id)?;
        let url = format!("{base_url}/v1/batches/{id}/cancel");
        let v = self.call(reqwest::Method::POST, &url, None, CALL_TIMEOUT).await?;
        batch_object(&url, v)
    }

    /// `GET /v1/files/{id}/content`, read a line at a time as it arrives (an output file of a
    /// million answers is never held whole).
    pub async fn open_file(&self, base_url: &str, file_id: &str) -> Result<FileLines, ClientError> {
        let file_id = checked_id(&format!("{base_url}/v1/files"), "file", file_id)?;
        let url = format!("{base_url}/v1/files/{file_id}/content");
        self.check_allowed(&url).await?;
        let send = self.http.get(&url).headers(self.bound.headers.clone()).send();
        let resp = match tokio::time::timeout(CALL_TIMEOUT, send).await {
            Err(_) => {
                return Err(ClientError::Timeout {
                    url,
                    secs: CALL_TIMEOUT.as_secs(),
                })
            }
            Ok(Err(e)) => return Err(ClientError::Connect { url, reason: chain(&e) }),
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        if status != 200 {
            let text = tokio::time::timeout(CALL_TIMEOUT, read_capped(&url, resp, ERROR_MAX))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            return Err(refused(&url, status, &text));
        }
        Ok(FileLines {
            url,
            resp: Some(resp),
            pending: Vec::new(),
            start: 0,
        })
    }

    /// One JSON call with the endpoint's access; anything but 2xx is an error with the status's
    /// meaning and the provider's own message.
    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<(String, Vec<u8>)>,
        timeout: Duration,
    ) -> Result<Value, ClientError> {
        self.check_allowed(url).await?;
        let mut req = self
            .http
            .request(method, url)
            .headers(self.bound.headers.clone())
            .header(reqwest::header::ACCEPT_ENCODING, "identity");
        if let Some((content_type, bytes)) = body {
            req = req.header(reqwest::header::CONTENT_TYPE, content_type).body(bytes);
        }
        let exchange = async {
            let resp = req.send().await.map_err(|e| ClientError::Connect {
                url: url.to_string(),
                reason: chain(&e),
            })?;
            let status = resp.status().as_u16();
            let max = if (200..300).contains(&status) { ANSWER_MAX } else { ERROR_MAX };
            let text = read_capped(url, resp, max).await?;
            Ok::<_, ClientError>((status, text))
        };
        let (status, text) = tokio::time::timeout(timeout, exchange).await.map_err(|_| ClientError::Timeout {
            url: url.to_string(),
            secs: timeout.as_secs(),
        })??;
        if !(200..300).contains(&status) {
            return Err(refused(url, status, &text));
        }
        serde_json::from_str(&text).map_err(|e| ClientError::Protocol {
            url: url.to_string(),
            reason: format!("the answer is not JSON ({e})"),
        })
    }
}

/// A provider file being read line by line.
pub struct FileLines {
    url: String,
    resp: Option<reqwest::Response>,
    pending: Vec<u8>,
    /// Where the next line starts in `pending`.
    start: usize,
}

impl FileLines {
    /// The next line (without its newline), or `None` at the end.
    pub async fn next_line(&mut self) -> Result<Option<String>, ClientError> {
        loop {
            if let Some(n) = self.pending[self.start..].iter().position(|b| *b == b'\n') {
                let line = String::from_utf8_lossy(&self.pending[self.start..self.start + n]).into_owned();
                self.start += n + 1;
                return Ok(Some(line));
            }
            self.pending.drain(..self.start);
            self.start = 0;
            if self.pending.len() > LINE_MAX {
                return Err(ClientError::Protocol {
                    url: self.url.clone(),
                    reason: format!("a line of the file is longer than {} MiB", LINE_MAX >> 20),
                });
            }
            let Some(resp) = self.resp.as_mut() else {
                if self.pending.is_empty() {
                    return Ok(None);
                }
                let line = String::from_utf8_lossy(&self.pending).into_owned();
                self.pending.clear();
                return Ok(Some(line));
            };
            match tokio::time::timeout(CALL_TIMEOUT, resp.chunk()).await {
                Err(_) => {
                    return Err(ClientError::Timeout {
                        url: self.url.clone(),
                        secs: CALL_TIMEOUT.as_secs(),
                    })
                }
                Ok(Err(e)) => {
                    return Err(ClientError::Connect {
                        url: self.url.clone(),
                        reason: format!("the file broke off: {}", chain(&e)),
                    })
                }
                Ok(Ok(None)) => self.resp = None,
                Ok(Ok(Some(c))) => self.pending.extend_from_slice(&c),
            }
        }
    }
}

/// A refused call: what the status means, and the provider's own message (at most 300
/// characters: the Batch API's messages say what to fix, e.g. a purpose or a line).
fn refused(url: &str, status: u16, body: &str) -> ClientError {
    let own = super::error_message(body);
    let own: String = own.chars().take(300).collect();
    ClientError::Http {
        url: url.to_string(),
        status,
        message: if own.trim().is_empty() {
            status_hint(status).to_string()
        } else {
            format!("{} ({})", own.trim(), status_hint(status))
        },
    }
}

fn batch_object(url: &str, v: Value) -> Result<BatchObject, ClientError> {
    let mut b: BatchObject = serde_json::from_value(v).map_err(|e| ClientError::Protocol {
        url: url.to_string(),
        reason: format!("not a batch object ({e})"),
    })?;
    // What the provider says goes into URLs, the database and the pages: checked, bounded.
    b.id = checked_id(url, "batch", &b.id)?;
    for f in [&mut b.output_file_id, &mut b.error_file_id] {
        if let Some(id) = f.as_deref() {
            *f = Some(checked_id(url, "file", id)?);
        }
    }
    if b.status.len() > 32 || !b.status.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        b.status = "unknown".into();
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_object_reads_its_times_counts_and_errors() {
        let b: BatchObject = serde_json::from_value(serde_json::json!({
            "id": "batch_1", "object": "batch", "status": "failed", "created_at": 10, "failed_at": 12,
            "request_counts": {"total": 3, "completed": 0, "failed": 0},
            "errors": {"object": "list", "data": [{"code": "invalid_json", "message": "bad line", "line": 2}]},
        }))
        .expect("batch");
        assert!(b.ended());
        assert_eq!(b.ended_at(), Some(12.0));
        assert_eq!(b.error_text().as_deref(), Some("line 2: bad line"));
        assert_eq!(b.request_counts.map(|c| c.total), Some(3));
    }

    #[test]
    fn provider_ids_that_could_step_out_of_their_path_are_refused() {
        for bad in ["..", ".", "../../x", "a/b", "file 1", "a%2e", "", "x\nforged log line"] {
            assert!(checked_id("http://x/v1/files", "file", bad).is_err(), "{bad:?}");
        }
        for good in ["file-abc123", "batch_6723.1", "f.jsonl"] {
            assert_eq!(checked_id("http://x/v1/files", "file", good).ok().as_deref(), Some(good));
        }
        let b = batch_object(
            "http://x",
            serde_json::json!({"id": "batch_1", "status": "in_progress", "output_file_id": "../admin"}),
        );
        assert!(b.is_err(), "an output file id that steps out is refused");
        let b = batch_object("http://x", serde_json::json!({"id": "batch_1", "status": "<b>weird</b>"})).expect("batch");
        assert_eq!(b.status, "unknown");
    }

    #[test]
    fn a_refusal_carries_the_providers_message() {
        let e = refused("http://x/v1/files", 400, r#"{"error": {"message": "purpose must be batch"}}"#);
        assert!(e.to_string().contains("purpose must be batch"), "{e}");
        let e = refused("http://x/v1/files", 401, "");
        assert!(e.to_string().contains("API key"), "{e}");
    }
}
