use super::error::AppError;
use super::types::EndpointView;
use leptos::prelude::*;

pub mod access;
pub mod address;
pub mod command;
pub mod gpu;
/// REST: `PATCH /api/endpoints/{id}` (rename, correct the URL).
#[cfg(feature = "ssr")]
pub mod rest;

#[server]
pub async fn list_endpoints() -> Result<Vec<EndpointView>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    Ok(crate::db::endpoints::list(&state()?.db).await?)
}

/// Register a vLLM (or other OpenAI-compatible) server after checking that it answers, with
/// its API key, extra headers, CA certificate, hosted flag, price sheet and retry policy (all
/// optional). With a launch command (admins only) the endpoint is managed: Bakeoff starts it
/// for each run.
#[server]
#[allow(clippy::too_many_arguments)]
pub async fn add_endpoint(
    name: String,
    base_url: String,
    launch_template: Option<String>,
    launch_models: Option<String>,
    api_key: Option<String>,
    headers: Option<String>,
    ca_cert: Option<String>,
    hosted: Option<String>,
    price_sheet_id: Option<String>,
    retries: Option<String>,
    spend_cap: Option<String>,
) -> Result<i64, AppError> {
    use super::guard::{authorize, state, Permission};
    let caller = authorize(Permission::Run).await?;
    let cap = crate::domain::spend::parse_cap(spend_cap.as_deref().unwrap_or("")).map_err(|m| AppError::validation("spend_cap", m))?;
    let form = access::AccessForm {
        api_key,
        headers,
        ca_cert,
        hosted,
        price_sheet_id,
        retries,
    };
    let checked = form.parse().map_err(AppError::Validation)?;
    let models = command::split_models(&launch_models.unwrap_or_default());
    let id = match launch_template.filter(|t| !t.trim().is_empty()) {
        Some(t) => {
            caller.require(Permission::Admin)?;
            register_managed_with(&state()?, &name, &base_url, &command::split_template(&t), &models, &checked).await
        }
        None if !models.is_empty() => Err(AppError::validation(
            "launch_template",
            "models are listed for a managed endpoint: give its launch command too, or leave the models empty",
        )),
        None => Ok(register_with(&state()?, &name, &base_url, &checked, true).await?.0),
    }?;
    crate::db::trash::set_created_by(&state()?.db, super::trash::TrashKind::Endpoint, &[id], caller.id).await?;
    super::audit::endpoint_created(&state()?.db, &super::audit::actor_here(&caller), id).await;
    super::data_rules::initial_cap(&state()?.db, &super::audit::actor_here(&caller), id, cap).await?;
    Ok(id)
}

/// Check an endpoint and store it: shared by the page and the REST API.
#[cfg(feature = "ssr")]
pub async fn register(
    state: &crate::state::AppState,
    name: &str,
    base_url: &str,
) -> Result<(i64, Vec<super::types::ServedModel>), AppError> {
    register_with(state, name, base_url, &access::CheckedAccess::default(), true).await
}

/// Check an endpoint as runs will reach it (`checked`: its key, headers, CA, hosted flag, price
/// sheet and retries) and store it. `store_secrets: false` (a CLI run's key from the
/// environment) stores everything but the key and the header values, which stay in memory.
#[cfg(feature = "ssr")]
pub async fn register_with(
    state: &crate::state::AppState,
    name: &str,
    base_url: &str,
    checked: &access::CheckedAccess,
    store_secrets: bool,
) -> Result<(i64, Vec<super::types::ServedModel>), AppError> {
    let parsed = crate::domain::url::parse_base_url(base_url).map_err(|m| AppError::validation("base_url", m))?;
    let url = parsed.to_string();
    let (access, price_sheet_id) = with_provider_defaults(state, &parsed, checked).await?;
    let report = state
        .probe
        .check(&url, &access)
        .await
        .map_err(|m| AppError::validation("base_url", m))?;
    let name = endpoint_name(name)?;
    let id = crate::db::endpoints::insert_with(
        &state.db,
        &crate::db::endpoints::NewEndpoint {
            name: &name,
            base_url: &url,
            simulated: report.simulated,
            models: &report.models,
            access: &access,
            store_secrets,
            price_sheet_id,
        },
    )
    .await?;
    Ok((id, report.models))
}

