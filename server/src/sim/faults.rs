//! Faults the simulator can inject, each at its own rate, so tests can check that every one is
//! counted in its outcome class and that a run survives them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// HTTP 500 with an error body, before any streaming.
    Http500,
    /// HTTP 429 (rate limited / queue full), before any streaming.
    Http429,
    /// The stream stops sending mid-way (the client's timeout must catch it).
    Stall,
    /// The connection is closed mid-stream.
    Drop,
    /// A frame that is not JSON, mid-stream.
    Malformed,
    /// An `{"error": ...}` frame mid-stream, then `[DONE]`.
    ErrorFrame,
}

impl Fault {
    pub const ALL: [Fault; 6] = [
        Fault::Http500,
        Fault::Http429,
        Fault::Stall,
        Fault::Drop,
        Fault::Malformed,
        Fault::ErrorFrame,
    ];
    pub fn index(self) -> usize {
        Fault::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }
    pub fn name(self) -> &'static str {
        match self {
            Fault::Http500 => "http_500",
            Fault::Http429 => "http_429",
            Fault::Stall => "stall",
            Fault::Drop => "drop",
            Fault::Malformed => "malformed",
            Fault::ErrorFrame => "error_frame",
        }
    }
}

/// Probability of each fault per request (they are exclusive; the sum must stay <= 1).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultRates {
    pub http_500: f64,
    pub http_429: f64,
    pub stall: f64,
    pub drop: f64,
    pub malformed: f64,
    pub error_frame: f64,
    /// Error bodies in the old flat vLLM shape (`{"object": "error", "message"}`) instead of
    /// the nested one (`{"error": {"message"}}`).
    pub flat_errors: bool,
    /// How long a stalled stream stays silent.
    pub stall_for: Duration,
}

impl FaultRates {
    fn rate(&self, f: Fault) -> f64 {
        match f {
            Fault::Http500 => self.http_500,
            Fault::Http429 => self.http_429,
            Fault::Stall => self.stall,
            Fault::Drop => self.drop,
            Fault::Malformed => self.malformed,
            Fault::ErrorFrame => self.error_frame,
        }
    }

    pub fn total(&self) -> f64 {
        Fault::ALL.iter().map(|f| self.rate(*f)).sum()
    }

    /// The fault for a uniform draw `u` in [0, 1), or none.
    pub fn pick(&self, u: f64) -> Option<Fault> {
        let mut acc = 0.0;
        for f in Fault::ALL {
            acc += self.rate(f);
            if u < acc {
                return Some(f);
            }
        }
        None
    }
}

/// How many of each fault were injected.
#[derive(Default, Debug)]
pub struct FaultCounts([AtomicU64; 6]);

impl FaultCounts {
    pub fn add(&self, f: Fault) {
        self.0[f.index()].fetch_add(1, Ordering::Relaxed);
    }
    pub fn get(&self, f: Fault) -> u64 {
        self.0[f.index()].load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_fall_into_cumulative_bands() {
        let r = FaultRates {
            http_500: 0.1,
            drop: 0.2,
            ..Default::default()
        };
        assert_eq!(r.pick(0.05), Some(Fault::Http500));
        assert_eq!(r.pick(0.15), Some(Fault::Drop));
        assert_eq!(r.pick(0.35), None);
        assert!((r.total() - 0.3).abs() < 1e-12);
    }
}
