//! Start-up: open the database, start the built-in simulator, register the demo, resume what a
//! crash left, start the worker (unless `--no-worker`: then a `bakeoff worker` measures the runs),
//! and serve the pages, the REST API and the live events.

use crate::client::{Client, EndpointPolicy};
use crate::demo;
use crate::probe::HttpProbe;
use crate::rest;
use crate::sim::{SimConfig, SimHandle};
use crate::upload::{import_form, upload_form, MAX_FORM_FIELD};
use crate::worker::{AfterDrain, LeaseSettings, Leases, PreflightPolicy, Shutdown, Worker};
use anyhow::Context as _;
use app::db;
use app::db::workers::Registration;
use app::domain::workers::{Liveness, WorkerKind};
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

/// What to do with runs whose worker died (their lease expired).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnRestart {
    /// Take them over and continue them, skipping the requests already stored (by custom_id).
    Resume,
    /// Mark them `interrupted`, keeping everything stored.
    Interrupt,
}

/// Who may reach the server and how (the "Serve a team" flags).
#[derive(Clone, Debug, Default)]
pub struct WebOptions {
    /// Serve https with this certificate chain and key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    pub web: app::state::WebConfig,
    /// `--endpoint-allow`: host names and networks endpoints may point at (empty: any).
    pub endpoint_allow: Vec<String>,
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
    pub web: WebOptions,
    /// `--lease-s`, `--drain-timeout`.
    pub lease: LeaseSettings,
}

pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    /// The simulator this process started (`None` with `--no-sim`). When another Bakeoff
    /// process's simulator held `--sim-addr`, this one is a standby on a free port.
    pub sim: Option<SimHandle>,
    /// Serving https (`--tls-cert`).
    pub tls: bool,
    /// This process's worker: its leases, and how to stop it (with `--no-worker`, leases that
    /// hold nothing: the process only names itself by them).
    pub leases: Leases,
    shutdown: Shutdown,
    worker: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    client: Client,
}

impl Running {
    /// A clean stop (SIGTERM, SIGINT): take no more runs; let the requests in flight finish (up
    /// to the drain timeout) and store them; put each run in progress back in the queue, its
    /// lease released; stop their model servers. Returns when all that is done.
    pub async fn drain(&self) {
        if let Some(sim) = &self.sim {
            let within = self.leases.settings.seconds() + 1;
            crate::builtin_sim::hand_over(&self.state, &self.client, sim, self.leases.owner(), within).await;
        }
        self.shutdown.trigger();
        if let Some(task) = self.worker.lock().await.take() {
            if let Err(e) = task.await {
                tracing::error!("the worker failed while draining: {e}");
            }
        }
    }

    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }
}

