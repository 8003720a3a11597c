use super::error::AppError;
use super::types::DatasetView;
use leptos::prelude::*;

#[server]
pub async fn list_datasets() -> Result<Vec<DatasetView>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    Ok(crate::db::datasets::list(&state()?.db).await?)
}

/// Parse and store an OpenAI Batch JSONL file (all or nothing). Shared by the upload form, the
/// REST API and the CLI.
#[cfg(feature = "ssr")]
pub async fn store_upload(db: &crate::db::Db, name: &str, description: &str, filename: &str, text: &str) -> Result<i64, AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::validation("name", "Name is required"));
    }
    let items = crate::domain::dataset::parse_batch_jsonl(text).map_err(AppError::Validation)?;
    let source = format!("upload: {filename}");
    Ok(crate::db::datasets::insert(
        db,
        crate::db::datasets::NewDataset {
            name,
            description: description.trim(),
            source: &source,
            builtin: false,
            answer_schema: None,
            rubric: None,
            items: &items,
        },
    )
    .await?)
}
