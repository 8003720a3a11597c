use super::error::AppError;
use super::types::EndpointView;
use leptos::prelude::*;

#[server]
pub async fn list_endpoints() -> Result<Vec<EndpointView>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    Ok(crate::db::endpoints::list(&state()?.db).await?)
}

/// Register a vLLM (or other OpenAI-compatible) server after checking that it answers.
#[server]
pub async fn add_endpoint(name: String, base_url: String, launch_template: Option<String>) -> Result<i64, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::Run).await?;
    match launch_template.filter(|t| !t.trim().is_empty()) {
        Some(t) => register_managed(&state()?, &name, &base_url, &t).await,
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
    let name = if name.trim().is_empty() {
        url.clone()
    } else {
        name.trim().to_string()
    };
    let id = crate::db::endpoints::insert(&state.db, &name, &url, report.simulated, &report.models).await?;
    Ok((id, report.models))
}

/// Register a managed endpoint: Bakeoff starts its server with `template` for each run, so it
/// is not checked now (nothing listens until a run starts it).
#[cfg(feature = "ssr")]
pub async fn register_managed(state: &crate::state::AppState, name: &str, base_url: &str, template: &str) -> Result<i64, AppError> {
    let url = crate::domain::url::normalize_base_url(base_url).map_err(|m| AppError::validation("base_url", m))?;
    if !template.contains("{port}") || !template.contains("{model}") {
        return Err(AppError::validation("launch_template", "the command needs {model} and {port}, e.g. vllm serve {model} --port {port} --gpu-memory-utilization {util} --max-model-len {max_model_len} {eager}"));
    }
    let name = if name.trim().is_empty() {
        url.clone()
    } else {
        name.trim().to_string()
    };
    let id = crate::db::endpoints::insert(&state.db, &name, &url, false, &[]).await?;
    crate::db::planning::set_launch_template(&state.db, id, Some(template.trim())).await?;
    Ok(id)
}

/// Check an endpoint again and refresh the models it serves.
#[server]
pub async fn recheck_endpoint(id: i64) -> Result<EndpointView, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    let state = state()?;
    let ep = crate::db::endpoints::get(&state.db, id).await?;
    let report = state
        .probe
        .check(&ep.base_url)
        .await
        .map_err(|m| AppError::validation("endpoint", m))?;
    crate::db::endpoints::set_models(&state.db, id, &report.models).await?;
    Ok(crate::db::endpoints::get(&state.db, id).await?)
}
