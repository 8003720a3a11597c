//! The worker processes sharing the database (issue 13): the Workers page, `GET /api/workers`,
//! and why a queued run waits (the run page's status line).

use super::error::AppError;
pub use crate::domain::workers::{HeldRun, Liveness, Serves, WorkerKind, WorkerView};
use leptos::prelude::*;

/// Every worker seen in the last day: what it takes, its heartbeat, the runs it measures.
#[server]
pub async fn list_workers() -> Result<Vec<WorkerView>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    Ok(crate::db::workers::list(&state()?.db).await?)
}

/// Why queued run `run_id` waits when no live worker takes it ("waiting for a worker (none is
/// alive)"), else `None` (it is not queued, or some worker takes it in its turn).
#[server]
pub async fn run_waiting(run_id: i64) -> Result<Option<String>, AppError> {
    use super::guard::{authorize, state, Permission};
    authorize(Permission::View).await?;
    waiting(&state()?.db, run_id).await
}

/// [`run_waiting`], for any caller already checked.
#[cfg(feature = "ssr")]
pub async fn waiting(db: &crate::db::Db, run_id: i64) -> Result<Option<String>, AppError> {
    use crate::domain::status::RunStatus;
    if crate::db::runs::status(db, run_id).await? != RunStatus::Queued {
        return Ok(None);
    }
    let Some((endpoint, managed)) = crate::db::workers::run_endpoint(db, run_id).await? else {
        return Ok(None);
    };
    let workers = crate::db::workers::list(db).await?;
    Ok(crate::domain::workers::queue_wait(&workers, &endpoint, managed))
}

#[cfg(feature = "ssr")]
pub mod rest {
    use super::WorkerView;
    use crate::api::guard::{Caller, Permission};
    use crate::api::AppError;
    use crate::state::AppState;
    use axum::extract::State;
    use axum::{Extension, Json};

    /// `GET /api/workers`.
    pub async fn list(State(s): State<AppState>, Extension(c): Extension<Caller>) -> Result<Json<Vec<WorkerView>>, AppError> {
        c.require(Permission::View)?;
        Ok(Json(crate::db::workers::list(&s.db).await?))
    }
}
