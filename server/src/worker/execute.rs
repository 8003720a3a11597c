//! Taking a run from the queue to its summary.

use super::drive::{self, drive, Stop};
use super::lease::{until_halted, AfterDrain, Leases, RunLease};
use super::preflight::{self, PreflightPolicy};
use super::progress::Tracker;
use super::spend::{self, SpendMeter};
use crate::client::Client;
use app::db::{self, runs::Claimed, DbError};
use app::domain::metrics::parse_vllm_metrics;
use app::domain::schedule::plan_iter;
use app::domain::spec::RunKind;
use app::domain::status::RunStatus;
use app::state::AppState;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("pre-flight check failed: {0}")]
    Preflight(String),
    #[error("dataset problem: {0}")]
    Dataset(String),
    #[error("database error: {0}")]
    Db(#[from] DbError),
    #[error("could not start the model server: {0}")]
    Launch(String),
    /// A data rule forbids the run (an internal-only dataset on a hosted endpoint, a spend cap
    /// that cannot be counted): the message names the rule.
    #[error("{0}")]
    Refused(String),
}

/// Everything the worker needs.
#[derive(Clone)]
pub struct Worker {
    pub state: AppState,
    pub client: Client,
    pub preflight: PreflightPolicy,
    /// This process's leases and shutdown signal.
    pub leases: Leases,
    /// While executing one run: its lease.
    pub(super) run: Option<Arc<RunLease>>,
    /// While executing one run on an endpoint priced per token: what it spends.
    pub(super) spend: Option<Arc<SpendMeter>>,
}

impl Worker {
    pub fn new(state: AppState, client: Client, preflight: PreflightPolicy, leases: Leases) -> Worker {
        super::offline::sweep_orphans(&std::env::temp_dir());
        Worker {
            state,
            client,
            preflight,
            leases,
            run: None,
            spend: None,
        }
    }

