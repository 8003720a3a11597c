//! Automatic quality checks on an answer: is there JSON (bare, fenced, or wrapped in prose), what
//! do its fields say, and did the model hand the task back instead of doing it?

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where the JSON was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonForm {
    /// The whole answer is one JSON value.
    Bare,
    /// Inside a ``` fence (```json or plain).
    Fenced,
    /// An object embedded in other text.
    InProse,
}

impl JsonForm {
    pub fn label(self) -> &'static str {
        match self {
            JsonForm::Bare => "bare",
            JsonForm::Fenced => "fenced",
            JsonForm::InProse => "in prose",
        }
    }
}

/// Find the answer's JSON object, preferring the whole text, then a fence, then the first
/// balanced `{...}` that parses.
pub fn extract_json(text: &str) -> Option<(JsonForm, Value)> {
    let t = text.trim();
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(t) {
        return Some((JsonForm::Bare, v));
    }
    if let Some(start) = t.find("```") {
        let after = &t[start + 3..];
        let body_start = after.find('\n').map(|i| i + 1).unwrap_or(0);
        let body = &after[body_start..];
        let inner = body.find("```").map(|e| &body[..e]).unwrap_or(body);
        if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(inner.trim()) {
            return Some((JsonForm::Fenced, v));
        }
    }
    let bytes = t.as_bytes();
    let mut from = 0;
    while let Some(off) = t[from..].find('{') {
        let start = from + off;
        // `{"` opens an object; a lone `{` in prose may not.
        let object = t[start + 1..].trim_start().starts_with('"');
        match balanced_end(bytes, start) {
            Some(end) => {
                if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(&t[start..=end]) {
                    return Some((JsonForm::InProse, v));
                }
                // A malformed object: the objects inside it are pieces of it, not the answer.
                from = if object { end + 1 } else { start + 1 };
            }
            // An object that never closes was cut off (at max tokens): everything after its `{`
            // is inside it, and a complete inner object is no answer.
            None if object => return None,
            None => from = start + 1,
        }
    }
    None
}

/// The answer without a reasoning model's thinking: the text after the last `</think>` (some
/// chat templates open the block in the prompt, so only the closing tag is in the answer); an
/// answer that opens `<think>` and never closes it is all thinking, so nothing.
pub fn without_reasoning(text: &str) -> &str {
    if let Some(end) = text.rfind("</think>") {
        return text[end + "</think>".len()..].trim_start();
    }
    if text.trim_start().starts_with("<think>") {
        return "";
    }
    text
}

/// An answer as a blind reviewer reads it: the extracted JSON pretty-printed with sorted keys,
/// whatever wrapped it (a fence, a sentence, nothing), so the wrapping cannot tell the model; or
/// the text itself when it holds no JSON object. A reasoning model's thinking is left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownAnswer {
    /// `text` is the extracted JSON.
    pub json: bool,
    pub text: String,
}

pub fn shown_answer(response: &str) -> ShownAnswer {
    let text = without_reasoning(response);
    match extract_json(text) {
        Some((_, v)) => ShownAnswer {
            json: true,
            text: serde_json::to_string_pretty(&sorted_keys(v)).unwrap_or_default(),
        },
        None => ShownAnswer {
            json: false,
            text: text.trim().to_string(),
        },
    }
}

/// The value with every object's keys in sorted order (whatever order the model wrote them in,
/// and whether or not serde_json preserves insertion order).
fn sorted_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut pairs: Vec<(String, Value)> = m.into_iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(pairs.into_iter().map(|(k, v)| (k, sorted_keys(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted_keys).collect()),
        other => other,
    }
}

/// Index of the `}` closing the `{` at `start`, skipping braces inside strings.
fn balanced_end(b: &[u8], start: usize) -> Option<usize> {
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    for (i, &c) in b.iter().enumerate().skip(start) {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' => depth += 1,
            b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The value at a dotted path (`analysis.trajectory.rating`).
pub fn field<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, key| cur.get(key))
}

