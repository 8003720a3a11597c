//! An automatic sweep to saturation goes on here (issue 18): when one of its steps ends, the
//! next is planned from the steps measured so far (`app::domain::saturation::plan`) and queued in
//! the same sweep, for this worker or any other. A step that did not complete ends the sweep.

use super::execute::Worker;
use app::db::{self, runs::Claimed};
use app::domain::saturation::{next_step, plan, Plan};

impl Worker {
    /// After a run ended: if it is a step of an automatic sweep, queue the sweep's next step.
    pub(super) async fn continue_sweep(&self, claimed: &Claimed) {
        let Some(auto) = &claimed.spec.auto_sweep else { return };
        let db = &self.state.db;
        let id = claimed.id;
        let result: Result<Option<i64>, db::DbError> = async {
            let Some(sweep_id) = db::sweeps::sweep_of(db, id).await? else {
                return Ok(None);
            };
            let steps = db::sweeps::steps(db, sweep_id).await?;
            match plan(&steps, auto.steps) {
                Plan::Run { concurrency, rate, phase } => {
                    let first = db::runs::get_any(db, sweep_id).await?.spec.unwrap_or_else(|| claimed.spec.clone());
                    let spec = next_step(&first, concurrency, rate, phase);
                    let next = db::sweeps::add_step(db, sweep_id, &spec, claimed.simulated).await?;
                    Ok(Some(next))
                }
                Plan::Wait | Plan::Done => Ok(None),
            }
        }
        .await;
        match result {
            Ok(Some(next)) => {
                tracing::info!(run = id, "automatic sweep: next step queued as run {next}");
                self.state.wake_worker.notify_one();
            }
            Ok(None) => {}
            Err(e) => tracing::error!(run = id, "automatic sweep: could not queue the next step: {e}"),
        }
    }
}
