//! The datasets page's upload form (multipart), which works without JavaScript: it stores the
//! file or comes back to the page with the problems at their fields.

use app::api::datasets::store_upload;
use app::api::guard::{Caller, Permission};
use app::api::AppError;
use app::state::AppState;
use axum::extract::{Multipart, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;

/// Largest dataset file accepted (the body limit of this route).
pub const MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;

/// A caller whose role may not use the form gets 403 (the form is not shown to them); every
/// other outcome goes back to the page.
pub async fn upload_form(State(s): State<AppState>, Extension(caller): Extension<Caller>, multipart: Multipart) -> Response {
    if let Err(e) = caller.require(Permission::Run) {
        return e.into_response();
    }
    back_with("/datasets", "uploaded", store(&s, &caller, multipart).await).into_response()
}

/// The import page's form: a run summary or Batch output, with an optional input file.
pub async fn import_form(State(s): State<AppState>, Extension(caller): Extension<Caller>, multipart: Multipart) -> Response {
    if let Err(e) = caller.require(Permission::Run) {
        return e.into_response();
    }
    back_with("/import", "run", import(&s, &caller, multipart).await).into_response()
}

async fn import(s: &AppState, caller: &Caller, mut multipart: Multipart) -> Result<i64, AppError> {
    caller.require(Permission::Run)?;
    let (mut file, mut input) = (None, None);
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| AppError::validation("file", format!("the upload was cut short ({e})")))?
    {
        let which = field.name().unwrap_or("").to_string();
        let name = field.file_name().unwrap_or("upload").to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| AppError::validation("file", format!("could not read the file ({e})")))?;
        if bytes.is_empty() {
            continue;
        }
        let text =
            String::from_utf8(bytes.to_vec()).map_err(|e| AppError::validation(&which, format!("{name} is not UTF-8 text ({e})")))?;
        match which.as_str() {
            "file" => file = Some((name, text)),
            "input" => input = Some((name, text)),
            _ => {}
        }
    }
    let (name, text) = file.ok_or_else(|| AppError::validation("file", "choose a file to import"))?;
    app::api::import::import_file(&s.db, &name, &text, input.as_ref().map(|(n, t)| (n.as_str(), t.as_str()))).await
}

/// Redirect to `page`, with `?{ok_key}=ID` on success or the problem at its field.
fn back_with(page: &str, ok_key: &str, result: Result<i64, AppError>) -> Redirect {
    match result {
        Ok(id) => Redirect::to(&format!("{page}?{ok_key}={id}")),
        Err(e) => {
            let (field, message) = match &e {
                AppError::Validation(errs) => {
                    let field = errs
                        .0
                        .first()
                        .map(|f| {
                            if f.field.starts_with("line") || f.field == "file" {
                                "file"
                            } else {
                                f.field.as_str()
                            }
                        })
                        .unwrap_or("form");
                    let lines: Vec<String> = errs.0.iter().map(|f| format!("{}: {}", f.field, f.message)).collect();
                    (field.to_string(), lines.join("\n"))
                }
                other => ("form".to_string(), other.to_string()),
            };
            Redirect::to(&format!("{page}?error_field={}&error={}", encode(&field), encode(&message)))
        }
    }
}

async fn store(s: &AppState, caller: &Caller, mut multipart: Multipart) -> Result<i64, AppError> {
    caller.require(Permission::Run)?;
    let (mut name, mut description, mut file, mut filename) = (String::new(), String::new(), None, String::new());
    let (mut schema, mut rubric) = (String::new(), String::new());
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| AppError::validation("file", format!("the upload was cut short or is not a form ({e})")))?
    {
        match field.name() {
            Some("name") => name = field.text().await.unwrap_or_default(),
            Some("description") => description = field.text().await.unwrap_or_default(),
            Some("schema") => schema = field.text().await.unwrap_or_default(),
            Some("rubric") => rubric = field.text().await.unwrap_or_default(),
            Some("file") => {
                filename = field.file_name().unwrap_or("upload").to_string();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| AppError::validation("file", format!("could not read the file ({e})")))?;
                file = Some(bytes);
            }
            _ => {}
        }
    }
    let bytes = file
        .filter(|b| !b.is_empty())
        .ok_or_else(|| AppError::validation("file", "choose a .jsonl file to upload"))?;
    let text = crate::rest::utf8(&bytes, "file")?;
    store_upload(
        &s.db,
        &app::api::datasets::Upload {
            name: &name,
            description: &description,
            filename: &filename,
            text,
            schema: Some(&schema),
            rubric: Some(&rubric),
        },
    )
    .await
}

/// Percent-encoding for a query value.
pub use app::domain::format::percent_encode as encode;

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(super::encode("line 3: `url` ok\n"), "line%203%3A%20%60url%60%20ok%0A");
    }
}
