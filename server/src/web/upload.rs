//! The datasets page's upload form (multipart), which works without JavaScript: it stores the
//! file or comes back to the page with the problem at its field. The file streams through a
//! spool (`app::api::spool`) as it arrives; the form's other fields are small.

use app::api::datasets::{check_upload, store_upload, Upload};
use app::api::guard::{Caller, Permission, Site};
use app::api::spool::{DatasetSpool, ImportSpool, TextSpool};
use app::api::AppError;
use app::domain::dataset::clip;
use app::state::AppState;
use axum::extract::multipart::Field;
use axum::extract::{Multipart, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;

/// The largest form field besides the file (name, description, schema, rubric).
pub const MAX_FORM_FIELD: usize = 1024 * 1024;

/// A caller whose role may not use the form gets 403 (the form is not shown to them); every
/// other outcome goes back to the page.
pub async fn upload_form(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    site: Option<Extension<Site>>,
    multipart: Multipart,
) -> Response {
    if let Err(e) = caller.require(Permission::Run) {
        return e.into_response();
    }
    let stored = store(&s, &caller, multipart).await;
    if let Ok(id) = stored {
        owned_by(&s, app::api::trash::TrashKind::Dataset, id, &caller).await;
        app::api::audit::dataset_uploaded(&s.db, &app::api::audit::actor_at(&caller, site.as_ref().map(|e| &e.0)), id).await;
    }
    back_with("/datasets", "uploaded", stored).into_response()
}

/// The import page's form: a run summary or Batch output, with an optional input file.
pub async fn import_form(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    site: Option<Extension<Site>>,
    multipart: Multipart,
) -> Response {
    if let Err(e) = caller.require(Permission::Run) {
        return e.into_response();
    }
    let mut file_name = String::new();
    let imported = import(&s, &caller, &mut file_name, multipart).await;
    if let Ok(id) = imported {
        owned_by(&s, app::api::trash::TrashKind::Run, id, &caller).await;
        app::api::audit::imported(
            &s.db,
            &app::api::audit::actor_at(&caller, site.as_ref().map(|e| &e.0)),
            id,
            &file_name,
        )
        .await;
    }
    back_with("/import", "run", imported).into_response()
}

fn cut_short(e: impl std::fmt::Display) -> AppError {
    AppError::validation("file", format!("the upload was cut short or is not a form ({e})"))
}

async fn import(s: &AppState, caller: &Caller, file_name: &mut String, mut multipart: Multipart) -> Result<i64, AppError> {
    caller.require(Permission::Run)?;
    // The file is read line by line as it arrives and spooled (a Batch output of any size in
    // bounded memory); the optional input file (prompts) is taken whole, bounded by the limit.
    let _turn = s.uploads.enter().await?;
    let (mut file, mut input) = (None, None);
    while let Some(mut field) = multipart.next_field().await.map_err(cut_short)? {
        let which = field.name().unwrap_or("").to_string();
        let name = field.file_name().unwrap_or("upload").to_string();
        match which.as_str() {
            "file" => {
                file_name.clone_from(&name);
                let mut spool = ImportSpool::new(&clip(&name), s.uploads.limits())?;
                let mut empty = true;
                while let Some(chunk) = field.chunk().await.map_err(cut_short)? {
                    empty &= chunk.is_empty();
                    if !spool.push(&chunk).await? {
                        break;
                    }
                }
                if !empty {
                    file = Some(spool.finish().await?);
                }
            }
            "input" => {
                let mut spool = TextSpool::new(s.uploads.limits());
                while let Some(chunk) = field.chunk().await.map_err(cut_short)? {
                    if !spool.push(&chunk) {
                        break;
                    }
                }
                let text = spool.finish("input", &clip(&name))?;
                if !text.is_empty() {
                    input = Some((name, text));
                }
            }
            _ => {}
        }
    }
    let file = file.ok_or_else(|| AppError::validation("file", "choose a file to import"))?;
    app::api::import::import_spooled(&s.db, file, input.as_ref().map(|(n, t)| (n.as_str(), t.as_str()))).await
}

/// Redirect to `page`, with `?{ok_key}=ID` on success or the problem at its field: the first
/// problem and how many more, each cut short (a URL is no place for a whole line).
fn back_with(page: &str, ok_key: &str, result: Result<i64, AppError>) -> Redirect {
    match result {
        Ok(id) => Redirect::to(&format!("{page}?{ok_key}={id}")),
        Err(e) => {
            let (field, message) = short_message(&e);
            Redirect::to(&format!("{page}?error_field={}&error={}", encode(&field), encode(&message)))
        }
    }
}

/// The field a form error belongs to, and its message in at most a few hundred characters.
fn short_message(e: &AppError) -> (String, String) {
    const MAX: usize = 300;
    let cut = |s: &str| match s.char_indices().nth(MAX) {
        None => s.to_string(),
        Some((at, _)) => format!("{}…", &s[..at]),
    };
    match e {
        AppError::Validation(errs) if !errs.0.is_empty() => {
            let first = &errs.0[0];
            let field = if first.field.starts_with("line") || first.field == "file" {
                "file".to_string()
            } else {
                cut(&first.field).chars().take(40).collect()
            };
            // The parser's last entry may say how many bad lines it did not list.
            let unlisted = errs
                .0
                .last()
                .filter(|f| f.field == "file" && errs.0.len() > 1)
                .and_then(|f| f.message.split_whitespace().next()?.parse::<usize>().ok());
            let more = errs.0.len() - 1 - usize::from(unlisted.is_some()) + unlisted.unwrap_or(0);
            let mut message = format!("{}: {}", cut(&first.field), cut(&first.message));
            if more > 0 {
                message.push_str(&format!(" (and {more} more problem{})", if more == 1 { "" } else { "s" }));
            }
            (field, message)
        }
        other => ("form".to_string(), cut(&other.to_string())),
    }
}

/// A small form field as text (at most [`MAX_FORM_FIELD`]).
async fn small_text(mut field: Field<'_>, which: &str) -> Result<String, AppError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(cut_short)? {
        if bytes.len() + chunk.len() > MAX_FORM_FIELD {
            return Err(AppError::validation(
                which,
                format!(
                    "longer than {}, the most this field may hold",
                    app::api::spool::size(MAX_FORM_FIELD as u64)
                ),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|e| AppError::validation(which, format!("not UTF-8 text ({e})")))
}

async fn store(s: &AppState, caller: &Caller, mut multipart: Multipart) -> Result<i64, AppError> {
    caller.require(Permission::Run)?;
    let (mut name, mut description, mut file, mut filename) = (String::new(), String::new(), None, String::new());
    let (mut schema, mut rubric) = (String::new(), String::new());
    let mut internal_only = false;
    while let Some(mut field) = multipart.next_field().await.map_err(cut_short)? {
        match field.name().unwrap_or("").to_string().as_str() {
            "name" => name = small_text(field, "name").await?,
            "description" => description = small_text(field, "description").await?,
            "schema" => schema = small_text(field, "schema").await?,
            "rubric" => rubric = small_text(field, "rubric").await?,
            "internal_only" => internal_only = !matches!(small_text(field, "internal_only").await?.trim(), "" | "false" | "off" | "0"),
            "file" => {
                // With no file chosen a browser sends an empty part with an empty file name; a
                // chosen file that is empty (0 bytes) has its name, and is told it has no requests.
                let chosen = field.file_name().is_some_and(|n| !n.is_empty());
                filename = field.file_name().filter(|n| !n.is_empty()).unwrap_or("upload").to_string();
                let mut spool = DatasetSpool::new(s.uploads.enter().await?)?;
                let mut empty = true;
                while let Some(chunk) = field.chunk().await.map_err(cut_short)? {
                    empty &= chunk.is_empty();
                    if !spool.push(&chunk).await? {
                        break;
                    }
                }
                if chosen || !empty {
                    file = Some(spool.finish().await?);
                }
            }
            _ => {}
        }
    }
    let file = file.ok_or_else(|| AppError::validation("file", "choose a .jsonl file to upload"))?;
    let mut checked = check_upload(
        &s.db,
        &Upload {
            name: &name,
            description: &description,
            filename: &clip(&filename),
            schema: Some(&schema),
            rubric: Some(&rubric),
        },
    )
    .await?;
    checked.internal_only = internal_only;
    store_upload(&s.db, &checked, file).await
}

/// Record who made what a form stored (a failure is logged: the upload itself stands).
async fn owned_by(s: &AppState, kind: app::api::trash::TrashKind, id: i64, caller: &Caller) {
    if let Err(e) = app::db::trash::set_created_by(&s.db, kind, &[id], caller.id).await {
        tracing::warn!("{kind} {id}: who made it was not recorded: {e}");
    }
}

/// Percent-encoding for a query value.
pub use app::domain::format::percent_encode as encode;

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::errors::FieldErrors;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(super::encode("line 3: `url` ok\n"), "line%203%3A%20%60url%60%20ok%0A");
    }

    #[test]
    fn a_form_error_is_the_first_problem_and_a_count_each_cut_short() {
        let mut errs = FieldErrors::default();
        errs.push("line 2", "x".repeat(10_000));
        errs.push("line 3", "not valid JSON");
        errs.push("file", "40 more bad line(s) follow; fix these first");
        let (field, message) = short_message(&AppError::Validation(errs));
        assert_eq!(field, "file");
        assert!(message.starts_with("line 2: xxx"), "{message}");
        assert!(message.ends_with("(and 41 more problems)"), "{message}");
        assert!(message.chars().count() < 400, "{} characters", message.chars().count());
        let (_, one) = short_message(&AppError::validation("name", "Name is required"));
        assert_eq!(one, "name: Name is required");
    }
}
