//! Records and summaries as files: JSON lines of measurements, and OpenAI Batch output lines.

use super::definitions;
use super::record::{RequestRecord, TokenSource};
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
        "answer_ttft_ms": r.answer_ttft().map(ms),
        "tpot_ms": r.tpot().map(ms),
        "e2e_ms": ms(r.e2e),
        "content_chunks": r.content_chunks,
        "itl_ms": r.itl.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        "response": r.response,
        "reasoning": r.reasoning.as_ref().map(|x| x.text.as_str()),
        "reasoning_tokens": r.reasoning.as_ref().map(|x| x.tokens.0),
        "reasoning_tokens_source": r.reasoning.as_ref().map(|x| x.tokens_source),
    })
}

/// One record as an OpenAI Batch output line: `{id, custom_id, response: {status_code, body}, error}`.
pub fn batch_output_line(run_id: i64, r: &RequestRecord, model: &str) -> Value {
    let id = format!("bakeoff-{run_id}-{}", r.idx);
    if r.outcome.answered() {
        let mut usage = match (r.prompt_tokens, r.completion_tokens) {
            (Some(p), Some(c)) => json!({"prompt_tokens": p.0, "completion_tokens": c.0, "total_tokens": p.0 + c.0}),
            _ => Value::Null,
        };
        let mut message = json!({"role": "assistant", "content": r.response});
        if let Some(x) = &r.reasoning {
            // vLLM's spelling (>= 0.11); the count only where the server gave it.
            message["reasoning"] = Value::from(x.text.as_str());
            if x.tokens_source == TokenSource::Usage && usage.is_object() {
                usage["completion_tokens_details"] = json!({"reasoning_tokens": x.tokens.0});
            }
        }
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
                    "choices": [{"index": 0, "message": message, "finish_reason": r.finish_reason}],
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

/// The columns of a run's records as CSV (times in milliseconds; the inter-token gaps and the
/// reasoning's text only in the JSON lines).
pub const CSV_HEADER: &str = "idx,custom_id,warmup,outcome,http_status,error,finish_reason,prompt_tokens,completion_tokens,\
reasoning_tokens,scheduled_ms,sent_ms,ttft_ms,answer_ttft_ms,tpot_ms,e2e_ms,content_chunks,response\r\n";

/// One record as a CSV row (RFC 4180: a field with a comma, quote or line break is quoted,
/// quotes doubled; rows end with CRLF).
pub fn record_csv(r: &RequestRecord) -> String {
    fn field(out: &mut String, text: &str) {
        if text.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&text.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(text);
        }
        out.push(',');
    }
    let num = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_default();
    let int = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
    let mut out = String::with_capacity(128 + r.response.len());
    field(&mut out, &r.idx.to_string());
    field(&mut out, &r.custom_id);
    field(&mut out, if r.warmup { "true" } else { "false" });
    field(&mut out, r.outcome.label());
    field(&mut out, &int(r.http_status.map(u64::from)));
    field(&mut out, r.error.as_deref().unwrap_or(""));
    field(&mut out, r.finish_reason.as_deref().unwrap_or(""));
    field(&mut out, &int(r.prompt_tokens.map(|t| t.0)));
    field(&mut out, &int(r.completion_tokens.map(|t| t.0)));
    field(&mut out, &int(r.reasoning.as_ref().map(|x| x.tokens.0)));
    field(&mut out, &num(r.scheduled.map(ms)));
    field(&mut out, &num(Some(ms(r.sent))));
    field(&mut out, &num(r.ttft.map(ms)));
    field(&mut out, &num(r.answer_ttft().map(ms)));
    field(&mut out, &num(r.tpot().map(ms)));
    field(&mut out, &num(Some(ms(r.e2e))));
    field(&mut out, &r.content_chunks.to_string());
    field(&mut out, &r.response);
    out.pop();
    out.push_str("\r\n");
    out
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
    use crate::domain::record::{Reasoning, Tokens};

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
            reasoning: None,
        }
    }

    fn reasoned() -> RequestRecord {
        RequestRecord {
            reasoning: Some(Reasoning {
                answer_ttft: Some(Duration::from_millis(25)),
                tokens: Tokens(1),
                tokens_source: TokenSource::Usage,
                text: "so".into(),
            }),
            ..rec(Outcome::Ok)
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
        assert_eq!(
            v["answer_ttft_ms"], 10.0,
            "no reasoning: the answer's first token is the first token"
        );
        assert!(v["reasoning"].is_null() && v["reasoning_tokens"].is_null());
    }

    #[test]
    fn reasoning_is_exported_apart_from_the_answer() {
        let v = record_json(&reasoned());
        assert_eq!((v["ttft_ms"].as_f64(), v["answer_ttft_ms"].as_f64()), (Some(10.0), Some(25.0)));
        assert_eq!((&v["response"], &v["reasoning"]), (&json!("hi"), &json!("so")));
        assert_eq!(
            (&v["reasoning_tokens"], &v["reasoning_tokens_source"]),
            (&json!(1), &json!("usage"))
        );
        let b = batch_output_line(7, &reasoned(), "m");
        let message = &b["response"]["body"]["choices"][0]["message"];
        assert_eq!((&message["content"], &message["reasoning"]), (&json!("hi"), &json!("so")));
        assert_eq!(b["response"]["body"]["usage"]["completion_tokens_details"]["reasoning_tokens"], 1);
    }

    #[test]
    fn the_summary_names_both_ttfts_and_reasoning_tokens() {
        let v = summary_json(&crate::domain::summary::summarize(&[reasoned()]));
        for key in ["ttft", "answer_ttft", "reasoning_tokens", "tpot"] {
            assert!(v["definitions"][key].is_string(), "{key}");
        }
        assert_eq!(v["summary"]["answer_ttft_ms"]["mean"], 25.0);
        assert_eq!(v["summary"]["ttft_ms"]["mean"], 10.0);
        assert_eq!(
            (&v["summary"]["reasoning_tokens"], &v["summary"]["reasoning_tokens_source"]),
            (&json!(1), &json!("usage"))
        );
    }
}
