//! Before sending anything: may the endpoint be reached (`--endpoint-allow`, never link-local),
//! is it up, does it serve the model, does every request fit? The client is bound to the
//! endpoint's access (key, headers, CA). A hosted provider has no `/health` or `/tokenize`: it is
//! up when `/v1/models` answers, and its prompts are not counted in advance; a gateway without
//! `/health` (404) is treated the same way for that check.

use super::RunError;
use crate::client::{Client, ClientError};
use app::domain::dataset::DatasetItem;
use app::domain::spec::RunSpec;
use std::time::{Duration, Instant};

/// How long to wait for `/health` (a model may still be loading: the port may not even answer).
#[derive(Clone, Debug)]
pub struct PreflightPolicy {
    pub health_timeout: Duration,
    pub first_backoff: Duration,
    /// How long a managed start may take to answer /health (loading a model can take minutes).
    pub launch_timeout: Duration,
    /// Managed starts tried per run (the first, then safer settings).
    pub launch_attempts: u32,
    /// How often a provider batch (or an offline batch job) is asked how it is going.
    pub batch_poll: Duration,
}

impl Default for PreflightPolicy {
    fn default() -> Self {
        PreflightPolicy {
            health_timeout: Duration::from_secs(60),
            first_backoff: Duration::from_millis(250),
            launch_timeout: Duration::from_secs(900),
            launch_attempts: 3,
            batch_poll: Duration::from_secs(10),
        }
    }
}

/// How many of the longest prompts (by characters) are tokenized to check the context length.
const LONGEST_CHECKED: usize = 3;

pub async fn check(
    client: &Client,
    base_url: &str,
    spec: &RunSpec,
    items: &[DatasetItem],
    policy: &PreflightPolicy,
) -> Result<(), RunError> {
    client
        .check_allowed(base_url)
        .await
        .map_err(|e| RunError::Preflight(e.to_string()))?;
    if !client.hosted() {
        wait_healthy(client, base_url, policy).await?;
    }
    let report = client.models(base_url).await.map_err(|e| RunError::Preflight(e.to_string()))?;
    let Some(model) = report.models.iter().find(|m| m.id == spec.model) else {
        let served: Vec<&str> = report.models.iter().map(|m| m.id.as_str()).collect();
        return Err(RunError::Preflight(format!(
            "{base_url} does not serve '{}'; it serves: {}",
            spec.model,
            served.join(", ")
        )));
    };
    let Some(max_len) = model.max_model_len.filter(|_| !client.hosted()) else {
        return Ok(());
    };
    check_context(client, base_url, spec, items, max_len).await
}

/// Does prompt + max_tokens fit max_model_len for the longest prompts? The exact numbers go in the
/// message, with what to change.
async fn check_context(client: &Client, base_url: &str, spec: &RunSpec, items: &[DatasetItem], max_len: u64) -> Result<(), RunError> {
    let mut by_len: Vec<&DatasetItem> = items.iter().collect();
    by_len.sort_by_key(|i| std::cmp::Reverse(i.prompt_text().len()));
    for item in by_len.into_iter().take(LONGEST_CHECKED) {
        let counted = client
            .tokenize(base_url, &spec.model, &item.body)
            .await
            .map_err(|e| RunError::Preflight(e.to_string()))?;
        let Some((prompt, server_len)) = counted else { return Ok(()) }; // no /tokenize: vLLM will say so per request
        let max_len = server_len.unwrap_or(max_len);
        let Some(max_tokens) = spec.sampling.max_tokens.or(item.max_tokens()).map(u64::from) else {
            continue;
        };
        if prompt + max_tokens > max_len {
            return Err(RunError::Preflight(format!(
                "'{}' does not fit: prompt {prompt} tokens + max_tokens {max_tokens} = {} > max_model_len {max_len} of {}. \
                 Lower max_tokens to at most {} or start vLLM with --max-model-len {} or more.",
                item.custom_id,
                prompt + max_tokens,
                spec.model,
                max_len.saturating_sub(prompt),
                prompt + max_tokens
            )));
        }
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
            // No /health on this server (a gateway passing on only the OpenAI API): /v1/models decides.
            Err(ClientError::Http { status: 404, .. }) => return Ok(()),
            Err(e @ (ClientError::NotAllowed { .. } | ClientError::Tls { .. })) => return Err(RunError::Preflight(e.to_string())),
            Err(e) if Instant::now() + backoff > deadline => {
                return Err(RunError::Preflight(format!(
                    "{e} (waited {} s for /health)",
                    policy.health_timeout.as_secs()
                )))
            }
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}
