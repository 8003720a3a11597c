use super::error::AppError;
use super::types::EndpointView;
use leptos::prelude::*;

pub mod command;

#[server]
pub async fn list_endpoints() -> Result<Vec<EndpointView>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    Ok(crate::db::endpoints::list(&state()?.db).await?)
}

/// Register a vLLM (or other OpenAI-compatible) server after checking that it answers. With a
/// launch command (admins only) the endpoint is managed: Bakeoff starts it for each run.
#[server]
pub async fn add_endpoint(
    name: String,
    base_url: String,
    launch_template: Option<String>,
    launch_models: Option<String>,
) -> Result<i64, AppError> {
    use super::guard::{authorize, state, Permission};
    let caller = authorize(Permission::Run).await?;
    let models = command::split_models(&launch_models.unwrap_or_default());
    match launch_template.filter(|t| !t.trim().is_empty()) {
        Some(t) => {
            caller.require(Permission::Admin)?;
            register_managed(&state()?, &name, &base_url, &command::split_template(&t), &models).await
        }
        None if !models.is_empty() => Err(AppError::validation(
            "launch_template",
            "models are listed for a managed endpoint: give its launch command too, or leave the models empty",
        )),
        None => Ok(register(&state()?, &name, &base_url).await?.0),
    }
}

/// Check an endpoint and store it: shared by the page and the REST API.
#[cfg(feature = "ssr")]
pub async fn register(
    state: &crate::state::AppState,
    name: &str,
    base_url: &str,
) -> Result<(i64, Vec<super::types::ServedModel>), AppError> {
    let url = crate::domain::url::normalize_base_url(base_url).map_err(|m| AppError::validation("base_url", m))?;
    let report = state.probe.check(&url).await.map_err(|m| AppError::validation("base_url", m))?;
    let id = crate::db::endpoints::insert(&state.db, &display_name(name, &url), &url, report.simulated, &report.models).await?;
    Ok((id, report.models))
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
    Ok(crate::db::endpoints::insert_managed(&state.db, &display_name(name, &url), &url, &args, &models).await?)
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

#[cfg(feature = "ssr")]
fn display_name(name: &str, url: &str) -> String {
    if name.trim().is_empty() {
        url.to_string()
    } else {
        name.trim().to_string()
    }
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
    let report = state
        .probe
        .check(&ep.base_url)
        .await
        .map_err(|m| AppError::validation("endpoint", m))?;
    crate::db::endpoints::set_models(&state.db, id, &report.models).await?;
    Ok(crate::db::endpoints::get(&state.db, id).await?)
}
