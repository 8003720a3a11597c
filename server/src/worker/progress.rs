//! Counts finished requests and broadcasts `Progress` to the browser (and the terminal), and
//! stores it for the pages other Bakeoff processes serve (issue 13: `web::events` reads it back
//! when the run is measured elsewhere).

use app::db::{self, Db};
use app::domain::progress::{eta_seconds, Progress};
use app::domain::status::RunStatus;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};

/// The window over which the live tokens/s is measured.
const WINDOW: Duration = Duration::from_secs(5);

/// A running run's progress is written to the database at most this often (a run finishes
/// thousands of requests a second; each of them is not a write).
pub const STORE_EVERY: Duration = Duration::from_secs(1);

pub struct Tracker {
    events: broadcast::Sender<Progress>,
    /// The latest progress, for the task that writes it to the database ([`Tracker::stored_in`]).
    store: Option<watch::Sender<Option<Progress>>>,
    run_id: i64,
    total: u64,
    started: Instant,
    inner: Mutex<Inner>,
}

struct Inner {
    done: u64,
    /// Finished before this process took the run (a resume): not part of the pace.
    done_before: u64,
    errors: u64,
    /// (when, output tokens) per finished request within the window.
    recent: VecDeque<(Instant, u64)>,
    message: Option<String>,
}

impl Tracker {
    pub fn new(events: broadcast::Sender<Progress>, run_id: i64, total: u64) -> Self {
        Tracker {
            events,
            store: None,
            run_id,
            total,
            started: Instant::now(),
            inner: Mutex::new(Inner {
                done: 0,
                done_before: 0,
                errors: 0,
                recent: VecDeque::new(),
                message: None,
            }),
        }
    }

