//! Correcting an endpoint's URL (its vLLM server moved to another port, the box was renamed):
//! checked like a new endpoint's, with the endpoint's key, headers and CA (the same `/health` and
//! `/v1/models` check, under `--endpoint-allow`, never link-local), and written to the audit log
//! with the old and the new URL. Runs name their endpoint, not a URL (a run records no URL of its
//! own), so the audit entry is where the old URL stays; their figures are not touched.
//!
//! Shared by the page's "Change how an endpoint is reached" form and `PATCH /api/endpoints/{id}`.

#[cfg(feature = "ssr")]
use crate::api::{guard::Caller, types::EndpointView, AppError};

/// The URL `raw` would change `ep`'s to, checked for everything but reachability (the caller
/// checks that with the access the endpoint will have): `None` when it is the stored URL.
/// A managed endpoint's URL is an admin's, like its launch command, and is not checked now
/// (nothing listens until a run starts it).
#[cfg(feature = "ssr")]
pub async fn new_url(db: &crate::db::Db, caller: &Caller, ep: &EndpointView, raw: &str) -> Result<Option<String>, AppError> {
    use crate::domain::url::{normalize_base_url, parse_base_url};
    if ep.builtin {
        return Err(AppError::validation(
            "base_url",
            "the built-in simulator's URL follows wherever the simulator listens: it cannot be changed",
        ));
    }
    let url = if ep.launch_args.is_some() || ep.legacy_launch_template.is_some() {
        if caller.require(crate::api::guard::Permission::Admin).is_err() {
            return Err(AppError::Forbidden(
                "only an admin may change a managed endpoint's URL (Bakeoff starts its server there with the admin's launch command): ask one"
                    .into(),
            ));
        }
        normalize_base_url(raw)
    } else {
        parse_base_url(raw).map(|u| u.to_string())
    }
    .map_err(|m| AppError::validation("base_url", m))?;
    if url == ep.base_url {
        return Ok(None);
    }
    // The stored key and headers go with every request to the endpoint, the check of the new URL
    // first: moving an endpoint that holds secrets is an admin's (a runner must not be able to
    // send an admin's provider key to a server of their choosing).
    if (ep.has_api_key || !ep.header_names.is_empty()) && caller.require(crate::api::guard::Permission::Admin).is_err() {
        return Err(AppError::Forbidden(
            "this endpoint stores an API key or headers, which would be sent to the new URL: only an admin may move it \
             (or register a new endpoint with its own key)"
                .into(),
        ));
    }
    // A run under way (or waiting) measures at one URL from start to end, and the GPU lock is
    // held by URL: not while runs use it.
    let active = crate::db::endpoints::active_runs(db, ep.id).await?;
    if active > 0 {
        return Err(AppError::Conflict(format!(
            "endpoint '{}' has {active} run(s) queued or running: move it when they have finished (or cancel them)",
            ep.name
        )));
    }
    if let Some(other) = crate::db::endpoints::find_by_url(db, &url).await?.filter(|o| o.id != ep.id) {
        return Err(AppError::Conflict(format!(
            "endpoint '{}' already has the URL {url}: each URL is registered once",
            other.name
        )));
    }
    Ok(Some(url))
}

/// Store endpoint `id`'s new URL, checked by [`new_url`] and the probe.
///
/// The lead moves this statement into `db::endpoints` (as `set_base_url`) when that layer
/// settles: SQL belongs in `db/`.
#[cfg(feature = "ssr")]
pub async fn store(db: &crate::db::Db, id: i64, url: &str) -> Result<(), AppError> {
    Ok(crate::db::endpoints::set_base_url(db, id, url).await?)
}

/// A known provider's host (Parasail's) is hosted without being told, as when it is added.
pub fn provider_host(url: &str) -> bool {
    crate::domain::url::parse_base_url(url).is_ok_and(|u| super::access::known_provider(&u.host.to_string()).is_some())
}

/// The audit line of a URL change.
#[cfg(feature = "ssr")]
pub fn moved(ep: &EndpointView, url: &str) -> String {
    format!(
        "'{}' moved from {} to {url} (its runs keep their figures; they were measured at the old URL)",
        ep.name, ep.base_url
    )
}

/// Change endpoint `id`'s URL and refresh the models it serves (REST's PATCH with a `base_url`):
/// the endpoint is checked at the new URL as runs will reach it before anything is stored.
#[cfg(feature = "ssr")]
pub async fn change(
    state: &crate::state::AppState,
    caller: &Caller,
    actor: &crate::db::audit::Actor,
    id: i64,
    raw: &str,
) -> Result<EndpointView, AppError> {
    let ep = crate::db::endpoints::get(&state.db, id).await?;
    let Some(url) = new_url(&state.db, caller, &ep, raw).await? else {
        return Ok(ep);
    };
    let now_hosted = !ep.hosted && provider_host(&url);
    let models = if ep.launch_args.is_none() {
        let mut access = crate::db::endpoints::access(&state.db, id).await?;
        access.hosted |= now_hosted;
        let report = state
            .probe
            .check(&url, &access)
            .await
            .map_err(|m| AppError::validation("base_url", m))?;
        Some(report.models)
    } else {
        None
    };
    store(&state.db, id, &url).await?;
    if now_hosted {
        let hosted = crate::db::endpoints::AccessUpdate {
            hosted: Some(true),
            ..Default::default()
        };
        crate::db::endpoints::set_access(&state.db, id, &hosted).await?;
    }
    if let Some(models) = models {
        crate::db::endpoints::set_models(&state.db, id, &models).await?;
    }
    crate::db::audit::record(&state.db, actor, "endpoint.url", &format!("endpoint {id}"), &moved(&ep, &url)).await;
    Ok(crate::db::endpoints::get(&state.db, id).await?)
}
