//! The data rules as the worker applies them when it takes a run: an internal-only dataset is
//! not sent to a hosted endpoint (the flag may have been set after the run was queued), and a
//! run on a priced endpoint keeps count of what it spends, so that it stops sending at the
//! endpoint's monthly cap.
//!
//! The count: each finished request's usage (prompt and completion tokens, as the endpoint
//! reported them) at the endpoint's per-token price, added before its concurrency slot is freed;
//! the request loop checks the count before it sends each next request, so at most the requests
//! already in flight (concurrency - 1) go past the cap. Other runs on the same endpoint this
//! month are read when the run starts and again each time the count is stored.

use super::RunError;
use app::api::types::EndpointView;
use app::db::{self, Db};
use app::domain::cost::PriceRow;
use app::domain::record::Tokens;
use app::domain::spend::{cap_reached, cap_stop_reason, tokens_cost};
use std::sync::Mutex;

/// Refuse the run if its dataset is internal only and its endpoint hosted.
pub async fn check_internal_only(
    db: &Db,
    endpoint: &EndpointView,
    dataset_id: i64,
    kind: app::domain::spec::RunKind,
) -> Result<(), RunError> {
    let dataset = db::datasets::get(db, dataset_id).await?;
    match app::api::data_rules::internal_only_refusal_for(endpoint, &dataset, kind) {
        Some(m) => Err(RunError::Refused(m)),
        None => Ok(()),
    }
}

/// What one run spends on its endpoint, against the endpoint's cap.
pub struct SpendMeter {
    run_id: i64,
    endpoint_id: i64,
    row: PriceRow,
    count: Mutex<Count>,
}

#[derive(Clone, Copy, Default)]
struct Count {
    /// This run, every request so far (a resumed run's earlier ones included).
    run_usd: f64,
    requests: u64,
    /// The endpoint's other runs this month.
    others_usd: f64,
    /// The endpoint's cap, read again with the other runs' spend (a cap lowered or raised while
    /// the run goes applies within a store interval).
    cap: Option<f64>,
}

impl SpendMeter {
    /// A meter for a run on `endpoint` of `model`, when the endpoint's sheet prices the model per
    /// token (`None` otherwise). A cap that cannot be counted fails the run.
    /// A provider's Batch API job is counted at the sheet's batch price; it is submitted whole,
    /// so the cap refuses its launch but cannot stop it half-way: what it spent is counted when
    /// its answers are read.
    pub async fn open(
        db: &Db,
        run_id: i64,
        endpoint: &EndpointView,
        model: &str,
        kind: app::domain::spec::RunKind,
    ) -> Result<Option<SpendMeter>, RunError> {
        let (sheet, row) = app::api::data_rules::price_for_kind(db, endpoint, model, kind).await?;
        let Some(row) = row else {
            return match endpoint.spend_cap_usd {
                Some(cap) => Err(RunError::Refused(app::domain::spend::cap_unpriced_refusal(
                    &endpoint.name,
                    cap,
                    sheet.as_deref(),
                    model,
                ))),
                None => Ok(None),
            };
        };
        db::data_rules::open_run_spend(db, run_id, endpoint.id).await?;
        let (requests, prompt, completion) = db::data_rules::stored_usage(db, run_id).await?;
        let others_usd = db::data_rules::spent_this_month(db, endpoint.id, Some(run_id)).await?;
        let meter = SpendMeter {
            run_id,
            endpoint_id: endpoint.id,
            count: Mutex::new(Count {
                run_usd: tokens_cost(prompt, completion, &row),
                requests,
                others_usd,
                cap: endpoint.spend_cap_usd,
            }),
            row,
        };
        meter.store(db).await;
        Ok(Some(meter))
    }

    fn count(&self) -> Count {
        self.count.lock().map(|c| *c).unwrap_or_else(|e| *e.into_inner())
    }

    /// A finished request's usage.
    pub fn add(&self, prompt: Option<Tokens>, completion: Option<Tokens>) {
        let usd = tokens_cost(prompt.map_or(0, |t| t.0), completion.map_or(0, |t| t.0), &self.row);
        let mut c = self.count.lock().unwrap_or_else(|e| e.into_inner());
        c.run_usd += usd;
        c.requests += 1;
    }

    /// Spent on the endpoint this month, this run included.
    pub fn spent_this_month(&self) -> f64 {
        let c = self.count();
        c.others_usd + c.run_usd
    }

    /// The cap is reached: send nothing more.
    pub fn reached(&self) -> bool {
        cap_reached(self.spent_this_month(), self.count().cap)
    }

    /// Store this run's count and read the other runs' again (errors are logged: the count in
    /// memory still stops the run).
    pub async fn store(&self, db: &Db) {
        let c = self.count();
        if let Err(e) = db::data_rules::set_run_spend(db, self.run_id, c.run_usd, c.requests).await {
            tracing::warn!(run = self.run_id, "could not store what the run spent: {e}");
        }
        match db::data_rules::spent_this_month(db, self.endpoint_id, Some(self.run_id)).await {
            Ok(others) => {
                if let Ok(mut c) = self.count.lock() {
                    c.others_usd = others;
                }
            }
            Err(e) => tracing::warn!(run = self.run_id, "could not read the endpoint's spend: {e}"),
        }
        match db::data_rules::spend_cap(db, self.endpoint_id).await {
            Ok(cap) => {
                if let Ok(mut c) = self.count.lock() {
                    c.cap = cap;
                }
            }
            Err(e) => tracing::warn!(run = self.run_id, "could not read the endpoint's spend cap: {e}"),
        }
    }
}

/// The stop reason of a run stopped at its endpoint's cap, from what was stored once its last
/// request finished; written to the audit log too.
pub async fn stopped_at_cap(db: &Db, run_id: i64, endpoint_id: i64) -> String {
    let reason = match db::endpoints::get(db, endpoint_id).await {
        Ok(e) => cap_stop_reason(&e.name, e.spend_cap_usd.unwrap_or(0.0), e.spent_this_month_usd),
        Err(e) => format!("stopped at the endpoint's spend cap ({e})"),
    };
    let worker = db::audit::Actor::named("worker");
    db::audit::record(db, &worker, "run.spend_cap_stop", &format!("run {run_id}"), &reason).await;
    reason
}
