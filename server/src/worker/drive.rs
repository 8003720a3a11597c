//! The one request loop: releases planned requests by the run's load shape (a concurrency bound,
//! and optionally Poisson arrivals), measures each, and hands records to a writer that stores
//! them in small transactions.

use super::lease::{halted, Halt};
use super::progress::Tracker;
use super::spend::SpendMeter;
use super::{RunError, Worker};
use crate::client::{prepare_body, Measured};
use app::db;
use app::domain::dataset::DatasetItem;
use app::domain::record::RequestRecord;
use app::domain::schedule::{Planned, PoissonArrivals};
use app::domain::spec::RunSpec;
use app::domain::spend::{counted_usage, estimate_prompt_tokens, Admit};
use app::domain::status::RunStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

/// Why the loop stopped sending.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stop {
    Finished,
    Cancelled,
    /// The run's maximum duration passed (requests in flight were allowed to finish).
    Deadline,
    /// The process is shutting down: no more were sent, those in flight finished (or were
    /// aborted at the drain timeout, and not stored).
    Drained,
    /// Another worker took the run over: everything in flight was aborted.
    LeaseLost,
    /// The endpoint's spend cap was reached: the next request (which could have cost up to
    /// `next`) did not fit under it.
    SpendCap {
        next: Option<f64>,
    },
}

impl From<Halt> for Stop {
    fn from(h: Halt) -> Stop {
        match h {
            Halt::Drain => Stop::Drained,
            Halt::LeaseLost => Stop::LeaseLost,
        }
    }
}

pub struct Context<'a> {
    pub worker: &'a Worker,
    pub run_id: i64,
    pub base_url: &'a str,
    pub spec: &'a RunSpec,
    pub items: &'a [DatasetItem],
    /// This process's time zero for the run.
    pub origin: Instant,
    /// Where this process's time line starts on the run's (after a resume: the last stored finish).
    pub base: Duration,
    pub tracker: &'a Tracker,
    /// Shutdown (drain) and lease loss.
    pub halt: watch::Receiver<Option<Halt>>,
    /// How long requests in flight may take to finish on a drain.
    pub drain_timeout: Duration,
    /// What the run spends, on an endpoint priced per token (stops it at the endpoint's cap).
    pub spend: Option<Arc<SpendMeter>>,
}

const FLUSH_EVERY: Duration = Duration::from_millis(100);
const FLUSH_AT: usize = 64;
/// At most this many records in one transaction (the database stays free for other writers).
const MAX_BATCH: usize = 2_000;
const BROADCAST_EVERY: Duration = Duration::from_millis(250);
const CANCEL_POLL: Duration = Duration::from_millis(300);

/// Send the planned requests (made one at a time: a run of any size is never held in memory).
pub async fn drive(ctx: &Context<'_>, planned: impl Iterator<Item = Planned> + Send) -> Result<Stop, RunError> {
    let mut planned = planned.peekable();
    if planned.peek().is_none() {
        return Ok(Stop::Finished);
    }
    let db = ctx.worker.state.db.clone();
    let (cancel_tx, mut cancelled) = watch::channel(false);
    let watcher = {
        let db = db.clone();
        let run_id = ctx.run_id;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(CANCEL_POLL).await;
                if db::runs::cancel_requested(&db, run_id).await.unwrap_or(false) {
                    let _ = cancel_tx.send(true);
                    return;
                }
            }
        })
    };
    let (tx, rx) = mpsc::unbounded_channel::<RequestRecord>();
    let writer = write_records(ctx, rx);
    let dispatch = dispatch(ctx, planned, tx, &mut cancelled);
    let (stop, written) = tokio::join!(dispatch, writer);
    watcher.abort();
    written?;
    Ok(stop)
}

