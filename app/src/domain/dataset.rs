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
    let mut parser = BatchParser::default();
    let mut items = Vec::new();
    for line in text.lines() {
        items.extend(parser.line(line));
    }
    parser.finish().map(|_| items)
}

/// Checks an OpenAI Batch input file line by line, as it arrives: each line on its own, and the
/// ids across the file (a set of the ids seen, small beside the file). Keeps the first 20
/// problems and counts the rest.
#[derive(Debug, Default)]
pub struct BatchParser {
    seen: HashSet<String>,
    errors: FieldErrors,
    /// Lines with a problem, including those past the first 20.
    bad: usize,
    lines: usize,
    items: usize,
}

impl BatchParser {
    /// The next line (without its newline): its request when the line is good, `None` when it is
    /// blank or bad (the problem is kept, named by its line).
    pub fn line(&mut self, line: &str) -> Option<DatasetItem> {
        self.lines += 1;
        if self.lines == 1 && looks_like_csv(line) {
            self.bad_line(CSV_FILE);
            return None;
        }
        match parse_line(line) {
            Ok(None) => None,
            Ok(Some(item)) if !self.seen.insert(item.custom_id.clone()) => {
                let msg = format!("field `custom_id` repeats '{}': each request needs its own", clip(&item.custom_id));
                self.bad_line(msg);
                None
            }
            Ok(Some(item)) => {
                self.items += 1;
                Some(item)
            }
            Err(msg) => {
                self.bad_line(msg);
                None
            }
        }
    }

    /// The next line could not be read as text (longer than the limit, not UTF-8): it counts as
    /// a line, with this problem.
    pub fn unreadable_line(&mut self, message: impl Into<String>) {
        self.lines += 1;
        self.bad_line(message);
    }

    fn bad_line(&mut self, message: impl Into<String>) {
        if self.errors.0.len() < MAX_REPORTED {
            self.errors.push(format!("line {}", self.lines), message);
        }
        self.bad += 1;
    }

    /// The lines found bad so far.
    pub fn bad(&self) -> usize {
        self.bad
    }

    /// The number of requests, or the problems found (the first 20, then how many more).
    pub fn finish(mut self) -> Result<usize, FieldErrors> {
        if self.bad > self.errors.0.len() {
            let more = self.bad - self.errors.0.len();
            self.errors.push("file", format!("{more} more bad line(s) follow; fix these first"));
        }
        if self.errors.is_empty() && self.items == 0 {
            self.errors
                .push("file", "the file has no requests (expected one JSON object per line)");
        }
        self.errors.into_result(self.items)
    }
}

/// serde_json's complaint about a line, without its "at line 1 column N" (the line is the file's
/// line, which the caller names) and with the column counted in the whole line.
pub(crate) fn json_problem(e: &serde_json::Error, leading: usize) -> String {
    let text = e.to_string();
    let at = format!(" at line {} column {}", e.line(), e.column());
    let what = text.strip_suffix(&at).unwrap_or(&text);
    if e.column() == 0 {
        return format!("not valid JSON: {what}");
    }
    format!("not valid JSON at column {}: {what}", e.column() + leading)
}

/// One line of an OpenAI Batch input file on its own: `None` when blank, else its request or
/// what is wrong with it (by field, or by column when it is not JSON).
pub fn parse_line(line: &str) -> Result<Option<DatasetItem>, String> {
    // A byte-order mark some editors write at the start of a UTF-8 file is no part of the JSON.
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    let trimmed = line.trim_start();
    let leading = line.len() - trimmed.len();
    let line = trimmed.trim_end();
    if line.is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(line).map_err(|e| json_problem(&e, leading))?;
    item(&value).map(Some)
}

/// What a file whose first line is a CSV header or row is told.
pub const CSV_FILE: &str = "the file looks like CSV (comma-separated values), not JSONL: upload a JSONL file, one JSON request per line ({\"custom_id\": ..., \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": {...}})";

/// A first line with commas and no JSON object in it: a CSV header or row.
fn looks_like_csv(line: &str) -> bool {
    let line = line.strip_prefix('\u{feff}').unwrap_or(line).trim();
    line.contains(',') && !line.contains('{') && serde_json::from_str::<Value>(line).is_err()
}