/// A field as text for filtering and charting (`true`, `Strong Yes`, `3`).
pub fn field_text(v: &Value, path: &str) -> Option<String> {
    match field(v, path)? {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Phrases of a model handing the task back ("please fill in the fields", "your turn").
const HANDBACK_CUES: [&str; 8] = [
    "fill in the fields",
    "your turn",
    "please fill in",
    "[insert",
    "[your",
    "fill in the following",
    "use evidence from the candidate profile to support your",
    "provide your evaluation",
];

/// The seed's instruction failure: no JSON, and the text asks the user to do the evaluation.
pub fn hands_task_back(text: &str) -> bool {
    let lower = text.to_lowercase();
    extract_json(text).is_none() && HANDBACK_CUES.iter().any(|c| lower.contains(c))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_answer_cut_off_inside_its_json_has_no_json_even_where_an_inner_object_closes() {
        use super::extract_json;
        let cut = "{\"candidate\": {\"rating\": 5, \"reasoning\": \"good\"}, \"recommendation\": \"Stro";
        assert_eq!(extract_json(cut), None);
        let fenced = "Here it is:\n```json\n{\"scores\": {\"a\": 1}, \"summary\": \"the candi";
        assert_eq!(extract_json(fenced), None);
        let malformed = "{\"a\": {\"b\": 1}, oops}";
        assert_eq!(extract_json(malformed), None, "a piece of a malformed object is no answer");
        // Prose braces that are no object do not hide the JSON after them.
        let prose = "Fill { the form } as {name says}: {\"rating\": 4}";
        assert!(extract_json(prose).is_some_and(|(_, v)| v["rating"] == 4));
        let unclosed_prose = "a { stray brace, then {\"rating\": 3}";
        assert!(extract_json(unclosed_prose).is_some_and(|(_, v)| v["rating"] == 3));
    }

    use super::*;
    #[test]
    fn checks_read_the_answer_not_inlined_thinking() {
        let mut r = crate::domain::record::RequestRecord {
            idx: 0,
            custom_id: "a".into(),
            warmup: false,
            outcome: crate::domain::status::Outcome::Ok,
            http_status: Some(200),
            error: None,
            finish_reason: Some("stop".into()),
            prompt_tokens: None,
            completion_tokens: None,
            scheduled: None,
            sent: std::time::Duration::ZERO,
            ttft: None,
            e2e: std::time::Duration::ZERO,
            content_chunks: 0,
            itl: vec![],
            response: "<think>maybe {\"recommendation\": \"No\"}</think>{\"recommendation\": \"Yes\"}".into(),
            reasoning: None,
        };
        let c = check_answer(&r, &Default::default(), None);
        assert_eq!(c.recommendation.as_deref(), Some("Yes"));
        r.response = "<think>{\"recommendation\": \"No\"}</think>I cannot decide.".into();
        let c = check_answer(&r, &Default::default(), None);
        assert_eq!(c.json_form, None, "the JSON in the thinking is not the answer's");
    }

    #[test]
    fn bare_fenced_and_prose_json_are_found_and_told_apart() {
        assert_eq!(extract_json(" {\"a\": 1} ").map(|x| x.0), Some(JsonForm::Bare));
        assert_eq!(extract_json("```json\n{\"a\": 1}\n```").map(|x| x.0), Some(JsonForm::Fenced));
        assert_eq!(
            extract_json("Here it is:\n\n{\"a\": {\"b\": \"}\"}} hope that helps").map(|x| x.0),
            Some(JsonForm::InProse)
        );
        assert_eq!(extract_json("no json here"), None);
        assert_eq!(extract_json("{\"truncated\": \"abc"), None);
    }

    #[test]
    fn blind_readers_see_the_same_json_whatever_wrapped_it() {
        let bare = "{\"b\": 1, \"a\": {\"y\": true, \"x\": \"s\"}}";
        let fenced = "```json\n{\n    \"a\": {\"x\": \"s\", \"y\": true},\n    \"b\": 1\n}\n```";
        let prose = "Here is my evaluation of the candidate.\n\n{\"a\": {\"x\": \"s\", \"y\": true}, \"b\": 1}";
        let shown: Vec<ShownAnswer> = [bare, fenced, prose].iter().map(|t| shown_answer(t)).collect();
        assert!(shown[0].json);
        assert_eq!(shown[0], shown[1]);
        assert_eq!(shown[0], shown[2]);
        assert_eq!(
            shown[0].text,
            "{\n  \"a\": {\n    \"x\": \"s\",\n    \"y\": true\n  },\n  \"b\": 1\n}"
        );
        assert!(!shown[2].text.contains("Here is"), "the wrapping sentence is not shown");
    }

    #[test]
    fn answers_without_json_are_shown_as_text_and_thinking_is_left_out() {
        assert_eq!(shown_answer("  plain words ").text, "plain words");
        assert!(!shown_answer("plain words").json);
        let thought = "<think>I am model X and I reason {\"a\": 1}</think>\n{\"b\": 2}";
        assert_eq!(shown_answer(thought).text, "{\n  \"b\": 2\n}");
        assert_eq!(without_reasoning("reasoning only opened by the template</think>answer"), "answer");
        assert_eq!(without_reasoning("<think>cut before the end"), "");
        assert_eq!(without_reasoning("no thinking"), "no thinking");
    }

    #[test]
    fn dotted_paths_reach_nested_fields() {
        let v: Value = serde_json::json!({"analysis": {"trajectory": {"rating": "Strong"}, "is_software_engineer": {"value": true}}});
        assert_eq!(field_text(&v, "analysis.trajectory.rating").as_deref(), Some("Strong"));
        assert_eq!(field_text(&v, "analysis.is_software_engineer.value").as_deref(), Some("true"));
        assert_eq!(field_text(&v, "analysis.missing"), None);
    }

    #[test]
    fn the_seed_llama_answer_is_a_handback() {
        let seed = "Be clear and concise.\n\n**Your Turn!**\n\nPlease fill in the fields with your evaluation and rationale.";
        assert!(hands_task_back(seed));
        assert!(!hands_task_back("{\"recommendation\": \"Yes\"} your turn"));
        assert!(!hands_task_back("The candidate is strong."));
    }
}

/// Automatic checks over a run's answered, measured records. `schema_ok` tells whether a
/// value is valid against the dataset's schema (`None`: the dataset has no schema).
pub fn assess_run(records: &[super::record::RequestRecord], schema_ok: Option<&dyn Fn(&Value) -> bool>) -> RunQuality {
    let mut q = RunQuality {
        schema_valid: schema_ok.map(|_| 0),
        ..Default::default()
    };
    for r in records.iter().filter(|r| !r.warmup && r.outcome.answered()) {
        q.answered += 1;
        if r.outcome == super::status::Outcome::Truncated {
            q.truncated += 1;
        }
        match extract_json(&r.response) {
            Some((_, v)) => {
                q.json_found += 1;
                if let (Some(ok), Some(n)) = (schema_ok, q.schema_valid.as_mut()) {
                    if ok(&v) {
                        *n += 1;
                    }
                }
            }
            None => {
                if hands_task_back(&r.response) {
                    q.handback += 1;
                }
            }
        }
    }
    q
}

/// A run's quality as far as Bakeoff knows it: automatic checks over every answer, and the
/// reviewers' grades where there are any.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunQuality {
    pub answered: u64,
    pub json_found: u64,
    /// Valid against the dataset's schema (`None`: the dataset has none).
    pub schema_valid: Option<u64>,
    pub handback: u64,
    pub truncated: u64,
    /// Reviewers' mean overall grade (1-5) and how many grades.
    pub mean_grade: Option<f64>,
    pub grades: u64,
    /// 95 % confidence half-width of the mean grade.
    pub grade_ci: Option<f64>,
}

impl RunQuality {
    /// One number for ranking, 0..=1: the mean grade if graded, else the schema-valid share,
    /// else the JSON-found share. `None` with nothing to go on.
    pub fn score(&self) -> Option<f64> {
        if let Some(g) = self.mean_grade {
            return Some((g - 1.0) / 4.0);
        }
        if self.answered == 0 {
            return None;
        }
        let n = self.answered as f64;
        Some(self.schema_valid.map(|v| v as f64 / n).unwrap_or(self.json_found as f64 / n))
    }

    /// What the score is, in words.
    /// In words, each figure with its interval where the sample is small.
    pub fn describe(&self) -> String {
        super::report::findings::describe_quality(self)
    }
}

/// The automatic checks on one answer, as stored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AnswerCheck {
    pub custom_id: String,
    pub json_form: Option<JsonForm>,
    /// `None` when the dataset has no schema (or there was no JSON to check).
    pub schema_valid: Option<bool>,
    /// Where the answer breaks the schema ("/analysis/trajectory/rating: ...").
    pub schema_errors: Vec<String>,
    pub handback: bool,
    pub truncated: bool,
    pub recommendation: Option<String>,
    /// Rubric fields found in the answer, by path.
    pub fields: std::collections::BTreeMap<String, String>,
}

