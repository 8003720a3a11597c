//! The exact definition of every figure Bakeoff shows, worded once for the UI, the REST API and
//! the exports (DESIGN.md "Definitions").

pub const WALL_TIME: &str = "first measured request sent -> last measured response finished; model load time is not included";
pub const OUTPUT_TPS: &str = "sum of completion tokens (server usage) / wall time";
pub const TOTAL_TPS: &str = "sum of prompt + completion tokens (server usage) / wall time";
pub const REQUESTS_PER_S: &str = "finished requests (any outcome) / wall time";
pub const SUCCESS_RATE: &str = "requests answered (ok or truncated at max_tokens) / measured requests";
pub const TTFT: &str = "send -> arrival of the first streamed chunk that carries a generated token of any kind: answer content, reasoning (delta.reasoning, older vLLM delta.reasoning_content) or a tool call; vLLM's first chunk, carrying only the role, does not count (see receive_time)";
pub const ANSWER_TTFT: &str = "send -> arrival of the first streamed chunk that carries answer content or a tool call, after any reasoning; the same as TTFT for models that do not reason (see receive_time)";
pub const TPOT: &str = "(E2E - TTFT) / (completion tokens - 1), per answered request: every generated token, reasoning included (the server's completion tokens count the reasoning)";
pub const ITL: &str =
    "gaps between consecutive chunks that carry generated tokens (answer, reasoning or tool call), all answered requests pooled";
pub const CHUNKS_PER_TOKEN: &str =
    "chunks that carry generated tokens (answer, reasoning or tool call) / completion tokens (1.0 = one token per chunk)";
pub const REASONING_TOKENS: &str = "tokens spent reasoning, part of the completion tokens, over the requests whose usage is known: the server's usage.completion_tokens_details.reasoning_tokens (source \"usage\"), else Bakeoff's estimate from the chunks that carried reasoning, at the tokens a chunk carried in that answer (completion tokens / chunks; one a chunk without a completion count) (source \"counted\")";
pub const E2E: &str = "send -> arrival of the last byte of the response (see receive_time)";
pub const TOKENS: &str = "from the server's usage; unknown where the server gave none";
pub const RECEIVE_TIME: &str = "when a chunk arrived: the kernel's receive time of its bytes (SO_TIMESTAMPNS, Linux), not when the client read them; elsewhere the read time";
pub const GOODPUT: &str = "requests answered within every per-request target of the run (their own TTFT, TPOT and E2E each at or under its target; TPOT of a one-token answer counts as 0, and a request without server usage cannot show a TPOT target met), and their completion tokens, / wall time: vLLM bench serve --goodput's definition, divided like throughput";
pub const SLO_AT_PERCENTILE: &str = "the run as a whole meets its targets when each metric's percentile (pNN over the answered requests, the rule below) is at or under its target";
pub const PERCENTILES: &str = "linear interpolation between closest ranks (NumPy default), over every sample";

/// (name, definition) pairs, for the REST summary and exports.
pub fn all() -> Vec<(&'static str, &'static str)> {
    vec![
        ("wall_time", WALL_TIME),
        ("output_tokens_per_s", OUTPUT_TPS),
        ("total_tokens_per_s", TOTAL_TPS),
        ("requests_per_s", REQUESTS_PER_S),
        ("success_rate", SUCCESS_RATE),
        ("ttft", TTFT),
        ("answer_ttft", ANSWER_TTFT),
        ("tpot", TPOT),
        ("itl", ITL),
        ("chunks_per_token", CHUNKS_PER_TOKEN),
        ("e2e", E2E),
        ("tokens", TOKENS),
        ("reasoning_tokens", REASONING_TOKENS),
        ("receive_time", RECEIVE_TIME),
        ("goodput", GOODPUT),
        ("slo_at_percentile", SLO_AT_PERCENTILE),
        ("percentiles", PERCENTILES),
    ]
}
