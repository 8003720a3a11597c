//! The built-in simulator when several `bakeoff serve` share one database. There is one
//! built-in endpoint, pointing at one simulator. A serve whose `--sim-addr` is held by another
//! Bakeoff process's simulator leaves the endpoint there and keeps its own simulator on a free
//! port as a standby. The endpoint moves to a standby when the simulator it points at stops
//! answering (its serve died), and a serve that stops cleanly first hands the endpoint to another
//! live serve's simulator, so that the runs it puts back in the queue find one.

use crate::client::Client;
use crate::demo;
use crate::sim::{self, SimConfig, SimHandle};
use anyhow::Context as _;
use app::api::types::ServedModel;
use app::db;
use app::state::AppState;
use std::net::SocketAddr;
use std::time::Duration;

/// Start this process's simulator on `addr` and point the built-in endpoint at it; when `addr`
/// is taken, by another Bakeoff simulator (kept as the endpoint, this one a standby on a free
/// port) or by anything else (this one on a free port, the endpoint moved to it).
pub async fn start(state: &AppState, client: &Client, config: SimConfig, addr: SocketAddr) -> anyhow::Result<SimHandle> {
    let handle = match sim::start(config.clone(), addr).await {
        Ok(h) => h,
        Err(e) => {
            let free = SocketAddr::new(addr.ip(), 0);
            if is_simulator(client, &format!("http://{addr}")).await {
                let standby = sim::start(config, free).await.context("starting the built-in simulator")?;
                tracing::info!(
                    "built-in vLLM simulator: another Bakeoff process's simulator answers on {addr} and stays the built-in endpoint; this one waits on {} in case that process stops",
                    standby.base_url()
                );
                return Ok(standby);
            }
            tracing::warn!("simulator: cannot listen on {addr} ({e}); using a free port instead");
            sim::start(config, free).await.context("starting the built-in simulator")?
        }
    };
    // Another live serve's simulator (at another address) is the built-in endpoint already:
    // leave it there, this one a standby (moving it would send that serve's runs here).
    if let Some(current) = endpoint_url(state).await.filter(|u| *u != handle.base_url()) {
        if is_simulator(client, &current).await {
            tracing::info!(
                "built-in vLLM simulator: another Bakeoff process's simulator at {current} stays the built-in endpoint; this one waits on {} in case that process stops",
                handle.base_url()
            );
            return Ok(handle);
        }
    }
    demo::register_simulator(&state.db, &handle)
        .await
        .context("registering the simulator")?;
    tracing::info!("built-in vLLM simulator (simulated results) on {}", handle.base_url());
    Ok(handle)
}

/// Bakeoff's simulator answers at `url` (its `/v1/models` says so).
async fn is_simulator(client: &Client, url: &str) -> bool {
    if let Some(addr) = url.strip_prefix("http://").and_then(|a| a.parse().ok()) {
        client.endpoint_policy().allow_builtin(addr);
    }
    client.models(url).await.is_ok_and(|r| r.simulated)
}

/// Where the built-in endpoint points now.
async fn endpoint_url(state: &AppState) -> Option<String> {
    db::endpoints::list(&state.db)
        .await
        .ok()?
        .into_iter()
        .find(|e| e.builtin)
        .map(|e| e.base_url)
}

/// Every second: if the built-in endpoint points at another process's simulator and that stops
/// answering (twice in a row), point it at `own`.
pub fn watch(state: AppState, client: Client, own: &SimHandle) -> tokio::task::JoinHandle<()> {
    let own_url = own.base_url();
    let models: Vec<ServedModel> = own
        .sim
        .config
        .models
        .iter()
        .map(|m| ServedModel {
            id: m.clone(),
            max_model_len: Some(own.sim.config.max_model_len),
        })
        .collect();
    tokio::spawn(async move {
        let mut misses = 0;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            match endpoint_url(&state).await {
                Some(url) if url != own_url => {
                    misses = if is_simulator(&client, &url).await { 0 } else { misses + 1 };
                    if misses >= 2 {
                        tracing::warn!(
                            "the built-in simulator at {url} stopped answering: the built-in endpoint now points at this process's, {own_url}"
                        );
                        if let Err(e) = db::endpoints::upsert_builtin(&state.db, demo::SIM_ENDPOINT_NAME, &own_url, &models).await {
                            tracing::error!("could not move the built-in endpoint: {e}");
                        }
                        misses = 0;
                    }
                }
                _ => misses = 0,
            }
        }
    })
}

/// Before a clean stop: if the built-in endpoint points at this process's simulator, point it
/// at another live serve's (if any answers), so the runs put back in the queue find one.
pub async fn hand_over(state: &AppState, client: &Client, own: &SimHandle, owner: &str, within_s: i64) {
    if endpoint_url(state).await.as_deref() != Some(own.base_url().as_str()) {
        return;
    }
    let Ok(others) = db::workers::others(&state.db, owner, within_s).await else {
        return;
    };
    for url in others.into_iter().filter_map(|w| w.sim_url) {
        if let Some(addr) = url.strip_prefix("http://").and_then(|a| a.parse().ok()) {
            client.endpoint_policy().allow_builtin(addr);
        }
        if let Ok(report) = client.models(&url).await {
            if report.simulated {
                match db::endpoints::upsert_builtin(&state.db, demo::SIM_ENDPOINT_NAME, &url, &report.models).await {
                    Ok(_) => tracing::info!("the built-in endpoint now points at another serve's simulator, {url}"),
                    Err(e) => tracing::error!("could not hand the built-in endpoint over: {e}"),
                }
                return;
            }
        }
    }
}
