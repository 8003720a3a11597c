//! Bringing runs measured elsewhere into Bakeoff. All or nothing: a bad file stores nothing.

#[cfg(feature = "ssr")]
use super::error::AppError;

/// Import one file: a seed-system run summary (JSON) or an OpenAI Batch output (JSONL), the
/// latter optionally with its input file (for the prompts). Returns the new run's id.
#[cfg(feature = "ssr")]
pub async fn import_file(db: &crate::db::Db, filename: &str, text: &str, input: Option<(&str, &str)>) -> Result<i64, AppError> {
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
        not_imported_yet(db, &run).await?;
        return Ok(crate::db::runs::insert_imported(db, &run, None).await?);
    }
    let run = batch_output(filename, text).map_err(AppError::Validation)?;
    not_imported_yet(db, &run).await?;
    let dataset_id = match input {
        None => None,
        Some((input_name, input_text)) => {
            let (items, known) = input_items(input_text)?;
            lacks(&known, run.records.iter().map(|r| r.custom_id.as_str()))?;
            Some(store_input(db, input_name, filename, &items).await?)
        }
    };
    let id = crate::db::runs::insert_imported(db, &run, dataset_id).await?;
    super::quality::check_run(db, id).await?;
    Ok(id)
}

/// Import a file received through a spool (REST and the import form): a run summary, or a
/// Batch output stored from the spool in batches inside one transaction (all or nothing), with
/// the optional input file (prompts) whose ids must cover the output's.
#[cfg(feature = "ssr")]
pub async fn import_spooled(db: &crate::db::Db, file: super::spool::ImportFile, input: Option<(&str, &str)>) -> Result<i64, AppError> {
    use super::spool::ImportFile;
    let (run, mut records) = match file {
        ImportFile::Summary { name, text } => return import_file(db, &name, &text, input).await,
        ImportFile::BatchOutput(run, records) => (run, records),
    };
    not_imported_yet(db, &run).await?;
    let dataset = match input {
        None => None,
        Some((_, input_text)) => Some(input_items(input_text)?),
    };
    let mut tx = crate::db::write_tx(db).await?;
    let id = crate::db::runs::insert_imported_tx(&mut tx, &run, None).await?;
    loop {
        let batch = records.next_batch(500).await?;
        if batch.is_empty() {
            break;
        }
        if let Some((_, known)) = &dataset {
            lacks(known, batch.iter().map(|r| r.custom_id.as_str()))?;
        }
        crate::db::records::insert_batch_tx(&mut tx, id, &batch).await?;
    }
    tx.commit().await.map_err(crate::db::DbError::from)?;
    if let (Some((items, _)), Some((input_name, _))) = (dataset, input) {
        let dataset_id = store_input(db, input_name, &run.provenance.file, &items).await?;
        crate::db::runs::set_dataset(db, id, dataset_id).await?;
    }
    super::quality::check_run(db, id).await?;
    Ok(id)
}

/// The same file twice would count one measurement (a summary) or every answer (a Batch
/// output) twice in every ranking: refused, naming the run that holds it.
#[cfg(feature = "ssr")]
async fn not_imported_yet(db: &crate::db::Db, run: &crate::domain::import::ImportedRun) -> Result<(), AppError> {
    let Some(id) = crate::db::runs::imported_already(db, &run.provenance).await? else {
        return Ok(());
    };
    let same = match &run.provenance.batch_ids {
        Some(ids) => format!("results, {ids}"),
        None => "test id and time".to_string(),
    };
    Err(AppError::Conflict(format!(
        "{} is imported already, as run #{id} (the same {same}): delete that run first to import it again",
        run.provenance.file
    )))
}

/// The requests of a Batch input file, and their ids.
#[cfg(feature = "ssr")]
fn input_items(input_text: &str) -> Result<(Vec<crate::domain::dataset::DatasetItem>, std::collections::HashSet<String>), AppError> {
    let items = crate::domain::dataset::parse_batch_jsonl(input_text).map_err(|e| {
        AppError::Validation(crate::domain::errors::FieldErrors(
            e.0.into_iter()
                .map(|f| crate::domain::errors::FieldError {
                    field: format!("input {}", f.field),
                    message: f.message,
                })
                .collect(),
        ))
    })?;
    let known = items.iter().map(|i| i.custom_id.clone()).collect();
    Ok((items, known))
}

/// Refuse outputs whose ids the input file does not hold (naming up to five).
#[cfg(feature = "ssr")]
fn lacks<'a>(known: &std::collections::HashSet<String>, ids: impl Iterator<Item = &'a str>) -> Result<(), AppError> {
    let missing: Vec<&str> = ids.filter(|c| !known.contains(*c)).take(5).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(AppError::validation(
        "input",
        format!("the input file lacks custom_id(s) the output has: {}", missing.join(", ")),
    ))
}

/// The input file as a dataset named after it and the output it goes with (reused when the
/// same pair is imported again).
#[cfg(feature = "ssr")]
async fn store_input(
    db: &crate::db::Db,
    input_name: &str,
    filename: &str,
    items: &[crate::domain::dataset::DatasetItem],
) -> Result<i64, AppError> {
    let name = format!("{input_name} (input of {filename})");
    Ok(match crate::db::datasets::id_by_name(db, &name).await? {
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
                    items,
                },
            )
            .await?
        }
    })
}
