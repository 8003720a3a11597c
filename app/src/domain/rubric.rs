//! What quality means for a dataset: the fields of the expected answer and their scales.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RubricField {
    /// Dotted path in the answer's JSON (`analysis.trajectory.rating`).
    pub path: String,
    pub label: String,
    /// The values allowed, best first for ordered scales.
    pub scale: Vec<Value>,
    /// Ordered scales get weighted agreement statistics.
    #[serde(default)]
    pub ordered: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rubric {
    pub fields: Vec<RubricField>,
}

impl Rubric {
    pub fn from_value(v: &Value) -> Option<Rubric> {
        serde_json::from_value(v.clone()).ok()
    }
    pub fn field(&self, path: &str) -> Option<&RubricField> {
        self.fields.iter().find(|f| f.path == path)
    }
}

impl RubricField {
    /// A scale value as the text answers are compared with.
    pub fn options(&self) -> Vec<String> {
        self.scale
            .iter()
            .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
            .collect()
    }
    /// Position of `value` on the scale (case-insensitive).
    pub fn index_of(&self, value: &str) -> Option<usize> {
        self.options().iter().position(|o| o.eq_ignore_ascii_case(value.trim()))
    }
}

/// The longest comment a grade keeps, in characters.
pub const MAX_COMMENT_CHARS: usize = 4_000;

/// Why a grade's rubric values or comment cannot be stored (field, message), or `None`: each
/// field must be one of the rubric's, judged `correct`, `incorrect` or a value of its scale (what
/// it should be), or empty (not given).
pub fn grade_refusal(
    rubric: &Rubric,
    fields: &std::collections::BTreeMap<String, String>,
    comment: &str,
) -> Option<(&'static str, String)> {
    for (path, value) in fields {
        let Some(field) = rubric.field(path) else {
            let known: Vec<&str> = rubric.fields.iter().map(|f| f.path.as_str()).collect();
            let name: String = path.chars().take(60).collect();
            return Some((
                "fields",
                if known.is_empty() {
                    format!("'{name}' is not a rubric field: this queue's dataset has no rubric, so give only the overall grade")
                } else {
                    format!(
                        "'{name}' is not a field of this dataset's rubric (its fields: {})",
                        known.join(", ")
                    )
                },
            ));
        };
        // The grader's choices: the model's value is correct or incorrect, or should be another
        // value of the scale.
        let judged = matches!(value.trim(), "" | "correct" | "incorrect") || field.index_of(value).is_some();
        if !judged {
            let shown: String = value.chars().take(60).collect();
            return Some((
                "fields",
                format!(
                    "{}: '{shown}' is not a judgement of it: correct, incorrect, or a value of its scale ({})",
                    field.label,
                    field.options().join(", ")
                ),
            ));
        }
    }
    let n = comment.chars().count();
    (n > MAX_COMMENT_CHARS).then(|| {
        (
            "comment",
            format!("a comment may have at most {MAX_COMMENT_CHARS} characters (this one has {n}): shorten it"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grade_takes_only_the_rubrics_fields_on_their_scales_and_a_bounded_comment() {
        let r = Rubric::from_value(&crate::domain::candidates::answer_rubric()).expect("rubric");
        let f = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(grade_refusal(&r, &f(&[("recommendation", "strong no")]), "fine"), None);
        assert_eq!(grade_refusal(&r, &f(&[("recommendation", "")]), ""), None, "empty: not given");
        assert_eq!(
            grade_refusal(
                &r,
                &f(&[("recommendation", "correct"), ("analysis.is_software_engineer.value", "incorrect")]),
                ""
            ),
            None
        );
        let (field, why) = grade_refusal(&r, &f(&[("zzz_not_a_field", "a")]), "").expect("refused");
        assert_eq!(field, "fields");
        assert!(
            why.contains("'zzz_not_a_field' is not a field") && why.contains("recommendation"),
            "{why}"
        );
        let (_, why) = grade_refusal(&r, &f(&[("recommendation", "<img src=x onerror=alert(1)>")]), "").expect("refused");
        assert!(why.contains("is not a judgement of it"), "{why}");
        let (field, why) = grade_refusal(&r, &f(&[]), &"x".repeat(MAX_COMMENT_CHARS + 1)).expect("refused");
        assert_eq!(field, "comment");
        assert!(why.contains("4001"), "{why}");
        assert_eq!(
            grade_refusal(&r, &f(&[]), &"é".repeat(MAX_COMMENT_CHARS)),
            None,
            "characters, not bytes"
        );
        let none = Rubric::default();
        assert!(grade_refusal(&none, &f(&[("a", "b")]), "")
            .expect("refused")
            .1
            .contains("no rubric"));
    }

    #[test]
    fn the_demo_rubric_reads_back() {
        let r = Rubric::from_value(&crate::domain::candidates::answer_rubric()).expect("rubric");
        assert_eq!(r.fields.len(), 5);
        let rec = r.field("recommendation").expect("field");
        assert!(rec.ordered);
        assert_eq!(rec.index_of("strong no"), Some(4));
        assert_eq!(
            r.field("analysis.is_software_engineer.value").expect("field").index_of("false"),
            Some(1)
        );
    }
}
