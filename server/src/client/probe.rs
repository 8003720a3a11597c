//! The endpoint check the app's server functions use (`app::state::Probe`), done with the client
//! bound to the endpoint's access (key, headers, CA): the endpoint policy (`--endpoint-allow`,
//! never link-local), `/health` (not for hosted providers, and a 404 means a gateway without one),
//! then a well-formed `/v1/models`. Failures say what failed (refused, timed out, HTTP status,
//! certificate), never what the server wrote.

use crate::client::{Client, ClientError};
use app::api::endpoints::access::EndpointAccess;
use app::state::{Probe, ProbeFuture, ProbeReport};

pub struct HttpProbe(pub Client);

impl Probe for HttpProbe {
    fn check(&self, base_url: &str, access: &EndpointAccess) -> ProbeFuture {
        let url = base_url.to_string();
        let bound = self.0.for_endpoint(&url, access);
        Box::pin(async move {
            let client = bound.map_err(|e| e.to_string())?;
            if !client.hosted() {
                match client.health(&url).await {
                    Ok(()) => {}
                    // No /health here (a gateway that passes on only the OpenAI API): /v1/models decides.
                    Err(ClientError::Http { status: 404, .. }) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
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