/// Release requests by the schedule; returns when all released requests have finished (or were
/// abandoned on cancel).
async fn dispatch(
    ctx: &Context<'_>,
    planned: std::iter::Peekable<impl Iterator<Item = Planned> + Send>,
    tx: mpsc::UnboundedSender<RequestRecord>,
    cancelled: &mut watch::Receiver<bool>,
) -> Stop {
    let spec = ctx.spec;
    let phase_start = Instant::now();
    let mut planned = planned;
    let first_idx = planned.peek().map(|p| p.idx).unwrap_or(0);
    let mut arrivals = spec.load.rate.map(|r| PoissonArrivals::new(r, spec.seed ^ u64::from(first_idx)));
    let deadline = spec.max_duration.map(|d| ctx.origin + d);
    let permits = Arc::new(Semaphore::new(spec.load.concurrency.max(1) as usize));
    let mut halt = ctx.halt.clone();
    let mut tasks = JoinSet::new();
    let mut stop = Stop::Finished;
    'send: for req in planned {
        if let Some(h) = *halt.borrow() {
            stop = h.into();
            break;
        }
        let scheduled = arrivals.as_mut().and_then(|a| a.next()).map(|at| phase_start + at);
        if let Some(at) = scheduled {
            if deadline.is_some_and(|d| at > d) {
                stop = Stop::Deadline;
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(at.into()) => {}
                _ = cancelled.changed() => { stop = Stop::Cancelled; break; }
                h = halted(&mut halt, None) => { stop = h.into(); break; }
            }
        }
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = cancelled.changed() => { stop = Stop::Cancelled; break; }
            h = halted(&mut halt, None) => { stop = h.into(); break; }
        };
        if *cancelled.borrow() {
            stop = Stop::Cancelled;
            break;
        }
        if let Some(h) = *halt.borrow() {
            stop = h.into();
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            stop = Stop::Deadline;
            break;
        }
        let item = &ctx.items[req.item];
        // On a capped endpoint: sent only if its worst case fits under the cap beside those in
        // flight (else wait for them to be counted; with none in flight, the cap is reached).
        let mut held = None;
        if let Some(s) = &ctx.spend {
            let worst = s.worst_case(item, spec.sampling.max_tokens);
            loop {
                match s.admit(&ctx.worker.state.db, worst).await {
                    Ok(Admit::Send) => break,
                    Ok(Admit::Stop) => {
                        stop = Stop::SpendCap { next: Some(worst) };
                        break 'send;
                    }
                    Ok(Admit::Wait) => tokio::select! {
                        _ = s.counted() => {}
                        _ = cancelled.changed() => { stop = Stop::Cancelled; break 'send; }
                        h = halted(&mut halt, None) => { stop = h.into(); break 'send; }
                    },
                    // The reservation could not be asked for (the database busy or away): nothing
                    // is sent past it; ask again in a second.
                    Err(e) => {
                        tracing::warn!(run = ctx.run_id, "could not ask for room under the spend cap: {e}");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                            _ = cancelled.changed() => { stop = Stop::Cancelled; break 'send; }
                            h = halted(&mut halt, None) => { stop = h.into(); break 'send; }
                        }
                    }
                }
            }
            held = Some((s.clone(), worst, estimate_prompt_tokens(&item.body)));
        }
        let url = format!("{}{}", ctx.base_url, item.url);
        let body = prepare_body(item, &spec.model, &spec.sampling);
        let client = ctx.worker.client.clone();
        let timeout = spec.request_timeout;
        let tx = tx.clone();
        let (origin, base) = (ctx.origin, ctx.base);
        tasks.spawn(async move {
            let m = client.send(&url, body, timeout).await;
            if let Some((s, worst, prompt_estimate)) = held {
                let text = m.response.len() + m.reasoning.as_ref().map_or(0, |r| r.text.len());
                let (p, c) = counted_usage(
                    m.prompt_tokens.map(|t| t.0),
                    m.completion_tokens.map(|t| t.0),
                    prompt_estimate,
                    m.http_status.is_some_and(|c| (200..300).contains(&c)),
                    m.content_chunks,
                    text,
                );
                s.add(worst, p, c);
            }
            drop(permit);
            let _ = tx.send(to_record(m, req, origin, base, scheduled));
        });
        // Reap finished tasks as we go so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    drop(tx);
    // Requests in flight: aborted on cancel or a lost lease (an aborted request stores nothing);
    // on a drain, given until the drain timeout to finish. `seen` is the strongest halt handled
    // so far; once everything is aborted (cancel counts as the strongest) nothing more is heard.
    let mut seen = match stop {
        Stop::Cancelled | Stop::LeaseLost => {
            tasks.abort_all();
            Some(Halt::LeaseLost)
        }
        Stop::Drained => Some(Halt::Drain),
        Stop::Finished | Stop::Deadline | Stop::SpendCap { .. } => None,
    };
    let mut drain_until = (stop == Stop::Drained).then(|| Instant::now() + ctx.drain_timeout);
    loop {
        tokio::select! {
            next = tasks.join_next() => if next.is_none() { break },
            _ = cancelled.changed(), if seen < Some(Halt::LeaseLost) => {
                stop = Stop::Cancelled;
                seen = Some(Halt::LeaseLost);
                tasks.abort_all();
            }
            h = halted(&mut halt, seen), if seen < Some(Halt::LeaseLost) => {
                seen = Some(h);
                if h == Halt::LeaseLost {
                    stop = Stop::LeaseLost;
                    tasks.abort_all();
                } else {
                    // Sending was over already: if all in flight finish in time, the run is complete.
                    drain_until = Some(Instant::now() + ctx.drain_timeout);
                }
            }
            _ = tokio::time::sleep_until(drain_until.unwrap_or_else(Instant::now).into()), if drain_until.is_some() => {
                tracing::warn!(run = ctx.run_id, "drain timeout: aborting {} request(s) still in flight (not stored; sent again on resume)", tasks.len());
                drain_until = None;
                stop = Stop::Drained;
                tasks.abort_all();
            }
        }
    }
    stop
}

/// Place a measurement on the run's time line.
fn to_record(m: Measured, req: Planned, origin: Instant, base: Duration, scheduled: Option<Instant>) -> RequestRecord {
    RequestRecord {
        idx: req.idx,
        custom_id: req.custom_id,
        warmup: req.warmup,
        outcome: m.outcome,
        http_status: m.http_status,
        error: m.error,
        finish_reason: m.finish_reason,
        prompt_tokens: m.prompt_tokens,
        completion_tokens: m.completion_tokens,
        scheduled: scheduled.map(|s| base + s.saturating_duration_since(origin)),
        sent: base + m.sent.saturating_duration_since(origin),
        ttft: m.ttft,
        e2e: m.e2e,
        content_chunks: m.content_chunks,
        itl: m.itl,
        response: m.response,
        reasoning: m.reasoning,
    }
}

/// Store records in small transactions as they arrive, and keep the progress broadcast going.
async fn write_records(ctx: &Context<'_>, mut rx: mpsc::UnboundedReceiver<RequestRecord>) -> Result<(), RunError> {
    let db = &ctx.worker.state.db;
    let mut buf: Vec<RequestRecord> = Vec::with_capacity(FLUSH_AT);
    let mut flush_tick = tokio::time::interval(FLUSH_EVERY);
    let mut last_broadcast = Instant::now();
    loop {
        tokio::select! {
            rec = rx.recv() => match rec {
                Some(r) => {
                    ctx.tracker.record(r.outcome.answered(), r.completion_tokens.map(|t| t.0).unwrap_or(0));
                    buf.push(r);
                    // Whatever else has arrived goes in the same transaction: when the client
                    // outpaces the writes, batches grow and the writes keep up.
                    while buf.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(r) => {
                                ctx.tracker.record(r.outcome.answered(), r.completion_tokens.map(|t| t.0).unwrap_or(0));
                                buf.push(r);
                            }
                            Err(_) => break,
                        }
                    }
                    if buf.len() >= FLUSH_AT {
                        db::records::insert_batch(db, ctx.run_id, &buf).await?;
                        buf.clear();
                    }
                }
                None => break,
            },
            _ = flush_tick.tick() => {
                if !buf.is_empty() {
                    db::records::insert_batch(db, ctx.run_id, &buf).await?;
                    buf.clear();
                }
            }
        }
        if last_broadcast.elapsed() >= BROADCAST_EVERY {
            ctx.tracker.broadcast(RunStatus::Running);
            // What the run spent, for the endpoint page and for other runs on the endpoint.
            if let Some(s) = &ctx.spend {
                s.store(db).await;
            }
            last_broadcast = Instant::now();
        }
    }
    db::records::insert_batch(db, ctx.run_id, &buf).await?;
    // Every request has finished or was abandoned: what the run held for them goes back.
    if let Some(s) = &ctx.spend {
        s.release(db).await;
    }
    ctx.tracker.broadcast(RunStatus::Running);
    Ok(())
}
