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

/// Checks an endpoint (`/health`, `/v1/models`) as runs will reach it: with its key, extra
/// headers and CA certificate (`access`); a hosted one without `/health`. Implemented by the
/// server's HTTP client; the app only sees this trait, so it does no network IO of its own.
pub trait Probe: Send + Sync {
    fn check(&self, base_url: &str, access: &crate::api::endpoints::access::EndpointAccess) -> ProbeFuture;
}

/// How the web edge sees the world: set once from `bakeoff serve`'s flags.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// `--public-url`: the origin browsers use (`scheme://host[:port]`); overrides the connection's
    /// scheme, `Host` and any forwarded header when checking where a request came from.
    pub public_origin: Option<String>,
    /// `--trusted-proxy`: peers whose `X-Forwarded-Proto/Host/For` headers are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// This process terminates TLS itself (`--tls-cert`/`--tls-key`).
    pub tls: bool,
    /// A browser session ends after this long without a request (`--session-idle-min`).
    pub session_idle: std::time::Duration,
    /// Sizes, lines and turns of uploads.
    pub uploads: crate::api::spool::UploadLimits,
    /// Days a deleted run, dataset, endpoint or queue stays in the trash before it is purged
    /// (`--trash-days`; 0: deletes are final at once).
    pub trash_days: u32,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            public_origin: None,
            trusted_proxies: Vec::new(),
            tls: false,
            session_idle: std::time::Duration::from_secs(8 * 3600),
            uploads: crate::api::spool::UploadLimits::default(),
            trash_days: crate::domain::trash::DEFAULT_TRASH_DAYS,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub leptos_options: LeptosOptions,
    pub events: broadcast::Sender<Progress>,
    pub wake_worker: Arc<Notify>,
    pub probe: Arc<dyn Probe>,
    pub web: Arc<WebConfig>,
    /// Failed log-ins per name and per address (the back-off).
    pub logins: Arc<crate::api::throttle::LoginThrottle>,
    /// Uploads' turns (at most `web.uploads.parallel` read at once).
    pub uploads: Arc<crate::api::spool::UploadGate>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
