//! Pure types and math: no IO, compiled for the server and for the browser (wasm).

pub mod candidates;
pub mod cost;
pub mod dataset;
pub mod definitions;
pub mod errors;
pub mod export;
pub mod format;
pub mod hybrid;
pub mod integrity;
pub mod metrics;
pub mod progress;
pub mod quality;
pub mod record;
pub mod rng;
pub mod schedule;
pub mod series;
pub mod spec;
pub mod stats;
pub mod status;
pub mod summary;
pub mod url;
