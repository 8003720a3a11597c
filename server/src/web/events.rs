//! `GET /api/runs/{id}/events`: a run's progress as Server-Sent Events. The first event is the
//! stored state (so a page opened late, or after a restart, is right at once); the stream ends
//! after the event that says the run finished.
//!
//! Progress comes from this process's worker (the in-process broadcast) and, for a run measured
//! by another process on the same database (another `serve`, `bakeoff run`, `bakeoff worker`),
//! from the progress that process stores (`db::progress`, about once a second). The stored one is
//! polled every [`POLL`] and sent when this process has had no live event for the run for
//! [`QUIET`] and it is newer than the last one sent; the run's status in the database ends the
//! stream too. On Postgres every write of a run's progress is also announced (NOTIFY, see
//! `db::progress::NOTIFY_CHANNEL`): one LISTEN connection per process wakes the streams of that
//! run at once, and the poll remains as the fallback (a lost notification, a reconnect).

use app::api::guard::{Caller, Permission};
use app::api::types::RunView;
use app::api::AppError;
use app::db::{self, Db};
use app::domain::progress::Progress;
use app::domain::status::RunStatus;
use app::state::AppState;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Extension;
use futures::stream::{self, StreamExt};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::time::Instant;

/// How often the stored progress is read.
const POLL: Duration = Duration::from_secs(1);
/// Without a live event for this long, the run is taken to be measured elsewhere.
const QUIET: Duration = Duration::from_secs(2);

pub async fn run_events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::View)?;
    // Subscribe before reading the stored state, so nothing falls between the two.
    let rx = state.events.subscribe();
    let run = db::runs::get(&state.db, id).await?;
    let first = stored_state(&run);
    let notified = notifications(&state.db);
    let follow = Follow {
        id,
        db: state.db.clone(),
        rx,
        notified,
        poll: tokio::time::interval_at(Instant::now() + POLL, POLL),
        last_live: None,
        last_seq: 0,
        ended: first.status.is_finished(),
    };
    let live = stream::unfold(follow, Follow::next);
    let events = stream::once(async move { first })
        .chain(live)
        .map(|p| Ok::<_, std::convert::Infallible>(Event::default().data(serde_json::to_string(&p).unwrap_or_default())));
    let sse = Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)));
    // A proxy (nginx) must pass each event on as it comes, not buffer the stream.
    Ok(([("x-accel-buffering", "no")], sse))
}

/// The run as the database has it now; no pace (that only the measuring process knows).
fn stored_state(run: &RunView) -> Progress {
    Progress {
        run_id: run.id,
        status: run.status,
        done: run.done_requests.max(0) as u64,
        total: run.total_requests.max(0) as u64,
        errors: run.summary.as_ref().map(|s| s.outcomes.failed()).unwrap_or(0),
        elapsed_s: 0.0,
        tokens_per_s: 0.0,
        eta_s: None,
        message: run.error.clone(),
    }
}

/// Runs whose progress another process has just written (Postgres NOTIFY), as one process-wide
/// broadcast fed by one LISTEN connection, started with the first stream. `None` on SQLite.
fn notifications(db: &Db) -> Option<broadcast::Receiver<i64>> {
    use std::sync::OnceLock;
    static SENDER: OnceLock<broadcast::Sender<i64>> = OnceLock::new();
    if db::pool::Backend::of_pool(db) != db::pool::Backend::Postgres {
        return None;
    }
    let tx = SENDER.get_or_init(|| {
        let (tx, _) = broadcast::channel(1024);
        let url = db.connect_options().database_url.to_string();
        let sender = tx.clone();
        tokio::spawn(async move {
            loop {
                match listen(&url, &sender).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!("listening for progress notifications: {e} (pages poll meanwhile; again in 5 s)");
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                }
            }
        });
        tx
    });
    Some(tx.subscribe())
}

