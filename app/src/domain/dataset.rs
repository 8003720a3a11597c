//! Datasets in the OpenAI Batch input format: one JSON object per line,
//! `{custom_id, method, url, body}`. Parsing is strict and says which line and field is wrong.

use super::errors::FieldErrors;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;

pub const CHAT_URL: &str = "/v1/chat/completions";
pub const COMPLETIONS_URL: &str = "/v1/completions";
/// Stop listing problems after this many; the first ones are what a person fixes first.
const MAX_REPORTED: usize = 20;

/// One request of a dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetItem {
    pub custom_id: String,
    /// `/v1/chat/completions` or `/v1/completions`.
    pub url: String,
    /// The request body as given (its `model` is replaced by the run's model when sent).
    pub body: Value,
}

impl DatasetItem {
    /// The prompt's text (all message contents, or the completion prompt), for size estimates,
    /// the simulator, and the grading view.
    pub fn prompt_text(&self) -> String {
        prompt_text(&self.body)
    }
    pub fn max_tokens(&self) -> Option<u32> {
        self.body
            .get("max_tokens")
            .or_else(|| self.body.get("max_completion_tokens"))
            .and_then(Value::as_u64)
            .map(|v| v.min(u64::from(u32::MAX)) as u32)
    }
}

/// The text of a chat or completions request body.
pub fn prompt_text(body: &Value) -> String {
    if let Some(messages) = body.get("messages").and_then(Value::as_array) {
        let mut out = String::new();
        for m in messages {
            match m.get("content") {
                Some(Value::String(s)) => out.push_str(s),
                Some(Value::Array(parts)) => {
                    for p in parts {
                        if let Some(t) = p.get("text").and_then(Value::as_str) {
                            out.push_str(t);
                        }
                    }
                }
                _ => {}
            }
            out.push('\n');
        }
        out
    } else {
        match body.get("prompt") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        }
    }
}

/// Parse an OpenAI Batch input file. All-or-nothing: any bad line fails the whole file, with up
/// to 20 problems named by line and field.
pub fn parse_batch_jsonl(text: &str) -> Result<Vec<DatasetItem>, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut items = Vec::new();
    let mut seen = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        if errors.0.len() >= MAX_REPORTED {
            errors.push("file", "more problems follow; fix these first");
            break;
        }
        let line_no = i + 1;
        let at = format!("line {line_no}");
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                errors.push(&at, format!("not valid JSON ({e})"));
                continue;
            }
        };
        let Some(obj) = value.as_object() else {
            errors.push(&at, "expected a JSON object {custom_id, method, url, body}");
            continue;
        };
        if obj.contains_key("response") && !obj.contains_key("body") {
            errors.push(
                &at,
                "this is an OpenAI Batch *output* line (it has `response`); upload the input file here, or import the output as a run",
            );
            continue;
        }
        let custom_id = match obj.get("custom_id") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Value::String(_)) => {
                errors.push(&at, "field `custom_id` is empty");
                continue;
            }
            Some(other) => {
                errors.push(&at, format!("field `custom_id` must be a string, got {}", kind(other)));
                continue;
            }
            None => {
                errors.push(&at, "field `custom_id` is missing");
                continue;
            }
        };
        if custom_id.contains(PASS_MARK) {
            errors.push(
                &at,
                format!("field `custom_id` '{custom_id}' holds '{PASS_MARK}', which marks a request's later passes in a run ('a{PASS_MARK}2' is the second pass of 'a'): rename it without '{PASS_MARK}'"),
            );
            continue;
        }
        if !seen.insert(custom_id.clone()) {
            errors.push(&at, format!("field `custom_id` repeats '{custom_id}': each request needs its own"));
            continue;
        }
        match obj.get("method") {
            Some(Value::String(m)) if m.eq_ignore_ascii_case("POST") => {}
            Some(other) => {
                errors.push(&at, format!("field `method` must be \"POST\", got {other}"));
                continue;
            }
            None => {
                errors.push(&at, "field `method` is missing (OpenAI Batch lines carry \"method\": \"POST\")");
                continue;
            }
        }
        let url = match obj.get("url").and_then(Value::as_str) {
            Some(u) if u == CHAT_URL || u == COMPLETIONS_URL => u.to_string(),
            Some(u) => {
                errors.push(&at, format!("field `url` must be {CHAT_URL} or {COMPLETIONS_URL}, got \"{u}\""));
                continue;
            }
            None => {
                errors.push(&at, "field `url` is missing or not a string");
                continue;
            }
        };
        let Some(body) = obj.get("body").filter(|b| b.is_object()) else {
            errors.push(&at, "field `body` is missing or not an object");
            continue;
        };
        if url == CHAT_URL {
            match body.get("messages").and_then(Value::as_array) {
                Some(ms) if !ms.is_empty() => {
                    if let Some(bad) = ms.iter().position(|m| m.get("role").and_then(Value::as_str).is_none()) {
                        errors.push(&at, format!("field `body.messages[{bad}].role` is missing"));
                        continue;
                    }
                }
                _ => {
                    errors.push(&at, "field `body.messages` must be a non-empty array for /v1/chat/completions");
                    continue;
                }
            }
        } else if body.get("prompt").is_none() {
            errors.push(&at, "field `body.prompt` is missing for /v1/completions");
            continue;
        }
        items.push(DatasetItem {
            custom_id,
            url,
            body: body.clone(),
        });
    }
    if errors.is_empty() && items.is_empty() {
        errors.push("file", "the file has no requests (expected one JSON object per line)");
    }
    errors.into_result(items)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Separates a `custom_id` from its pass number when a run cycles through a dataset
