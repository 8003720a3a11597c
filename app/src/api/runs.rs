use super::error::AppError;
use super::types::{Launched, RunView};
use crate::domain::spec::LaunchForm;
use leptos::prelude::*;

#[server]
pub async fn list_runs() -> Result<Vec<RunView>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    Ok(crate::db::runs::list(&state()?.db).await?)
}

#[server]
pub async fn get_run(id: i64) -> Result<RunView, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    Ok(crate::db::runs::get(&state()?.db, id).await?)
}

/// Validate the launch form and queue the run (or a sweep of runs).
#[server]
pub async fn launch_run(form: LaunchForm) -> Result<Launched, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Run).await?;
    let state = state()?;
    let launched = queue_runs_as(&state, &form, me.require(Permission::Admin).is_ok()).await?;
    crate::db::trash::set_created_by(&state.db, super::trash::TrashKind::Run, &launched.run_ids, me.id).await?;
    super::audit::launched(&state.db, &super::audit::actor_here(&me), &form, &launched).await;
    state.wake_worker.notify_one();
    Ok(launched)
}

/// Why a run cannot start on an endpoint whose launch command predates argument lists.
pub const LEGACY_LAUNCH: &str = "this endpoint's launch command was stored as a shell line, which Bakeoff no longer runs: an admin must enter it again (as arguments, with the models it may start) on the Endpoints page";

/// Check a launch against what is stored and what the endpoint serves, then queue it. Shared by
/// the form, the REST API and the CLI. Refusals are worded for someone who is not an admin (the
/// internal-only flag: "ask an admin"); [`queue_runs_as`] words them for the caller.
#[cfg(feature = "ssr")]
pub async fn queue_runs(state: &crate::state::AppState, form: &LaunchForm) -> Result<Launched, AppError> {
    queue_runs_as(state, form, false).await
}

/// [`queue_runs`] for a caller who is an admin (`admin`) or not.
#[cfg(feature = "ssr")]
pub async fn queue_runs_as(state: &crate::state::AppState, form: &LaunchForm, admin: bool) -> Result<Launched, AppError> {
    use crate::db;
    use crate::domain::errors::FieldErrors;
    let spec = form.parse().map_err(AppError::Validation)?;
    // Issue 18: a sweep of fixed levels, or an automatic sweep to saturation.
    let plan = form.sweep_plan().map_err(AppError::Validation)?;
    let levels = match &plan {
        crate::domain::spec::SweepPlan::Levels(l) => l.clone(),
        _ => Vec::new(),
    };
    let endpoint = match db::endpoints::get(&state.db, spec.endpoint_id).await {
        Ok(e) => e,
        Err(db::DbError::NotFound(_)) => {
            let missing = format!("no endpoint {} (add it on the Endpoints page)", spec.endpoint_id);
            let why = super::trash::why_missing(&state.db, super::trash::TrashKind::Endpoint, spec.endpoint_id, missing).await;
            return Err(AppError::validation("endpoint_id", why));
        }
        Err(e) => return Err(e.into()),
    };
    let dataset = match db::datasets::get(&state.db, spec.dataset_id).await {
        Ok(d) => d,
        Err(db::DbError::NotFound(_)) => {
            let missing = format!("no dataset {}", spec.dataset_id);
            let why = super::trash::why_missing(&state.db, super::trash::TrashKind::Dataset, spec.dataset_id, missing).await;
            return Err(AppError::validation("dataset_id", why));
        }
        Err(e) => return Err(e.into()),
    };
    // Internal-only data never goes to a hosted endpoint; an endpoint past its spend cap takes
    // no more runs (checked again by the worker when it takes the run).
    super::data_rules::check_launch(&state.db, &endpoint, &dataset, &spec, admin).await?;
    check_kind(&endpoint, spec.kind)?;
    if let Some(m) = super::data_rules::internal_only_refusal_as(&endpoint, &dataset, spec.kind, admin) {
        return Err(AppError::validation("dataset_id", m));
    }
    // A managed endpoint is started by the worker for each run: nothing answers yet, and it
    // may be started only with a model its admin listed.
    let simulated = if endpoint.launch_args.is_some() {
        if !endpoint.launch_models.contains(&spec.model) {
            return Err(AppError::validation(
                "model",
                format!(
                    "{} is started only with the models an admin listed for it: {}",
                    endpoint.name,
                    endpoint.launch_models.join(", ")
                ),
            ));
        }
        endpoint.simulated
    } else if endpoint.legacy_launch_template.is_some() {
        return Err(AppError::validation("endpoint_id", LEGACY_LAUNCH));
    } else {
        let access = db::endpoints::access(&state.db, endpoint.id).await?;
        let report = state
            .probe
            .check(&endpoint.base_url, &access)
            .await
            .map_err(|m| AppError::validation("endpoint_id", m))?;
        db::endpoints::set_models(&state.db, endpoint.id, &report.models).await?;
        if !report.models.iter().any(|m| m.id == spec.model) {
            let served: Vec<&str> = report.models.iter().map(|m| m.id.as_str()).collect();
            return Err(AppError::Validation(FieldErrors::one(
                "model",
                format!(
                    "{} does not serve '{}'; it serves: {}",
                    endpoint.base_url,
                    spec.model,
                    served.join(", ")
                ),
            )));
        }
        // A max_tokens that leaves no room for any prompt fails every request: refused here, on
        // the model list the endpoint just gave, rather than by the worker's pre-flight.
        if let Some(m) = context_refusal(&state.db, &endpoint, &spec, &report.models).await? {
            return Err(AppError::validation("max_tokens", m));
        }
        report.simulated || endpoint.simulated
    };
    if let crate::domain::spec::SweepPlan::Auto { steps } = plan {
        // Its first step only: the worker plans each next step from the steps measured so far.
        let first = crate::domain::saturation::first_step(&spec, steps);
        let ids = db::runs::insert_sweep(&state.db, &[first], simulated).await?;
        return Ok(Launched {
            sweep_id: ids.first().copied(),
            run_ids: ids,
        });
    }
    if levels.is_empty() {
        let id = db::runs::insert(&state.db, &spec, simulated, None).await?;
        return Ok(Launched {
            run_ids: vec![id],
            sweep_id: None,
        });
    }
    let base = if spec.name.is_empty() {
        spec.model.clone()
    } else {
        spec.name.clone()
    };
    let specs: Vec<_> = levels
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let mut s = spec.clone();
            s.load.concurrency = c;
            s.name = format!("{base} @ concurrency {c}");
            // Warm-up once per sweep: the first level's run warms the server for the rest.
            if i > 0 {
                s.warmup = 0;
            }
            s
        })
        .collect();
    let ids = db::runs::insert_sweep(&state.db, &specs, simulated).await?;
    Ok(Launched {
        sweep_id: ids.first().copied(),
        run_ids: ids,
    })
}

