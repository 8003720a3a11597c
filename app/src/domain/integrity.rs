//! Measurement integrity: was the client, not the server, the limit? A benchmark whose client
//! could not keep up measures the client. Bakeoff checks and says so on the run and in exports.

use super::record::RequestRecord;
use super::stats::Distribution;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Thresholds, each with why.
/// More dispatch lag than this at p99 means requests left late: the schedule was not kept.
pub const MAX_DISPATCH_LAG_P99_MS: f64 = 50.0;
/// Achieved below this fraction of the target rate (while concurrency was not the cap).
pub const MIN_RATE_FRACTION: f64 = 0.9;
/// Client CPU above this fraction of the machine's cores: the client competed for CPU.
pub const MAX_CLIENT_CPU_FRACTION: f64 = 0.85;
/// Server and client token counts further apart than this are worth a look.
pub const MAX_TOKEN_MISMATCH: f64 = 0.02;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Integrity {
    /// Actual send time - scheduled send time, ms (rate-based runs only).
    pub dispatch_lag_ms: Option<Distribution>,
    pub target_rate: Option<f64>,
    pub achieved_rate: Option<f64>,
    /// CPU seconds the client process used during the run, and as a fraction of wall x cores.
    pub client_cpu_s: Option<f64>,
    pub client_cpu_fraction: Option<f64>,
    /// Completion tokens by the client's count (usage, all records) and by the server's counter.
    pub client_tokens: u64,
    pub server_tokens: Option<f64>,
    pub token_mismatch: Option<f64>,
    /// Why the client may have been the bottleneck (empty: it was not).
    pub client_bottleneck: Vec<String>,
    pub warnings: Vec<String>,
}

/// What the integrity checks need from a run's records, gathered one record at a time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScheduleFacts {
    /// Actual send - scheduled send (ms) of each measured request that had a schedule.
    pub dispatch_lags_ms: Vec<f64>,
    pub measured: u64,
    pub first_sent: Option<Duration>,
    pub last_sent: Option<Duration>,
    /// Completion tokens by the client's count (usage), warm-up included.
    pub client_tokens: u64,
}

impl ScheduleFacts {
    pub fn of(records: &[RequestRecord]) -> ScheduleFacts {
        let mut f = ScheduleFacts::default();
        for r in records {
            f.add(r);
        }
        f
    }

    pub fn add(&mut self, r: &RequestRecord) {
        self.client_tokens += r.completion_tokens.map(|t| t.0).unwrap_or(0);
        if r.warmup {
            return;
        }
        self.measured += 1;
        if let Some(s) = r.scheduled {
            self.dispatch_lags_ms.push((r.sent.as_secs_f64() - s.as_secs_f64()) * 1e3);
        }
        self.first_sent = Some(self.first_sent.map_or(r.sent, |f| f.min(r.sent)));
        self.last_sent = Some(self.last_sent.map_or(r.sent, |l| l.max(r.sent)));
    }
}

pub struct IntegrityInput<'a> {
    pub facts: &'a ScheduleFacts,
    pub target_rate: Option<f64>,
    pub concurrency: u32,
    pub wall_time_s: f64,
    pub client_cpu_s: Option<f64>,
    pub cores: usize,
    /// Generation-token counter of the server at the start and end of the run.
    pub server_generation: Option<(f64, f64)>,
}

