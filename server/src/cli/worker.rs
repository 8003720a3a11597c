//! `bakeoff worker`: measure queued runs next to a GPU, without the web app (issue 13). It opens
//! the database (migrations run as for every subcommand), registers itself in `workers` with
//! what it takes, and claims runs like `serve`'s worker, but only for its endpoints, and on
//! managed endpoints only with `--allow-launch`. SIGTERM and SIGINT drain as `serve` does: the
//! runs in progress go back to the queue, and it exits 0.

use super::{DbArg, LeaseArgs, Signals};
use crate::worker::{host_name, AfterDrain, Leases, PreflightPolicy, Worker};
use app::api::types::EndpointView;
use app::db::{self, leases::ClaimFilter, workers::Registration};
use app::domain::workers::WorkerKind;
use clap::Args;
use std::time::Duration;

/// Longest `--name` (it is shown on pages and in logs).
const MAX_NAME: usize = 100;

#[derive(Args, Debug)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Take runs only for the endpoint registered under this name (repeatable). Without it, runs
    /// for any endpoint.
    #[arg(long = "endpoint", value_name = "NAME")]
    pub endpoints: Vec<String>,
    /// How this worker is listed on the Workers page and on the runs it measures (default: the
    /// host name).
    #[arg(long)]
    pub name: Option<String>,
    /// Start managed model servers (endpoints with a launch list, `vllm serve` or offline `vllm
    /// run-batch`) on this host. Without it, runs on managed endpoints are left in the queue for
    /// a worker that may.
    #[arg(long)]
    pub allow_launch: bool,
    /// Seconds to wait for an endpoint's /health before a run fails.
    #[arg(long, default_value_t = 60)]
    pub health_timeout_s: u64,
    /// Seconds between two questions to a provider's Batch API about a batch in progress.
    #[arg(long, env = "BAKEOFF_BATCH_POLL_S", default_value_t = 10)]
    pub batch_poll_s: u64,
    /// Host names and networks that endpoints may point at, as for `serve` (the same list: every
    /// request this worker makes is checked against it). Default: any host but link-local ones.
    #[arg(long = "endpoint-allow", env = "BAKEOFF_ENDPOINT_ALLOW", value_delimiter = ',')]
    pub endpoint_allow: Vec<String>,
    #[command(flatten)]
    pub lease: LeaseArgs,
}

/// Does the endpoint need its model server started by Bakeoff?
fn managed(e: &EndpointView) -> bool {
    e.launch_args.is_some() || e.legacy_launch_template.is_some()
}

/// The claim filter for `--endpoint` names and `--allow-launch`, checked against the endpoints
/// that exist: an unknown name, or a managed endpoint without `--allow-launch`, is an error that
/// says what to do.
pub fn filter_for(names: &[String], allow_launch: bool, endpoints: &[EndpointView]) -> anyhow::Result<ClaimFilter> {
    if names.is_empty() {
        return Ok(ClaimFilter {
            endpoint_ids: None,
            allow_launch,
        });
    }
    let mut ids = Vec::new();
    for name in names {
        let Some(e) = endpoints.iter().find(|e| e.name == name.trim()) else {
            let known: Vec<&str> = endpoints.iter().map(|e| e.name.as_str()).collect();
            anyhow::bail!(
                "--endpoint {name}: no endpoint has that name; {}",
                if known.is_empty() {
                    "there are no endpoints yet: add one on the Endpoints page (or POST /api/endpoints) first".to_string()
                } else {
                    format!("the endpoints are: {}", known.join(", "))
                }
            );
        };
        anyhow::ensure!(
            allow_launch || !managed(e),
            "--endpoint {name}: Bakeoff starts this endpoint's model server for each run (it has a launch list): add --allow-launch to let this worker start it on this host, or leave the endpoint to a worker that may"
        );
        if !ids.contains(&e.id) {
            ids.push(e.id);
        }
    }
    Ok(ClaimFilter {
        endpoint_ids: Some(ids),
        allow_launch,
    })
}

/// `--name`, else the host name.
fn worker_name(name: Option<&str>, host: &str) -> anyhow::Result<String> {
    let Some(name) = name else {
        return Ok(host.to_string());
    };
    let name = name.trim();
    anyhow::ensure!(
        !name.is_empty(),
        "--name must not be empty (leave it out to use the host name, {host})"
    );
    anyhow::ensure!(
        name.chars().count() <= MAX_NAME && !name.chars().any(char::is_control),
        "--name must be at most {MAX_NAME} characters, without control characters"
    );
    Ok(name.to_string())
}

