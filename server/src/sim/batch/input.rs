//! A batch's input file: its lines checked as OpenAI checks them, and the lines picked to fail.

use app::domain::rng::SplitMix64;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::Range;

/// Lines in one batch (OpenAI's limit).
pub const MAX_LINES: usize = 50_000;
/// Bad lines listed in a failed batch's `errors`.
const MAX_LINE_ERRORS: usize = 20;

/// A good input file's lines (where each is, and its `custom_id`), or the problems of a bad one
/// in OpenAI's shape (`{"code", "message", "param", "line"}`, lines numbered from 1). Each line
/// must be a JSON object with a unique `custom_id`, `"method": "POST"`, the batch's endpoint as
/// its `url` and an object as its `body`; blank lines are skipped.
pub fn validate(input: &[u8], endpoint: &str) -> Result<Vec<(Range<usize>, String)>, Vec<Value>> {
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut start = 0;
    for (i, raw) in input.split(|b| *b == b'\n').enumerate() {
        let (span, number) = (start..start + raw.len(), i + 1);
        start += raw.len() + 1;
        if raw.trim_ascii().is_empty() {
            continue;
        }
        let mut bad = |code: &str, param: Option<&str>, message: String| {
            problems.push(json!({"code": code, "message": format!("line {number}: {message}"), "param": param, "line": number}));
        };
        let v: Value = match serde_json::from_slice(raw) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                bad("invalid_json_line", None, "not a JSON object".into());
                continue;
            }
            Err(e) => {
                bad("invalid_json_line", None, format!("not valid JSON ({e})"));
                continue;
            }
        };
        let text = |k: &str| v.get(k).and_then(Value::as_str);
        match text("custom_id").filter(|id| !id.is_empty()) {
            None => bad(
                "missing_required_parameter",
                Some("custom_id"),
                "`custom_id` is missing (a unique string per line)".into(),
            ),
            Some(id) => match seen.get(id) {
                Some(first) => bad(
                    "duplicate_custom_id",
                    Some("custom_id"),
                    format!("custom_id \"{id}\" is also on line {first}"),
                ),
                None => {
                    seen.insert(id.to_string(), number);
                    lines.push((span, id.to_string()));
                }
            },
        }
        if text("method") != Some("POST") {
            bad("invalid_request", Some("method"), "`method` must be \"POST\"".into());
        }
        match text("url") {
            Some(url) if url == endpoint => {}
            other => {
                let m = format!(
                    "`url` is {:?}, but this batch's endpoint is {endpoint} (every line must use it)",
                    other.unwrap_or("")
                );
                bad("invalid_url", Some("url"), m);
            }
        }
        if !v.get("body").is_some_and(Value::is_object) {
            bad(
                "missing_required_parameter",
                Some("body"),
                "`body` must be a JSON object (the request to send)".into(),
            );
        }
        if problems.len() >= MAX_LINE_ERRORS {
            break;
        }
    }
    if problems.is_empty() && lines.is_empty() {
        problems.push(json!({"code": "empty_file", "message": "the input file has no lines", "param": null, "line": null}));
    }
    if lines.len() > MAX_LINES {
        let m = format!("the input file has {} lines; a batch takes at most {MAX_LINES}", lines.len());
        problems.push(json!({"code": "too_many_tasks", "message": m, "param": null, "line": null}));
    }
    problems.truncate(MAX_LINE_ERRORS);
    if problems.is_empty() {
        Ok(lines)
    } else {
        Err(problems)
    }
}

/// Which lines fail: exactly round(rate x lines) of them, those whose `custom_id` draws lowest
/// for the seed (so the same lines fail in every run, whatever their order).
pub fn failing(seed: u64, custom_ids: &[&str], rate: f64) -> Vec<bool> {
    let k = (rate.clamp(0.0, 1.0) * custom_ids.len() as f64).round() as usize;
    let mut draws: Vec<(u64, usize)> = custom_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (SplitMix64::keyed(seed ^ 0xba7c_4fa1, id).next_u64(), i))
        .collect();
    draws.sort_unstable();
    let mut fails = vec![false; custom_ids.len()];
    for &(_, i) in draws.iter().take(k) {
        fails[i] = true;
    }
    fails
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const EP: &str = "/v1/chat/completions";

    fn jsonl(lines: &[Value]) -> Vec<u8> {
        lines.iter().map(|l| format!("{l}\n")).collect::<String>().into_bytes()
    }

    fn line(custom_id: &str) -> Value {
        json!({"custom_id": custom_id, "method": "POST", "url": EP, "body": {"model": "m"}})
    }

    #[test]
    fn validation_names_the_line_and_field_of_each_problem() {
        let text = jsonl(&[
            line("a"),
            line("a"),
            json!({"custom_id": "b", "method": "GET", "url": EP, "body": {}}),
            json!({"custom_id": "c", "method": "POST", "url": "/v1/completions", "body": {}}),
            json!({"custom_id": "d", "method": "POST", "url": EP, "body": "hi"}),
        ]);
        let problems = validate(&text, EP).expect_err("bad lines");
        let got: Vec<(u64, &str)> = problems
            .iter()
            .map(|p| (p["line"].as_u64().unwrap_or(0), p["param"].as_str().unwrap_or("")))
            .collect();
        assert_eq!(got, vec![(2, "custom_id"), (3, "method"), (4, "url"), (5, "body")]);
        assert!(problems[0]["message"].as_str().is_some_and(|m| m.contains("also on line 1")));
    }

    #[test]
    fn good_lines_are_kept_with_their_place_and_blank_lines_are_skipped() {
        let mut text = jsonl(&[line("req-0"), line("req-1")]);
        text.extend_from_slice(b"\n  \r\n");
        let lines = validate(&text, EP).expect("good");
        let ids: Vec<&str> = lines.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(ids, ["req-0", "req-1"]);
        let second: Value = serde_json::from_slice(&text[lines[1].0.clone()]).expect("a whole line");
        assert_eq!(second["custom_id"], "req-1");
        assert_eq!(validate(b"\n", EP).expect_err("empty")[0]["code"], "empty_file");
    }

    #[test]
    fn more_lines_than_a_batch_takes_are_refused_as_too_many_tasks() {
        let text = jsonl(&(0..=MAX_LINES).map(|i| line(&format!("r{i}"))).collect::<Vec<_>>());
        let problems = validate(&text, EP).expect_err("too many");
        assert_eq!(problems[0]["code"], "too_many_tasks");
    }

    #[test]
    fn the_fail_rate_fails_that_share_of_lines_the_same_ones_whatever_their_order() {
        let ids: Vec<String> = (0..1000).map(|i| format!("id-{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let fails = failing(7, &refs, 0.25);
        assert_eq!(fails.iter().filter(|f| **f).count(), 250);
        let failed: BTreeSet<&str> = refs.iter().zip(&fails).filter(|(_, f)| **f).map(|(id, _)| *id).collect();
        let reversed: Vec<&str> = refs.iter().rev().copied().collect();
        let again: BTreeSet<&str> = reversed
            .iter()
            .zip(failing(7, &reversed, 0.25))
            .filter(|(_, f)| *f)
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(failed, again);
        assert_ne!(failing(8, &refs, 0.25), fails, "another seed fails other lines");
        assert!(failing(7, &refs, 0.0).iter().all(|f| !f));
        assert!(failing(7, &refs, 1.0).iter().all(|f| *f));
    }
}