/// Why the run's max_tokens (or its dataset's requests' own) cannot fit the model's context, when
/// the endpoint reported the model's `max_model_len` in `models` and that is certain (see
/// [`RunSpec::context_refusal`](crate::domain::spec::RunSpec::context_refusal)). Shared by the
/// launch (with the models just fetched) and the preview (with the models stored at the last
/// check). Hosted endpoints and managed ones (not running yet) are not checked, as the worker's
/// pre-flight does not check them.
#[cfg(feature = "ssr")]
pub async fn context_refusal(
    db: &crate::db::Db,
    endpoint: &crate::api::types::EndpointView,
    spec: &crate::domain::spec::RunSpec,
    models: &[crate::api::types::ServedModel],
) -> Result<Option<String>, crate::db::DbError> {
    if endpoint.launch_args.is_some() || super::data_rules::is_hosted(endpoint) {
        return Ok(None);
    }
    let Some(max_model_len) = models.iter().find(|m| m.id == spec.model).and_then(|m| m.max_model_len) else {
        return Ok(None);
    };
    if spec.sampling.max_tokens.is_some_and(|m| u64::from(m) < max_model_len) {
        return Ok(None);
    }
    let tokens = super::data_rules::dataset_tokens(db, spec.dataset_id).await?;
    Ok(spec.context_refusal(max_model_len, &tokens))
}

/// Does the endpoint suit the kind of run (issue 14)? An offline batch needs a managed endpoint
/// whose launch list runs `vllm run-batch` (it has `{input}`); such an endpoint runs nothing
/// else; a provider batch goes to an API, not to a server Bakeoff starts.
#[cfg(feature = "ssr")]
pub fn check_kind(endpoint: &crate::api::types::EndpointView, kind: crate::domain::spec::RunKind) -> Result<(), AppError> {
    use crate::domain::spec::RunKind;
    let batch_list = endpoint.launch_args.as_ref().map(|args| args.iter().any(|a| a == "{input}"));
    match (kind, batch_list) {
        (RunKind::Offline, Some(true)) | (RunKind::Server, None | Some(false)) | (RunKind::ProviderBatch, None) => Ok(()),
        (RunKind::Offline, _) => Err(AppError::validation(
            "kind",
            format!(
                "An offline batch run needs a managed endpoint whose launch list runs `vllm run-batch -i {{input}} -o {{output}} --model {{model}}`; {} has {}",
                endpoint.name,
                if batch_list.is_some() { "a launch list that starts a server (no {input})" } else { "no launch list" }
            ),
        )),
        (RunKind::Server, Some(true)) => Err(AppError::validation(
            "kind",
            format!("{} runs `vllm run-batch` (its launch list has {{input}}): choose the offline batch kind", endpoint.name),
        )),
        (RunKind::ProviderBatch, Some(_)) => Err(AppError::validation(
            "kind",
            format!(
                "A provider batch goes to a provider's Batch API (/v1/files, /v1/batches), not to a server Bakeoff starts: {} is managed",
                endpoint.name
            ),
        )),
    }
}

