//! Before sending anything: is the endpoint up, does it serve the model, does every request fit?

use super::RunError;
use crate::client::Client;
use app::domain::dataset::DatasetItem;
use app::domain::spec::RunSpec;
use std::time::{Duration, Instant};

/// How long to wait for `/health` (a model may still be loading: the port may not even answer).
#[derive(Clone, Debug)]
pub struct PreflightPolicy {
    pub health_timeout: Duration,
    pub first_backoff: Duration,
}

impl Default for PreflightPolicy {
    fn default() -> Self {
        PreflightPolicy { health_timeout: Duration::from_secs(60), first_backoff: Duration::from_millis(250) }
    }
}

pub async fn check(client: &Client, base_url: &str, spec: &RunSpec, _items: &[DatasetItem], policy: &PreflightPolicy) -> Result<(), RunError> {
    wait_healthy(client, base_url, policy).await?;
    let report = client.models(base_url).await.map_err(|e| RunError::Preflight(e.to_string()))?;
    if !report.models.iter().any(|m| m.id == spec.model) {
        let served: Vec<&str> = report.models.iter().map(|m| m.id.as_str()).collect();
        return Err(RunError::Preflight(format!("{base_url} does not serve '{}'; it serves: {}", spec.model, served.join(", "))));
    }
    Ok(())
}

/// Poll `/health` with exponential backoff until it answers 200 or the policy's time is up.
async fn wait_healthy(client: &Client, base_url: &str, policy: &PreflightPolicy) -> Result<(), RunError> {
    let deadline = Instant::now() + policy.health_timeout;
    let mut backoff = policy.first_backoff;
    loop {
        match client.health(base_url).await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() + backoff > deadline => {
                return Err(RunError::Preflight(format!("{e} (waited {} s for /health)", policy.health_timeout.as_secs())))
            }
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}