/// rustls with the ring provider only, installed once for the process.
pub fn install_tls_provider() {
    // Err only when a provider is installed already: that is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The certificate chain and key for `--tls-cert/--tls-key`, read and checked now so that a
/// wrong file is reported at start-up, not at the first connection.
async fn tls_config(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<axum_server::tls_rustls::RustlsConfig> {
    install_tls_provider();
    axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
        .await
        .with_context(|| {
            format!(
                "reading the TLS certificate {} and key {} (PEM files: the certificate chain, then its private key)",
                cert.display(),
                key.display()
            )
        })
}

/// Everything but the HTTP server: shared by `serve` and the headless CLI commands.
pub async fn prepare(db_path: &std::path::Path, site_root: &std::path::Path, addr: SocketAddr) -> anyhow::Result<(AppState, Client)> {
    prepare_with(db_path, site_root, addr, EndpointPolicy::default()).await
}

/// [`prepare`] with where endpoints may point (`--endpoint-allow`), for the checks and the worker.
pub async fn prepare_with(
    db_path: &std::path::Path,
    site_root: &std::path::Path,
    addr: SocketAddr,
    endpoints: EndpointPolicy,
) -> anyhow::Result<(AppState, Client)> {
    let pool = db::connect(db_path)
        .await
        .with_context(|| format!("opening the database {}", app::db::pool::redacted(&db_path.to_string_lossy())))?;
    demo::ensure_demo_dataset(&pool).await.context("creating the demo dataset")?;
    let left = db::datasets::clean_abandoned_uploads(&pool)
        .await
        .context("removing what interrupted uploads left")?;
    if left > 0 {
        tracing::warn!("removed {left} dataset(s) an interrupted upload left unfinished");
    }
    db::prices::ensure_starting_sheets(&pool)
        .await
        .context("adding the starting price sheets")?;
    db::planning::ensure_presets(&pool).await.context("adding the model presets")?;
    // Hashed bundle names (cargo-leptos `hash-files`) when the site was built with them.
    let hash_file = crate::assets::hash_file(site_root, "bakeoff", "pkg");
    let leptos_options = LeptosOptions::builder()
        .output_name("bakeoff")
        .site_root(site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .hash_files(hash_file.is_some())
        .hash_file(std::sync::Arc::<str>::from(
            hash_file.as_deref().map_or("hash.txt".into(), |p| p.to_string_lossy()),
        ))
        .build();
    let client = Client::with_policy(endpoints);
    let state = AppState {
        db: pool,
        leptos_options,
        events: broadcast::channel(4096).0,
        wake_worker: Arc::new(Notify::new()),
        probe: Arc::new(HttpProbe(client.clone())),
        web: Arc::new(app::state::WebConfig::default()),
        logins: Arc::new(app::api::throttle::LoginThrottle::default()),
        uploads: app::api::spool::UploadGate::new(app::api::spool::UploadLimits::default()),
    };
    Ok((state, client))
}

/// Where a `serve`'s runs are measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measuring {
    /// By this process's own worker (the default).
    Here,
    /// By `bakeoff worker` processes on the same database (`serve --no-worker`): this process
    /// claims no run.
    Elsewhere,
}

/// Serve the web app with its worker.
pub async fn start(opts: ServeOptions) -> anyhow::Result<Running> {
    start_measuring(opts, Measuring::Here).await
}

/// Serve the web app, its runs measured `where_` (`--no-worker`: elsewhere).
pub async fn start_measuring(opts: ServeOptions, where_: Measuring) -> anyhow::Result<Running> {
    let tls = match &opts.web.tls {
        Some((cert, key)) => Some(tls_config(cert, key).await?),
        None => None,
    };
    let endpoints = EndpointPolicy::parse(&opts.web.endpoint_allow).map_err(anyhow::Error::msg)?;
    let (mut state, client) = prepare_with(&opts.db_path, &opts.site_root, opts.addr, endpoints).await?;
    state.web = Arc::new(opts.web.web.clone());
    state.uploads = app::api::spool::UploadGate::new(opts.web.web.uploads.clone());
    app::api::accounts::warm_up_login().await;
    let sim = match opts.sim {
        Some((config, addr)) => Some(crate::builtin_sim::start(&state, &client, config, addr).await?),
        None => None,
    };
    let (leases, shutdown) = Leases::new(opts.lease, AfterDrain::Requeue, opts.on_restart == OnRestart::Resume);
    let here = where_ == Measuring::Here;
    if here {
        announce_other_workers(&state, &leases).await?;
        db::workers::beat(&state.db, &leases.holder, &Registration::serve(leases.settings.seconds())).await?;
    } else {
        announce_no_worker(&state).await?;
    }
    if let Some(h) = &sim {
        if here {
            db::workers::set_sim_url(&state.db, leases.owner(), &h.base_url()).await?;
        }
        crate::builtin_sim::watch(state.clone(), client.clone(), h);
    }
    if here && opts.on_restart == OnRestart::Interrupt {
        let ids = db::leases::interrupt_expired(&state.db).await?;
        if !ids.is_empty() {
            tracing::info!("runs whose worker stopped renewing its lease marked interrupted: {ids:?}");
        }
    }
    if here {
        // Model servers a dead worker left on this host go before anything is launched again.
        crate::launcher::stop_orphans(&state.db, &leases.holder, None).await;
    }
    if let Some(password) = crate::auth::first_admin(&state.db).await? {
        let msg = format!(
            "first start: created user 'admin' with the one-time password {password} — log in at /login and choose a new one (add more users on the Users page or with `bakeoff user add NAME --role ROLE`)"
        );
        tracing::warn!("{msg}");
        eprintln!("\n*** {msg}\n");
    }
    if let Some(h) = &sim {
        client.endpoint_policy().allow_builtin(h.addr);
    }
    let worker = here.then(|| {
        let worker = Worker::new(state.clone(), client.clone(), opts.preflight, leases.clone());
        tokio::spawn(worker.run_forever())
    });
    tokio::spawn(crate::auth::purge_sessions_forever(state.clone()));
    tokio::spawn(app::api::trash::purge_forever(state.clone()));

    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .with_context(|| format!("listening on {}", opts.addr))?;
    let addr = listener.local_addr()?;
    match tls.clone() {
        Some(config) => {
            let listener = listener.into_std()?;
            let server = axum_server::from_tcp_rustls(listener, config)?;
            tokio::spawn(async move {
                if let Err(e) = server.serve(app).await {
                    tracing::error!("server stopped: {e}");
                }
            });
        }
        None => {
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!("server stopped: {e}");
                }
            });
        }
    }
    Ok(Running {
        addr,
        state,
        sim,
        tls: tls.is_some(),
        leases,
        shutdown,
        worker: tokio::sync::Mutex::new(worker),
        client,
    })
}