async fn listen(url: &str, sender: &broadcast::Sender<i64>) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(db::progress::NOTIFY_CHANNEL).await?;
    loop {
        let n = listener.recv().await?;
        if let Ok(id) = n.payload().parse::<i64>() {
            // No stream open: nobody to wake.
            let _ = sender.send(id);
        }
    }
}

/// One subscriber's view of a run after its first event.
struct Follow {
    id: i64,
    db: Db,
    rx: broadcast::Receiver<Progress>,
    /// Postgres: the runs another process has just written progress for.
    notified: Option<broadcast::Receiver<i64>>,
    poll: tokio::time::Interval,
    /// When this process last broadcast progress of the run.
    last_live: Option<Instant>,
    /// The stored progress last sent or seen (`db::progress::StoredProgress::seq`).
    last_seq: i64,
    /// The finished event has been sent (or the run is gone): the stream ends.
    ended: bool,
}

impl Follow {
    async fn next(mut self) -> Option<(Progress, Self)> {
        if self.ended {
            return None;
        }
        loop {
            tokio::select! {
                got = self.rx.recv() => match got {
                    Ok(p) if p.run_id == self.id => {
                        self.last_live = Some(Instant::now());
                        self.ended = p.status.is_finished();
                        return Some((p, self));
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                woke = next_notice(&mut self.notified) => {
                    if woke != Some(self.id) {
                        continue;
                    }
                    if let Some(p) = self.read_database().await {
                        self.ended = p.status.is_finished();
                        return Some((p, self));
                    }
                    if self.ended {
                        return None;
                    }
                }
                _ = self.poll.tick() => {
                    if let Some(p) = self.read_database().await {
                        self.ended = p.status.is_finished();
                        return Some((p, self));
                    }
                    if self.ended {
                        return None;
                    }
                }
            }
        }
    }

    /// The stored progress, when it is news: newer than the last sent, and the run not live in
    /// this process. Sets `ended` when the run is gone.
    async fn read_database(&mut self) -> Option<Progress> {
        let (status, stored) = match db::progress::poll(&self.db, self.id).await {
            Ok(Some(found)) => found,
            Ok(None) => {
                // Deleted (to the trash) while watched.
                self.ended = true;
                return None;
            }
            Err(e) => {
                tracing::warn!(run = self.id, "could not read the run's stored progress: {e}");
                return None;
            }
        };
        let newer = stored.as_ref().filter(|s| s.seq > self.last_seq);
        if let Some(s) = newer {
            self.last_seq = s.seq;
        }
        if self.last_live.is_some_and(|t| t.elapsed() < QUIET) {
            // Measured here: the live events are at least as new as what was stored.
            return None;
        }
        if status.is_finished() {
            if let Some(s) = newer.filter(|s| s.progress.status.is_finished()) {
                return Some(s.progress.clone());
            }
            // The end as the run's row says it (its worker's last write is not in yet, or was
            // lost with its process), with the last pace stored.
            let mut end = match db::runs::get(&self.db, self.id).await {
                Ok(run) => stored_state(&run),
                Err(e) => {
                    tracing::warn!(run = self.id, "could not read the finished run: {e}");
                    return None;
                }
            };
            if let Some(s) = &stored {
                end.elapsed_s = s.progress.elapsed_s;
                end.tokens_per_s = s.progress.tokens_per_s;
            }
            return Some(end);
        }
        let s = newer?;
        // Written by a worker that has let go of the run since (a drain whose last write was
        // lost): the run waits in the queue.
        if status == RunStatus::Queued && s.progress.status == RunStatus::Running {
            return None;
        }
        Some(s.progress.clone())
    }
}

/// The next run announced on `notified` (`None`: a lag, read everything again at the poll);
/// never ready on SQLite.
async fn next_notice(notified: &mut Option<broadcast::Receiver<i64>>) -> Option<i64> {
    match notified {
        None => std::future::pending().await,
        Some(rx) => match rx.recv().await {
            Ok(id) => Some(id),
            Err(broadcast::error::RecvError::Lagged(_)) => None,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        },
    }
}
