//! The data rules as the worker applies them when it takes a run: an internal-only dataset is
//! not sent to a hosted endpoint (the flag may have been set after the run was queued), and a
//! run on a priced endpoint keeps count of what it spends, so that it stops sending at the
//! endpoint's monthly cap.
//!
//! The count: each finished request's usage (prompt and completion tokens, as the endpoint
//! reported them, estimated where it reported none) at the endpoint's per-token price. Before
//! each request the loop asks `admit`: the request is sent only if its worst case (estimated
//! prompt + max tokens) fits in the run's reservation beside what was spent and the worst case
//! of the requests in flight. When it does not, the meter asks the database for a larger
//! reservation (`db::data_rules::reserve_spend`: a few requests' worth more, granted against the
//! cap, the other runs' spend and the running ones' reservations, in one write transaction), so
//! runs on one capped endpoint, in one process or many, never pass the cap together. Refused,
//! the loop waits for the requests in flight to finish and asks again; with none in flight the
//! run stops. A cap changed while the run goes applies from its next ask.

use super::RunError;
use app::api::types::EndpointView;
use app::db::{self, Db};
use app::domain::cost::PriceRow;
use app::domain::dataset::DatasetItem;
use app::domain::record::Tokens;
use app::domain::spend::{admit, cap_stop_reason, request_worst_case, tokens_cost, Admit};

/// How many more requests' worst cases a run asks for when its reservation runs out: few on a
/// capped endpoint, so a run holds little that another run on the endpoint could use (the
/// database is asked about once every four requests); more where there is no cap (nothing to
/// hold back; a cap set meanwhile applies within that many requests).
const ASK_AHEAD: f64 = 4.0;
const ASK_AHEAD_UNCAPPED: f64 = 64.0;
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
    /// What the database granted this run (spent and in flight together may reach it).
    reserved_usd: f64,
    /// The endpoint had no cap at the last ask.
    uncapped: bool,
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
        let meter = SpendMeter {
            run_id,
            endpoint_id: endpoint.id,
            count: Mutex::new(Count {
                run_usd: tokens_cost(prompt, completion, &row),
                requests,
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
    /// `add` counts it. Within the run's reservation the answer needs no database; past it, the
    /// meter asks for more (`Wait`: not now, requests are in flight; `Stop`: the cap is reached).
    pub async fn admit(&self, db: &Db, worst: f64) -> Result<Admit, RunError> {
        if self.hold(worst) {
            return Ok(Admit::Send);
        }
        let c = self.count();
        let at_least = c.run_usd + c.held_usd + worst;
        let ahead = if c.uncapped { ASK_AHEAD_UNCAPPED } else { ASK_AHEAD };
        let asked = db::data_rules::reserve_spend(db, self.run_id, self.endpoint_id, at_least, at_least + ahead * worst).await?;
        if let Ok(mut c) = self.count.lock() {
            c.uncapped = asked.cap.is_none();
        }
        if let Some(granted) = asked.granted {
            if let Ok(mut c) = self.count.lock() {
                c.reserved_usd = c.reserved_usd.max(granted);
            }
            if self.hold(worst) {
                return Ok(Admit::Send);
            }
        }
        Ok(if self.count().in_flight > 0 { Admit::Wait } else { Admit::Stop })
    }

    /// Hold `worst` if it fits in the reservation.
    fn hold(&self, worst: f64) -> bool {
        let mut c = self.count.lock().unwrap_or_else(|e| e.into_inner());
        let fits = admit(c.run_usd, c.held_usd, c.in_flight, worst, Some(c.reserved_usd)) == Admit::Send;
        if fits {
            c.held_usd += worst;
            c.in_flight += 1;
        }
        fits
    }

    /// The run stopped sending: it holds nothing beyond what it spent.
    pub async fn release(&self, db: &Db) {
        self.store(db).await;
        if let Ok(mut c) = self.count.lock() {
            c.reserved_usd = 0.0;
        }
        if let Err(e) = db::data_rules::release_spend(db, self.run_id).await {
            tracing::warn!(run = self.run_id, "could not release the run's spend reservation: {e}");
        }
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

    /// Store this run's count, for the endpoint page and the other runs' reservations (errors
    /// are logged: the reservation still bounds the run).
    pub async fn store(&self, db: &Db) {
        let c = self.count();
        if let Err(e) = db::data_rules::set_run_spend(db, self.run_id, c.run_usd, c.requests).await {
            tracing::warn!(run = self.run_id, "could not store what the run spent: {e}");
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
