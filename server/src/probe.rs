//! The endpoint check the app's server functions use (`app::state::Probe`), done with the client:
//! the endpoint policy (`--endpoint-allow`, never link-local), `/health`, then a well-formed
//! `/v1/models`. Failures say what failed (refused, timed out, HTTP status), never what the
//! server wrote.

use crate::client::Client;
use app::state::{Probe, ProbeFuture, ProbeReport};

pub struct HttpProbe(pub Client);

impl Probe for HttpProbe {
    fn check(&self, base_url: &str) -> ProbeFuture {
        let client = self.0.clone();
        let url = base_url.to_string();
        Box::pin(async move {
            client.health(&url).await.map_err(|e| e.to_string())?;
            let report = client.models(&url).await.map_err(|e| e.to_string())?;
            if report.models.is_empty() {
                return Err(format!("{url}/v1/models lists no models: is a model loaded?"));
            }
            Ok(ProbeReport {
                models: report.models,
                simulated: report.simulated,
            })
        })
    }
}
