//! The built-in vLLM simulator: the OpenAI-compatible API that vLLM serves (`/health`,
//! `/v1/models`, `/v1/chat/completions`, `/v1/completions`, streaming or not, with `usage`, and
//! `/metrics`), seeded and deterministic, with a capacity limit and injected faults. Everything it
//! produces is labelled "simulated" by Bakeoff.

pub mod answer;
pub mod builtin;
pub mod faults;
mod reply;
mod server;
mod state;

pub use server::{router, start, SimHandle};
pub use state::{prompt_key, unix_us, Emitted, ReasoningField, ReasoningMode, Sim, SimConfig, SimStats, DEFAULT_MODELS, OWNER};
