//! Writing an answer back: streamed as SSE chunks (token by token, at the simulated pace, with
//! mid-stream faults), or whole.

use super::faults::Fault;
use super::server::{now_secs, unix_us, Emitted, Gauge, Sim};
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Chat,
    Completions,
}

pub(crate) struct Reply {
    pub(crate) key: Option<String>,
    pub(crate) id: String,
    pub(crate) model: String,
    pub(crate) kind: Kind,
    pub(crate) pieces: Vec<String>,
    pub(crate) finish: &'static str,
    pub(crate) n_prompt: u64,
    pub(crate) include_usage: bool,
    pub(crate) ttft: Duration,
    pub(crate) tpot_factor: f64,
    pub(crate) fault: Option<Fault>,
}

impl Reply {
    fn chunk(&self, content: &str, role: bool, finish: Option<&str>) -> Bytes {
        let created = now_secs();
        let v = match self.kind {
            Kind::Chat => {
                let delta = if role {
                    json!({"role": "assistant", "content": ""})
                } else {
                    json!({"content": content})
                };
                json!({"id": self.id, "object": "chat.completion.chunk", "created": created, "model": self.model,
                       "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
            }
            Kind::Completions => json!({"id": self.id, "object": "text_completion", "created": created, "model": self.model,
                       "choices": [{"index": 0, "text": content, "logprobs": null, "finish_reason": finish}]}),
        };
        frame(&v)
    }

    fn usage(&self) -> Value {
        let n = self.pieces.len() as u64;
        json!({"prompt_tokens": self.n_prompt, "completion_tokens": n, "total_tokens": self.n_prompt + n})
    }
}

fn frame(v: &Value) -> Bytes {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"data: ");
    // Serialising a Value we built cannot fail.
    let _ = serde_json::to_writer(&mut out, v);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

impl Sim {
    /// Time per token now, given how many requests share the batch.
    fn tpot_now(&self, factor: f64) -> Duration {
        let running = self.stats.running.load(Ordering::Relaxed) as f64;
        let cap = self.config.max_concurrency.max(1) as f64;
        self.config
            .tpot
            .mul_f64(factor * (1.0 + self.config.batch_slowdown * (running - 1.0).max(0.0) / cap))
    }
}

pub(crate) async fn stream_reply(
    sim: Arc<Sim>,
    r: Reply,
    permit: tokio::sync::OwnedSemaphorePermit,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let _permit = permit;
    sim.stats.running.fetch_add(1, Ordering::Relaxed);
    let _running = Gauge(&sim.stats.running);
    let start = Instant::now();
    let mut next = start + r.ttft;
    if r.kind == Kind::Chat && tx.send(Ok(r.chunk("", true, None))).await.is_err() {
        return;
    }
    let per_chunk = sim.config.tokens_per_chunk.max(1);
    let groups: Vec<&[String]> = r.pieces.chunks(per_chunk).collect();
    let fault_at = groups.len() / 2;
    let mut first_emit = None;
    if let Some(f) = r.fault {
        sim.stats.faults.add(f);
    }
    for (i, group) in groups.iter().enumerate() {
        if next > Instant::now() {
            tokio::time::sleep_until(next.into()).await;
        }
        if i == 0 {
            let t = start.elapsed();
            sim.stats.ttft_sum_us.fetch_add(t.as_micros() as u64, Ordering::Relaxed);
            sim.stats.ttft_count.fetch_add(1, Ordering::Relaxed);
        }
        if i == fault_at {
            match r.fault {
                Some(Fault::Stall) => {
                    tokio::time::sleep(sim.config.faults.stall_for).await;
                    return;
                }
                Some(Fault::Drop) => {
                    let _ = tx
                        .send(Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "simulated dropped connection",
                        )))
                        .await;
                    return;
                }
                Some(Fault::Malformed) => {
                    let _ = tx
                        .send(Ok(Bytes::from_static(
                            b"data: {\"choices\": [{\"delta\": {\"content\": \"oops\"\n\n",
                        )))
                        .await;
                }
                Some(Fault::ErrorFrame) => {
                    let err = if sim.config.faults.flat_errors {
                        json!({"object": "error", "message": "simulated engine error mid-stream", "type": "InternalServerError", "code": 500})
                    } else {
                        json!({"error": {"message": "simulated engine error mid-stream", "type": "InternalServerError", "code": 500}})
                    };
                    let _ = tx.send(Ok(frame(&err))).await;
                    let _ = tx.send(Ok(Bytes::from_static(b"data: [DONE]\n\n"))).await;
                    return;
                }
                _ => {}
            }
        }
        let last = i + 1 == groups.len();
        let content = group.concat();
        let frame = r.chunk(&content, false, last.then_some(r.finish));
        first_emit.get_or_insert_with(unix_us);
        if tx.send(Ok(frame)).await.is_err() {
            return;
        }

        sim.stats.generation_tokens_total.fetch_add(group.len() as u64, Ordering::Relaxed);
        next += sim.tpot_now(r.tpot_factor) * group.len() as u32;
    }
    if groups.is_empty() {
        let _ = tx.send(Ok(r.chunk("", false, Some(r.finish)))).await;
    }
    if r.include_usage {
        let v = json!({"id": r.id, "object": if r.kind == Kind::Chat { "chat.completion.chunk" } else { "text_completion" },
                       "created": now_secs(), "model": r.model, "choices": [], "usage": r.usage()});
        let _ = tx.send(Ok(frame(&v))).await;
    }
    let done_at = unix_us();
    let _ = tx.send(Ok(Bytes::from_static(b"data: [DONE]\n\n"))).await;
    if let (Some(key), Some(first_us)) = (&r.key, first_emit) {
        if let Ok(mut m) = sim.emitted.lock() {
            m.insert(
                key.clone(),
                Emitted {
                    first_us,
                    last_us: done_at,
                },
            );
        }
    }
}

pub(crate) async fn whole_reply(sim: Arc<Sim>, r: Reply, permit: tokio::sync::OwnedSemaphorePermit) -> Response {
    let _permit = permit;
    sim.stats.running.fetch_add(1, Ordering::Relaxed);
    let _running = Gauge(&sim.stats.running);
    let mut total = r.ttft;
    for _ in 0..r.pieces.len().saturating_sub(1) {
        total += sim.tpot_now(r.tpot_factor);
    }
    if let Some(f) = r.fault {
        // Without a stream, mid-stream faults become what a client would see at the end.
        sim.stats.faults.add(f);
        return match f {
            Fault::Stall => {
                tokio::time::sleep(sim.config.faults.stall_for).await;
                StatusCode::GATEWAY_TIMEOUT.into_response()
            }
            _ => sim.error(StatusCode::INTERNAL_SERVER_ERROR, "simulated engine error", "InternalServerError"),
        };
    }
    tokio::time::sleep(total).await;
    sim.stats
        .generation_tokens_total
        .fetch_add(r.pieces.len() as u64, Ordering::Relaxed);
    let text = r.pieces.concat();
    let choice = match r.kind {
        Kind::Chat => json!({"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": null, "finish_reason": r.finish}),
        Kind::Completions => json!({"index": 0, "text": text, "logprobs": null, "finish_reason": r.finish}),
    };
    let object = if r.kind == Kind::Chat {
        "chat.completion"
    } else {
        "text_completion"
    };
    Json(json!({"id": r.id, "object": object, "created": now_secs(), "model": r.model, "choices": [choice], "usage": r.usage()}))
        .into_response()
}