/// A known provider's host (Parasail's) is hosted without being told, and priced by the
/// provider's latest sheet unless one is chosen; a chosen sheet must exist.
#[cfg(feature = "ssr")]
async fn with_provider_defaults(
    state: &crate::state::AppState,
    url: &crate::domain::url::BaseUrl,
    checked: &access::CheckedAccess,
) -> Result<(access::EndpointAccess, Option<i64>), AppError> {
    let mut access = checked.access.clone();
    let provider = access::known_provider(&url.host.to_string());
    access.hosted |= provider.is_some();
    let sheet = match (checked.price_sheet_id, provider) {
        (Some(id), _) => {
            if !crate::db::prices::sheet_exists(&state.db, id).await? {
                return Err(AppError::validation("price_sheet_id", format!("there is no price sheet {id}")));
            }
            Some(id)
        }
        (None, Some(p)) => crate::db::prices::latest_of_provider(&state.db, p).await?,
        (None, None) => None,
    };
    Ok((access, sheet))
}

/// [`register_managed`] with how the endpoint is reached (its key, headers, CA, hosted flag,
/// price sheet and retries), stored unchecked: nothing listens until a run starts it.
#[cfg(feature = "ssr")]
pub async fn register_managed_with(
    state: &crate::state::AppState,
    name: &str,
    base_url: &str,
    args: &[String],
    models: &[String],
    checked: &access::CheckedAccess,
) -> Result<i64, AppError> {
    let id = register_managed(state, name, base_url, args, models).await?;
    store_access(state, id, checked).await?;
    Ok(id)
}

/// Store the access fields given with a managed endpoint (not checked: nothing listens yet).
#[cfg(feature = "ssr")]
async fn store_access(state: &crate::state::AppState, id: i64, checked: &access::CheckedAccess) -> Result<(), AppError> {
    let ep = crate::db::endpoints::get(&state.db, id).await?;
    let url = crate::domain::url::parse_base_url(&ep.base_url).map_err(|m| AppError::validation("base_url", m))?;
    let (access, sheet) = with_provider_defaults(state, &url, checked).await?;
    let update = crate::db::endpoints::AccessUpdate {
        api_key: access.api_key.clone().map(Some),
        headers: Some(access.headers.clone()),
        ca_pem: access.ca_pem.clone().map(Some),
        hosted: Some(access.hosted),
        price_sheet_id: sheet.map(Some),
        retry: Some(access.retry),
    };
    Ok(crate::db::endpoints::set_access(&state.db, id, &update).await?)
}

/// Register a managed endpoint: Bakeoff starts its server with `args` for each run, with one of
/// `models`, so it is not checked now (nothing listens until a run starts it). The caller must
/// be an admin (checked by the server function and the REST handler before calling this).
#[cfg(feature = "ssr")]
pub async fn register_managed(
    state: &crate::state::AppState,
    name: &str,
    base_url: &str,
    args: &[String],
    models: &[String],
) -> Result<i64, AppError> {
    let (args, models) = check_command(args, models)?;
    let url = crate::domain::url::normalize_base_url(base_url).map_err(|m| AppError::validation("base_url", m))?;
    let name = endpoint_name(name)?;
    Ok(crate::db::endpoints::insert_managed(&state.db, &name, &url, &args, &models).await?)
}

/// A launch command and its models, checked together (every problem named at its field).
pub fn check_command(args: &[String], models: &[String]) -> Result<(Vec<String>, Vec<String>), AppError> {
    let mut errs = crate::domain::errors::FieldErrors::default();
    if let Err(m) = command::check_args(args) {
        errs.push("launch_template", m);
    }
    let models = command::check_models(models).unwrap_or_else(|m| {
        errs.push("launch_models", m);
        Vec::new()
    });
    errs.into_result((args.to_vec(), models)).map_err(AppError::Validation)
}

