//! Deletes that can be undone. A delete (page, REST) moves a run, dataset, endpoint or grading
//! queue to the trash for `--trash-days` days (0: deleted for good at once); admins list the
//! trash, restore from it, or delete for good; `serve` purges what has been there long enough.
//! Every step writes an audit entry ("run.delete", "run.restore", "run.purge", ...).

use super::error::AppError;
pub use crate::domain::trash::{TrashKind, TrashList, TrashedItem};
use crate::domain::views::Removal;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::{db, db::audit::Actor, state::AppState};

/// Delete `kind` `id` as `actor`: with `dry_run`, only say what would go and where; else move it
/// to the trash (or, with `--trash-days 0`, delete it for good). Shared by the pages and REST;
/// the caller's permission is checked by them.
#[cfg(feature = "ssr")]
pub async fn delete(state: &AppState, actor: &Actor, kind: TrashKind, id: i64, dry_run: bool) -> Result<Removal, AppError> {
    let days = state.web.trash_days;
    let kept = (days > 0).then_some(days);
    if dry_run {
        let mut r = db::trash::preview(&state.db, kind, id).await?;
        r.trash_days = kept;
        return Ok(r);
    }
    let name = db::trash::name(&state.db, kind, id).await?;
    let mut r = db::trash::put(&state.db, kind, id, actor.id).await?;
    if days == 0 {
        r = db::trash::purge(&state.db, kind, id).await?;
    }
    r.trash_days = kept;
    let detail = format!("{} {}", r.consequences(), r.fate());
    db::audit::record(&state.db, actor, &kind.action("delete"), &kind.target(id, &name), &detail).await;
    Ok(r)
}

/// A run whose answers are in grading queues made by someone else may be deleted only by those
/// queues' makers or an admin: deleting it takes its items and their grades out of the queues
/// (as changing the queues would, which needs the same). Checked before the dry run too, so the
/// confirmation says it.
#[cfg(feature = "ssr")]
pub async fn may_delete_run(db: &db::Db, caller: &super::guard::Caller, id: i64) -> Result<(), AppError> {
    if caller.require(super::guard::Permission::Admin).is_ok() {
        return Ok(());
    }
    let others: Vec<_> = db::queues::holding_run(db, id)
        .await?
        .into_iter()
        .filter(|q| q.created_by != Some(caller.id))
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    let named = others
        .iter()
        .map(|q| match &q.maker {
            Some(m) => format!("'{}' (made by {m})", q.name),
            None => format!("'{}' (its maker's account was deleted)", q.name),
        })
        .collect::<Vec<_>>()
        .join(", ");
    // One maker for every such queue may; otherwise only an admin.
    let who = match others[0].maker.as_deref() {
        Some(m) if others.iter().all(|q| q.created_by == others[0].created_by) => format!("only {m} or an admin"),
        _ => "only an admin".to_string(),
    };
    let queues = if others.len() == 1 { "grading queue" } else { "grading queues" };
    Err(AppError::Forbidden(format!(
        "run {id} has answers in {queues} {named}: deleting it would take them and their grades out, so {who} may delete it"
    )))
}

/// Why `kind` `id` was not found: it is in the trash ("dataset 3 is in the trash (deleted by
/// rob): an admin can restore it"), or `otherwise`.
#[cfg(feature = "ssr")]
pub async fn why_missing(db: &db::Db, kind: TrashKind, id: i64, otherwise: String) -> String {
    match db::trash::trashed_by(db, kind, id).await {
        Ok(Some(by)) => crate::domain::trash::in_trash_message(kind, id, by.as_deref()),
        _ => otherwise,
    }
}

/// Take `kind` `id` out of the trash as `actor`.
#[cfg(feature = "ssr")]
pub async fn restore(state: &AppState, actor: &Actor, kind: TrashKind, id: i64) -> Result<Removal, AppError> {
    let name = db::trash::name(&state.db, kind, id).await?;
    let r = db::trash::restore(&state.db, kind, id).await?;
    let detail = if r.with.is_empty() {
        "restored from the trash".to_string()
    } else {
        format!("restored from the trash, with {}", r.with.join(", "))
    };
    db::audit::record(&state.db, actor, &kind.action("restore"), &kind.target(id, &name), &detail).await;
    Ok(r)
}

/// Delete `kind` `id`, which is in the trash, for good as `actor` (`dry_run`: only say what
/// would go).
#[cfg(feature = "ssr")]
pub async fn purge(state: &AppState, actor: &Actor, kind: TrashKind, id: i64, dry_run: bool) -> Result<Removal, AppError> {
    if dry_run {
        let item = db::trash::list(&state.db, state.web.trash_days)
            .await?
            .into_iter()
            .find(|t| t.kind == kind && t.id == id)
            .ok_or_else(|| AppError::NotFound(format!("{kind} {id} in the trash")))?;
        return Ok(Removal {
            what: item.label,
            with: item.with,
            unlinked: item.unlinked,
            done: false,
            trash_days: None,
        });
    }
    let name = db::trash::name(&state.db, kind, id).await?;
    let r = db::trash::purge(&state.db, kind, id).await?;
    db::audit::record(&state.db, actor, &kind.action("purge"), &kind.target(id, &name), &r.consequences()).await;
    Ok(r)
}

