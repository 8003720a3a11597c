//! The conditions a run is measured under, captured from the endpoint rather than typed
//! (issue 18): at the start `/version`, the `vllm:*_info` gauges, the served model's
//! `max_model_len` and `root`, the model's revision where a managed endpoint's launch command
//! pins it, and the prefix-cache counters; once the warm-up is done the counters again (the
//! window opens there: warm-up requests prime the cache and are not measured); at the end the
//! counters again, so the run keeps the prefix-cache hit rate of its measured requests. Hosted
//! endpoints have none of these: skipped quietly. A resumed run captures afresh: its hit rate
//! covers the part measured after the resume.

use super::execute::Worker;
use app::db;
use app::domain::conditions::{self as cond, Conditions};

impl Worker {
    /// What the endpoint says about itself now, stored with the run (`None`: it says nothing).
    pub(super) async fn capture_conditions(&self, run_id: i64, base_url: &str, spec: &app::domain::spec::RunSpec) -> Option<Conditions> {
        if self.client.hosted() {
            return None;
        }
        let version = self.client.version_text(base_url).await.ok().and_then(|t| cond::parse_version(&t));
        let (model_root, max_model_len) = match self.client.models_text(base_url).await {
            Ok(t) => cond::model_facts(&t, &spec.model),
            Err(_) => (None, None),
        };
        // vLLM's API does not say which revision it serves; a managed endpoint's launch command may.
        let (revision, tokenizer_revision) = match db::endpoints::get(&self.state.db, spec.endpoint_id).await {
            Ok(e) => e.launch_args.as_deref().map(cond::launch_revision).unwrap_or_default(),
            Err(_) => (None, None),
        };
        let metrics = self.client.metrics(base_url).await.ok();
        let c = Conditions {
            version,
            model_root,
            max_model_len,
            revision,
            tokenizer_revision,
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

    /// Open the prefix-cache window again once the warm-up is done: the hit rate is then over
    /// the measured requests only (the warm-up's lookups, misses that prime the cache, left out).
    pub(super) async fn after_warmup(&self, run_id: i64, base_url: &str, started: &mut Option<Conditions>) {
        let Some(c) = started.as_mut().filter(|c| c.prefix_cache_start.is_some()) else {
            return;
        };
        // Unreadable now: no figure rather than one that counts the warm-up.
        c.prefix_cache_start = self.client.metrics(base_url).await.ok().and_then(|t| cond::prefix_counters(&t));
        self.store_conditions(run_id, c).await;
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
