//! What an endpoint says about itself (issue 18, "conditions captured, not typed"): vLLM's
//! `/version` and the raw `/v1/models` answer, read with the endpoint's access like every check.
//! The text is parsed and bounded by `app::domain::conditions`.

use super::{Client, ClientError};
use std::time::Duration;

impl Client {
    /// `GET /version` as text (vLLM: `{"version": "0.32.0"}`).
    pub async fn version_text(&self, base_url: &str) -> Result<String, ClientError> {
        self.get_text(&format!("{base_url}/version"), Duration::from_secs(5)).await
    }

    /// `GET /v1/models` as text (for the served model's `root`, which the checks do not keep).
    pub async fn models_text(&self, base_url: &str) -> Result<String, ClientError> {
        self.get_text(&format!("{base_url}/v1/models"), Duration::from_secs(10)).await
    }
}