/// An endpoint's name as given: required (issue 16: names are how runs, workers and
/// `--endpoint NAME` refer to endpoints), then checked like any new name. The CLI names the
/// endpoints a run registers by their URL itself.
pub fn endpoint_name(name: &str) -> Result<String, AppError> {
    if name.trim().is_empty() {
        return Err(AppError::validation("name", NAME_REQUIRED));
    }
    super::runs::checked_name(name)
}

/// What a new endpoint without a name is told.
pub const NAME_REQUIRED: &str = "give the endpoint a name (e.g. \"RTX 4080 box\"): runs, workers and `--endpoint NAME` refer to it by name";

/// A new endpoint's REST body: each field of the wrong type (a negative `retries`, a `hosted`
/// that is not true or false, ...) named at its field, before the body is decoded (a decoding
/// error names no field).
/// The fields `POST /api/endpoints` takes: any other is refused (a misspelt `api_kee` was
/// dropped, and the endpoint registered without its key).
pub const ENDPOINT_FIELDS: &[&str] = &[
    "name",
    "base_url",
    "launch_args",
    "launch_template",
    "models",
    "api_key",
    "headers",
    "ca_cert",
    "hosted",
    "price_sheet_id",
    "price_sheet",
    "retries",
    "spend_cap_usd",
];

pub fn check_json_fields(body: &serde_json::Value) -> Result<(), AppError> {
    use serde_json::Value;
    let Some(obj) = body.as_object() else {
        return Err(AppError::validation(
            "body",
            "expected a JSON object like {\"name\": \"gpu box\", \"base_url\": \"http://gpu-box:8000\"}",
        ));
    };
    let mut errs = crate::domain::errors::FieldErrors::default();
    let strings = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    for (k, v) in obj.iter().filter(|(_, v)| !v.is_null()) {
        let problem = match k.as_str() {
            "name" | "base_url" | "launch_template" | "api_key" | "ca_cert" | "price_sheet" => {
                (!v.is_string()).then(|| format!("{k} must be text, got {v}"))
            }
            "launch_args" | "models" => (!strings(v)).then(|| format!("{k} must be a list of strings (e.g. [\"a\", \"b\"]), got {v}")),
            "hosted" => (!v.is_boolean()).then(|| format!("hosted must be true or false, got {v}")),
            "price_sheet_id" => v
                .as_i64()
                .is_none_or(|n| n <= 0)
                .then(|| format!("price_sheet_id must be a price sheet's id (a whole number from 1), got {v}")),
            "retries" => v.as_u64().is_none_or(|n| n > u64::from(access::MAX_RETRIES)).then(|| {
                format!(
                    "retries must be a whole number from 0 to {} (how many times a 429 or 503 answer is sent again), got {v}",
                    access::MAX_RETRIES
                )
            }),
            "headers" | "spend_cap_usd" => None,
            _ => Some(crate::domain::errors::unknown_field(k, ENDPOINT_FIELDS)),
        };
        if let Some(p) = problem {
            errs.push(k, p);
        }
    }
    // A name given as null is no name (a missing or blank one is refused where it is stored).
    if obj.get("name").is_some_and(Value::is_null) {
        errs.push("name", NAME_REQUIRED);
    }
    if !obj.get("base_url").is_some_and(Value::is_string) && !errs.0.iter().any(|e| e.field == "base_url") {
        errs.push("base_url", "base_url is required: the server's URL, e.g. http://gpu-box:8000");
    }
    errs.into_result(()).map_err(AppError::Validation)
}

