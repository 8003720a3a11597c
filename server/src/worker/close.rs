//! Closing a run: its summary from what was stored, with the integrity checks, and the quality
//! checks of its answers.

use super::execute::Worker;
use app::db::{self, runs::Claimed};
use app::domain::integrity::{assess, IntegrityInput};
use app::domain::summary::{summarize, RunSummary};

impl Worker {
    /// The run's summary from its stored records, with the integrity checks; the answers'
    /// quality checks are stored on the way. `None` without records.
    pub(super) async fn summarize_stored(&self, claimed: &Claimed, client_cpu_s: Option<f64>) -> Option<RunSummary> {
        let id = claimed.id;
        let load_time = db::planning::launches(&self.state.db, id)
            .await
            .ok()
            .and_then(|ls| ls.iter().rev().find(|l| l.outcome == "ready").and_then(|l| l.load_time_s));
        let records = match db::records::for_run(&self.state.db, id).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(run = id, "could not load records for the summary: {e}");
                Vec::new()
            }
        };
        if records.is_empty() {
            return None;
        }
        let mut s = summarize(&records);
        s.model_load_time_s = load_time;
        let series = db::metrics::for_run(&self.state.db, id).await.unwrap_or_default();
        let generation: Vec<f64> = series.iter().filter_map(|m| m.generation_tokens_total).collect();
        s.integrity = Some(assess(&IntegrityInput {
            records: &records,
            target_rate: claimed.spec.load.rate,
            concurrency: claimed.spec.load.concurrency,
            wall_time_s: s.wall_time_s,
            // A resumed run's CPU is only this process's share: not comparable, left out.
            client_cpu_s: client_cpu_s.filter(|_| !claimed.resumed),
            cores: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            server_generation: match (generation.first(), generation.last()) {
                (Some(a), Some(b)) if generation.len() >= 2 && !claimed.resumed => Some((*a, *b)),
                _ => None,
            },
        }));
        if let Err(e) = app::api::quality::check_records(&self.state.db, id, &records).await {
            tracing::error!(run = id, "could not check the answers: {e}");
        }
        Some(s)
    }
}