pub fn assess(i: &IntegrityInput) -> Integrity {
    let f = i.facts;
    let dispatch_lag_ms = Distribution::of(&f.dispatch_lags_ms);
    let achieved_rate = (i.target_rate.is_some() && i.wall_time_s > 0.0).then(|| match (f.first_sent, f.last_sent) {
        (Some(a), Some(b)) if b > a && f.measured > 1 => (f.measured - 1) as f64 / (b - a).as_secs_f64(),
        _ => 0.0,
    });
    let client_cpu_fraction = i
        .client_cpu_s
        .filter(|_| i.wall_time_s > 0.0)
        .map(|c| c / (i.wall_time_s * i.cores.max(1) as f64));
    let client_tokens = f.client_tokens;
    let server_tokens = i.server_generation.map(|(a, b)| b - a);
    let token_mismatch = server_tokens.filter(|s| *s > 0.0).map(|s| (client_tokens as f64 - s).abs() / s);

    let mut bottleneck = Vec::new();
    if let Some(l) = &dispatch_lag_ms {
        if l.p99 > MAX_DISPATCH_LAG_P99_MS {
            bottleneck.push(format!(
                "dispatch lag p99 {:.1} ms > {MAX_DISPATCH_LAG_P99_MS} ms: requests were sent late",
                l.p99
            ));
        }
    }
    if let (Some(target), Some(achieved)) = (i.target_rate, achieved_rate) {
        // Only the client's fault if concurrency did not cap it.
        let capped = f.measured > u64::from(i.concurrency) && i.concurrency < super::spec::MAX_CONCURRENCY;
        if achieved < target * MIN_RATE_FRACTION && !capped {
            bottleneck.push(format!("achieved {achieved:.2} req/s of the {target:.2} req/s target"));
        }
    }
    if let Some(f) = client_cpu_fraction {
        if f > MAX_CLIENT_CPU_FRACTION {
            bottleneck.push(format!("client used {:.0}% of {} cores", f * 100.0, i.cores));
        }
    }
    let mut warnings = Vec::new();
    if let Some(m) = token_mismatch {
        if m > MAX_TOKEN_MISMATCH {
            warnings.push(format!(
                "server counted {} generated tokens, the client's usage sums to {client_tokens} ({:.1}% apart)",
                server_tokens.map(|s| s.round() as u64).unwrap_or(0),
                m * 100.0
            ));
        }
    }
    Integrity {
        dispatch_lag_ms,
        target_rate: i.target_rate,
        achieved_rate,
        client_cpu_s: i.client_cpu_s,
        client_cpu_fraction,
        client_tokens,
        server_tokens,
        token_mismatch,
        client_bottleneck: bottleneck,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::record::Tokens;
    use crate::domain::status::Outcome;
    use std::time::Duration;

    fn rec(i: u32, sched_ms: u64, sent_ms: u64) -> RequestRecord {
        RequestRecord {
            idx: i,
            custom_id: format!("{i}"),
            warmup: false,
            outcome: Outcome::Ok,
            http_status: Some(200),
            error: None,
            finish_reason: None,
            prompt_tokens: Some(Tokens(1)),
            completion_tokens: Some(Tokens(10)),
            scheduled: Some(Duration::from_millis(sched_ms)),
            sent: Duration::from_millis(sent_ms),
            ttft: None,
            e2e: Duration::from_millis(10),
            content_chunks: 10,
            itl: vec![],
            response: String::new(),
            reasoning: None,
        }
    }

    fn input(facts: &ScheduleFacts) -> IntegrityInput<'_> {
        IntegrityInput {
            facts,
            target_rate: Some(10.0),
            concurrency: 10_000,
            wall_time_s: 1.0,
            client_cpu_s: Some(0.1),
            cores: 2,
            server_generation: Some((0.0, 100.0)),
        }
    }

    #[test]
    fn an_on_time_run_is_clean() {
        let rs: Vec<_> = (0..10).map(|i| rec(i, u64::from(i) * 100, u64::from(i) * 100 + 1)).collect();
        let a = assess(&input(&ScheduleFacts::of(&rs)));
        assert!(a.client_bottleneck.is_empty(), "{:?}", a.client_bottleneck);
        assert!((a.dispatch_lag_ms.expect("lag").p50 - 1.0).abs() < 1e-9);
        assert!((a.achieved_rate.expect("rate") - 10.0).abs() < 1e-9);
        assert_eq!(a.token_mismatch, Some(0.0));
    }

    #[test]
    fn late_sends_and_a_busy_client_are_flagged() {
        let rs: Vec<_> = (0..10).map(|i| rec(i, u64::from(i) * 100, u64::from(i) * 200)).collect();
        let facts = ScheduleFacts::of(&rs);
        let mut inp = input(&facts);
        inp.client_cpu_s = Some(1.9);
        let a = assess(&inp);
        assert_eq!(a.client_bottleneck.len(), 3, "{:?}", a.client_bottleneck);
    }

    #[test]
    fn a_token_mismatch_is_a_warning() {
        let rs: Vec<_> = (0..10).map(|i| rec(i, u64::from(i) * 100, u64::from(i) * 100)).collect();
        let facts = ScheduleFacts::of(&rs);
        let mut inp = input(&facts);
        inp.server_generation = Some((1000.0, 1150.0));
        let a = assess(&inp);
        assert_eq!(a.warnings.len(), 1);
        assert!(a.warnings[0].contains("150"));
    }
}
