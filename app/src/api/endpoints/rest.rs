//! `PATCH /api/endpoints/{id}` with `{"name": "..."}`, `{"base_url": "..."}` or both: rename an
//! endpoint, correct its URL (checked like a new endpoint's: see [`super::address`]), or both at
//! once. Each field is optional; a field given with the wrong type is named at its field.

use crate::api::guard::{Caller, Permission, Site};
use crate::api::types::EndpointView;
use crate::api::AppError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde_json::Value;

/// The body's name and URL, each when given (a field that is not text is named).
fn fields(body: &Value) -> Result<(Option<String>, Option<String>), AppError> {
    let Some(obj) = body.as_object() else {
        return Err(AppError::validation(
            "body",
            "expected a JSON object like {\"name\": \"gpu box\"} or {\"base_url\": \"http://gpu-box:8001\"}",
        ));
    };
    let mut errs = crate::domain::errors::FieldErrors::default();
    let mut text = |k: &str| match obj.get(k) {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) if k == "name" => {
            errs.push(k, super::NAME_REQUIRED);
            None
        }
        Some(v) => {
            errs.push(k, format!("{k} must be text, got {v}"));
            None
        }
    };
    let (name, url) = (text("name"), text("base_url"));
    if name.is_none() && url.is_none() && errs.0.is_empty() {
        errs.push(
            "body",
            "give the endpoint's new name, its new base_url, or both: {\"base_url\": \"http://gpu-box:8001\"}",
        );
    }
    errs.into_result((name, url)).map_err(AppError::Validation)
}

pub async fn patch_endpoint(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    site: Option<Extension<Site>>,
    Path(id): Path<i64>,
    Json(body): Json<Value>,
) -> Result<Json<EndpointView>, AppError> {
    c.require(Permission::Run)?;
    let (name, url) = fields(&body)?;
    let actor = crate::api::audit::actor_at(&c, site.as_ref().map(|e| &e.0));
    // Both checked before either is stored: a name taken by another endpoint stops the URL too.
    let name = match name {
        Some(n) => {
            let n = super::endpoint_name(&n)?;
            let taken = crate::db::endpoints::list(&s.db)
                .await?
                .into_iter()
                .find(|e| e.name == n && e.id != id);
            if let Some(other) = taken {
                return Err(AppError::Conflict(format!("endpoint {} is already named '{n}'", other.id)));
            }
            Some(n)
        }
        None => None,
    };
    let mut ep = match url {
        Some(u) => super::address::change(&s, &c, &actor, id, &u).await?,
        None => crate::db::endpoints::get(&s.db, id).await?,
    };
    if let Some(n) = name.filter(|n| *n != ep.name) {
        crate::db::endpoints::rename(&s.db, id, &n).await?;
        crate::api::audit::renamed(&s.db, &actor, "endpoint", id, &n).await;
        ep.name = n;
    }
    Ok(Json(ep))
}
