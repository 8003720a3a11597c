//! The data rules as the worker applies them when it takes a run: an internal-only dataset is
//! not sent to a hosted endpoint (the flag may have been set after the run was queued), and a
//! run on a priced endpoint keeps count of what it spends, so that it stops sending at the
//! endpoint's monthly cap.
//!
//! The count: each finished request's usage (prompt and completion tokens, as the endpoint
//! reported them, estimated where it reported none) at the endpoint's per-token price. Before
//! each request the loop asks `admit`: the request is sent only if its worst case (estimated
//! prompt + max tokens) fits under the cap beside what was spent and the worst case of the
//! requests in flight; if not, the loop waits for those in flight to finish and asks again, and
//! with none in flight the run stops. Other runs on the same endpoint this month are read when
//! the run starts and again each time the count is stored.

use super::RunError;
use app::api::types::EndpointView;
use app::db::{self, Db};
use app::domain::cost::PriceRow;
use app::domain::dataset::DatasetItem;
use app::domain::record::Tokens;
use app::domain::spend::{admit, cap_stop_reason, request_worst_case, tokens_cost, Admit};
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
    /// Woken each time a request is counted (a waiting request asks again).
    counted: tokio::sync::Notify,
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
    /// The worst case of the requests in flight, and how many there are.
    held_usd: f64,
    in_flight: u32,
    /// The longest answer so far, in tokens (the worst case of a request without max tokens).
    longest: u64,
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
                ..Count::default()
            }),
            counted: tokio::sync::Notify::new(),
            row,
        };
        meter.store(db).await;
        Ok(Some(meter))
    }

    fn count(&self) -> Count {
        self.count.lock().map(|c| *c).unwrap_or_else(|e| *e.into_inner())
    }

    /// The most `item` may cost, sent with the run's `max_tokens`.
    pub fn worst_case(&self, item: &DatasetItem, max_tokens: Option<u32>) -> f64 {
        request_worst_case(item, max_tokens, self.count().longest, &self.row)
    }

    /// May a request costing at most `worst` be sent now? On `Send` its worst case is held until
    /// `add` counts it.
    pub fn admit(&self, worst: f64) -> Admit {
        let mut c = self.count.lock().unwrap_or_else(|e| e.into_inner());
        let verdict = admit(c.others_usd + c.run_usd, c.held_usd, c.in_flight, worst, c.cap);
        if verdict == Admit::Send {
            c.held_usd += worst;
            c.in_flight += 1;
        }
        verdict
    }

    /// Until the next request is counted.
    pub async fn counted(&self) {
        self.counted.notified().await
    }

    /// A finished request, sent with `held` held for it, counted at `prompt` and `completion`
    /// tokens (`domain::spend::counted_usage`).
    pub fn add(&self, held: f64, prompt: u64, completion: u64) {
        self.count_usage(prompt, completion, |c| {
            c.held_usd = (c.held_usd - held).max(0.0);
            c.in_flight = c.in_flight.saturating_sub(1);
        });
    }

    /// A provider batch's answered line, at the usage it reports (nothing was held for it: a
    /// batch is bounded as a whole before it is submitted).
    pub fn add_batch_line(&self, prompt: Option<Tokens>, completion: Option<Tokens>) {
        self.count_usage(prompt.map_or(0, |t| t.0), completion.map_or(0, |t| t.0), |_| {});
    }

    fn count_usage(&self, prompt: u64, completion: u64, release: impl FnOnce(&mut Count)) {
        let usd = tokens_cost(prompt, completion, &self.row);
        {
            let mut c = self.count.lock().unwrap_or_else(|e| e.into_inner());
            c.run_usd += usd;
            c.requests += 1;
            c.longest = c.longest.max(completion);
            release(&mut c);
        }
        self.counted.notify_one();
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
pub async fn stopped_at_cap(db: &Db, run_id: i64, endpoint_id: i64, next: Option<f64>) -> String {
    let reason = match db::endpoints::get(db, endpoint_id).await {
        Ok(e) => cap_stop_reason(&e.name, e.spend_cap_usd.unwrap_or(0.0), e.spent_this_month_usd, next),
        Err(e) => format!("stopped at the endpoint's spend cap ({e})"),
    };
    let worker = db::audit::Actor::named("worker");
    db::audit::record(db, &worker, "run.spend_cap_stop", &format!("run {run_id}"), &reason).await;
    reason
}