    /// Also write the progress to `db`, for pages served by other processes on the same
    /// database: at most once every [`STORE_EVERY`] while the run goes (the latest then, so the
    /// last change is never left out), and at once when it ends or goes back to the queue. The
    /// writing is a task of its own, off the request path; it ends with the tracker. A failed
    /// write is logged and the run goes on.
    pub fn stored_in(mut self, db: Db) -> Self {
        let (tx, rx) = watch::channel(None);
        tokio::spawn(write_progress(db, rx));
        self.store = Some(tx);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_done(&self, done: u64) {
        let mut i = self.lock();
        i.done = done;
        i.done_before = done;
    }

    /// A batch job's counts as its engine or provider reports them: lines done (answered or
    /// failed) and failed.
    pub fn set_counts(&self, done: u64, failed: u64) {
        let mut i = self.lock();
        i.done = done.min(self.total);
        i.errors = failed.min(i.done);
    }

    pub fn message(&self, m: Option<String>) {
        self.lock().message = m;
        self.broadcast(RunStatus::Running);
    }

    /// A request finished (stored or about to be).
    pub fn record(&self, answered: bool, output_tokens: u64) {
        let mut i = self.lock();
        i.done += 1;
        if !answered {
            i.errors += 1;
        }
        let now = Instant::now();
        i.recent.push_back((now, output_tokens));
        while i.recent.front().is_some_and(|(t, _)| now.duration_since(*t) > WINDOW) {
            i.recent.pop_front();
        }
    }

    pub fn snapshot(&self, status: RunStatus) -> Progress {
        let i = self.lock();
        let elapsed = self.started.elapsed().as_secs_f64();
        let window = elapsed.min(WINDOW.as_secs_f64());
        let tokens: u64 = i.recent.iter().map(|(_, t)| t).sum();
        Progress {
            run_id: self.run_id,
            status,
            done: i.done,
            total: self.total,
            errors: i.errors,
            elapsed_s: elapsed,
            tokens_per_s: if window > 0.0 { tokens as f64 / window } else { 0.0 },
            eta_s: eta_seconds(i.done - i.done_before, self.total - i.done_before, elapsed),
            message: i.message.clone(),
        }
    }

    pub fn broadcast(&self, status: RunStatus) {
        self.publish(self.snapshot(status));
    }

    pub fn finish(&self, status: RunStatus, error: Option<String>) {
        let mut p = self.snapshot(status);
        p.message = error;
        p.eta_s = None;
        self.publish(p);
    }

    fn publish(&self, p: Progress) {
        if let Some(store) = &self.store {
            store.send_replace(Some(p.clone()));
        }
        // No subscribers is fine: nobody is watching.
        let _ = self.events.send(p);
    }
}

/// The writer behind [`Tracker::stored_in`]: writes the latest progress when it changes, at most
/// once every [`STORE_EVERY`] unless the run stops running (that one at once). Returns when the
/// tracker is gone and its last progress written.
async fn write_progress(db: Db, mut latest: watch::Receiver<Option<Progress>>) {
    let stops = |p: &Option<Progress>| p.as_ref().is_some_and(|p| p.status != RunStatus::Running);
    let mut last_write: Option<tokio::time::Instant> = None;
    while latest.changed().await.is_ok() {
        if let Some(at) = last_write {
            let turn = tokio::time::sleep_until(at + STORE_EVERY);
            tokio::pin!(turn);
            while !stops(&latest.borrow()) {
                tokio::select! {
                    _ = &mut turn => break,
                    changed = latest.changed() => if changed.is_err() { break },
                }
            }
        }
        let Some(p) = latest.borrow_and_update().clone() else {
            continue;
        };
        if let Err(e) = db::progress::put(&db, &p).await {
            tracing::warn!(
                run = p.run_id,
                "could not store the run's progress (pages served by other processes miss this update): {e}"
            );
        }
        last_write = Some(tokio::time::Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::db::progress::StoredProgress;

    async fn run_in(dir: &tempfile::TempDir) -> (Db, i64) {
        let db = db::connect(&dir.path().join("t.db")).await.expect("db");
        let e = db::endpoints::insert(&db, "e", "http://x:1", false, &[]).await.expect("endpoint");
        let items = vec![app::domain::dataset::DatasetItem {
            custom_id: "a".into(),
            url: "/v1/completions".into(),
            body: serde_json::json!({"prompt": "a"}),
        }];
        let d = db::datasets::insert(
            &db,
            db::datasets::NewDataset {
                name: "d",
                description: "",
                source: "test",
                builtin: false,
                answer_schema: None,
                rubric: None,
                items: &items,
            },
        )
        .await
        .expect("dataset");
        let spec = app::domain::spec::LaunchForm {
            endpoint_id: e.to_string(),
            dataset_id: d.to_string(),
            model: "m".into(),
            requests: "4".into(),
            concurrency: "1".into(),
            ..Default::default()
        }
        .parse()
        .expect("spec");
        let run = db::runs::insert(&db, &spec, false, None).await.expect("run");
        (db, run)
    }

    /// Poll the stored progress until `ok` holds, for at most 5 s.
    async fn stored_until(db: &Db, run: i64, ok: impl Fn(&StoredProgress) -> bool) -> StoredProgress {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let s = db::progress::get(db, run).await.expect("get");
            if let Some(s) = s.filter(|s| ok(s)) {
                return s;
            }
            assert!(Instant::now() < deadline, "stored progress of run {run} never got there");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_running_run_is_stored_at_most_once_a_second_and_its_end_at_once() {
        let dir = tempfile::tempdir().expect("dir");
        let (db, run) = run_in(&dir).await;
        let tracker = Tracker::new(broadcast::channel(16).0, run, 1000).stored_in(db.clone());
        tracker.broadcast(RunStatus::Running);
        let first = stored_until(&db, run, |_| true).await;
        assert_eq!((first.seq, first.progress.done), (1, 0), "the first progress is written at once");

        // Many updates within the second that follows: one write, of the latest.
        let started = Instant::now();
        for _ in 0..200 {
            tracker.record(true, 10);
            tracker.broadcast(RunStatus::Running);
        }
        let second = stored_until(&db, run, |s| s.seq > 1).await;
        assert!(
            started.elapsed() >= STORE_EVERY - Duration::from_millis(100),
            "written {:?} after the first write",
            started.elapsed()
        );
        assert_eq!((second.seq, second.progress.done), (2, 200), "one write, of the latest progress");

        // The end does not wait for its turn.
        tracker.record(false, 0);
        let ended = Instant::now();
        tracker.finish(RunStatus::Failed, Some("boom".into()));
        let last = stored_until(&db, run, |s| s.progress.status == RunStatus::Failed).await;
        assert!(ended.elapsed() < STORE_EVERY / 2, "the end was written after {:?}", ended.elapsed());
        assert_eq!(last.seq, 3);
        assert_eq!((last.progress.done, last.progress.errors), (201, 1));
        assert_eq!(last.progress.message.as_deref(), Some("boom"));
    }

    #[tokio::test]
    async fn the_last_change_before_a_quiet_spell_is_stored_and_a_tracker_without_a_store_writes_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let (db, run) = run_in(&dir).await;
        let unstored = Tracker::new(broadcast::channel(16).0, run, 10);
        unstored.finish(RunStatus::Completed, None);
        let tracker = Tracker::new(broadcast::channel(16).0, run, 10).stored_in(db.clone());
        tracker.broadcast(RunStatus::Running);
        let first = stored_until(&db, run, |_| true).await;
        assert_eq!(
            (first.seq, first.progress.status),
            (1, RunStatus::Running),
            "the unstored tracker's end is not there"
        );
        tracker.message(Some("starting the model server".into()));
        // Nothing more happens for a while: the message still gets there, within its turn.
        let last = stored_until(&db, run, |s| s.seq == 2).await;
        assert_eq!(last.progress.message.as_deref(), Some("starting the model server"));
        assert_eq!(last.progress.status, RunStatus::Running);
        drop(unstored);
    }
}
