//! The model registry, the pending-tests queue and managed launches.

use super::error::AppError;
use super::types::{LaunchView, PlannedTest};
use crate::domain::models::ModelEntry;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[server]
pub async fn list_models() -> Result<Vec<ModelEntry>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    Ok(crate::db::planning::models(&state()?.db).await?)
}

/// Register a model from a pasted Hugging Face `config.json`.
#[server]
pub async fn add_model(name: String, config: String, quant: String, weights_gb: String) -> Result<i64, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::Run).await?;
    let entry = parse_model(&name, &config, &quant, &weights_gb).map_err(AppError::Validation)?;
    Ok(crate::db::planning::add_model(&state()?.db, &entry, false).await?)
}

/// Validate a pasted model (every problem named at its field).
pub fn parse_model(name: &str, config: &str, quant: &str, weights_gb: &str) -> Result<ModelEntry, crate::domain::errors::FieldErrors> {
    use crate::domain::models::{from_hf_config, Quant};
    let mut errs = crate::domain::errors::FieldErrors::default();
    if name.trim().is_empty() {
        errs.push("name", "name the model as vLLM serves it, e.g. google/gemma-3-4b-it");
    }
    let q = Quant::parse(quant);
    if q.is_none() {
        errs.push("quant", "choose a weight format");
    }
    let gb = match weights_gb.trim() {
        "" => None,
        s => match s.parse::<f64>() {
            Ok(v) if v > 0.0 => Some(v),
            _ => {
                errs.push("weights_gb", format!("the weights' size must be a number of GB, got '{s}'"));
                None
            }
        },
    };
    let arch = match serde_json::from_str::<serde_json::Value>(config) {
        Err(e) => {
            errs.push("config", format!("config.json is not valid JSON ({e})"));
            None
        }
        Ok(v) => match from_hf_config(&v, None) {
            Ok(a) => Some(a),
            Err(m) => {
                errs.push("config", m);
                None
            }
        },
    };
    errs.clone().into_result(())?;
    match (arch, q) {
        (Some(arch), Some(quant)) => Ok(ModelEntry {
            id: 0,
            name: name.trim().to_string(),
            arch,
            quant,
            source: "pasted config.json".into(),
            weights_gb: gb,
        }),
        _ => Err(errs),
    }
}

#[server]
pub async fn list_tests() -> Result<Vec<PlannedTest>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    Ok(crate::db::planning::tests(&state()?.db).await?)
}

/// A pending test as typed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TestForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub model_id: String,
    #[serde(default)]
    pub endpoint_id: String,
    #[serde(default)]
    pub dataset_id: String,
    #[serde(default)]
    pub serve_model: String,
    #[serde(default)]
    pub requests: String,
    #[serde(default)]
    pub concurrency: String,
    #[serde(default)]
    pub expected: String,
    /// The planner's inputs as JSON (from the planner page), optional.
    #[serde(default)]
    pub plan: String,
}

#[server]
pub async fn add_test(form: TestForm) -> Result<i64, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::Run).await?;
    let mut errs = crate::domain::errors::FieldErrors::default();
    let num = |f: &str, s: &str, errs: &mut crate::domain::errors::FieldErrors| -> Option<i64> {
        match s.trim().parse::<i64>() {
            Ok(v) if v >= 1 => Some(v),
            _ => {
                errs.push(f, format!("must be a whole number of at least 1, got '{}'", s.trim()));
                None
            }
        }
    };
    let requests = num("requests", &form.requests, &mut errs);
    let concurrency = num("concurrency", &form.concurrency, &mut errs);
    if form.title.trim().is_empty() {
        errs.push("title", "say what the test is, e.g. 'Gemma 3 12B QAT on the 4080'");
    }
    if form.serve_model.trim().is_empty() {
        errs.push("serve_model", "the model name the endpoint will serve");
    }
    let plan = if form.plan.trim().is_empty() {
        None
    } else {
        match serde_json::from_str(&form.plan) {
            Ok(p) => Some(p),
            Err(e) => {
                errs.push("plan", format!("the plan is not valid ({e})"));
                None
            }
        }
    };
    errs.into_result(()).map_err(AppError::Validation)?;
    let t = PlannedTest {
        id: 0,
        position: 0,
        title: form.title.trim().to_string(),
        model_id: form.model_id.trim().parse().ok(),
        endpoint_id: form.endpoint_id.trim().parse().ok(),
        dataset_id: form.dataset_id.trim().parse().ok(),
        serve_model: form.serve_model.trim().to_string(),
        requests: requests.unwrap_or(1),
        concurrency: concurrency.unwrap_or(1),
        expected: form.expected.trim().to_string(),
        plan,
        status: crate::domain::views::TestStatus::Planned,
        run_id: None,
    };
    Ok(crate::db::planning::add_test(&state()?.db, &t).await?)
}

#[server]
pub async fn move_test(id: i64, delta: i64) -> Result<(), AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::Run).await?;
    Ok(crate::db::planning::move_test(&state()?.db, id, delta).await?)
}

