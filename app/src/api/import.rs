//! Bringing runs measured elsewhere into Bakeoff. All or nothing: a bad file stores nothing.

#[cfg(feature = "ssr")]
use super::error::AppError;

/// Import one file: a seed-system run summary (JSON) or an OpenAI Batch output (JSONL), the
/// latter optionally with its input file (for the prompts). Returns the new run's id.
#[cfg(feature = "ssr")]
pub async fn import_file(db: &crate::db::Db, filename: &str, text: &str, input: Option<(&str, &str)>) -> Result<i64, AppError> {
    use crate::domain::dataset::parse_batch_jsonl;
    use crate::domain::import::{batch_output, seed_summary};
    let looks_like_json_document =
        filename.ends_with(".json") || (text.trim_start().starts_with('{') && serde_json::from_str::<serde_json::Value>(text).is_ok());
    if looks_like_json_document {
        if input.is_some() {
            return Err(AppError::validation(
                "input",
                "an input file goes with a Batch output (.jsonl), not with a run summary",
            ));
        }
        let run = seed_summary(filename, text).map_err(AppError::Validation)?;
        return Ok(crate::db::runs::insert_imported(db, &run, None).await?);
    }
    let run = batch_output(filename, text).map_err(AppError::Validation)?;
    let dataset_id = match input {
        None => None,
        Some((input_name, input_text)) => {
            let items = parse_batch_jsonl(input_text).map_err(|e| {
                AppError::Validation(crate::domain::errors::FieldErrors(
                    e.0.into_iter()
                        .map(|f| crate::domain::errors::FieldError {
                            field: format!("input {}", f.field),
                            message: f.message,
                        })
                        .collect(),
                ))
            })?;
            let known: std::collections::HashSet<&str> = items.iter().map(|i| i.custom_id.as_str()).collect();
            let missing: Vec<&str> = run
                .records
                .iter()
                .map(|r| r.custom_id.as_str())
                .filter(|c| !known.contains(c))
                .take(5)
                .collect();
            if !missing.is_empty() {
                return Err(AppError::validation(
                    "input",
                    format!("the input file lacks custom_id(s) the output has: {}", missing.join(", ")),
                ));
            }
            let name = format!("{input_name} (input of {filename})");
            let id = match crate::db::datasets::id_by_name(db, &name).await? {
                Some(id) => id,
                None => {
                    crate::db::datasets::insert(
                        db,
                        crate::db::datasets::NewDataset {
                            name: &name,
                            description: "prompts of an imported Batch output",
                            source: &format!("import: {input_name}"),
                            builtin: false,
                            answer_schema: None,
                            rubric: None,
                            items: &items,
                        },
                    )
                    .await?
                }
            };
            Some(id)
        }
    };
    let id = crate::db::runs::insert_imported(db, &run, dataset_id).await?;
    super::quality::check_run(db, id).await?;
    Ok(id)
}
