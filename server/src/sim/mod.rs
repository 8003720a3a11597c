//! The built-in vLLM simulator: the OpenAI-compatible API that vLLM serves (`/health`,
//! `/v1/models`, `/v1/chat/completions`, `/v1/completions`, streaming or not, with `usage`, and
//! `/metrics`, `/version`), seeded and deterministic, with a capacity limit past which it
//! saturates (queueing; optionally a tokens/s budget), a prefix cache (repeated prompts answer
//! sooner) and injected faults. Everything it
//! produces is labelled "simulated" by Bakeoff.

pub mod answer;
mod batch;
pub mod builtin;
pub mod faults;
pub mod prefix;
mod reply;
mod server;
mod state;
#[cfg(test)]
mod tests;

pub use server::{router, start, SimHandle};
pub use state::{
    prompt_key, unix_us, Emitted, PrefixCacheConfig, ReasoningField, ReasoningMode, Sim, SimConfig, SimStats, BLOCK_TOKENS, DEFAULT_MODELS,
    OWNER,
};
