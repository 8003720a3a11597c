//! Records and summaries as files: JSON lines of measurements, and OpenAI Batch output lines.

use super::definitions;
use super::record::RequestRecord;
use super::status::Outcome;
use super::summary::RunSummary;
use serde_json::{json, Value};
use std::time::Duration;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One record as a JSON object with times in milliseconds.
pub fn record_json(r: &RequestRecord) -> Value {
    json!({
        "idx": r.idx,
        "custom_id": r.custom_id,
        "warmup": r.warmup,
        "outcome": r.outcome,
        "http_status": r.http_status,
        "error": r.error,
        "finish_reason": r.finish_reason,
        "prompt_tokens": r.prompt_tokens.map(|t| t.0),
        "completion_tokens": r.completion_tokens.map(|t| t.0),
        "scheduled_ms": r.scheduled.map(ms),
        "sent_ms": ms(r.sent),
        "ttft_ms": r.ttft.map(ms),
        "tpot_ms": r.tpot().map(ms),
        "e2e_ms": ms(r.e2e),
        "content_chunks": r.content_chunks,
        "itl_ms": r.itl.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        "response": r.response,
    })
}

/// One record as an OpenAI Batch output line: `{id, custom_id, response: {status_code, body}, error}`.
pub fn batch_output_line(run_id: i64, r: &RequestRecord, model: &str) -> Value {
    let id = format!("bakeoff-{run_id}-{}", r.idx);
    if r.outcome.answered() {
        let usage = match (r.prompt_tokens, r.completion_tokens) {
            (Some(p), Some(c)) => json!({"prompt_tokens": p.0, "completion_tokens": c.0, "total_tokens": p.0 + c.0}),
            _ => Value::Null,
        };
        json!({
            "id": id,
            "custom_id": r.custom_id,
            "response": {
                "status_code": 200,
                "request_id": id,
                "body": {
                    "id": id,
                    "object": "chat.completion",
                    "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": r.response}, "finish_reason": r.finish_reason}],
                    "usage": usage
                }
            },
            "error": null
        })
    } else {
        let code = match r.outcome {
            Outcome::HttpError => "http_error",
            Outcome::Timeout => "timeout",
            Outcome::ConnectionError => "connection_error",
            _ => "stream_error",
        };
        json!({
            "id": id,
            "custom_id": r.custom_id,
            "response": r.http_status.map(|s| json!({"status_code": s, "request_id": id, "body": null})),
            "error": {"code": code, "message": r.error}
        })
    }
}

/// A summary with the definition of every figure beside it.
pub fn summary_json(summary: &RunSummary) -> Value {
    let defs: serde_json::Map<String, Value> = definitions::all()
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::from(v)))
        .collect();
    json!({"summary": summary, "definitions": defs})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::record::Tokens;

    fn rec(outcome: Outcome) -> RequestRecord {
        RequestRecord {
            idx: 3,
            custom_id: "c".into(),
            warmup: false,
            outcome,
            http_status: Some(if outcome == Outcome::HttpError { 500 } else { 200 }),
            error: (!outcome.answered()).then(|| "boom".into()),
            finish_reason: Some("stop".into()),
            prompt_tokens: Some(Tokens(5)),
            completion_tokens: Some(Tokens(2)),
            scheduled: None,
            sent: Duration::from_millis(1),
            ttft: Some(Duration::from_millis(10)),
            e2e: Duration::from_millis(30),
            content_chunks: 2,
            itl: vec![Duration::from_millis(20)],
            response: "hi".into(),
        }
    }

    #[test]
    fn answered_records_become_batch_output_bodies_with_usage() {
        let v = batch_output_line(7, &rec(Outcome::Ok), "m");
        assert_eq!(v["custom_id"], "c");
        assert_eq!(v["response"]["status_code"], 200);
        assert_eq!(v["response"]["body"]["choices"][0]["message"]["content"], "hi");
        assert_eq!(v["response"]["body"]["usage"]["total_tokens"], 7);
        assert!(v["error"].is_null());
    }

    #[test]
    fn failures_carry_an_error_object() {
        let v = batch_output_line(7, &rec(Outcome::HttpError), "m");
        assert_eq!(v["error"]["code"], "http_error");
        assert_eq!(v["response"]["status_code"], 500);
    }

    #[test]
    fn record_times_are_in_milliseconds() {
        let v = record_json(&rec(Outcome::Ok));
        assert_eq!(v["ttft_ms"], 10.0);
        assert_eq!(v["tpot_ms"], 20.0);
        assert_eq!(v["itl_ms"][0], 20.0);
    }
}