    /// Run one claimed run to its end and record how it ended, renewing its lease meanwhile. On
    /// a drain the run goes back to the queue (or, from `bakeoff run`, is marked interrupted); on
    /// a lost lease it is left to the worker that holds it now.
    pub async fn execute(&self, claimed: Claimed) {
        let id = claimed.id;
        let owner = self.leases.owner().to_string();
        if let Some(note) = &claimed.taken_over {
            tracing::warn!(run = id, "run {note}");
        }
        let lease = Arc::new(self.leases.keep(self.state.db.clone(), id));
        if claimed.resumed {
            // A model server a dead worker started for this run on this host goes first.
            crate::launcher::stop_orphans(&self.state.db, &self.leases.holder, Some(id)).await;
        }
        let bound = Worker {
            run: Some(lease.clone()),
            ..self.clone()
        };
        let total = u64::from(claimed.spec.requests) + u64::from(claimed.spec.warmup);
        let tracker = Tracker::new(self.state.events.clone(), id, total).stored_in(self.state.db.clone());
        tracing::info!(run = id, model = %claimed.spec.model, "run started{}", if claimed.resumed { " (resumed)" } else { "" });
        let cpu_before = crate::cpu::process_cpu();
        let outcome = until_halted(bound.execute_inner(&claimed, &tracker), &lease).await;
        if matches!(outcome, Ok(Stop::Drained)) && !lease.measuring() {
            // Drained while a model server was starting: wait until it is gone before letting go.
            crate::launcher::stop_orphans(&self.state.db, &self.leases.holder, Some(id)).await;
        }
        // The lease is renewed until the run is closed (the summary may take a while).
        let client_cpu_s = match (cpu_before, crate::cpu::process_cpu()) {
            (Some(a), Some(b)) => Some((b - a).as_secs_f64()),
            _ => None,
        };
        let (status, error) = match outcome {
            Ok(Stop::Finished | Stop::Deadline) => (RunStatus::Completed, None),
            Ok(Stop::Cancelled) => (RunStatus::Cancelled, None),
            // Stopped on purpose, by a limit the team set: cancelled, with the reason.
            Ok(Stop::SpendCap { next }) => (
                RunStatus::Cancelled,
                Some(spend::stopped_at_cap(&self.state.db, id, claimed.spec.endpoint_id, next).await),
            ),
            Ok(Stop::Drained) if self.leases.after_drain == AfterDrain::Interrupt => (RunStatus::Interrupted, None),
            Ok(Stop::Drained) => {
                match db::leases::release(&self.state.db, id, &owner).await {
                    Ok(true) => tracing::info!(run = id, "drained: back in the queue, resumed by the next worker"),
                    Ok(false) => tracing::warn!(run = id, "drained, but the lease had passed to another worker"),
                    Err(e) => tracing::error!(run = id, "drained, but could not release the lease (it expires by itself): {e}"),
                }
                tracker.finish(RunStatus::Queued, None);
                return;
            }
            Ok(Stop::LeaseLost) => {
                tracing::warn!(run = id, "stopped: another worker holds the run's lease now");
                return;
            }
            Err(e) => (RunStatus::Failed, Some(e.to_string())),
        };
        let summary = self.summarize_stored(&claimed, client_cpu_s).await;
        match db::runs::finish(&self.state.db, id, &owner, status, summary.as_ref(), error.as_deref()).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(run = id, "not closed: another worker took the run over meanwhile");
                return;
            }
            Err(e) => tracing::error!(run = id, "could not close the run: {e}"),
        }
        tracker.finish(status, error);
        tracing::info!(run = id, %status, "run ended");
        // Issue 18: a step of an automatic sweep queues the sweep's next step.
        self.continue_sweep(&claimed).await;
    }

    /// Where this worker writes down the model servers it starts for a run.
    fn ledger(&self, run_id: i64) -> crate::launcher::Ledger {
        crate::launcher::Ledger {
            db: self.state.db.clone(),
            run_id,
            host: self.leases.holder.host.clone(),
        }
    }

    async fn execute_inner(&self, claimed: &Claimed, tracker: &Tracker) -> Result<Stop, RunError> {
        let db = &self.state.db;
        let spec = &claimed.spec;
        let endpoint = db::endpoints::get(db, spec.endpoint_id).await?;
        // The dataset may have been marked internal only (or the endpoint hosted) since it was queued.
        spend::check_internal_only(db, &endpoint, spec.dataset_id, spec.kind).await?;
        let items = db::datasets::items(db, spec.dataset_id).await?;
        if items.is_empty() {
            return Err(RunError::Dataset(format!("dataset {} has no requests", spec.dataset_id)));
        }
        // Bound to the endpoint's access (key, headers, CA, hosted, retries) for everything below.
        let access = db::endpoints::access(db, endpoint.id).await?;
        let client = self
            .client
            .for_endpoint(&endpoint.base_url, &access)
            .map_err(|e| RunError::Preflight(e.to_string()))?;
        db::endpoints::record_run_access(db, claimed.id, client.hosted(), endpoint.price_sheet_id, &client.retry_policy()).await?;
        let spend = SpendMeter::open(db, claimed.id, &endpoint, &spec.model, spec.kind)
            .await?
            .map(Arc::new);
        let worker = Worker {
            client,
            spend: spend.clone(),
            ..self.clone()
        };
        let result = match spec.kind {
            RunKind::Server => worker.execute_bound(claimed, &endpoint, &items, tracker).await,
            RunKind::ProviderBatch => worker.run_provider_batch(claimed, &endpoint.base_url, &items, tracker).await,
            RunKind::Offline => worker.run_offline(claimed, &endpoint, &items, tracker).await,
        };
        if let Some(s) = &spend {
            s.store(db).await;
        }
        let (retries, rate_limited) = worker.client.retry_counts();
        if retries > 0 {
            db::endpoints::add_run_retries(db, claimed.id, retries, rate_limited).await?;
        }
        result
    }

    /// [`Worker::execute_inner`] with the client bound to the endpoint.
    async fn execute_bound(
        &self,
        claimed: &Claimed,
        endpoint: &app::api::types::EndpointView,
        items: &[app::domain::dataset::DatasetItem],
        tracker: &Tracker,
    ) -> Result<Stop, RunError> {
        let spec = &claimed.spec;
        let mut managed = match (&endpoint.launch_args, &endpoint.legacy_launch_template) {
            (Some(args), _) => {
                // The list may have changed since the run was queued.
                if !endpoint.launch_models.contains(&spec.model) {
                    return Err(RunError::Launch(format!(
                        "{} is started only with the models an admin listed for it ({}), not '{}'",
                        endpoint.name,
                        endpoint.launch_models.join(", "),
                        spec.model
                    )));
                }
                Some(self.managed_start(claimed.id, args, &endpoint.base_url, spec, tracker).await?)
            }
            (None, Some(_)) => return Err(RunError::Launch(app::api::runs::LEGACY_LAUNCH.into())),
            (None, None) => None,
        };
        let result = self.measure(claimed, &endpoint.base_url, items, tracker).await;
        if let Some(m) = managed.as_mut() {
            tracker.message(Some("stopping the model server".into()));
            m.stop().await;
        }
        result
    }

    /// Start the endpoint's model server with the run's engine settings, retrying with safer
    /// settings after an out-of-memory start; every attempt is recorded with its log.
    async fn managed_start(
        &self,
        run_id: i64,
        template: &[String],
        base_url: &str,
        spec: &app::domain::spec::RunSpec,
        tracker: &Tracker,
    ) -> Result<crate::launcher::Started, RunError> {
        use app::api::endpoints::command;
        use app::api::types::{LaunchOutcome, LaunchSettings, LaunchView};
        use app::domain::startup::{read_startup_log, safer, EngineKnobs};
        let port = app::domain::url::parse_base_url(base_url)
            .map_err(RunError::Launch)?
            .port_or_default();
        // Nothing starts for a URL the endpoint policy refuses.
        self.client
            .check_allowed(base_url)
            .await
            .map_err(|e| RunError::Preflight(e.to_string()))?;
        let mut knobs = EngineKnobs {
            gpu_memory_utilization: spec.engine.gpu_memory_utilization.unwrap_or(0.9),
            max_model_len: u64::from(spec.engine.max_model_len.unwrap_or(4096)),
            max_num_seqs: spec.engine.max_num_seqs.unwrap_or(256),
            enforce_eager: spec.engine.enforce_eager,
        };
        for attempt in 1..=self.preflight.launch_attempts {
            let args = command::render(template, &spec.model, port, &knobs);
            let command = command::display(&args);
            tracker.message(Some(format!("starting the model server (attempt {attempt}): {command}")));
            let settings = LaunchSettings {
                gpu_memory_utilization: knobs.gpu_memory_utilization,
                max_model_len: knobs.max_model_len,
                max_num_seqs: knobs.max_num_seqs,
                enforce_eager: knobs.enforce_eager,
            };
            match crate::launcher::start(
                &args,
                base_url,
                &self.client,
                self.preflight.launch_timeout,
                Some(&self.ledger(run_id)),
            )
            .await
            {
                Ok(started) => {
                    let log = started.log_text();
                    let mut measured = read_startup_log(&log);
                    // The engine's own cache settings, when it exports them.
                    if let Ok(text) = self.client.metrics(base_url).await {
                        if let Some((blocks, block_size)) = app::domain::metrics::cache_config(&text) {
                            measured.kv_tokens.get_or_insert(blocks * block_size);
                        }
                    }
                    db::planning::add_launch(
                        &self.state.db,
                        &LaunchView {
                            run_id,
                            attempt: i64::from(attempt),
                            command,
                            settings,
                            outcome: LaunchOutcome::Ready,
                            load_time_s: Some(started.load_time.as_secs_f64()),
                            measured: Some(measured),
                            log,
                        },
                    )
                    .await?;
                    return Ok(started);
                }
                Err(f) => {
                    let outcome = LaunchOutcome::from(f.kind);
                    db::planning::add_launch(
                        &self.state.db,
                        &LaunchView {
                            run_id,
                            attempt: i64::from(attempt),
                            command,
                            settings,
                            outcome,
                            load_time_s: None,
                            measured: Some(read_startup_log(&f.log)),
                            log: f.log.clone(),
                        },
                    )
                    .await?;
                    match safer(knobs, f.kind, &f.log) {
                        Some(s) if attempt < self.preflight.launch_attempts => {
                            tracing::warn!(run = run_id, "start failed ({}); retrying with safer settings", f.kind.label());
                            knobs = s;
                        }
                        _ => return Err(RunError::Launch(format!("{} ({})", f.message, f.kind.label()))),
                    }
                }
            }
        }
        Err(RunError::Launch("no attempt left".into()))
    }

    async fn measure(
        &self,
        claimed: &Claimed,
        base_url: &str,
        items: &[app::domain::dataset::DatasetItem],
        tracker: &Tracker,
    ) -> Result<Stop, RunError> {
        let db = &self.state.db;
        let spec = &claimed.spec;
        tracker.message(Some(format!("pre-flight: checking {base_url}")));
        preflight::check(&self.client, base_url, spec, items, &self.preflight).await?;
        tracker.message(None);
        // Issue 18: what the endpoint says about itself, captured (not typed) before the run.
        let mut conditions = self.capture_conditions(claimed.id, base_url, spec).await;

        let done = db::records::done_ids(db, claimed.id).await?;
        tracker.set_done(done.len() as u64);
        let base = db::records::last_finish(db, claimed.id).await?;
        let ids: Vec<String> = items.iter().map(|i| i.custom_id.clone()).collect();
        // Made one request at a time as they are sent; a resume skips what is stored.
        let done = &done;
        let ids = &ids;
        let todo = move |warmup: bool| {
            plan_iter(ids, spec.warmup, spec.requests).filter(move |p| p.warmup == warmup && !done.contains(&p.custom_id))
        };
        let mut warmup = todo(true).peekable();
        let origin = Instant::now();
        // Hosted providers have no /metrics.
        let scraper = (!self.client.hosted()).then(|| self.scrape_metrics(claimed.id, base_url.to_string(), origin, base));
        let ctx = drive::Context {
            worker: self,
            run_id: claimed.id,
            base_url,
            spec,
            items,
            origin,
            base,
            tracker,
            halt: self
                .run
                .as_ref()
                .map(|r| r.halt())
                .unwrap_or_else(|| tokio::sync::watch::channel(None).1),
            drain_timeout: self.run.as_ref().map(|r| r.drain_timeout).unwrap_or_default(),
            spend: self.spend.clone(),
        };
        if let Some(run) = &self.run {
            run.start_measuring();
        }
        let result = async {
            if warmup.peek().is_some() {
                match drive(&ctx, warmup).await? {
                    Stop::Finished => {}
                    other => return Ok(other),
                }
                // The prefix-cache hit rate is the measured requests': its window opens here.
                self.after_warmup(claimed.id, base_url, &mut conditions).await;
            }
            drive(&ctx, todo(false)).await
        }
        .await;
        // One last sample, so the server's counters cover the whole run.
        if let Some(scraper) = scraper {
            scraper.abort();
            self.scrape_once(claimed.id, base_url, origin, base).await;
        }
        self.finish_conditions(claimed.id, base_url, conditions).await;
        result
    }

    /// Scrape the endpoint's /metrics about once a second while the run goes, storing each sample.
    fn scrape_metrics(&self, run_id: i64, base_url: String, origin: Instant, base: Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if !me.scrape_once(run_id, &base_url, origin, base).await {
                    return; // no /metrics here: nothing to chart
                }
            }
        })
    }

    /// One scrape; false when the endpoint has no usable /metrics.
    async fn scrape_once(&self, run_id: i64, base_url: &str, origin: Instant, base: Duration) -> bool {
        let t_ms = (base + origin.elapsed()).as_millis() as u64;
        match self.client.metrics(base_url).await {
            Ok(text) => {
                let sample = parse_vllm_metrics(&text, t_ms);
                if sample.running.is_none() && sample.generation_tokens_total.is_none() {
                    return false;
                }
                if let Err(e) = db::metrics::insert(&self.state.db, run_id, &sample).await {
                    tracing::warn!(run = run_id, "could not store a metrics sample: {e}");
                }
                true
            }
            Err(e) => {
                tracing::debug!(run = run_id, "no /metrics: {e}");
                false
            }
        }
    }
}
