//! Messages about bad input, attached to the field a person has to fix.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The form field (or file line) at fault, e.g. `concurrency` or `line 3`.
    pub field: String,
    pub message: String,
}

/// Every problem found in one submission, so the person can fix them all at once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = FieldErrors::default();
        e.push(field, message);
        e
    }
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The first message for `field`, for showing beside it.
    pub fn for_field(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }
    /// `Ok(value)` when nothing was found wrong.
    pub fn into_result<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for FieldErrors {}

/// The message for a field a JSON body does not take: the closest it may have meant, and the
/// fields it takes.
pub fn unknown_field(field: &str, known: &[&str]) -> String {
    let near = known
        .iter()
        .map(|k| (edit_distance(field, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min();
    match near {
        Some((_, k)) => format!("unknown field `{field}`: did you mean `{k}`?"),
        None => format!("unknown field `{field}`; the fields are: {}", known.join(", ")),
    }
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod unknown_field_tests {
    #[test]
    fn a_misspelt_field_is_named_with_what_was_meant() {
        let known = ["api_key", "max_tokens", "warmup"];
        assert_eq!(
            super::unknown_field("api_kee", &known),
            "unknown field `api_kee`: did you mean `api_key`?"
        );
        assert_eq!(
            super::unknown_field("max_token", &known),
            "unknown field `max_token`: did you mean `max_tokens`?"
        );
        assert_eq!(
            super::unknown_field("warmups", &known),
            "unknown field `warmups`: did you mean `warmup`?"
        );
        assert_eq!(
            super::unknown_field("bogus", &known),
            "unknown field `bogus`; the fields are: api_key, max_tokens, warmup"
        );
    }
}