/// The request a parsed line holds, or what is wrong with it (by field).
fn item(value: &Value) -> Result<DatasetItem, String> {
    let Some(obj) = value.as_object() else {
        return Err("expected a JSON object {custom_id, method, url, body}".into());
    };
    if obj.contains_key("response") && !obj.contains_key("body") {
        return Err(
            "this is an OpenAI Batch *output* line (it has `response`); upload the input file here, or import the output as a run".into(),
        );
    }
    let custom_id = match obj.get("custom_id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) => return Err("field `custom_id` is empty".into()),
        Some(other) => return Err(format!("field `custom_id` must be a string, got {}", kind(other))),
        None => return Err("field `custom_id` is missing".into()),
    };
    if custom_id.contains(PASS_MARK) {
        return Err(format!("field `custom_id` '{}' holds '{PASS_MARK}', which marks a request's later passes in a run ('a{PASS_MARK}2' is the second pass of 'a'): rename it without '{PASS_MARK}'", clip(&custom_id)));
    }
    match obj.get("method") {
        Some(Value::String(m)) if m.eq_ignore_ascii_case("POST") => {}
        Some(other) => return Err(format!("field `method` must be \"POST\", got {}", clip(&other.to_string()))),
        None => return Err("field `method` is missing (OpenAI Batch lines carry \"method\": \"POST\")".into()),
    }
    let url = match obj.get("url").and_then(Value::as_str) {
        Some(u) if u == CHAT_URL || u == COMPLETIONS_URL => u.to_string(),
        Some(u) => return Err(format!("field `url` must be {CHAT_URL} or {COMPLETIONS_URL}, got \"{}\"", clip(u))),
        None => return Err("field `url` is missing or not a string".into()),
    };
    let Some(body) = obj.get("body").filter(|b| b.is_object()) else {
        return Err("field `body` is missing or not an object".into());
    };
    if url == CHAT_URL {
        match body.get("messages").and_then(Value::as_array) {
            Some(ms) if !ms.is_empty() => {
                if let Some(bad) = ms.iter().position(|m| m.get("role").and_then(Value::as_str).is_none()) {
                    return Err(format!("field `body.messages[{bad}].role` is missing"));
                }
            }
            _ => return Err("field `body.messages` must be a non-empty array for /v1/chat/completions".into()),
        }
    } else if body.get("prompt").is_none() {
        return Err("field `body.prompt` is missing for /v1/completions".into());
    }
    Ok(DatasetItem {
        custom_id,
        url,
        body: body.clone(),
    })
}

/// A value quoted in a message, cut to 80 characters (a message never carries a line whole).
pub fn clip(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        None => s.to_string(),
        Some((at, _)) => format!("{}… ({} characters)", &s[..at], s.chars().count()),
    }
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
    fn broken_json_is_named_by_its_line_and_column_once() {
        let cut = "{\"custom_id\":\"c\",\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{\"prompt\":\"x\"}";
        let text = format!("{GOOD}  {cut}\n");
        let e = parse_batch_jsonl(&text).expect_err("line 3 is cut short");
        // serde_json's own position ("line 1 column N") is within the line: not repeated.
        assert_eq!(e.0[0].field, "line 3");
        let at = format!("not valid JSON at column {}: EOF while parsing", cut.len() + 2);
        assert!(e.0[0].message.starts_with(&at), "{e}");
        assert!(!e.to_string().contains("line 1"), "{e}");
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
    fn problems_past_the_twentieth_are_counted_not_listed() {
        let mut text = String::new();
        for _ in 0..25 {
            text.push_str("not json\n");
        }
        let e = parse_batch_jsonl(&text).expect_err("bad");
        assert_eq!(e.0.len(), 21);
        assert_eq!(e.0[20].field, "file");
        assert!(e.0[20].message.starts_with("5 more bad line(s)"), "{e}");
    }

    #[test]
    fn a_long_value_is_clipped_in_the_message() {
        let id = format!("{}~2", "x".repeat(100_000));
        let line = format!("{{\"custom_id\":\"{id}\",\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{{\"prompt\":\"x\"}}}}");
        let e = parse_line(&line).expect_err("pass mark");
        assert!(e.len() < 600, "{} characters", e.len());
        assert!(e.contains("100002 characters"), "{e}");
    }

    #[test]
    fn an_unreadable_line_is_counted_and_named() {
        let mut p = BatchParser::default();
        let good = "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{\"prompt\":\"x\"}}";
        assert!(p.line(good).is_some());
        p.unreadable_line("line 2 is longer than 1 MiB");
        assert!(p.line("").is_none());
        let e = p.finish().expect_err("bad");
        assert_eq!(e.0[0].field, "line 2");
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

    #[test]
    fn a_byte_order_mark_at_the_start_of_the_file_is_not_part_of_the_first_line() {
        let text = "\u{feff}{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{\"prompt\":\"x\"}}\n";
        let items = parse_batch_jsonl(text).expect("a BOM is skipped");
        assert_eq!(items[0].custom_id, "a");
    }

    #[test]
    fn a_csv_file_is_told_it_is_csv_and_what_to_upload_instead() {
        let err = parse_batch_jsonl("custom_id,prompt\na,hello\n").expect_err("CSV");
        assert_eq!(err.0[0].field, "line 1");
        assert_eq!(err.0[0].message, CSV_FILE);
        assert!(CSV_FILE.contains("JSONL") && CSV_FILE.contains("one JSON request per line"));
        // A first line that is JSON (even not an object) is not called CSV.
        let err = parse_batch_jsonl("[1,2]\n").expect_err("array");
        assert!(err.0[0].message.starts_with("expected a JSON object"), "{err:?}");
    }
}
