//! Taking runs from the queue: every run whose GPU is free, so one measured run per GPU at a time
//! and runs on different GPUs in parallel; runs whose worker died (an expired lease) taken over
//! or, with `--on-restart interrupt`, marked interrupted; on shutdown, the runs in progress
//! drained before returning.

use super::execute::Worker;
use super::progress::Tracker;
use app::db::workers::Registration;
use app::db::{self, runs::Claimed};
use app::domain::status::RunStatus;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

impl Worker {
    /// `serve`'s worker: take and execute every queued run until a shutdown is triggered; then
    /// let the runs in progress drain (each goes back to the queue) and return.
    pub async fn run_forever(self) {
        let me = Registration::serve(self.leases.settings.seconds());
        self.run_as(me).await
    }

    /// [`Worker::run_forever`] as the worker `me` says (a `bakeoff worker`: only the runs its
    /// filter lets it take), renewing its `workers` row with every heartbeat.
    pub async fn run_as(self, me: Registration) {
        let mut running = JoinSet::new();
        let mut last_chores: Option<Instant> = None;
        while !self.leases.shutting_down() {
            if last_chores.is_none_or(|t| t.elapsed() >= self.leases.settings.heartbeat()) {
                self.chores(&me).await;
                last_chores = Some(Instant::now());
            }
            while !self.leases.shutting_down() {
                match self.claim_next(&me).await {
                    Ok(Some(claimed)) => {
                        let me = self.clone();
                        running.spawn(async move { me.execute(claimed).await });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!("worker: {e}");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = self.state.wake_worker.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = self.leases.shutdown_requested() => {}
                Some(r) = running.join_next(), if !running.is_empty() => {
                    if let Err(e) = r {
                        tracing::error!("worker: a run's task failed: {e}");
                    }
                }
            }
        }
        if !running.is_empty() {
            tracing::info!(
                "draining {} run(s): requests in flight may finish within {:?}",
                running.len(),
                self.leases.settings.drain_timeout
            );
        }
        // Each run's lease keeper saw the shutdown too: its request loop drains by itself.
        while let Some(r) = running.join_next().await {
            if let Err(e) = r {
                tracing::error!("worker: a run's task failed: {e}");
            }
        }
        if let Err(e) = db::workers::leave(&self.state.db, self.leases.owner()).await {
            tracing::warn!("could not mark this worker stopped in the database: {e}");
        }
    }

    /// Claim the oldest run whose GPU is free among those `me` takes (`serve`: all; a `bakeoff
    /// worker`: its endpoints, and managed ones only with `--allow-launch`), under a lease.
    pub async fn claim_next(&self, me: &Registration) -> Result<Option<Claimed>, db::DbError> {
        let l = &self.leases;
        db::leases::claim_next_for(&self.state.db, &l.holder, l.settings.seconds(), l.takeover, &me.filter).await
    }

    /// Say this worker is alive, close the runs asked to cancel whose worker died, and (with
    /// `--on-restart interrupt`) mark runs whose lease expired interrupted.
    async fn chores(&self, me: &Registration) {
        let db = &self.state.db;
        if let Err(e) = db::workers::beat(db, &self.leases.holder, me).await {
            tracing::warn!("could not record this worker as alive: {e}");
        }
        match db::leases::abandoned_cancels(db).await {
            Ok(ids) => {
                for id in ids {
                    self.close_abandoned(id).await;
                }
            }
            Err(e) => tracing::warn!("could not look for abandoned cancels: {e}"),
        }
        if !self.leases.takeover {
            match db::leases::interrupt_expired(db).await {
                Ok(ids) if !ids.is_empty() => {
                    tracing::info!("marked interrupted (their worker stopped renewing its lease): runs {ids:?}");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("could not mark expired runs interrupted: {e}"),
            }
        }
    }

    /// A run closed for a worker that died: its summary from what was stored, and the news.
    async fn close_abandoned(&self, id: i64) {
        let db = &self.state.db;
        let run = match db::runs::get_any(db, id).await {
            Ok(r) => r,
            Err(e) => return tracing::warn!(run = id, "{e}"),
        };
        // Its summary from what was stored, written with the status in one step.
        let summary = match run.spec.clone() {
            Some(spec) => {
                let claimed = Claimed {
                    id,
                    spec,
                    simulated: run.simulated,
                    resumed: true,
                    taken_over: None,
                };
                self.summarize_stored(&claimed, None).await
            }
            None => None,
        };
        match db::leases::close_abandoned_cancel(db, id, summary.as_ref()).await {
            Ok(true) => tracing::info!(run = id, "cancelled: its worker stopped renewing its lease"),
            Ok(false) => return,
            Err(e) => return tracing::warn!(run = id, "could not close the cancelled run: {e}"),
        }
        let tracker = Tracker::new(self.state.events.clone(), id, run.total_requests.max(0) as u64).stored_in(self.state.db.clone());
        tracker.set_done(run.done_requests.max(0) as u64);
        tracker.finish(RunStatus::Cancelled, None);
    }
}