/// Purge what has been in the trash `days` days or more at `now_s` (unix seconds, the
/// database's clock), as the server. Returns what went; one that cannot go is logged and left.
#[cfg(feature = "ssr")]
pub async fn purge_due(db: &db::Db, now_s: i64, days: u32) -> Result<Vec<(TrashKind, i64)>, db::DbError> {
    let before = crate::domain::trash::due_before(now_s, days);
    let server = Actor::named("server");
    let mut gone = Vec::new();
    for (kind, id) in db::trash::due(db, before).await? {
        // Purging a dataset or endpoint takes its runs in the trash: they may be gone already.
        let Ok(name) = db::trash::name(db, kind, id).await else { continue };
        match db::trash::purge(db, kind, id).await {
            Ok(r) => {
                let detail = format!(
                    "in the trash for {} or more: {}",
                    crate::domain::trash::days_label(days),
                    r.consequences()
                );
                db::audit::record(db, &server, &kind.action("purge"), &kind.target(id, &name), &detail).await;
                gone.push((kind, id));
            }
            Err(db::DbError::NotFound(_)) => {}
            Err(e) => tracing::warn!("{kind} {id} stays in the trash: {e}"),
        }
    }
    Ok(gone)
}

/// How often `serve` looks for what is due.
#[cfg(feature = "ssr")]
pub const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// `serve`'s purge: what has been in the trash longer than `--trash-days`, every ten minutes.
#[cfg(feature = "ssr")]
pub async fn purge_forever(state: AppState) {
    let days = state.web.trash_days;
    loop {
        let done = match db::trash::now(&state.db).await {
            Ok(now) => purge_due(&state.db, now, days).await,
            Err(e) => Err(e),
        };
        match done {
            Ok(gone) if !gone.is_empty() => tracing::info!("purged from the trash: {gone:?}"),
            Ok(_) => {}
            Err(e) => tracing::warn!("purging the trash: {e}"),
        }
        tokio::time::sleep(PURGE_EVERY).await;
    }
}

/// What is in the trash (admins).
#[server]
pub async fn list_trash() -> Result<TrashList, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::Trash).await?;
    let state = state()?;
    let days = state.web.trash_days;
    Ok(TrashList {
        days,
        items: crate::db::trash::list(&state.db, days).await?,
    })
}

/// Take something out of the trash (admins).
#[server]
pub async fn restore_trashed(kind: TrashKind, id: i64) -> Result<Removal, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Trash).await?;
    restore(&state()?, &super::audit::actor_here(&me), kind, id).await
}

/// Delete something in the trash for good (admins; `dry_run`: only say what would go).
#[server]
pub async fn purge_trashed(kind: TrashKind, id: i64, #[server(default)] dry_run: bool) -> Result<Removal, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Trash).await?;
    purge(&state()?, &super::audit::actor_here(&me), kind, id, dry_run).await
}

/// REST: `GET /api/trash`, `POST /api/trash/{kind}/{id}/restore`, `DELETE /api/trash/{kind}/{id}`
/// (`?dry_run=true`: only say what would go). Admins only.
#[cfg(feature = "ssr")]
pub mod rest {
    use super::{TrashKind, TrashList};
    use crate::api::audit::actor_at;
    use crate::api::guard::{Caller, Permission, Site};
    use crate::api::AppError;
    use crate::domain::views::Removal;
    use crate::state::AppState;
    use axum::extract::{Path, Query, State};
    use axum::{Extension, Json};

    #[derive(serde::Deserialize)]
    pub struct DryRun {
        #[serde(default)]
        dry_run: bool,
    }

    fn kind(word: &str) -> Result<TrashKind, AppError> {
        TrashKind::parse(word).map_err(|m| AppError::validation("kind", m))
    }

    pub async fn list(State(s): State<AppState>, Extension(c): Extension<Caller>) -> Result<Json<TrashList>, AppError> {
        c.require(Permission::Trash)?;
        let days = s.web.trash_days;
        Ok(Json(TrashList {
            days,
            items: crate::db::trash::list(&s.db, days).await?,
        }))
    }

    pub async fn restore(
        State(s): State<AppState>,
        Extension(c): Extension<Caller>,
        site: Option<Extension<Site>>,
        Path((k, id)): Path<(String, i64)>,
    ) -> Result<Json<Removal>, AppError> {
        c.require(Permission::Trash)?;
        Ok(Json(
            super::restore(&s, &actor_at(&c, site.as_ref().map(|e| &e.0)), kind(&k)?, id).await?,
        ))
    }

    pub async fn purge(
        State(s): State<AppState>,
        Extension(c): Extension<Caller>,
        site: Option<Extension<Site>>,
        Path((k, id)): Path<(String, i64)>,
        Query(q): Query<DryRun>,
    ) -> Result<Json<Removal>, AppError> {
        c.require(Permission::Trash)?;
        Ok(Json(
            super::purge(&s, &actor_at(&c, site.as_ref().map(|e| &e.0)), kind(&k)?, id, q.dry_run).await?,
        ))
    }
}
