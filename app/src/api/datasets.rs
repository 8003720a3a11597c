use super::error::AppError;
use super::types::DatasetView;
use leptos::prelude::*;

#[server]
pub async fn list_datasets() -> Result<Vec<DatasetView>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    Ok(crate::db::datasets::list(&state()?.db).await?)
}

/// An uploaded dataset: what describes the JSONL file, and optionally what a good answer looks
/// like. The file itself arrives in a [`Spooled`](super::spool::Spooled).
#[derive(Clone, Copy)]
pub struct Upload<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub filename: &'a str,
    /// A JSON Schema for the expected answer.
    pub schema: Option<&'a str>,
    /// `{"fields": [{"path", "label", "scale", "ordered"}]}`.
    pub rubric: Option<&'a str>,
}

/// An upload's description, checked.
#[cfg(feature = "ssr")]
pub struct CheckedUpload {
    name: String,
    description: String,
    source: String,
    schema: Option<serde_json::Value>,
    rubric: Option<serde_json::Value>,
    /// Never sent to a hosted endpoint (set before the dataset becomes visible).
    pub internal_only: bool,
}

/// Items stored per transaction: short enough that a running run's writes never wait long.
#[cfg(feature = "ssr")]
const BATCH: usize = 500;

/// Check an upload's name (free), schema and rubric; before its file is read when they come
/// first.
#[cfg(feature = "ssr")]
pub async fn check_upload(db: &crate::db::Db, upload: &Upload<'_>) -> Result<CheckedUpload, AppError> {
    let Upload {
        name,
        description,
        filename,
        schema,
        rubric,
    } = *upload;
    let name = super::runs::one_line(name, 200).map_err(|m| {
        AppError::validation(
            "name",
            if m == "required" {
                "Name is required".to_string()
            } else {
                format!("Name: {m}")
            },
        )
    })?;
    let name = name.as_str();
    if let Some(id) = crate::db::datasets::id_by_name(db, name).await? {
        let trashed = crate::db::trash::trashed_name(db, super::trash::TrashKind::Dataset, id)
            .await?
            .is_some();
        return Err(AppError::Conflict(format!(
            "a dataset named '{}' {}; choose another name",
            crate::domain::dataset::clip(name),
            if trashed {
                "is in the trash (an admin can restore it, or delete it forever, on the Trash page)"
            } else {
                "already exists"
            }
        )));
    }
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
    Ok(CheckedUpload {
        name: name.to_string(),
        description: description.trim().to_string(),
        source: format!("upload: {filename}"),
        schema,
        rubric,
        internal_only: false,
    })
}

/// Store a checked OpenAI Batch JSONL file from its spool (all or nothing): in batches, the
/// dataset hidden until its last item is in; an upload that fails or is dropped half-way
/// removes what it stored. Shared by the upload form and the REST API.
#[cfg(feature = "ssr")]
pub async fn store_upload(db: &crate::db::Db, upload: &CheckedUpload, mut file: super::spool::Spooled) -> Result<i64, AppError> {
    use crate::db::datasets;
    let id = datasets::begin_upload(
        db,
        datasets::NewDataset {
            name: &upload.name,
            description: &upload.description,
            source: &upload.source,
            builtin: false,
            answer_schema: upload.schema.as_ref(),
            rubric: upload.rubric.as_ref(),
            items: &[],
        },
    )
    .await?;
    let mut pending = Pending {
        db: db.clone(),
        id: Some(id),
    };
    if upload.internal_only {
        crate::db::data_rules::set_internal_only(db, id, true).await?;
    }
    let mut stored = 0;
    loop {
        let batch = file.next_batch(BATCH).await?;
        if batch.is_empty() {
            break;
        }
        datasets::add_items(db, id, stored, &batch).await?;
        stored += batch.len();
    }
    datasets::finish_upload(db, id, stored).await?;
    pending.id = None;
    Ok(id)
}

/// A hidden dataset whose upload has not finished: dropped before then (an error, a client gone
/// away), it is removed.
#[cfg(feature = "ssr")]
struct Pending {
    db: crate::db::Db,
    id: Option<i64>,
}

#[cfg(feature = "ssr")]
impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let db = self.db.clone();
            tokio::spawn(async move {
                if let Err(e) = crate::db::datasets::discard_upload(&db, id).await {
                    tracing::warn!("removing the unfinished upload of dataset {id}: {e}");
                }
            });
        }
    }
}

/// Move a dataset no run uses to the trash (`dry_run`: only say what would go).
#[server]
pub async fn delete_dataset(id: i64, #[server(default)] dry_run: bool) -> Result<super::runs::Removal, AppError> {
    use super::guard::{authorize, state, Permission};
    use super::trash::{delete, TrashKind};
    let me = authorize(Permission::Run).await?;
    delete(&state()?, &super::audit::actor_here(&me), TrashKind::Dataset, id, dry_run).await
}

#[server]
pub async fn rename_dataset(id: i64, name: String) -> Result<(), AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Run).await?;
    let (db, name) = (state()?.db, super::runs::checked_name(&name)?);
    crate::db::datasets::rename(&db, id, &name).await?;
    super::audit::renamed(&db, &super::audit::actor_here(&me), "dataset", id, &name).await;
    Ok(())
}
