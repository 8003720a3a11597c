//! Writing an answer back: streamed as SSE chunks (token by token, at the simulated pace, with
//! mid-stream faults), or whole.

use super::faults::Fault;
use super::state::{now_secs, unix_us, Emitted, Gauge, Sim};
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
    /// The tokens: the reasoning's first, then the answer's.
    pub(crate) pieces: Vec<String>,
    /// How many of `pieces` are reasoning, for a model that reasons.
    pub(crate) reasoning: Option<usize>,
    /// The delta (and message) key of the reasoning.
    pub(crate) reasoning_key: &'static str,
    /// Report the reasoning tokens in `usage.completion_tokens_details`.
    pub(crate) usage_details: bool,
    pub(crate) finish: &'static str,
    pub(crate) n_prompt: u64,
    pub(crate) include_usage: bool,
    pub(crate) ttft: Duration,
    pub(crate) tpot_factor: f64,
    pub(crate) fault: Option<Fault>,
}

/// What a streamed chunk carries.
#[derive(Clone, Copy)]
enum Part<'a> {
    /// vLLM's first chat chunk: the role, no token.
    Role,
    Content(&'a str),
    Reasoning(&'a str),
}

impl Reply {
    fn chunk(&self, part: Part<'_>, finish: Option<&str>) -> Bytes {
        let created = now_secs();
        let v = match self.kind {
            Kind::Chat => {
                let delta = match part {
                    Part::Role => json!({"role": "assistant", "content": ""}),
                    Part::Content(c) => json!({"content": c}),
                    Part::Reasoning(r) => json!({self.reasoning_key: r}),
                };
                json!({"id": self.id, "object": "chat.completion.chunk", "created": created, "model": self.model,
                       "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
            }
            Kind::Completions => {
                let text = match part {
                    Part::Content(t) | Part::Reasoning(t) => t,
                    Part::Role => "",
                };
                json!({"id": self.id, "object": "text_completion", "created": created, "model": self.model,
                       "choices": [{"index": 0, "text": text, "logprobs": null, "finish_reason": finish}]})
            }
        };
        frame(&v)
    }

    fn usage(&self) -> Value {
        let n = self.pieces.len() as u64;
        let mut u = json!({"prompt_tokens": self.n_prompt, "completion_tokens": n, "total_tokens": self.n_prompt + n});
        if let (Some(r), true) = (self.reasoning, self.usage_details) {
            u["completion_tokens_details"] = json!({"reasoning_tokens": r});
        }
        u
    }

    /// The reasoning's pieces and the answer's.
    fn split(&self) -> (&[String], &[String]) {
        self.pieces.split_at(self.reasoning.unwrap_or(0).min(self.pieces.len()))
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
        decode_time(&self.config, self.stats.running.load(Ordering::Relaxed) as f64, factor)
    }
}

/// Per-token time with `running` sequences decoding: tpot x (1 + slowdown x (running - 1) /
/// capacity), and, with a tokens/s budget, at least running / budget (the sequences share it:
/// throughput flattens there).
pub(crate) fn decode_time(config: &super::state::SimConfig, running: f64, factor: f64) -> Duration {
    let cap = config.max_concurrency.max(1) as f64;
    let t = config
        .tpot
        .mul_f64(factor * (1.0 + config.batch_slowdown * (running - 1.0).max(0.0) / cap));
    match config.max_tokens_per_s.filter(|b| *b > 0.0) {
        Some(budget) => t.max(Duration::from_secs_f64(running.max(1.0) / budget)),
        None => t,
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
    if r.kind == Kind::Chat && tx.send(Ok(r.chunk(Part::Role, None))).await.is_err() {
        return;
    }
    let per_chunk = sim.config.tokens_per_chunk.max(1);
    // A chunk carries reasoning or answer, never both.
    let (think, say) = r.split();
    let groups: Vec<(bool, &[String])> = think
        .chunks(per_chunk)
        .map(|g| (true, g))
        .chain(say.chunks(per_chunk).map(|g| (false, g)))
        .collect();
    let fault_at = groups.len() / 2;
    let mut first_emit = None;
    if let Some(f) = r.fault {
        sim.stats.faults.add(f);
    }
    for (i, &(thinking, group)) in groups.iter().enumerate() {
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
        let text = group.concat();
        let part = if thinking { Part::Reasoning(&text) } else { Part::Content(&text) };
        let frame = r.chunk(part, last.then_some(r.finish));
        first_emit.get_or_insert_with(unix_us);
        if tx.send(Ok(frame)).await.is_err() {
            return;
        }

        sim.stats.generation_tokens_total.fetch_add(group.len() as u64, Ordering::Relaxed);
        next += sim.tpot_now(r.tpot_factor) * group.len() as u32;
    }
    if groups.is_empty() {
        let _ = tx.send(Ok(r.chunk(Part::Content(""), Some(r.finish)))).await;
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
    let (think, say) = r.split();
    let text = say.concat();
    let choice = match r.kind {
        Kind::Chat => {
            let mut message = json!({"role": "assistant", "content": text});
            if r.reasoning.is_some() {
                message[r.reasoning_key] = Value::from(think.concat());
            }
            json!({"index": 0, "message": message, "logprobs": null, "finish_reason": r.finish})
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimConfig;

    #[test]
    fn below_the_tokens_per_s_budget_the_batch_sets_the_pace_and_above_it_the_budget_does() {
        let c = SimConfig {
            tpot: Duration::from_millis(2),
            max_concurrency: 64,
            batch_slowdown: 0.0,
            max_tokens_per_s: Some(1000.0),
            ..SimConfig::default()
        };
        // One sequence: 2 ms a token (500 tok/s, within the 1,000 budget).
        assert_eq!(decode_time(&c, 1.0, 1.0), Duration::from_millis(2));
        // Ten sequences would make 5,000 tok/s: each slows to 10 ms, 1,000 tok/s in all.
        assert_eq!(decode_time(&c, 10.0, 1.0), Duration::from_millis(10));
        let total = |running: f64| running / decode_time(&c, running, 1.0).as_secs_f64();
        assert!((total(20.0) - total(40.0)).abs() < 1e-6, "flat past the budget");
        let without = SimConfig {
            max_tokens_per_s: None,
            ..c
        };
        assert_eq!(decode_time(&without, 10.0, 1.0), Duration::from_millis(2));
    }
}
