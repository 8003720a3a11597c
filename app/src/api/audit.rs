//! The audit log as admins read it (the Audit page, and `GET /api/audit` as JSON lines in the
//! server's `web/audit.rs`), and the few helpers the action sites share to write it.

use super::error::AppError;
use crate::domain::audit::{AuditPage, AuditQuery};
use leptos::prelude::*;

/// One page of entries, newest first, filtered (admins only).
#[server]
pub async fn audit_entries(#[server(default)] query: AuditQuery) -> Result<AuditPage, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::Audit).await?;
    page(&state()?.db, &query).await
}

/// A page of at most [`PAGE`](crate::domain::audit::PAGE) entries and the id to go on from.
#[cfg(feature = "ssr")]
pub async fn page(db: &crate::db::Db, query: &AuditQuery) -> Result<AuditPage, AppError> {
    use crate::domain::audit::PAGE;
    let filter = query.parse().map_err(AppError::Validation)?;
    // One more than shown tells whether there is an older page.
    let mut entries = crate::db::audit::list(db, &filter, PAGE + 1).await?;
    let more = entries.len() > PAGE as usize;
    entries.truncate(PAGE as usize);
    Ok(AuditPage {
        older: more.then(|| entries.last().map(|e| e.id)).flatten(),
        entries,
    })
}

/// The audit actor for a caller of a server function (with the client's address).
#[cfg(feature = "ssr")]
pub fn actor_here(caller: &super::guard::Caller) -> crate::db::audit::Actor {
    actor_at(caller, super::guard::site().as_ref())
}

/// The audit actor for a caller of a REST handler or form route (with the client's address).
#[cfg(feature = "ssr")]
pub fn actor_at(caller: &super::guard::Caller, site: Option<&super::guard::Site>) -> crate::db::audit::Actor {
    crate::db::audit::Actor::user(caller.id, caller.name.clone()).from(site.and_then(|s| s.client))
}

/// "run.launch" entries for what [`queue_runs`](super::runs::queue_runs) queued (a sweep: one
/// entry per run), written by each path that launches (page, REST, pending tests, CLI).
#[cfg(feature = "ssr")]
pub async fn launched(
    db: &crate::db::Db,
    actor: &crate::db::audit::Actor,
    form: &crate::domain::spec::LaunchForm,
    launched: &super::types::Launched,
) {
    let load = if !form.sweep.trim().is_empty() {
        format!("sweep over concurrency {}", form.sweep.trim())
    } else if form.rate.trim().is_empty() {
        format!("concurrency {}", form.concurrency.trim())
    } else {
        format!("rate {}/s", form.rate.trim())
    };
    for id in &launched.run_ids {
        let detail = format!(
            "model {} on endpoint {}, dataset {}, {} requests, {load}",
            form.model.trim(),
            form.endpoint_id.trim(),
            form.dataset_id.trim(),
            form.requests.trim()
        );
        // Named, as ids can be used again after a purge: "run 4 (gemma @ 16)".
        let target = match crate::db::trash::name(db, crate::domain::trash::TrashKind::Run, *id).await {
            Ok(name) => crate::domain::trash::TrashKind::Run.target(*id, &name),
            Err(_) => format!("run {id}"),
        };
        crate::db::audit::record(db, actor, "run.launch", &target, &detail).await;
    }
}

/// A "X.rename" entry: `kind` is run, dataset, endpoint or queue.
#[cfg(feature = "ssr")]
pub async fn renamed(db: &crate::db::Db, actor: &crate::db::audit::Actor, kind: &str, id: i64, name: &str) {
    crate::db::audit::record(
        db,
        actor,
        &format!("{kind}.rename"),
        &format!("{kind} {id}"),
        &format!("renamed to '{name}'"),
    )
    .await;
}

/// A "run.cancel" entry: `status` is what the run is now (cancelled, or still running until its
/// worker sees the request).
#[cfg(feature = "ssr")]
pub async fn cancelled(db: &crate::db::Db, actor: &crate::db::audit::Actor, id: i64, status: &str) {
    let detail = if status == "cancelled" {
        "cancelled".to_string()
    } else {
        format!("cancel requested (run {status} until its worker stops it)")
    };
    crate::db::audit::record(db, actor, "run.cancel", &format!("run {id}"), &detail).await;
}

