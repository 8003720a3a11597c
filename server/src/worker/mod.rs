//! The run worker: claims queued runs from the database under leases (one measured run per GPU
//! at a time, runs on different GPUs in parallel), checks the endpoint, drives the requests,
//! stores every record as it goes, and closes the run with its summary; on shutdown it drains.

mod close;
mod conditions;
pub mod cpu;
mod drive;
mod execute;
pub mod launcher;
mod lease;
mod offline;
mod preflight;
mod progress;
mod provider_batch;
mod queue;
mod spend;
mod sweep_auto;

pub use execute::{RunError, Worker};
pub use lease::{host_name, AfterDrain, Halt, LeaseSettings, Leases, Shutdown};
pub use preflight::PreflightPolicy;