pub async fn run(a: WorkerArgs) -> anyhow::Result<()> {
    // From here on SIGTERM and SIGINT stop cleanly (drain) instead of killing at once.
    let mut signals = Signals::new()?;
    let allow: Vec<String> = a
        .endpoint_allow
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let policy = crate::client::EndpointPolicy::parse(&allow).map_err(|m| anyhow::anyhow!("--endpoint-allow: {m}"))?;
    let (state, client) =
        crate::serve::prepare_with(&a.db.path, std::path::Path::new("target/site"), "127.0.0.1:0".parse()?, policy).await?;
    let endpoints = db::endpoints::list(&state.db).await?;
    let filter = filter_for(&a.endpoints, a.allow_launch, &endpoints)?;
    let host = host_name();
    let me = Registration {
        kind: WorkerKind::Worker,
        name: Some(worker_name(a.name.as_deref(), &host)?),
        filter,
        lease_s: a.lease.settings().seconds(),
    };
    let (leases, shutdown) = Leases::new(a.lease.settings(), AfterDrain::Requeue, true);
    db::workers::beat(&state.db, &leases.holder, &me).await?;
    if a.allow_launch {
        // Model servers a dead worker left on this host go before anything is launched again.
        crate::launcher::stop_orphans(&state.db, &leases.holder, None).await;
    }
    let takes = match &me.filter.endpoint_ids {
        None => "any endpoint".to_string(),
        Some(_) => a.endpoints.join(", "),
    };
    let launch = if a.allow_launch {
        "starts model servers on this host"
    } else {
        "starts no model server (runs on managed endpoints wait for a worker with --allow-launch)"
    };
    eprintln!(
        "bakeoff worker {} on {host} (pid {}): takes runs for {takes}; {launch} (database: {})",
        me.name.as_deref().unwrap_or(&host),
        std::process::id(),
        app::db::pool::redacted(&a.db.path.to_string_lossy())
    );
    let preflight = PreflightPolicy {
        health_timeout: Duration::from_secs(a.health_timeout_s),
        batch_poll: Duration::from_secs(a.batch_poll_s.max(1)),
        ..Default::default()
    };
    let mut task = tokio::spawn(Worker::new(state, client, preflight, leases).run_as(me));
    let first = tokio::select! {
        s = signals.next() => s,
        r = &mut task => anyhow::bail!("the worker stopped by itself: {}", match r { Ok(()) => "no error".to_string(), Err(e) => e.to_string() }),
    };
    eprintln!(
        "{first}: stopping; requests in flight may finish (up to {:?}), then runs in progress go back to the queue",
        a.lease.drain_timeout
    );
    shutdown.trigger();
    tokio::select! {
        r = task => {
            if let Err(e) = r {
                anyhow::bail!("the worker failed while draining: {e}");
            }
            eprintln!("stopped cleanly");
            Ok(())
        }
        second = signals.next() => {
            anyhow::bail!("{second} again: stopped without draining; runs in progress resume once their lease expires")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(id: i64, name: &str, launch: bool) -> EndpointView {
        let mut e: EndpointView = serde_json::from_value(serde_json::json!({
            "id": id, "name": name, "base_url": "http://gpu:8000", "simulated": false, "builtin": false,
            "models": [], "checked_at": null
        }))
        .expect("endpoint view");
        if launch {
            e.launch_args = Some(vec!["vllm".into(), "serve".into(), "{model}".into()]);
        }
        e
    }

    #[test]
    fn endpoint_names_become_ids_and_an_unknown_name_lists_the_known_ones() {
        let known = [endpoint(3, "gpu-a", false), endpoint(5, "gpu-b", false)];
        let f = filter_for(&["gpu-b".into(), "gpu-a".into(), "gpu-b".into()], false, &known).expect("known");
        assert_eq!(f.endpoint_ids, Some(vec![5, 3]));
        let err = filter_for(&["nosuch".into()], false, &known).expect_err("unknown").to_string();
        assert!(err.contains("--endpoint nosuch") && err.contains("gpu-a, gpu-b"), "{err}");
        let none = filter_for(&["x".into()], false, &[]).expect_err("no endpoints").to_string();
        assert!(none.contains("no endpoints yet"), "{none}");
        assert_eq!(filter_for(&[], true, &known).expect("any").endpoint_ids, None);
    }

    #[test]
    fn a_managed_endpoint_needs_allow_launch() {
        let known = [endpoint(1, "managed", true)];
        let err = filter_for(&["managed".into()], false, &known)
            .expect_err("needs launch")
            .to_string();
        assert!(err.contains("--allow-launch"), "{err}");
        assert!(filter_for(&["managed".into()], true, &known).is_ok());
    }

    #[test]
    fn the_name_defaults_to_the_host_and_a_blank_one_is_refused() {
        assert_eq!(worker_name(None, "gpu-box").expect("host"), "gpu-box");
        assert_eq!(worker_name(Some(" a100-1 "), "gpu-box").expect("name"), "a100-1");
        assert!(worker_name(Some("  "), "gpu-box").is_err());
    }
}