/// An "endpoint.create" entry: its name and URL, and for a managed endpoint its launch command
/// and models (admin-written argument lists; never a key or a header value).
#[cfg(feature = "ssr")]
pub async fn endpoint_created(db: &crate::db::Db, actor: &crate::db::audit::Actor, id: i64) {
    let detail = match crate::db::endpoints::get(db, id).await {
        Ok(e) => match &e.launch_args {
            Some(args) => format!(
                "'{}' at {}, managed: {} (models: {})",
                e.name,
                e.base_url,
                args.join(" "),
                e.launch_models.join(", ")
            ),
            None => format!("'{}' at {}", e.name, e.base_url),
        },
        Err(_) => String::new(),
    };
    crate::db::audit::record(db, actor, "endpoint.create", &format!("endpoint {id}"), &detail).await;
}

/// What a change of how an endpoint is reached changed, in words (which fields, never a key's
/// or a header's value).
#[cfg(feature = "ssr")]
pub fn access_changes(u: &crate::db::endpoints::AccessUpdate) -> String {
    let mut parts = Vec::new();
    match &u.api_key {
        Some(Some(_)) => parts.push("API key replaced".to_string()),
        Some(None) => parts.push("API key removed".to_string()),
        None => {}
    }
    match &u.headers {
        Some(h) if h.is_empty() => parts.push("extra headers removed".to_string()),
        Some(h) => parts.push(format!(
            "extra headers set ({})",
            h.iter().map(|x| x.name.as_str()).collect::<Vec<_>>().join(", ")
        )),
        None => {}
    }
    match &u.ca_pem {
        Some(Some(_)) => parts.push("CA certificate replaced".to_string()),
        Some(None) => parts.push("CA certificate removed".to_string()),
        None => {}
    }
    if let Some(h) = u.hosted {
        parts.push(if h { "hosted" } else { "self-hosted" }.to_string());
    }
    match u.price_sheet_id {
        Some(Some(id)) => parts.push(format!("priced by sheet {id}")),
        Some(None) => parts.push("price sheet unlinked".to_string()),
        None => {}
    }
    if let Some(r) = u.retry {
        parts.push(format!("retries {}", r.max_retries));
    }
    if parts.is_empty() {
        "nothing changed".to_string()
    } else {
        parts.join("; ")
    }
}

/// An "endpoint.launch_command" entry: the launch command (arguments) and models now, or that it
/// was cleared.
#[cfg(feature = "ssr")]
pub async fn launch_command_set(
    db: &crate::db::Db,
    actor: &crate::db::audit::Actor,
    endpoint_id: i64,
    command: Option<(&[String], &[String])>,
) {
    let detail = match command {
        Some((args, models)) => format!("{} (models: {})", args.join(" "), models.join(", ")),
        None => "launch command cleared: the endpoint is no longer started by Bakeoff".to_string(),
    };
    crate::db::audit::record(db, actor, "endpoint.launch_command", &format!("endpoint {endpoint_id}"), &detail).await;
}

/// A "dataset.upload" entry: the dataset's name and size.
#[cfg(feature = "ssr")]
pub async fn dataset_uploaded(db: &crate::db::Db, actor: &crate::db::audit::Actor, id: i64) {
    let detail = match crate::db::datasets::get(db, id).await {
        Ok(d) => format!("'{}', {} items", d.name, d.item_count),
        Err(_) => String::new(),
    };
    crate::db::audit::record(db, actor, "dataset.upload", &format!("dataset {id}"), &detail).await;
}

/// A "run.import" entry: the run made from an imported file.
#[cfg(feature = "ssr")]
pub async fn imported(db: &crate::db::Db, actor: &crate::db::audit::Actor, run_id: i64, file: &str) {
    let file: String = file.chars().take(200).collect();
    crate::db::audit::record(db, actor, "run.import", &format!("run {run_id}"), &format!("file {file}")).await;
}