/// (`a~2` is the second pass of `a`), so it may not appear in a dataset's own ids.
pub const PASS_MARK: char = '~';

/// The dataset item a run's `custom_id` came from (`a~2` -> `a`).
pub fn base_id(custom_id: &str) -> &str {
    custom_id.split(PASS_MARK).next().unwrap_or(custom_id)
}

/// The `custom_id` of a dataset item's pass (0-based): `a`, then `a~2`, `a~3`, ...
pub fn pass_id(base: &str, pass: usize) -> String {
    if pass == 0 {
        base.to_string()
    } else {
        format!("{base}{PASS_MARK}{}", pass + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":5}}
{"custom_id":"b","method":"POST","url":"/v1/completions","body":{"model":"m","prompt":"once"}}
"#;

    #[test]
    fn good_lines_parse_with_their_prompts() {
        let items = parse_batch_jsonl(GOOD).expect("valid");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].prompt_text(), "hi\n");
        assert_eq!(items[0].max_tokens(), Some(5));
        assert_eq!(items[1].prompt_text(), "once");
    }

    #[test]
    fn the_shared_seed_examples_parse() {
        let text = include_str!("../../tests/fixtures/synthetic_candidates_10.jsonl");
        let items = parse_batch_jsonl(text).expect("the seed's own file is valid");
        assert_eq!(items.len(), 10);
        assert!(items[0].prompt_text().contains("Sarah Chen"));
    }

    #[test]
    fn a_bad_line_is_named_with_its_field_and_nothing_is_returned() {
        let text = format!("{GOOD}{{\"custom_id\":\"c\",\"method\":\"POST\",\"body\":{{}}}}\n");
        let e = parse_batch_jsonl(&text).expect_err("line 3 lacks url");
        assert_eq!(e.0[0].field, "line 3");
        assert!(e.0[0].message.contains("`url`"), "{}", e);
    }

    #[test]
    fn duplicate_ids_and_non_json_are_reported_together() {
        let text = "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{\"prompt\":\"x\"}}\nnot json\n{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{\"prompt\":\"x\"}}\n";
        let e = parse_batch_jsonl(text).expect_err("two problems");
        assert_eq!(e.0.len(), 2);
        assert_eq!(e.0[0].field, "line 2");
        assert!(e.0[1].message.contains("repeats 'a'"));
    }

    #[test]
    fn an_output_file_is_recognised_as_such() {
        let text = r#"{"id":"x","custom_id":"a","response":{"status_code":200,"body":{}},"error":null}"#;
        let e = parse_batch_jsonl(text).expect_err("output, not input");
        assert!(e.0[0].message.contains("output"));
    }

    #[test]
    fn an_empty_file_says_so() {
        let e = parse_batch_jsonl("\n\n").expect_err("empty");
        assert!(e.0[0].message.contains("no requests"));
    }

    #[test]
    fn an_id_holding_the_pass_mark_is_refused_so_passes_cannot_collide() {
        let line = |id: &str| {
            format!("{{\"custom_id\":\"{id}\",\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{{\"prompt\":\"x\"}}}}\n")
        };
        let text = format!("{}{}", line("a"), line("a~2"));
        let err = parse_batch_jsonl(&text).expect_err("refused");
        let msg = err.to_string();
        assert!(msg.contains("line 2") && msg.contains("a~2") && msg.contains("rename"), "{msg}");
    }
}
