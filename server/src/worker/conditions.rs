//! The conditions a run is measured under, captured from the endpoint rather than typed
//! (issue 18): at the start `/version`, the `vllm:*_info` gauges, the served model's
//! `max_model_len` and `root`, and the prefix-cache counters; at the end the counters again, so
//! the run keeps its prefix-cache hit rate. Hosted endpoints have none of these: skipped quietly.
//! A resumed run captures afresh: its hit rate covers the part measured after the resume.

use super::execute::Worker;
use app::db;
use app::domain::conditions::{self as cond, Conditions};

impl Worker {
    /// What the endpoint says about itself now, stored with the run (`None`: it says nothing).
    pub(super) async fn capture_conditions(&self, run_id: i64, base_url: &str, model: &str) -> Option<Conditions> {
        if self.client.hosted() {
            return None;
        }
        let version = self.client.version_text(base_url).await.ok().and_then(|t| cond::parse_version(&t));
        let (model_root, max_model_len) = match self.client.models_text(base_url).await {
            Ok(t) => cond::model_facts(&t, model),
            Err(_) => (None, None),
        };
        let metrics = self.client.metrics(base_url).await.ok();
        let c = Conditions {
            version,
            model_root,
            max_model_len,
            info: metrics.as_deref().map(cond::info_gauges).unwrap_or_default(),
            prefix_cache: None,
            prefix_cache_start: metrics.as_deref().and_then(cond::prefix_counters),
        };
        if c == Conditions::default() {
            return None;
        }
        self.store_conditions(run_id, &c).await;
        Some(c)
    }

    /// The prefix cache's use over the run: its counters now against those at the start.
    pub(super) async fn finish_conditions(&self, run_id: i64, base_url: &str, started: Option<Conditions>) {
        let Some(mut c) = started.filter(|c| c.prefix_cache_start.is_some()) else {
            return;
        };
        let now = self.client.metrics(base_url).await.ok().and_then(|t| cond::prefix_counters(&t));
        c.end_with(now);
        self.store_conditions(run_id, &c).await;
    }

    async fn store_conditions(&self, run_id: i64, c: &Conditions) {
        if let Err(e) = db::sweeps::set_conditions(&self.state.db, run_id, c).await {
            tracing::warn!(run = run_id, "could not store the endpoint's conditions: {e}");
        }
    }
}
