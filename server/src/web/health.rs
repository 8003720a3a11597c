//! `GET /healthz`, for a load balancer, systemd or a monitoring probe: no log-in, nothing
//! private (no names, hosts, runs or models): is the database reachable, how fresh is the
//! workers' heartbeat, which build is this.

use app::db;
use app::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

/// The commit the binary was built from (`+dirty`: with changes not in that commit; `unknown`
/// outside a git checkout; see build.rs).
pub const COMMIT: &str = env!("BAKEOFF_COMMIT");

/// The version and the commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("BAKEOFF_COMMIT"), ")");

/// A worker that has not beaten for this long is not counted as alive.
const ALIVE_WITHIN_S: i64 = 60;

pub async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    match db::workers::health(&s.db, ALIVE_WITHIN_S).await {
        Ok((alive, age)) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "version": VERSION,
                "commit": COMMIT,
                "database": "ok",
                "workers_alive": alive,
                "worker_heartbeat_age_s": age,
            })),
        ),
        Err(e) => {
            tracing::error!("health check: the database did not answer: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "error", "version": VERSION, "commit": COMMIT, "database": "unreachable"})),
            )
        }
    }
}
