//! Start-up: open the database, start the built-in simulator, register the demo, resume what a
//! crash left, start the worker, and serve the pages, the REST API and the live events.

use crate::client::Client;
use crate::demo;
use crate::probe::HttpProbe;
use crate::rest;
use crate::sim::{self, SimConfig, SimHandle};
use crate::upload::{import_form, upload_form, MAX_UPLOAD_BYTES};
use crate::worker::{PreflightPolicy, Worker};
use anyhow::Context as _;
use app::db;
use app::state::AppState;
use app::{shell, App};
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{broadcast, Notify};

/// What to do with runs a previous process left `running`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnRestart {
    /// Continue them, skipping the requests already stored (by custom_id).
    Resume,
    /// Mark them `interrupted`, keeping everything stored.
    Interrupt,
}

#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub db_path: PathBuf,
    pub site_root: PathBuf,
    /// The in-process simulator and where it listens (`None`: no built-in simulator).
    pub sim: Option<(SimConfig, SocketAddr)>,
    pub on_restart: OnRestart,
    pub preflight: PreflightPolicy,
}

pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    pub sim: Option<SimHandle>,
}

impl Running {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Everything but the HTTP server: shared by `serve` and the headless CLI commands.
pub async fn prepare(db_path: &std::path::Path, site_root: &std::path::Path, addr: SocketAddr) -> anyhow::Result<(AppState, Client)> {
    let pool = db::connect(db_path)
        .await
        .with_context(|| format!("opening the database {}", db_path.display()))?;
    demo::ensure_demo_dataset(&pool).await.context("creating the demo dataset")?;
    db::prices::ensure_starting_sheets(&pool)
        .await
        .context("adding the starting price sheets")?;
    db::planning::ensure_presets(&pool).await.context("adding the model presets")?;
    let leptos_options = LeptosOptions::builder()
        .output_name("bakeoff")
        .site_root(site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    let client = Client::new();
    let state = AppState {
        db: pool,
        leptos_options,
        events: broadcast::channel(4096).0,
        wake_worker: Arc::new(Notify::new()),
        probe: Arc::new(HttpProbe(client.clone())),
    };
    Ok((state, client))
}

pub async fn start(opts: ServeOptions) -> anyhow::Result<Running> {
    let (state, client) = prepare(&opts.db_path, &opts.site_root, opts.addr).await?;
    let sim = match opts.sim {
        Some((config, addr)) => {
            let handle = match sim::start(config.clone(), addr).await {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!("simulator: cannot listen on {addr} ({e}); using a free port instead");
                    sim::start(config, SocketAddr::new(addr.ip(), 0))
                        .await
                        .context("starting the built-in simulator")?
                }
            };
            demo::register_simulator(&state.db, &handle)
                .await
                .context("registering the simulator")?;
            tracing::info!("built-in vLLM simulator (simulated results) on {}", handle.base_url());
            Some(handle)
        }
        None => None,
    };
    match opts.on_restart {
        OnRestart::Resume => {
            let ids = db::runs::requeue_interrupted(&state.db).await?;
            if !ids.is_empty() {
                tracing::info!("resuming runs left running by the previous process: {ids:?}");
            }
        }
        OnRestart::Interrupt => {
            let n = db::runs::mark_interrupted(&state.db).await?;
            if n > 0 {
                tracing::info!("{n} run(s) left running by the previous process marked interrupted");
            }
        }
    }
    if let Some(password) = crate::auth::first_admin(&state.db).await? {
        let msg = format!(
            "first start: created user 'admin' with the one-time password {password} — log in at /login and choose a new one (add more users on the Users page or with `bakeoff user add NAME --role ROLE`)"
        );
        tracing::warn!("{msg}");
        eprintln!("\n*** {msg}\n");
    }
    let worker = Worker {
        state: state.clone(),
        client,
        preflight: opts.preflight,
    };
    tokio::spawn(worker.run_forever());

    let app = router(state.clone());
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .with_context(|| format!("listening on {}", opts.addr))?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app.into_make_service()).await {
            tracing::error!("server stopped: {e}");
        }
    });
    Ok(Running { addr, state, sim })
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let context_state = state.clone();
    Router::new()
        .merge(rest::routes().layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)))
        .route("/datasets/upload", post(upload_form).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)))
        .route("/import/upload", post(import_form).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)))
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.clone()),
            move || shell(options.clone()),
        )
        .route("/api/token", post(crate::auth::token))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(crate::auth::error_status))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::require_login))
        .with_state(state)
}
