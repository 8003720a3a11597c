//! SQLite through sqlx: one function per query. Only compiled for the server (`ssr`).

mod error;
pub mod checks;
pub mod datasets;
pub mod endpoints;
pub mod metrics;
pub mod pool;
pub mod planning;
pub mod prices;
pub mod queues;
pub mod records;
pub mod runs;
pub mod users;

pub use error::DbError;
pub use pool::{connect, Db};

#[cfg(test)]
mod tests;
