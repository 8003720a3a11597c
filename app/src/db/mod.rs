//! SQLite through sqlx: one function per query. Only compiled for the server (`ssr`).

pub mod audit;
pub mod charts;
pub mod checks;
pub mod data_rules;
pub mod datasets;
pub mod endpoints;
mod error;
pub mod jobs;
pub mod leases;
pub mod maintenance;
pub mod metrics;
pub mod planning;
pub mod pool;
pub mod prices;
pub mod progress;
pub mod queues;
pub mod records;
pub mod reviewers;
pub mod runs;
pub mod sweeps;
pub mod tokens;
pub mod trash;
pub mod users;
pub mod workers;

pub use error::DbError;
pub use pool::{connect, write_tx, Db};

#[cfg(test)]
mod tests;