/// Say at start-up which other workers share this database and which runs they hold: they keep
/// them (a run is measured by one worker only); runs whose lease expired are taken over.
async fn announce_other_workers(state: &AppState, leases: &Leases) -> anyhow::Result<()> {
    let owner = leases.owner();
    let others = db::workers::others(&state.db, owner, leases.settings.seconds() + 1).await?;
    let held = db::leases::held_by_others(&state.db, owner).await?;
    let mut lines: Vec<String> = others
        .iter()
        .map(|w| format!("`{}` on {} (pid {}), up since {}", w.kind.label(), w.host, w.pid, w.started_at))
        .collect();
    for h in &held {
        let who = format!(
            "{} (pid {})",
            h.host.as_deref().unwrap_or("an unknown host"),
            h.pid.map(|p| p.to_string()).unwrap_or("?".into())
        );
        lines.push(match h.expires_in_s {
            Some(s) if s >= 0 => format!("run {} is measured by {who} (lease renewed, expires in {s} s)", h.run_id),
            _ => format!("run {}: its worker {who} stopped renewing its lease", h.run_id),
        });
    }
    if !lines.is_empty() {
        let msg = format!(
            "another Bakeoff worker is active on this database:\n  {}\nThis process measures only runs no live worker holds; a run whose worker stops renewing its lease ({} s) is {}.",
            lines.join("\n  "),
            leases.settings.seconds(),
            if leases.takeover { "taken over" } else { "marked interrupted" }
        );
        tracing::warn!("{msg}");
        eprintln!("\n*** {msg}\n");
    }
    Ok(())
}

/// `--no-worker`: say that runs wait for a `bakeoff worker`, and which are alive now.
async fn announce_no_worker(state: &AppState) -> anyhow::Result<()> {
    let workers = db::workers::list(&state.db).await?;
    let alive: Vec<String> = workers
        .iter()
        .filter(|w| w.state == Liveness::Alive && w.kind != WorkerKind::Run)
        .map(|w| format!("{} on {} (pid {}): {}", w.name, w.host, w.pid, w.endpoints.label()))
        .collect();
    let msg = if alive.is_empty() {
        "--no-worker: this process measures no run, and no worker is alive on this database: queued runs wait until one starts (`bakeoff worker --db ...`)".to_string()
    } else {
        format!(
            "--no-worker: this process measures no run; the workers alive on this database:\n  {}",
            alive.join("\n  ")
        )
    };
    tracing::info!("{msg}");
    eprintln!("\n*** {msg}\n");
    Ok(())
}

/// Routes outside the REST table and the Leptos pages and server functions.
pub fn other_routes() -> Vec<(axum::http::Method, &'static str)> {
    use axum::http::Method;
    vec![
        (Method::POST, "/datasets/upload"),
        (Method::POST, "/import/upload"),
        (Method::POST, "/api/token"),
        (Method::GET, "/healthz"),
    ]
}

/// Every (method, path) the router answers: REST, forms, pages and server functions. The
/// authorization table test walks this list.
pub fn route_list() -> Vec<(axum::http::Method, String)> {
    let mut all: Vec<(axum::http::Method, String)> = rest::table().into_iter().map(|(m, p, _)| (m, p.to_string())).collect();
    all.extend(other_routes().into_iter().map(|(m, p)| (m, p.to_string())));
    for page in app_routes() {
        all.push((axum::http::Method::GET, page.path().to_string()));
    }
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        all.push((method, path.to_string()));
    }
    all.sort_by(|a, b| (a.1.as_str(), a.0.as_str()).cmp(&(b.1.as_str(), b.0.as_str())));
    all.dedup();
    all
}

/// The pages' routes, listed once per process. Listing them runs the app with resource loads
/// suppressed by a process-wide flag (leptos_server's `SuppressResourceLoad`): a page rendered by
/// another server in the same process while that flag is up waits for its data forever
/// (leptos#4773). Several servers start in one process in the tests; the flag must never rise
/// while one of them serves.
fn app_routes() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::Mutex<Option<Vec<leptos_axum::AxumRouteListing>>> = std::sync::Mutex::new(None);
    let mut routes = ROUTES.lock().unwrap_or_else(|p| p.into_inner());
    routes.get_or_insert_with(|| generate_route_list(App)).clone()
}

pub fn router(state: AppState) -> Router {
    let routes = app_routes();
    let options = state.leptos_options.clone();
    let context_state = state.clone();
    let form_limit = usize::try_from(state.uploads.limits().max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(2 * MAX_FORM_FIELD);
    Router::new()
        // Uploads stream and count their own bytes (the limit in the message); the body limit
        // only bounds a form's other fields beyond the file.
        .merge(rest::routes().layer(DefaultBodyLimit::max(form_limit)))
        .route("/datasets/upload", post(upload_form).layer(DefaultBodyLimit::max(form_limit)))
        .route("/import/upload", post(import_form).layer(DefaultBodyLimit::max(form_limit)))
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.clone()),
            move || shell(options.clone()),
        )
        .route("/api/token", post(crate::auth::token))
        .route("/healthz", axum::routing::get(crate::health::healthz))
        // The site's files (hashed, precompressed; see assets.rs), else the 404 page.
        .fallback(crate::assets::files_then_not_found)
        .layer(axum::middleware::map_response(crate::assets::page_cache_control))
        // Errors get their real status before the body is compressed (error_status reads it).
        .layer(axum::middleware::from_fn(crate::auth::error_status))
        .layer(axum::middleware::from_fn(crate::assets::gzip_dynamic))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::require_login))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::site::edge))
        .with_state(state)
}
