//! What the server shares with every request and task: the database, the live-progress channel,
//! the worker's wake-up bell, and the endpoint probe. Built once in `main`.

use crate::api::types::ServedModel;
use crate::db::Db;
use crate::domain::progress::Progress;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{broadcast, Notify};

/// What a check of an OpenAI-compatible endpoint found.
#[derive(Clone, Debug)]
pub struct ProbeReport {
    pub models: Vec<ServedModel>,
    /// The endpoint says it is Bakeoff's simulator (its results get labelled "simulated").
    pub simulated: bool,
}

pub type ProbeFuture = Pin<Box<dyn Future<Output = Result<ProbeReport, String>> + Send>>;

/// Checks an endpoint (`/health`, `/v1/models`). Implemented by the server's HTTP client; the
/// app only sees this trait, so it does no network IO of its own.
pub trait Probe: Send + Sync {
    fn check(&self, base_url: &str) -> ProbeFuture;
}

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub leptos_options: LeptosOptions,
    pub events: broadcast::Sender<Progress>,
    pub wake_worker: Arc<Notify>,
    pub probe: Arc<dyn Probe>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
