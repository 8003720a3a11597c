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

#[cfg(test)]
mod tests {
    use super::*;

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
