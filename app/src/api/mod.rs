//! Server functions: thin (check the caller, validate, call db/domain, map errors).

pub mod accounts;
pub mod audit;
pub mod cost;
pub mod data_rules;
pub mod datasets;
pub mod endpoints;
pub mod error;
pub mod grading;
pub mod guard;
pub mod import;
pub mod planning;
pub mod quality;
pub mod report;
pub mod runs;
#[cfg(feature = "ssr")]
pub mod spool;
#[cfg(feature = "ssr")]
pub mod throttle;
pub mod tokens;
pub mod trash;
pub mod types;
pub mod workers;

pub use error::AppError;