#[server]
pub async fn delete_test(id: i64) -> Result<(), AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::Run).await?;
    Ok(crate::db::planning::delete_test(&state()?.db, id).await?)
}

/// Queue planned tests as runs, in priority order (`id` None: every planned one). The worker runs
/// one at a time, so a GPU endpoint serves one model at a time.
#[server]
pub async fn launch_tests(id: Option<i64>) -> Result<Vec<i64>, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Run).await?;
    let state = state()?;
    let actor = super::audit::actor_here(&me);
    let mut runs = Vec::new();
    for t in crate::db::planning::tests(&state.db)
        .await?
        .into_iter()
        .filter(|t| t.status == crate::domain::views::TestStatus::Planned && id.is_none_or(|i| i == t.id))
    {
        let (Some(endpoint), Some(dataset)) = (t.endpoint_id, t.dataset_id) else {
            return Err(AppError::validation(
                "test",
                format!("'{}' has no endpoint or dataset: edit it first", t.title),
            ));
        };
        let plan = t.plan.as_ref();
        let form = crate::domain::spec::LaunchForm {
            name: t.title.clone(),
            endpoint_id: endpoint.to_string(),
            dataset_id: dataset.to_string(),
            model: t.serve_model.clone(),
            requests: t.requests.to_string(),
            concurrency: t.concurrency.to_string(),
            gpu_memory_utilization: plan.map(|p| p.gpu_memory_utilization.to_string()).unwrap_or_default(),
            max_model_len: plan.map(|p| p.max_model_len.to_string()).unwrap_or_default(),
            max_num_seqs: plan.map(|p| p.max_num_seqs.to_string()).unwrap_or_default(),
            enforce_eager: plan.filter(|p| p.enforce_eager).map(|_| "true".to_string()),
            notes: if t.expected.is_empty() {
                String::new()
            } else {
                format!("Expected: {}", t.expected)
            },
            ..Default::default()
        };
        let launched = super::runs::queue_runs(&state, &form).await?;
        crate::db::trash::set_created_by(&state.db, super::trash::TrashKind::Run, &launched.run_ids, me.id).await?;
        super::audit::launched(&state.db, &actor, &form, &launched).await;
        if let Some(run) = launched.run_ids.first() {
            crate::db::planning::set_test_run(&state.db, t.id, *run).await?;
            runs.push(*run);
        }
    }
    state.wake_worker.notify_one();
    Ok(runs)
}

/// Set or clear (an empty `template`) an endpoint's launch command: admins only, since it runs on
/// this server. `template` is split on whitespace into arguments (never given to a shell);
/// `models` (one per line or comma-separated) are the models runs may start it with (`None`:
/// keep the endpoint's list).
#[server]
pub async fn set_launch_template(endpoint_id: i64, template: String, models: Option<String>) -> Result<(), AppError> {
    use super::endpoints::command;
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Admin).await?;
    let db = state()?.db;
    let actor = super::audit::actor_here(&me);
    if template.trim().is_empty() {
        crate::db::planning::set_launch_command(&db, endpoint_id, None).await?;
        super::audit::launch_command_set(&db, &actor, endpoint_id, None).await;
        return Ok(());
    }
    let models = match models {
        Some(m) => command::split_models(&m),
        None => crate::db::endpoints::get(&db, endpoint_id).await?.launch_models,
    };
    let (args, models) = super::endpoints::check_command(&command::split_template(&template), &models)?;
    crate::db::planning::set_launch_command(&db, endpoint_id, Some((&args, &models))).await?;
    super::audit::launch_command_set(&db, &actor, endpoint_id, Some((&args, &models))).await;
    Ok(())
}

#[server]
pub async fn run_launches(run_id: i64) -> Result<Vec<LaunchView>, AppError> {
    use super::guard::{authorize, state, Permission};
    let caller = authorize(Permission::View).await?;
    let db = &state()?.db;
    // A run in the trash is not found.
    crate::db::runs::get(db, run_id).await?;
    let mut launches = crate::db::planning::launches(db, run_id).await?;
    // vLLM's log can hold the answers it wrote (`--enable-log-outputs`, request logging), next to
    // this run's model: reviewers, who grade blind, do not see it.
    if !caller.role.allows(Permission::ReadAnswers) {
        for l in &mut launches {
            l.log = HIDDEN_LOG.into();
        }
    }
    Ok(launches)
}

/// What a reviewer sees instead of a model server's log.
pub const HIDDEN_LOG: &str = "(hidden from reviewers: vLLM's log can show the answers it wrote next to this run's model)";

/// The planner's estimate for a run launched from a pending test (to show beside what vLLM reported).
#[server]
pub async fn run_plan(run_id: i64) -> Result<Option<crate::domain::planner::Plan>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    let db = &state()?.db;
    crate::db::runs::get(db, run_id).await?;
    let tests = crate::db::planning::tests(db).await?;
    Ok(tests
        .into_iter()
        .find(|t| t.run_id == Some(run_id))
        .and_then(|t| t.plan)
        .map(|p| crate::domain::planner::plan(&p)))
}
