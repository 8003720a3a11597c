//! Offline vLLM batch runs (issue 14): `vllm run-batch -i IN.jsonl -o OUT.jsonl --model M`,
//! started on the worker's host through the endpoint's admin-written launch list (one with
//! `{input}`), timed as a whole with the model load apart, and every output line stored as a
//! record (answers and usage, no per-request timing).
//!
//! Records are stored only at the end, from the output file, once the process exited with 0. A
//! job stopped before that (cancel, drain, lost lease) stores none, and a drained run's job starts
//! again from the beginning when the run is resumed (its job row is cleared as the job starts).

mod files;

use super::drive::Stop;
use super::lease::halted;
use super::progress::Tracker;
use super::{RunError, Worker};
use app::api::endpoints::command;
use app::api::types::{EndpointView, LaunchOutcome, LaunchSettings, LaunchView};
use app::db::{self, jobs::StoredJob, runs::Claimed};
use app::domain::batch::{read_run_batch_log, JobTiming};
use app::domain::dataset::DatasetItem;
use app::domain::spec::{RunKind, RunSpec};
use app::domain::startup::{classify_start_failure, read_startup_log, EngineKnobs};
use app::domain::status::RunStatus;
pub(crate) use files::sweep_orphans;
use files::{store_output, write_input, JobDir, LineCounter};
use std::path::Path;
use std::process::ExitStatus;
use std::time::{Duration, Instant, SystemTime};

/// What a batch command needs, said when an endpoint cannot run one.
pub const NEEDS_BATCH_LIST: &str =
    "an offline batch run needs a managed endpoint whose launch list runs `vllm run-batch -i {input} -o {output} --model {model}`";

/// The log's sign that the batch started, i.e. the model is loaded (vLLM's progress bar, as
/// [`read_run_batch_log`] reads it).
const STARTED: &str = "Running batch";
/// What vLLM's log says once every answer is computed: the job ends there (writing the file and
/// the engine's shutdown, 1-2 s on the CPU build, are not the model's work).
const FINISHED: &str = "Writing outputs to";
/// How often the job is looked at while the model loads (the load's end is timed by the log's
/// reader, this only bounds how late the page hears of it), and afterwards.
const TICK_LOADING: Duration = Duration::from_millis(100);
const TICK: Duration = Duration::from_millis(500);