/// Check an endpoint again and refresh the models it serves.
#[server]
pub async fn recheck_endpoint(id: i64) -> Result<EndpointView, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::Run).await?;
    let state = state()?;
    let ep = crate::db::endpoints::get(&state.db, id).await?;
    if ep.launch_args.is_some() {
        return Err(AppError::validation(
            "endpoint",
            "a managed endpoint is started for each run, so there is nothing to check now; its models are the ones its admin listed",
        ));
    }
    let access = crate::db::endpoints::access(&state.db, id).await?;
    let report = state
        .probe
        .check(&ep.base_url, &access)
        .await
        .map_err(|m| AppError::validation("endpoint", m))?;
    crate::db::endpoints::set_models(&state.db, id, &report.models).await?;
    Ok(crate::db::endpoints::get(&state.db, id).await?)
}

/// Change how an endpoint is reached. Empty fields keep what is stored (a key is never shown, so
/// it cannot be shown for editing): type a new key to replace it, or tick `clear_api_key` (and
/// `clear_headers`, `clear_ca_cert`) to remove it. `base_url`: a corrected URL (the server moved),
/// or empty (keep). `hosted`: "yes", "no" or empty (keep); `price_sheet_id`: an id, "none", or
/// empty (keep). The endpoint is checked, at its new URL when one is given, with the new access
/// before anything is stored (managed endpoints are not: nothing listens until a run).
#[server]
#[allow(clippy::too_many_arguments)]
pub async fn set_endpoint_access(
    id: i64,
    #[server(default)] base_url: Option<String>,
    api_key: Option<String>,
    clear_api_key: Option<String>,
    headers: Option<String>,
    clear_headers: Option<String>,
    ca_cert: Option<String>,
    clear_ca_cert: Option<String>,
    hosted: Option<String>,
    price_sheet_id: Option<String>,
    retries: Option<String>,
) -> Result<EndpointView, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Run).await?;
    let state = state()?;
    let ticked = |o: &Option<String>| o.as_deref().is_some_and(|v| !matches!(v.trim(), "" | "false" | "off" | "0"));
    let given = |o: &Option<String>| o.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let mut errs = crate::domain::errors::FieldErrors::default();
    let form = access::AccessForm {
        api_key: given(&api_key),
        headers: given(&headers),
        ca_cert: given(&ca_cert),
        hosted: None,
        price_sheet_id: None,
        retries: given(&retries),
    };
    let checked = form.parse().unwrap_or_else(|e| {
        errs = e;
        access::CheckedAccess::default()
    });
    let hosted = match given(&hosted).as_deref() {
        None => None,
        Some("yes" | "on" | "true") => Some(true),
        Some("no" | "off" | "false") => Some(false),
        Some(_) => {
            errs.push("hosted", "choose hosted (yes), self-hosted (no), or leave it as it is");
            None
        }
    };
    let sheet = match given(&price_sheet_id).as_deref() {
        None => None,
        Some("none") => Some(None),
        Some(raw) => match raw.parse::<i64>() {
            Ok(sid) if sid > 0 => Some(Some(sid)),
            _ => {
                errs.push("price_sheet_id", "choose a price sheet from the list");
                None
            }
        },
    };
    errs.into_result(()).map_err(AppError::Validation)?;
    if let Some(Some(sid)) = sheet {
        if !crate::db::prices::sheet_exists(&state.db, sid).await? {
            return Err(AppError::validation("price_sheet_id", format!("there is no price sheet {sid}")));
        }
    }
    let update = crate::db::endpoints::AccessUpdate {
        api_key: if ticked(&clear_api_key) {
            Some(None)
        } else {
            checked.access.api_key.clone().map(Some)
        },
        headers: if ticked(&clear_headers) {
            Some(Vec::new())
        } else {
            given(&headers).map(|_| checked.access.headers.clone())
        },
        ca_pem: if ticked(&clear_ca_cert) {
            Some(None)
        } else {
            checked.access.ca_pem.clone().map(Some)
        },
        hosted,
        price_sheet_id: sheet,
        retry: given(&retries).map(|_| checked.access.retry),
    };
    let ep = crate::db::endpoints::get(&state.db, id).await?;
    if ep.builtin {
        return Err(AppError::validation(
            "endpoint",
            "the built-in simulator needs no key, headers or certificate, and its URL follows wherever the simulator listens",
        ));
    }
    let new_url = match given(&base_url) {
        Some(raw) => address::new_url(&state.db, &me, &ep, &raw).await?,
        None => None,
    };
    // Internal-only datasets may go to self-hosted endpoints: only an admin says a hosted one is
    // self-hosted.
    if hosted == Some(false) && ep.hosted && me.require(Permission::Admin).is_err() {
        return Err(AppError::Forbidden(
            "only an admin may mark a hosted endpoint self-hosted (internal-only datasets may be sent to self-hosted ones): ask one".into(),
        ));
    }
    let mut update = update;
    if new_url.as_deref().is_some_and(address::provider_host) && !ep.hosted && hosted.is_none() {
        update.hosted = Some(true);
    }
    let after = apply(&crate::db::endpoints::access(&state.db, id).await?, &update);
    // A failed check names the URL it tried: a new one is the URL field's problem, the stored one
    // the endpoint's (both are shown on the form).
    let (url, field) = match &new_url {
        Some(u) => (u.as_str(), "base_url"),
        None => (ep.base_url.as_str(), "endpoint"),
    };
    let checked_models = if ep.launch_args.is_none() {
        let report = state.probe.check(url, &after).await.map_err(|m| AppError::validation(field, m))?;
        Some(report.models)
    } else {
        None
    };
    if let Some(u) = &new_url {
        address::store(&state.db, id, u).await?;
    }
    crate::db::endpoints::set_access(&state.db, id, &update).await?;
    if let Some(models) = checked_models {
        crate::db::endpoints::set_models(&state.db, id, &models).await?;
    }
    if let Some(u) = &new_url {
        super::guard::audit(&me, "endpoint.url", &format!("endpoint {id}"), &address::moved(&ep, u)).await;
    }
    let u = &update;
    let touched = u.api_key.is_some()
        || u.headers.is_some()
        || u.ca_pem.is_some()
        || u.hosted.is_some()
        || u.price_sheet_id.is_some()
        || u.retry.is_some();
    if new_url.is_none() || touched {
        let detail = super::audit::access_changes(&update);
        super::guard::audit(&me, "endpoint.edit", &format!("endpoint {id}"), &detail).await;
    }
    Ok(crate::db::endpoints::get(&state.db, id).await?)
}