#[server]
pub async fn cancel_run(id: i64) -> Result<String, AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Run).await?;
    let db = state()?.db;
    let status = crate::db::runs::request_cancel(&db, id).await?;
    super::audit::cancelled(&db, &super::audit::actor_here(&me), id, &status.to_string()).await;
    Ok(status.to_string())
}

/// The run page's chart data: bins, curve points and per-bucket rates (never every request),
/// with the server's series.
#[server]
pub async fn run_series(id: i64) -> Result<crate::domain::series::RunSeries, AppError> {
    use super::guard::{authorize, state, Permission};
    use crate::domain::series::{thin, RunSeries, SERVER_POINTS};
    authorize(Permission::View).await?;
    let state = state()?;
    let run = crate::db::runs::get(&state.db, id).await?;
    let mut charts = charts(&state.db, &run).await?;
    // The run page draws histograms, not the cumulative curves (the compare page does).
    for c in [&mut charts.ttft, &mut charts.e2e].into_iter().flatten() {
        c.cdf.clear();
    }
    let server = crate::db::metrics::for_run(&state.db, id).await?;
    Ok(RunSeries {
        run_id: id,
        label: format!("#{} {}", run.id, run.name),
        charts,
        server: thin(server, SERVER_POINTS),
    })
}

/// A run's chart data: stored when it ended; computed from its records while it runs (without
/// the inter-token gaps, to stay quick) or, for a run that ended before charts were stored,
/// computed once and stored.
#[cfg(feature = "ssr")]
pub async fn charts(db: &crate::db::Db, run: &RunView) -> Result<crate::domain::series::RunCharts, crate::db::DbError> {
    use crate::db::records::{Pages, Read};
    use crate::domain::series::ChartsBuilder;
    if let Some((_, stored)) = crate::db::charts::get(db, run.id).await? {
        return Ok(stored);
    }
    let finished = run.status.is_finished();
    let mut builder = ChartsBuilder::default();
    let mut pages = Pages::new(run.id, if finished { Read::Timing } else { Read::TimingNoGaps });
    let mut n = 0u64;
    while let Some(page) = pages.next(db).await? {
        n += page.len() as u64;
        for r in &page {
            builder.add(r);
        }
    }
    let charts = builder.finish();
    if finished && n > 0 {
        crate::db::charts::put(db, run.id, n, &charts).await?;
    }
    Ok(charts)
}