impl Worker {
    /// Run the offline batch job of a run of kind [`RunKind::Offline`] to its end and store its
    /// answers; the job row (`run_jobs`) follows it as it goes.
    pub(super) async fn run_offline(
        &self,
        claimed: &Claimed,
        endpoint: &EndpointView,
        items: &[DatasetItem],
        tracker: &Tracker,
    ) -> Result<Stop, RunError> {
        let db = &self.state.db;
        let spec = &claimed.spec;
        let template = batch_template(endpoint, &spec.model).map_err(RunError::Launch)?;
        // A drained job starts again from the beginning: forget how far the last one got, and
        // any answers a worker that died while storing them left behind.
        db::jobs::clear(db, claimed.id).await?;
        let left = db::records::clear(db, claimed.id).await?;
        if left > 0 {
            tracing::warn!(
                run = claimed.id,
                "{left} record(s) of an earlier attempt of this job removed: the job starts again"
            );
        }
        let dir = JobDir::create(claimed.id).map_err(|e| RunError::Launch(format!("could not make the job's temporary directory: {e}")))?;
        let (input, output) = (dir.0.join("input.jsonl"), dir.0.join("output.jsonl"));
        let total = write_input(&input, items, spec)
            .await
            .map_err(|e| RunError::Launch(format!("could not write the batch input {}: {e}", input.display())))?;
        let knobs = knobs(spec);
        let port = app::domain::url::parse_base_url(&endpoint.base_url)
            .map(|u| u.port_or_default())
            .unwrap_or(8000);
        let args = command::render_batch(
            template,
            &spec.model,
            port,
            &knobs,
            &input.to_string_lossy(),
            &output.to_string_lossy(),
        );
        let mut launch = LaunchView {
            run_id: claimed.id,
            attempt: db::planning::launches(db, claimed.id).await?.len() as i64 + 1,
            command: command::display(&args),
            settings: LaunchSettings {
                gpu_memory_utilization: knobs.gpu_memory_utilization,
                max_model_len: knobs.max_model_len,
                max_num_seqs: knobs.max_num_seqs,
                enforce_eager: knobs.enforce_eager,
            },
            outcome: LaunchOutcome::Other,
            load_time_s: None,
            log: String::new(),
            measured: None,
        };
        tracker.message(Some(format!("offline batch job: loading the model ({})", launch.command)));
        let ledger = crate::launcher::Ledger {
            db: db.clone(),
            run_id: claimed.id,
            host: self.leases.holder.host.clone(),
        };
        let mut job = match crate::launcher::spawn_job(&args, Some(&ledger), &[STARTED, FINISHED]).await {
            Ok(job) => job,
            Err(f) => {
                launch.log = f.message.clone();
                db::planning::add_launch(db, &launch).await?;
                return Err(RunError::Launch(f.message));
            }
        };
        // From here a halt is handled below: the process is stopped, not abandoned.
        if let Some(run) = &self.run {
            run.start_measuring();
        }
        let mut stored = StoredJob {
            job: JobTiming {
                kind: RunKind::Offline,
                submitted_at: Some(unix(job.spawned_at)),
                total,
                reference: Some(launch.command.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        db::jobs::put(db, claimed.id, &stored).await?;
        let ended = self.follow(claimed.id, &mut job, &output, &mut stored, tracker).await;
        match ended {
            Ended::Halted(Stop::LeaseLost) => {
                job.stop().await;
                // The run is another worker's now: its rows are not this one's to write.
                Ok(Stop::LeaseLost)
            }
            Ended::Halted(stop) => {
                tracker.message(Some("stopping the offline batch job".into()));
                job.stop().await;
                fill_launch(&mut launch, job.log_text(), None, stored.job.load_time_s);
                stored.job.completed_at = Some(unix(SystemTime::now()));
                stored.job.final_status = Some(match stop {
                    Stop::Cancelled => "cancelled: the process was stopped".into(),
                    _ => "drained: the process was stopped; the job starts again when the run resumes".into(),
                });
                db::jobs::put(db, claimed.id, &stored).await?;
                db::planning::add_launch(db, &launch).await?;
                Ok(stop)
            }
            Ended::Exited(status, at) => {
                job.finish().await;
                let log = job.log_text();
                time_job(&mut stored.job, &job, at, &log);
                stored.job.final_status = Some(exit_word(status));
                fill_launch(&mut launch, log, Some(status), stored.job.load_time_s);
                db::planning::add_launch(db, &launch).await?;
                if !status.success() {
                    db::jobs::put(db, claimed.id, &stored).await?;
                    // The log itself stays in the launch record (its section on the run page,
                    // hidden from reviewers): vLLM can log the answers it wrote, and a run's
                    // error is shown beside its model to everyone.
                    return Err(RunError::Launch(format!(
                        "the offline batch job ended with {}: its log is under \"Model server starts\" on the run page",
                        exit_word(status)
                    )));
                }
                tracker.message(Some("storing the batch job's answers".into()));
                let counts = store_output(db, claimed.id, &output, items, spec.requests).await?;
                counts.note(&mut stored.job);
                // As a provider counts them: completed lines answered, failed ones apart.
                stored.job.completed = counts.stored.saturating_sub(counts.failed);
                stored.job.failed = counts.failed;
                tracker.set_counts(counts.stored, counts.failed);
                tracker.message(None);
                db::jobs::put(db, claimed.id, &stored).await?;
                Ok(Stop::Finished)
            }
            Ended::Lost(e) => {
                job.stop().await;
                fill_launch(&mut launch, job.log_text(), None, stored.job.load_time_s);
                db::planning::add_launch(db, &launch).await?;
                Err(RunError::Launch(format!("lost track of the offline batch job's process: {e}")))
            }
        }
    }

    /// Follow the job until it exits or the run must stop: progress for the page, the model
    /// load's end, the job row kept up to date.
    async fn follow(&self, run_id: i64, job: &mut crate::launcher::Job, output: &Path, stored: &mut StoredJob, tracker: &Tracker) -> Ended {
        let db = &self.state.db;
        let mut halt = self
            .run
            .as_ref()
            .map(|r| r.halt())
            .unwrap_or_else(|| tokio::sync::watch::channel(None).1);
        let mut lines = LineCounter::new(output);
        let mut done = 0;
        let mut next_cancel_check = Instant::now() + TICK;
        loop {
            let tick = if stored.job.started_at.is_some() { TICK } else { TICK_LOADING };
            tokio::select! {
                status = job.wait() => return match status {
                    Ok(s) => Ended::Exited(s, Instant::now()),
                    Err(e) => Ended::Lost(e),
                },
                h = halted(&mut halt, None) => return Ended::Halted(h.into()),
                _ = tokio::time::sleep(tick) => {}
            }
            let read = read_run_batch_log(&job.log_text());
            let mut changed = false;
            if stored.job.started_at.is_none() && read.started {
                let at = job.marker_seen().unwrap_or_else(Instant::now);
                let load = at.saturating_duration_since(job.spawned).as_secs_f64();
                stored.job.load_time_s = Some(load);
                stored.job.started_at = stored.job.submitted_at.map(|s| s + load);
                tracker.message(Some("offline batch job: running".into()));
                changed = true;
            }
            let now = lines
                .count()
                .await
                .max(read.progress.map(|(n, _)| n).unwrap_or(0))
                .min(stored.job.total);
            if now != done {
                done = now;
                stored.job.completed = done;
                tracker.set_counts(done, 0);
                tracker.broadcast(RunStatus::Running);
                changed = true;
            }
            if changed {
                if let Err(e) = db::jobs::put(db, run_id, stored).await {
                    tracing::warn!(run = run_id, "could not store the offline job's progress: {e}");
                }
            }
            if Instant::now() >= next_cancel_check {
                next_cancel_check = Instant::now() + TICK;
                if db::runs::cancel_requested(db, run_id).await.unwrap_or(false) {
                    return Ended::Halted(Stop::Cancelled);
                }
            }
        }
    }
}

/// The job's process as the run page's launch section shows it: its log, and how it went (ready
/// once the model loaded and for a job that ended well, else the start failure the log shows).
fn fill_launch(launch: &mut LaunchView, log: String, exit: Option<ExitStatus>, load_time_s: Option<f64>) {
    launch.outcome = match exit {
        Some(s) if s.success() => LaunchOutcome::Ready,
        Some(_) if read_run_batch_log(&log).started => LaunchOutcome::Other,
        None if read_run_batch_log(&log).started => LaunchOutcome::Ready,
        _ => classify_start_failure(&log).into(),
    };
    launch.measured = Some(read_startup_log(&log));
    launch.load_time_s = load_time_s;
    launch.log = log;
}

/// How following a job ended.
enum Ended {
    /// The process exited, at that moment.
    Exited(ExitStatus, Instant),
    /// The run must stop (cancel, drain, lost lease): the process is still running.
    Halted(Stop),
    /// Waiting for the process failed.
    Lost(std::io::Error),
}

/// The endpoint's batch command, if it may run this model; else what to fix.
fn batch_template<'a>(endpoint: &'a EndpointView, model: &str) -> Result<&'a [String], String> {
    let args = match (&endpoint.launch_args, &endpoint.legacy_launch_template) {
        (Some(args), _) if command::is_batch(args) => args,
        (Some(args), _) => {
            return Err(format!(
                "{NEEDS_BATCH_LIST}; the list of {} has no {{input}}: it starts a server ({})",
                endpoint.name,
                command::display(args)
            ))
        }
        (None, Some(_)) => return Err(format!("{NEEDS_BATCH_LIST}; {}", app::api::runs::LEGACY_LAUNCH)),
        (None, None) => return Err(format!("{NEEDS_BATCH_LIST}; {} has no launch list", endpoint.name)),
    };
    if !endpoint.launch_models.iter().any(|m| m == model) {
        return Err(format!(
            "{} is started only with the models an admin listed for it ({}), not '{model}'",
            endpoint.name,
            endpoint.launch_models.join(", ")
        ));
    }
    Ok(args)
}

/// The engine settings of the run, as a managed start uses them.
fn knobs(spec: &RunSpec) -> EngineKnobs {
    EngineKnobs {
        gpu_memory_utilization: spec.engine.gpu_memory_utilization.unwrap_or(0.9),
        max_model_len: u64::from(spec.engine.max_model_len.unwrap_or(4096)),
        max_num_seqs: spec.engine.max_num_seqs.unwrap_or(256),
        enforce_eager: spec.engine.enforce_eager,
    }
}

/// Put the job's times together: the model load is the spawn up to the moment the log showed the
/// batch start (vLLM's own load figure only when that moment is unknown).
fn time_job(job: &mut JobTiming, process: &crate::launcher::Job, exited: Instant, log: &str) {
    let submitted = unix(process.spawned_at);
    // The answers were all computed when the log said it writes them (else: the process's exit).
    let end = process.marker_seen_at(1).filter(|at| *at <= exited).unwrap_or(exited);
    job.completed_at = Some(submitted + end.saturating_duration_since(process.spawned).as_secs_f64());
    let read = read_run_batch_log(log);
    let seen = process
        .marker_seen()
        .map(|at| at.saturating_duration_since(process.spawned).as_secs_f64());
    match (seen.or(job.load_time_s), read.load_time_s) {
        (Some(load), _) => job.load_time_s = Some(load),
        (None, Some(engine)) => {
            job.load_time_s = Some(engine);
            job.notes.push(format!(
                "the log never showed the batch start: the model load is vLLM's own figure ({engine:.2} s, weights only), so the job time includes the rest of the engine's start"
            ));
        }
        (None, None) => {
            job.load_time_s = None;
            job.notes.push(
                "the model load is unknown (the log showed neither the batch start nor vLLM's load figure): the job time includes it"
                    .into(),
            );
        }
    }
    job.started_at = job.load_time_s.map(|l| submitted + l);
}

/// `exit 0`, `exit 3`, or the signal that ended the process.
fn exit_word(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        (None, None) => "an unknown end".into(),
    }
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

#[cfg(test)]
mod tests;