/// Check one answer. `schema` returns the schema errors of a JSON value (empty: valid).
pub fn check_answer(
    r: &super::record::RequestRecord,
    rubric: &super::rubric::Rubric,
    schema: Option<&dyn Fn(&Value) -> Vec<String>>,
) -> AnswerCheck {
    // The answer as a reviewer sees it: thinking inlined in the content (`<think>...</think>`)
    // is not the answer, and a JSON inside it must not be checked as if it were.
    let answer = without_reasoning(&r.response);
    let found = extract_json(answer);
    let mut c = AnswerCheck {
        custom_id: r.custom_id.clone(),
        json_form: found.as_ref().map(|f| f.0),
        truncated: r.outcome == super::status::Outcome::Truncated,
        handback: found.is_none() && hands_task_back(answer),
        ..Default::default()
    };
    if let Some((_, v)) = &found {
        if let Some(check) = schema {
            let errors = check(v);
            c.schema_valid = Some(errors.is_empty());
            c.schema_errors = errors;
        }
        c.recommendation = field_text(v, "recommendation");
        for f in &rubric.fields {
            if let Some(t) = field_text(v, &f.path) {
                c.fields.insert(f.path.clone(), t);
            }
        }
    } else if schema.is_some() {
        c.schema_valid = Some(false);
        c.schema_errors = vec![if c.truncated {
            "no complete JSON (cut at max_tokens)".into()
        } else {
            "no JSON found".into()
        }];
    }
    c
}