/// Several runs side by side: their views and chart data (at most 8).
#[server]
pub async fn compare_runs(#[server(default)] ids: Vec<i64>) -> Result<Vec<(RunView, crate::domain::series::RunSeries)>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    if ids.len() > 8 {
        return Err(AppError::validation("run", "compare at most 8 runs at once"));
    }
    let state = state()?;
    let mut out = Vec::new();
    for id in ids {
        // A run since deleted is left out ([`compare_missing`] names it), not the whole page.
        let run = match crate::db::runs::get(&state.db, id).await {
            Ok(r) => r,
            Err(crate::db::DbError::NotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        let series = crate::domain::series::RunSeries {
            run_id: id,
            label: format!("#{} {}", run.id, run.name),
            charts: charts(&state.db, &run).await?,
            server: Vec::new(),
        };
        out.push((run, series));
    }
    Ok(out)
}

/// The compared runs that cannot be shown, each said as the run page says it ("run 2 is in the
/// trash (deleted by rob): an admin can restore it").
#[server]
pub async fn compare_missing(#[server(default)] ids: Vec<i64>) -> Result<Vec<String>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    let db = &state()?.db;
    let mut out = Vec::new();
    for id in ids.into_iter().take(8) {
        match crate::db::runs::get(db, id).await {
            Ok(_) => {}
            // "run 2 is in the trash (...)", or a bare "run 999": one that never was.
            Err(crate::db::DbError::NotFound(what)) if what == format!("run {id}") => out.push(format!("run {id} does not exist")),
            Err(crate::db::DbError::NotFound(what)) => out.push(what),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// The runs of one sweep (grouped launch), in the page's order: the concurrency steps by
/// concurrency, then the request-rate steps by rate.
#[server]
pub async fn sweep_runs(sweep_id: i64) -> Result<Vec<RunView>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    sweep_steps(&state()?.db, sweep_id).await
}

/// The steps of a sweep that are in the trash, as "run #10 (concurrency 32)": the sweep's verdict
/// leaves them out, and its page says so.
#[server]
pub async fn sweep_trashed(sweep_id: i64) -> Result<Vec<String>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    Ok(crate::db::sweeps::trashed_steps(&state()?.db, sweep_id)
        .await?
        .into_iter()
        .map(|(id, load)| {
            if load.is_empty() {
                format!("run #{id}")
            } else {
                format!("run #{id} ({load})")
            }
        })
        .collect())
}

/// The runs of one sweep in the page's order ([`table_order`](crate::domain::sweep_verdict::table_order));
/// the sweep page, REST `GET /api/sweeps/{id}` and `bakeoff run --sweep` read it.
#[cfg(feature = "ssr")]
pub async fn sweep_steps(db: &crate::db::Db, sweep_id: i64) -> Result<Vec<RunView>, AppError> {
    let mut runs: Vec<RunView> = crate::db::runs::list(db)
        .await?
        .into_iter()
        .filter(|r| r.sweep_id == Some(sweep_id))
        .collect();
    if runs.is_empty() {
        return Err(AppError::NotFound(format!("sweep {sweep_id}")));
    }
    crate::domain::sweep_verdict::table_order(&mut runs);
    Ok(runs)
}

/// Runs per page of the runs list.
pub const RUNS_PER_PAGE: u32 = 50;

// The filter's and deletions' types live in `domain` (the database reads them too).
pub use crate::domain::views::{Origin, Removal, RunFilter, STATUSES};

/// One page of the runs list.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunPage {
    pub runs: Vec<RunView>,
    /// Runs matching the filter, on every page.
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

impl RunPage {
    pub fn pages(&self) -> u32 {
        let per = i64::from(self.per_page.max(1));
        u32::try_from((self.total + per - 1) / per).unwrap_or(u32::MAX).max(1)
    }
    /// Some listed run is still queued or running (the list then refreshes itself).
    pub fn any_active(&self) -> bool {
        self.runs.iter().any(|r| !r.status.is_finished())
    }
}

/// A page of runs, newest first, filtered.
#[server]
pub async fn list_runs_page(#[server(default)] filter: RunFilter) -> Result<RunPage, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    let page = filter.page.max(1);
    let (runs, total) = crate::db::runs::page(&state()?.db, &filter, RUNS_PER_PAGE).await?;
    Ok(RunPage {
        runs,
        total,
        page,
        per_page: RUNS_PER_PAGE,
    })
}

/// A new name as typed: trimmed, 1 to 200 characters, no control characters.
pub fn checked_name(name: &str) -> Result<String, AppError> {
    one_line(name, 200).map_err(|m| AppError::validation("name", format!("a name is {m}")))
}

/// A short text as typed (a name, a provider, a file name): trimmed, 1 to `max` characters, one
/// line (no control characters), or what to fix. Creating and renaming check the same.
pub fn one_line(text: &str, max: usize) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("required".into());
    }
    let n = text.chars().count();
    if n > max {
        return Err(format!("at most {max} characters, got {n}"));
    }
    if text
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
    {
        return Err("one line of text (no tabs, line breaks or direction controls)".into());
    }
    Ok(text.to_string())
}

/// Move a finished run, with everything stored for it, to the trash (`dry_run`: only say what
/// would go, and for how long).
#[server]
pub async fn delete_run(id: i64, #[server(default)] dry_run: bool) -> Result<Removal, AppError> {
    use super::guard::{authorize, state, Permission};
    use super::trash::{delete, TrashKind};
    let me = authorize(Permission::Run).await?;
    let state = state()?;
    super::trash::may_delete_run(&state.db, &me, id).await?;
    delete(&state, &super::audit::actor_here(&me), TrashKind::Run, id, dry_run).await
}

#[server]
pub async fn rename_run(id: i64, name: String) -> Result<(), AppError> {
    use super::guard::{authorize, state, Permission};
    let me = authorize(Permission::Run).await?;
    let (db, name) = (state()?.db, checked_name(&name)?);
    crate::db::runs::rename(&db, id, &name).await?;
    super::audit::renamed(&db, &super::audit::actor_here(&me), "run", id, &name).await;
    Ok(())
}

/// REST handlers for rename and delete (the server's route table lists them).
#[cfg(feature = "ssr")]
pub mod rest;
