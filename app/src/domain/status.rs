//! The states a run goes through and the ways a request can end.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a run is in its life. The database is the queue: the worker claims the oldest `Queued`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
    Interrupted,
    /// Not measured here: brought in from another tool's files.
    Imported,
}

impl RunStatus {
    pub fn is_finished(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }
    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Imported => "imported",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// How one request ended. Every class is counted apart; none is dropped from the totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A complete answer (`finish_reason` other than `length`).
    Ok,
    /// The answer stopped at `max_tokens` (`finish_reason = length`).
    Truncated,
    /// The server answered with a non-2xx status (kept in `http_status`).
    HttpError,
    /// No complete answer within the request timeout.
    Timeout,
    /// Could not connect, or the connection dropped before the stream ended.
    ConnectionError,
    /// The stream broke its protocol: a malformed frame, or an error frame mid-stream.
    StreamError,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::Truncated,
        Outcome::HttpError,
        Outcome::Timeout,
        Outcome::ConnectionError,
        Outcome::StreamError,
    ];
    /// The server produced an answer (complete or cut at `max_tokens`).
    pub fn answered(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Truncated)
    }
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Truncated => "truncated",
            Outcome::HttpError => "http_error",
            Outcome::Timeout => "timeout",
            Outcome::ConnectionError => "connection_error",
            Outcome::StreamError => "stream_error",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

crate::sql_text!(RunStatus);

crate::sql_text!(Outcome);
