//! The built-in vLLM simulator: the OpenAI-compatible API that vLLM serves (`/health`,
//! `/v1/models`, `/v1/chat/completions`, `/v1/completions`, streaming or not, with `usage`, and
//! `/metrics`), seeded and deterministic, with a capacity limit and injected faults. Everything it
//! produces is labelled "simulated" by Bakeoff.

pub mod answer;
pub mod faults;
mod reply;
mod server;

pub use server::{
    prompt_key, router, start, unix_us, Emitted, ReasoningField, ReasoningMode, Sim, SimConfig, SimHandle, SimStats, DEFAULT_MODELS, OWNER,
};
