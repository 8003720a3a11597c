//! Closing a run: one pass over its stored records, read a page at a time, gives its summary
//! with the integrity checks, its chart data (stored), and the quality checks of its answers
//! (stored page by page). The worker's memory does not grow with the run's records.

use super::execute::Worker;
use app::db::{self, records::Pages, records::Read, runs::Claimed};
use app::domain::digest::RunDigest;
use app::domain::integrity::{assess, IntegrityInput};
use app::domain::summary::RunSummary;

impl Worker {
    /// The run's summary from its stored records, with the integrity checks; the chart data and
    /// the answers' quality checks are stored on the way. `None` without records.
    pub(super) async fn summarize_stored(&self, claimed: &Claimed, client_cpu_s: Option<f64>) -> Option<RunSummary> {
        let id = claimed.id;
        let db = &self.state.db;
        let load_time = db::planning::launches(db, id).await.ok().and_then(|ls| {
            ls.iter()
                .rev()
                .find(|l| l.outcome == app::domain::views::LaunchOutcome::Ready)
                .and_then(|l| l.load_time_s)
        });
        let checker = match app::api::quality::Checker::load(db, id).await {
            Ok(c) => match db::checks::clear(db, id).await {
                Ok(()) => Some(c),
                Err(e) => {
                    tracing::error!(run = id, "could not clear the earlier checks: {e}");
                    None
                }
            },
            Err(e) => {
                tracing::error!(run = id, "could not prepare the answers' checks: {e}");
                None
            }
        };
        // Room for every record's latencies at once (no vector grows to twice its need).
        let count = db::records::count(db, id).await.unwrap_or(0).max(0) as usize;
        let mut digest = RunDigest::with_capacity(count);
        // Goodput against the run's targets, counted in the same pass.
        digest.set_slo(claimed.spec.slo.clone());
        let mut pages = Pages::new(id, Read::Everything);
        loop {
            match pages.next(db).await {
                Ok(Some(page)) => {
                    for r in &page {
                        digest.add(r);
                    }
                    if let Some(c) = &checker {
                        if let Err(e) = c.check_page(db, &page).await {
                            tracing::error!(run = id, "could not check the answers: {e}");
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(run = id, "could not read the records for the summary: {e}");
                    return None;
                }
            }
        }
        if checker.is_some() {
            if let Err(e) = db::checks::roll_up(db, id).await {
                tracing::error!(run = id, "could not count the checks: {e}");
            }
        }
        let records = digest.records();
        if records == 0 {
            return None;
        }
        let out = digest.finish();
        if let Err(e) = db::charts::put(db, id, records, &out.charts).await {
            tracing::error!(run = id, "could not store the chart data (drawn from the records instead): {e}");
        }
        let mut s = out.summary;
        s.model_load_time_s = load_time;
        if claimed.spec.kind.is_batch() {
            // A batch job's records have no times: its figures are the job's (issue 14).
            match db::jobs::get(db, id).await {
                Ok(Some(stored)) => {
                    app::domain::batch::apply_job(&mut s, &stored.job);
                    return Some(s);
                }
                Ok(None) => tracing::error!(run = id, "a batch run without its job: summarized as records only"),
                Err(e) => tracing::error!(run = id, "could not read the batch job: {e}"),
            }
        }
        let series = db::metrics::for_run(db, id).await.unwrap_or_default();
        let generation: Vec<f64> = series.iter().filter_map(|m| m.generation_tokens_total).collect();
        s.integrity = Some(assess(&IntegrityInput {
            facts: &out.facts,
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
        Some(s)
    }
}
