//! The `bakeoff` server, in rooms that match its parts:
//! - `client`: the measured HTTP client (HTTP/1.1 reader, SSE, chunk scanner, TLS, checks, probes);
//! - `web`: the router, pages and REST, log-in, live events, uploads, downloads, static files;
//! - `worker`: the run worker (leases, request loop, summaries) and the model-server launcher;
//! - `sim`: the built-in vLLM simulator;
//! - `cli`: the command line (`serve`, `run`, `import`, `report`, `user`, ...).
//!
//! The old flat paths (`server::serve`, `server::chunk`, ...) stay as aliases.

pub mod cli;
pub mod client;
pub mod sim;
pub mod web;
pub mod worker;

pub use cli::{demo, headless};
pub use client::{chunk, http1, probe, sse};
pub use sim::builtin as builtin_sim;
pub use web::{assets, auth, download, events, health, rest, serve, site, upload};
pub use worker::{cpu, launcher};
