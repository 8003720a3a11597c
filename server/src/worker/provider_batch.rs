//! A provider's Batch API run (issue 14): upload the planned requests as a Batch input file,
//! create the batch, poll it (its `request_counts` drive the progress bar), then read the output
//! and error files into records. The batch's id is stored as soon as it exists, so a worker that
//! resumes the run (after a drain or a crash) keeps polling the same batch: it is never
//! submitted twice. A cancel cancels the batch at the provider and keeps what it answered.

use super::drive::Stop;
use super::execute::{RunError, Worker};
use super::lease::Halt;
use super::progress::Tracker;
use crate::client::batch::BatchObject;
use app::db::{self, jobs::StoredJob, runs::Claimed};
use app::domain::batch::{input_line, JobTiming};
use app::domain::dataset::DatasetItem;
use app::domain::import::BatchOutputReader;
use app::domain::record::RequestRecord;
use app::domain::schedule::plan_iter;
use app::domain::spec::RunKind;
use std::collections::HashMap;
use std::time::Duration;

/// Records per transaction while the output is read.
const STORE_EVERY: usize = 1_000;
/// Polls in a row that may fail (the provider unreachable a while) before the run fails.
const POLL_FAILURES: u32 = 30;
/// How long a cancelled batch may take to say it is cancelled before its output is read anyway.
const CANCEL_WAIT: Duration = Duration::from_secs(600);

fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Worker {
    pub(super) async fn run_provider_batch(
        &self,
        claimed: &Claimed,
        base_url: &str,
        items: &[DatasetItem],
        tracker: &Tracker,
    ) -> Result<Stop, RunError> {
        let db = &self.state.db;
        let id = claimed.id;
        let spec = &claimed.spec;
        let ids: Vec<String> = items.iter().map(|i| i.custom_id.clone()).collect();
        // Where each line goes in the run: its custom_id's place in the plan.
        let plan: HashMap<String, u32> = plan_iter(&ids, 0, spec.requests).map(|p| (p.custom_id, p.idx)).collect();
        let mut stored = db::jobs::get(db, id).await?.unwrap_or_default();
        stored.job.kind = RunKind::ProviderBatch;
        // From here a drain is handled below (a batch being submitted is not dropped half-way).
        if let Some(run) = &self.run {
            run.start_measuring();
        }
        let batch_id = match stored.job.reference.clone() {
            Some(b) => {
                tracker.message(Some(format!("resuming: polling provider batch {b}")));
                b
            }
            None => self.submit(claimed, base_url, items, &mut stored, tracker).await?,
        };
        let mut halt = self.halt_rx();
        let mut failures = 0u32;
        let mut cancel_sent: Option<std::time::Instant> = None;
        let last = loop {
            let batch = match self.client.get_batch(base_url, &batch_id).await {
                Ok(b) => {
                    failures = 0;
                    b
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(
                        run = id,
                        "provider batch {batch_id}: could not poll ({failures}/{POLL_FAILURES}): {e}"
                    );
                    if failures >= POLL_FAILURES {
                        return Err(RunError::Preflight(format!(
                            "provider batch {batch_id} could not be polled {POLL_FAILURES} times in a row (it may still run at the provider): {e}"
                        )));
                    }
                    tracker.message(Some(format!("provider batch {batch_id}: could not poll ({e}); trying again")));
                    BatchObject::default()
                }
            };
            if !batch.id.is_empty() {
                note(&mut stored.job, &batch);
                db::jobs::put(db, id, &stored).await?;
                tracker.set_counts(stored.job.completed + stored.job.failed, stored.job.failed);
                tracker.message(Some(format!(
                    "provider batch {batch_id}: {} ({} of {} lines done{})",
                    batch.status,
                    stored.job.completed + stored.job.failed,
                    stored.job.total,
                    if stored.job.failed > 0 {
                        format!(", {} failed", stored.job.failed)
                    } else {
                        String::new()
                    }
                )));
                if batch.ended() {
                    break batch;
                }
                if cancel_sent.is_some_and(|t| t.elapsed() > CANCEL_WAIT) {
                    tracing::warn!(run = id, "provider batch {batch_id} still not cancelled: reading what it answered");
                    break batch;
                }
            }
            if cancel_sent.is_none() && db::runs::cancel_requested(db, id).await.unwrap_or(false) {
                tracker.message(Some(format!("cancelling provider batch {batch_id}")));
                match self.client.cancel_batch(base_url, &batch_id).await {
                    Ok(b) => note(&mut stored.job, &b),
                    Err(e) => tracing::warn!(run = id, "provider batch {batch_id}: cancel refused: {e}"),
                }
                cancel_sent = Some(std::time::Instant::now());
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.preflight.batch_poll) => {}
                h = super::lease::halted(&mut halt, None) => {
                    db::jobs::put(db, id, &stored).await?;
                    if h == Halt::Drain && self.leases.after_drain == super::lease::AfterDrain::Interrupt {
                        // Ctrl-C on `bakeoff batch`: the run ends interrupted and nobody resumes
                        // it, so a batch left at the provider would run (and be paid for) with
                        // nobody to read it. Cancel it there and keep what it answered.
                        self.cancel_on_interrupt(claimed, base_url, &batch_id, &plan, &mut stored, tracker).await?;
                        return Ok(Stop::Drained);
                    }
                    // The batch goes on at the provider: whoever resumes the run polls it.
                    return Ok(match h {
                        Halt::Drain => Stop::Drained,
                        Halt::LeaseLost => Stop::LeaseLost,
                    });
                }
            }
        };
        // Read what it answered: the output file, then the error file.
        let mut stored_lines = 0u64;
        for file in [last.output_file_id.clone(), last.error_file_id.clone()].into_iter().flatten() {
            tracker.message(Some(format!("reading provider batch {batch_id}'s file {file}")));
            stored_lines += self.store_file(claimed.id, base_url, &file, &plan).await?;
        }
        stored.output_file_id = last.output_file_id.clone();
        stored.error_file_id = last.error_file_id.clone();
        if stored_lines < stored.job.total && last.status != "cancelled" {
            stored.job.notes.push(format!(
                "{} of {} lines came back with no answer and no error (status {}): they are not in the figures",
                stored.job.total - stored_lines,
                stored.job.total,
                last.status
            ));
        }
        db::jobs::put(db, id, &stored).await?;
        tracker.message(None);
        match last.status.as_str() {
            "cancelled" => Ok(Stop::Cancelled),
            _ if cancel_sent.is_some() => Ok(Stop::Cancelled),
            "failed" if stored_lines == 0 => Err(RunError::Preflight(format!(
                "the provider failed batch {batch_id}: {}",
                last.error_text().unwrap_or_else(|| "it gave no reason".into())
            ))),
            _ => Ok(Stop::Finished),
        }
    }

    /// An interrupted `bakeoff batch`: cancel the provider's batch, wait (up to the drain
    /// timeout) for it to stop, and store the lines it answered; the job's notes say what became
    /// of it (and its id, should the cancel fail, to stop it by hand).
    async fn cancel_on_interrupt(
        &self,
        claimed: &Claimed,
        base_url: &str,
        batch_id: &str,
        plan: &HashMap<String, u32>,
        stored: &mut StoredJob,
        tracker: &Tracker,
    ) -> Result<(), RunError> {
        let db = &self.state.db;
        let id = claimed.id;
        tracker.message(Some(format!("interrupted: cancelling provider batch {batch_id}")));
        if let Err(e) = self.client.cancel_batch(base_url, batch_id).await {
            let note = format!(
                "interrupted: provider batch {batch_id} could not be cancelled ({e}); it may still run at the provider: cancel it there"
            );
            tracing::warn!(run = id, "{note}");
            stored.job.notes.push(note);
            db::jobs::put(db, id, stored).await?;
            return Ok(());
        }
        let deadline = std::time::Instant::now() + self.leases.settings.drain_timeout;
        let last = loop {
            match self.client.get_batch(base_url, batch_id).await {
                Ok(b) if b.ended() || std::time::Instant::now() >= deadline => break Some(b),
                Ok(_) => {}
                Err(e) if std::time::Instant::now() >= deadline => {
                    tracing::warn!(run = id, "provider batch {batch_id}: could not poll after the cancel: {e}");
                    break None;
                }
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(500).min(self.preflight.batch_poll)).await;
        };
        let mut kept = 0u64;
        if let Some(last) = &last {
            note(&mut stored.job, last);
            for file in [last.output_file_id.clone(), last.error_file_id.clone()].into_iter().flatten() {
                kept += self.store_file(id, base_url, &file, plan).await?;
            }
            stored.output_file_id = last.output_file_id.clone();
            stored.error_file_id = last.error_file_id.clone();
        }
        let status = last.as_ref().map_or("unknown", |b| b.status.as_str());
        let note = format!(
            "interrupted: provider batch {batch_id} cancelled at the provider (status {status}); {kept} lines it answered are kept"
        );
        tracing::warn!(run = id, "{note}");
        stored.job.notes.push(note);
        db::jobs::put(db, id, stored).await?;
        Ok(())
    }

    /// Upload the planned requests and create the batch; its id is stored before anything else.
    async fn submit(
        &self,
        claimed: &Claimed,
        base_url: &str,
        items: &[DatasetItem],
        stored: &mut StoredJob,
        tracker: &Tracker,
    ) -> Result<String, RunError> {
        let db = &self.state.db;
        let spec = &claimed.spec;
        // The model must be one the provider serves (a wrong name fails every line, later).
        let models = self.client.models(base_url).await.map_err(|e| RunError::Preflight(e.to_string()))?;
        if !models.models.iter().any(|m| m.id == spec.model) {
            let served: Vec<&str> = models.models.iter().map(|m| m.id.as_str()).take(10).collect();
            return Err(RunError::Preflight(format!(
                "{base_url} does not serve '{}' (its /v1/models lists: {})",
                spec.model,
                served.join(", ")
            )));
        }
        // Checked again now (other runs may have spent meanwhile): a batch cannot be stopped
        // part-way at the endpoint's cap, so its worst case must fit under it.
        let endpoint_view = db::endpoints::get(db, spec.endpoint_id).await?;
        if let Some(m) = app::api::data_rules::batch_cap_refusal(db, &endpoint_view, spec).await? {
            return Err(RunError::Refused(m));
        }
        let ids: Vec<String> = items.iter().map(|i| i.custom_id.clone()).collect();
        let mut jsonl = Vec::new();
        let mut lines = 0u64;
        let mut endpoint = None;
        for p in plan_iter(&ids, 0, spec.requests) {
            let item = &items[p.item];
            endpoint.get_or_insert_with(|| {
                if item.url.is_empty() {
                    "/v1/chat/completions".to_string()
                } else {
                    item.url.clone()
                }
            });
            jsonl.extend_from_slice(input_line(&p.custom_id, item, &spec.model, &spec.sampling).as_bytes());
            jsonl.push(b'\n');
            lines += 1;
            if jsonl.len() > app::domain::spec::MAX_BATCH_BYTES {
                return Err(RunError::Dataset(format!(
                    "the batch input would be larger than {} MB (the Batch API's file limit) after {lines} lines: launch fewer requests",
                    app::domain::spec::MAX_BATCH_BYTES >> 20
                )));
            }
        }
        let endpoint = endpoint.unwrap_or_else(|| "/v1/chat/completions".into());
        tracker.message(Some(format!(
            "uploading {lines} lines ({:.1} MB) to {base_url}/v1/files",
            jsonl.len() as f64 / 1e6
        )));
        let file = self
            .client
            .upload_batch_file(base_url, &format!("bakeoff-run-{}.jsonl", claimed.id), jsonl)
            .await
            .map_err(|e| RunError::Preflight(format!("could not upload the batch input: {e}")))?;
        stored.input_file_id = Some(file.clone());
        stored.job.total = lines;
        db::jobs::put(db, claimed.id, stored).await?;
        tracker.message(Some(format!("creating the batch over {file}")));
        let batch = self
            .client
            .create_batch(base_url, &file, &endpoint, claimed.id)
            .await
            .map_err(|e| RunError::Preflight(format!("could not create the batch: {e}")))?;
        stored.job.reference = Some(batch.id.clone());
        stored.job.submitted_at = Some(batch.created_at.unwrap_or_else(now_s));
        note(&mut stored.job, &batch);
        db::jobs::put(db, claimed.id, stored).await?;
        tracing::info!(run = claimed.id, "provider batch {} created ({lines} lines)", batch.id);
        Ok(batch.id)
    }

    /// Read one of the batch's files into records; the lines stored.
    async fn store_file(&self, run_id: i64, base_url: &str, file_id: &str, plan: &HashMap<String, u32>) -> Result<u64, RunError> {
        let db = &self.state.db;
        let unreadable = |e: crate::client::ClientError| RunError::Preflight(format!("could not read the batch's file {file_id}: {e}"));
        let mut lines = self.client.open_file(base_url, file_id).await.map_err(unreadable)?;
        let mut reader = BatchOutputReader::default();
        let mut pending: Vec<RequestRecord> = Vec::with_capacity(STORE_EVERY);
        let (mut stored, mut unknown, mut bad) = (0u64, 0u64, 0usize);
        while let Some(line) = lines.next_line().await.map_err(unreadable)? {
            if line.trim().is_empty() {
                continue;
            }
            let Some(mut r) = reader.line(&line) else {
                bad = reader.bad();
                continue;
            };
            match plan.get(&r.custom_id) {
                Some(idx) => {
                    r.idx = *idx;
                    // What the answers cost, toward the endpoint's monthly cap (batch prices).
                    if let Some(m) = &self.spend {
                        m.add_batch_line(r.prompt_tokens, r.completion_tokens);
                    }
                    pending.push(r);
                }
                None => unknown += 1,
            }
            if pending.len() >= STORE_EVERY {
                stored += db::records::insert_batch(db, run_id, &pending).await?;
                pending.clear();
            }
        }
        stored += db::records::insert_batch(db, run_id, &pending).await?;
        if unknown > 0 {
            tracing::warn!(
                run = run_id,
                "{unknown} line(s) of {file_id} name a custom_id this run did not send: ignored"
            );
        }
        if bad > 0 {
            tracing::warn!(
                run = run_id,
                "{bad} line(s) of {file_id} could not be read as Batch output lines: ignored"
            );
        }
        Ok(stored)
    }

    /// The run's halt signal (a drain or a lost lease); never fires without a lease.
    fn halt_rx(&self) -> tokio::sync::watch::Receiver<Option<Halt>> {
        self.run
            .as_ref()
            .map(|r| r.halt())
            .unwrap_or_else(|| tokio::sync::watch::channel(None).1)
    }
}

/// What a poll says, into the stored job.
fn note(job: &mut JobTiming, b: &BatchObject) {
    job.kind = RunKind::ProviderBatch;
    if job.reference.is_none() && !b.id.is_empty() {
        job.reference = Some(b.id.clone());
    }
    if let Some(t) = b.created_at {
        job.submitted_at = Some(t);
    }
    if let Some(t) = b.in_progress_at {
        job.started_at = Some(t);
    }
    if b.ended() {
        job.completed_at = b.ended_at().or(Some(now_s()));
        job.final_status = Some(b.status.clone());
    }
    if let Some(c) = b.request_counts {
        if c.total > 0 {
            job.total = c.total;
        }
        job.completed = c.completed;
        job.failed = c.failed;
    }
}
