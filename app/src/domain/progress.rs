//! Live progress of a run, as broadcast to `/api/runs/{id}/events`.

use super::status::RunStatus;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub run_id: i64,
    pub status: RunStatus,
    /// Requests finished (any outcome), warm-up included.
    pub done: u64,
    pub total: u64,
    /// Finished requests that did not get an answer.
    pub errors: u64,
    pub elapsed_s: f64,
    /// Output tokens per second over the last few seconds.
    pub tokens_per_s: f64,
    /// Seconds left at the current pace; `None` before the first request finishes.
    pub eta_s: Option<f64>,
    /// What is happening when it is not sending (pre-flight, a failure).
    pub message: Option<String>,
}

impl Progress {
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            (self.done as f64 / self.total as f64 * 100.0).clamp(0.0, 100.0)
        }
    }
}

/// Time left if the remaining requests go at the pace of the finished ones.
pub fn eta_seconds(done: u64, total: u64, elapsed_s: f64) -> Option<f64> {
    if done == 0 || elapsed_s <= 0.0 {
        return None;
    }
    Some(total.saturating_sub(done) as f64 * elapsed_s / done as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_is_proportional_to_what_is_left() {
        assert_eq!(eta_seconds(50, 200, 10.0), Some(30.0));
        assert_eq!(eta_seconds(0, 200, 10.0), None);
        assert_eq!(eta_seconds(200, 200, 10.0), Some(0.0));
    }
}
