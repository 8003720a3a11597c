//! The run worker: takes queued runs from the database one at a time, checks the endpoint,
//! drives the requests, stores every record as it goes, and closes the run with its summary.

mod drive;
mod execute;
mod preflight;
mod progress;

pub use execute::{RunError, Worker};
pub use preflight::PreflightPolicy;