/// What access an endpoint has once `update` is applied.
#[cfg(feature = "ssr")]
fn apply(stored: &access::EndpointAccess, u: &crate::db::endpoints::AccessUpdate) -> access::EndpointAccess {
    access::EndpointAccess {
        api_key: u.api_key.clone().unwrap_or_else(|| stored.api_key.clone()),
        headers: u.headers.clone().unwrap_or_else(|| stored.headers.clone()),
        ca_pem: u.ca_pem.clone().unwrap_or_else(|| stored.ca_pem.clone()),
        hosted: u.hosted.unwrap_or(stored.hosted),
        retry: u.retry.unwrap_or(stored.retry),
    }
}

/// Move an endpoint no run uses to the trash (`dry_run`: only say what would go).
#[server]
pub async fn delete_endpoint(id: i64, #[server(default)] dry_run: bool) -> Result<super::runs::Removal, AppError> {
    use super::guard::{authorize, state, Permission};
    use super::trash::{delete, TrashKind};
    let me = authorize(Permission::Run).await?;
    delete(&state()?, &super::audit::actor_here(&me), TrashKind::Endpoint, id, dry_run).await
}

#[server]
pub async fn rename_endpoint(id: i64, name: String) -> Result<(), AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Run).await?;
    let (db, name) = (state()?.db, super::runs::checked_name(&name)?);
    crate::db::endpoints::rename(&db, id, &name).await?;
    super::audit::renamed(&db, &super::audit::actor_here(&me), "endpoint", id, &name).await;
    Ok(())
}
