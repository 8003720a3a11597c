//! The `bakeoff` server: CLI, HTTP (pages, REST, live events), the run worker, the vLLM client
//! and the built-in vLLM simulator.

pub mod assets;
pub mod auth;
pub mod builtin_sim;
pub mod chunk;
pub mod cli;
pub mod client;
pub mod cpu;
pub mod demo;
pub mod download;
pub mod events;
pub mod headless;
pub mod health;
pub mod http1;
pub mod launcher;
pub mod probe;
pub mod rest;
pub mod serve;
pub mod sim;
pub mod site;
pub mod sse;
pub mod upload;
pub mod worker;
