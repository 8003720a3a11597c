//! Endpoints that share a GPU (issue 16): "this endpoint shares a GPU with that one", so their
//! measured runs take one lock (one at a time), whatever their host names. The server function
//! for the Endpoints page, and `PUT /api/endpoints/{id}/shares_gpu_with {"endpoint": "name"}`
//! (`null` or "": only with endpoints on its own host).

use crate::api::error::AppError;
use crate::api::types::EndpointView;
use leptos::prelude::*;

/// Link endpoint `id` to the endpoint named (or numbered) `with`, or unlink it (empty).
#[server]
pub async fn set_shared_gpu(id: i64, #[server(default)] with: String) -> Result<EndpointView, AppError> {
    use crate::api::guard::{audit, authorize, state, Permission};
    let caller = authorize(Permission::Run).await?;
    let (endpoint, detail) = link(&state()?.db, id, &with).await?;
    audit(&caller, "endpoint.shares_gpu", &format!("endpoint {id}"), &detail).await;
    Ok(endpoint)
}

/// Store the link after checking it; returns the endpoint and the audit line.
#[cfg(feature = "ssr")]
pub async fn link(db: &crate::db::Db, id: i64, with: &str) -> Result<(EndpointView, String), AppError> {
    let me = crate::db::endpoints::get(db, id).await?;
    let with = with.trim();
    let peer = if with.is_empty() {
        None
    } else {
        let all = crate::db::endpoints::list(db).await?;
        let found = all
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(with))
            .or_else(|| with.parse::<i64>().ok().and_then(|n| all.iter().find(|e| e.id == n)));
        let Some(p) = found else {
            let names: Vec<&str> = all
                .iter()
                .filter(|e| e.id != id && !e.hosted)
                .map(|e| e.name.as_str())
                .take(10)
                .collect();
            return Err(AppError::validation(
                "with",
                format!("no endpoint is named '{with}' (self-hosted ones: {})", names.join(", ")),
            ));
        };
        if p.id == id {
            return Err(AppError::validation(
                "with",
                "an endpoint shares its GPU with itself already: name another one",
            ));
        }
        if me.hosted || p.hosted {
            return Err(AppError::validation(
                "with",
                format!(
                    "'{}' is a hosted provider: hosted endpoints take no GPU lock (their runs go in parallel)",
                    if me.hosted { &me.name } else { &p.name }
                ),
            ));
        }
        Some(p.id)
    };
    crate::db::endpoints::set_shares_gpu_with(db, id, peer).await?;
    let after = crate::db::endpoints::get(db, id).await?;
    let detail = match (&after.shares_gpu_with, &after.gpu) {
        (Some(p), Some(g)) => format!("endpoint '{}' shares a GPU with '{p}' (lock {g})", after.name),
        _ => format!(
            "endpoint '{}' shares a GPU only with endpoints on its host{}",
            after.name,
            after.gpu.as_deref().map(|g| format!(" (lock {g})")).unwrap_or_default()
        ),
    };
    Ok((after, detail))
}

/// `PUT /api/endpoints/{id}/shares_gpu_with`.
#[cfg(feature = "ssr")]
pub mod rest {
    use crate::api::guard::{Caller, Permission, Site};
    use crate::api::types::EndpointView;
    use crate::api::AppError;
    use crate::state::AppState;
    use axum::extract::{Path, State};
    use axum::{Extension, Json};
    use serde_json::Value;

    pub async fn set_shared_gpu(
        State(s): State<AppState>,
        Extension(c): Extension<Caller>,
        site: Option<Extension<Site>>,
        Path(id): Path<i64>,
        Json(body): Json<Value>,
    ) -> Result<Json<EndpointView>, AppError> {
        c.require(Permission::Run)?;
        let with = match body.get("endpoint") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(v) => {
                return Err(AppError::validation(
                    "endpoint",
                    format!("give the name of the endpoint it shares a GPU with, like {{\"endpoint\": \"gpu box\"}} (null: none); got {v}"),
                ))
            }
        };
        let (endpoint, detail) = super::link(&s.db, id, &with).await?;
        let actor = crate::api::audit::actor_at(&c, site.as_ref().map(|Extension(s)| s));
        crate::db::audit::record(&s.db, &actor, "endpoint.shares_gpu", &format!("endpoint {id}"), &detail).await;
        Ok(Json(endpoint))
    }
}
