//! REST for the data rules: `GET /api/launch/preview?endpoint_id=&dataset_id=&model=&requests=
//! [&max_tokens=&warmup=&sweep=]`, `PUT /api/datasets/{id}/internal_only {"internal_only": true}`
//! and `PUT /api/endpoints/{id}/spend_cap {"spend_cap_usd": 5.0}` (`null`: no cap).

use super::{preview, set_cap, set_internal_only, CostPreview};
use crate::api::guard::{Caller, Permission, Site};
use crate::api::types::{DatasetView, EndpointView};
use crate::api::AppError;
use crate::db::audit::{record, Actor};
use crate::domain::spec::LaunchForm;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::Value;

fn actor(c: &Caller, site: Option<Extension<Site>>) -> Actor {
    crate::api::audit::actor_at(c, site.as_ref().map(|Extension(s)| s))
}

pub async fn launch_preview(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(form): Query<LaunchForm>,
) -> Result<Json<CostPreview>, AppError> {
    c.require(Permission::View)?;
    Ok(Json(preview(&s.db, &form, c.require(Permission::Admin).is_ok()).await?))
}

#[derive(Deserialize)]
pub struct InternalOnly {
    internal_only: Option<bool>,
}

pub async fn set_dataset_internal_only(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    site: Option<Extension<Site>>,
    Path(id): Path<i64>,
    Json(b): Json<InternalOnly>,
) -> Result<Json<DatasetView>, AppError> {
    c.require(Permission::Run)?;
    let flag = b
        .internal_only
        .ok_or_else(|| AppError::validation("internal_only", "give {\"internal_only\": true} or false"))?;
    super::may_clear(&c, flag)?;
    let (dataset, detail) = set_internal_only(&s.db, id, flag).await?;
    record(&s.db, &actor(&c, site), "dataset.internal_only", &format!("dataset {id}"), &detail).await;
    Ok(Json(dataset))
}

#[derive(Deserialize)]
pub struct SpendCap {
    /// Dollars a month: a number, a string such as "5.00", or null (no cap).
    #[serde(default)]
    spend_cap_usd: Value,
}

/// A cap as JSON gives it: a number, a string, or null.
pub fn cap_from_json(v: &Value) -> Result<Option<f64>, AppError> {
    let raw = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => {
            return Err(AppError::validation(
                "spend_cap_usd",
                "give the cap in dollars (e.g. 5.0), or null for none",
            ))
        }
    };
    crate::domain::spend::parse_cap(&raw).map_err(|m| AppError::validation("spend_cap_usd", m))
}

pub async fn set_spend_cap(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    site: Option<Extension<Site>>,
    Path(id): Path<i64>,
    Json(b): Json<SpendCap>,
) -> Result<Json<EndpointView>, AppError> {
    c.require(Permission::Run)?;
    let cap = cap_from_json(&b.spend_cap_usd)?;
    let (endpoint, detail) = set_cap(&s.db, id, cap).await?;
    record(&s.db, &actor(&c, site), "endpoint.spend_cap", &format!("endpoint {id}"), &detail).await;
    Ok(Json(endpoint))
}
