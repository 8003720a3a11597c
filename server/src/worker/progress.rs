//! Counts finished requests and broadcasts `Progress` to the browser (and the terminal).

use app::domain::progress::{eta_seconds, Progress};
use app::domain::status::RunStatus;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// The window over which the live tokens/s is measured.
const WINDOW: Duration = Duration::from_secs(5);

pub struct Tracker {
    events: broadcast::Sender<Progress>,
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
        // No subscribers is fine: nobody is watching.
        let _ = self.events.send(self.snapshot(status));
    }

    pub fn finish(&self, status: RunStatus, error: Option<String>) {
        let mut p = self.snapshot(status);
        p.message = error;
        p.eta_s = None;
        let _ = self.events.send(p);
    }
}
