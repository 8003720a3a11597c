//! REST for scripts: rename and delete runs, datasets, endpoints and grading queues, with the
//! same checks as the pages. `DELETE .../{id}` moves it to the trash (see `api::trash`);
//! `?dry_run=true` answers what a deletion would take with it and deletes nothing;
//! `PATCH .../{id}` with `{"name": "..."}` renames.

use super::{checked_name, Removal};
use crate::api::guard::{Caller, Permission, Site};
use crate::api::trash::{self, TrashKind};
use crate::api::AppError;
use crate::db;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct DryRun {
    #[serde(default)]
    dry_run: bool,
}

#[derive(Deserialize)]
pub struct NewName {
    #[serde(default)]
    name: String,
}

type Removed = Result<Json<Removal>, AppError>;
type Renamed = Result<Json<serde_json::Value>, AppError>;

fn renamed(id: i64, name: &str) -> Renamed {
    Ok(Json(serde_json::json!({"id": id, "name": name})))
}

pub async fn delete_run(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    site: Option<Extension<Site>>,
    Path(id): Path<i64>,
    Query(q): Query<DryRun>,
) -> Removed {
    c.require(Permission::Run)?;
    trash::may_delete_run(&s.db, &c, id).await?;
    let actor = crate::api::audit::actor_at(&c, site.as_ref().map(|e| &e.0));
    Ok(Json(trash::delete(&s, &actor, TrashKind::Run, id, q.dry_run).await?))
}

pub async fn rename_run(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    site: Option<Extension<Site>>,
    Path(id): Path<i64>,
    Json(b): Json<NewName>,
) -> Renamed {
    c.require(Permission::Run)?;
    let name = checked_name(&b.name)?;
    db::runs::rename(&s.db, id, &name).await?;
    crate::api::audit::renamed(
        &s.db,
        &crate::api::audit::actor_at(&c, site.as_ref().map(|e| &e.0)),
        "run",
        id,
        &name,
    )
    .await;
    renamed(id, &name)
}

pub async fn delete_dataset(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    site: Option<Extension<Site>>,
    Path(id): Path<i64>,
    Query(q): Query<DryRun>,
) -> Removed {
    c.require(Permission::Run)?;
    let actor = crate::api::audit::actor_at(&c, site.as_ref().map(|e| &e.0));
    Ok(Json(trash::delete(&s, &actor, TrashKind::Dataset, id, q.dry_run).await?))
}

pub async fn rename_dataset(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    site: Option<Extension<Site>>,
    Path(id): Path<i64>,
    Json(b): Json<NewName>,
) -> Renamed {
    c.require(Permission::Run)?;
    let name = checked_name(&b.name)?;
    db::datasets::rename(&s.db, id, &name).await?;
    crate::api::audit::renamed(
        &s.db,
        &crate::api::audit::actor_at(&c, site.as_ref().map(|e| &e.0)),
        "dataset",
        id,
        &name,
    )
    .await;
    renamed(id, &name)
}

pub async fn delete_endpoint(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    site: Option<Extension<Site>>,
    Path(id): Path<i64>,
    Query(q): Query<DryRun>,
) -> Removed {
    c.require(Permission::Run)?;
    let actor = crate::api::audit::actor_at(&c, site.as_ref().map(|e| &e.0));
    Ok(Json(trash::delete(&s, &actor, TrashKind::Endpoint, id, q.dry_run).await?))
}

pub async fn rename_endpoint(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    site: Option<Extension<Site>>,
    Path(id): Path<i64>,
    Json(b): Json<NewName>,
) -> Renamed {
    c.require(Permission::Run)?;
    let name = checked_name(&b.name)?;
    db::endpoints::rename(&s.db, id, &name).await?;
    crate::api::audit::renamed(
        &s.db,
        &crate::api::audit::actor_at(&c, site.as_ref().map(|e| &e.0)),
        "endpoint",
        id,
        &name,
    )
    .await;
    renamed(id, &name)
}

pub async fn delete_queue(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    site: Option<Extension<Site>>,
    Path(id): Path<i64>,
    Query(q): Query<DryRun>,
) -> Removed {
    c.require(Permission::Run)?;
    crate::api::grading::may_change_queue(&s.db, &c, id).await?;
    let actor = crate::api::audit::actor_at(&c, site.as_ref().map(|e| &e.0));
    Ok(Json(trash::delete(&s, &actor, TrashKind::Queue, id, q.dry_run).await?))
}

pub async fn rename_queue(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    site: Option<Extension<Site>>,
    Path(id): Path<i64>,
    Json(b): Json<NewName>,
) -> Renamed {
    c.require(Permission::Run)?;
    crate::api::grading::may_change_queue(&s.db, &c, id).await?;
    let name = checked_name(&b.name)?;
    db::queues::rename(&s.db, id, &name).await?;
    crate::api::audit::renamed(
        &s.db,
        &crate::api::audit::actor_at(&c, site.as_ref().map(|e| &e.0)),
        "queue",
        id,
        &name,
    )
    .await;
    renamed(id, &name)
}
