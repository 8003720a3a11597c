use super::error::AppError;
use super::types::DatasetView;
use leptos::prelude::*;

#[server]
pub async fn list_datasets() -> Result<Vec<DatasetView>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    Ok(crate::db::datasets::list(&state()?.db).await?)
}

/// An uploaded dataset: the JSONL file, and optionally what a good answer looks like.
#[derive(Clone, Copy)]
pub struct Upload<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub filename: &'a str,
    pub text: &'a str,
    /// A JSON Schema for the expected answer.
    pub schema: Option<&'a str>,
    /// `{"fields": [{"path", "label", "scale", "ordered"}]}`.
    pub rubric: Option<&'a str>,
}

/// Parse and store an OpenAI Batch JSONL file (all or nothing). Shared by the upload form, the
/// REST API and the CLI.
#[cfg(feature = "ssr")]
pub async fn store_upload(db: &crate::db::Db, upload: &Upload<'_>) -> Result<i64, AppError> {
    let Upload {
        name,
        description,
        filename,
        text,
        schema,
        rubric,
    } = *upload;
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::validation("name", "Name is required"));
    }
    let items = crate::domain::dataset::parse_batch_jsonl(text).map_err(AppError::Validation)?;
    let schema = match schema.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(t) => {
            let v: serde_json::Value = serde_json::from_str(t)
                .map_err(|e| AppError::validation("schema", format!("the answer schema is not valid JSON ({e})")))?;
            jsonschema::validator_for(&v)
                .map_err(|e| AppError::validation("schema", format!("the answer schema is not a valid JSON Schema: {e}")))?;
            Some(v)
        }
    };
    let rubric = match rubric.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(t) => {
            let v: serde_json::Value =
                serde_json::from_str(t).map_err(|e| AppError::validation("rubric", format!("the rubric is not valid JSON ({e})")))?;
            let r = crate::domain::rubric::Rubric::from_value(&v).ok_or_else(|| {
                AppError::validation("rubric", "a rubric is {\"fields\": [{\"path\": \"recommendation\", \"label\": \"Recommendation\", \"scale\": [\"Yes\", \"No\"], \"ordered\": true}]}")
            })?;
            if r.fields.is_empty() {
                return Err(AppError::validation("rubric", "the rubric has no fields"));
            }
            Some(v)
        }
    };
    let source = format!("upload: {filename}");
    Ok(crate::db::datasets::insert(
        db,
        crate::db::datasets::NewDataset {
            name,
            description: description.trim(),
            source: &source,
            builtin: false,
            answer_schema: schema.as_ref(),
            rubric: rubric.as_ref(),
            items: &items,
        },
    )
    .await?)
}
