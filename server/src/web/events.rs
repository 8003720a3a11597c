//! `GET /api/runs/{id}/events`: a run's progress as Server-Sent Events. The first event is the
//! stored state (so a page opened late, or after a restart, is right at once); the stream ends
//! after the event that says the run finished.

use app::api::guard::{Caller, Permission};
use app::api::AppError;
use app::db;
use app::domain::progress::Progress;
use app::state::AppState;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Extension;
use futures::stream::{self, StreamExt};
use std::time::Duration;
use tokio::sync::broadcast;

pub async fn run_events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::View)?;
    // Subscribe before reading the stored state, so nothing falls between the two.
    let rx = state.events.subscribe();
    let run = db::runs::get(&state.db, id).await?;
    let first = Progress {
        run_id: id,
        status: run.status,
        done: run.done_requests.max(0) as u64,
        total: run.total_requests.max(0) as u64,
        errors: run.summary.as_ref().map(|s| s.outcomes.failed()).unwrap_or(0),
        elapsed_s: 0.0,
        tokens_per_s: 0.0,
        eta_s: None,
        message: run.error.clone(),
    };
    let finished = first.status.is_finished();
    let live = stream::unfold((rx, finished), move |(mut rx, done)| async move {
        if done {
            return None;
        }
        loop {
            match rx.recv().await {
                Ok(p) if p.run_id == id => {
                    let end = p.status.is_finished();
                    return Some((p, (rx, end)));
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let events = stream::once(async move { first })
        .chain(live)
        .map(|p| Ok::<_, std::convert::Infallible>(Event::default().data(serde_json::to_string(&p).unwrap_or_default())));
    let sse = Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)));
    // A proxy (nginx) must pass each event on as it comes, not buffer the stream.
    Ok(([("x-accel-buffering", "no")], sse))
}
