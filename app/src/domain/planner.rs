//! GPU memory planner for vLLM: will a model fit a card, with how much KV cache, and which
//! settings make it fit. Pure functions, so the page recomputes as you type.
//!
//! vLLM sizes the KV cache as what is left of `gpu_memory_utilization x GPU memory` after the
//! weights, the peak activation memory of a profiling forward pass, memory outside PyTorch's
//! allocator, and (since 0.10) the CUDA graphs it captures. This planner estimates each part.
//! Every constant below says where it comes from; the activation and graph constants are
//! calibrated on the one start-up the seed team measured (Gemma 3 4B, bf16, RTX 4080 16 GB,
//! utilization 0.9, max_model_len 4096: 8.58 GB weights, 1.58 GB KV cache, 0.64 GB CUDA graphs),
//! so other models carry that uncertainty; where vLLM reports the truth, Bakeoff shows it beside.

use super::errors::FieldErrors;
use super::models::{Architecture, ModelEntry, Quant};
use serde::{Deserialize, Serialize};

pub const GIB: f64 = (1u64 << 30) as f64;

/// Bytes of activations per batched token per unit of hidden size in the profiling pass:
/// residual, norms, q/k/v, attention output and the MLP's gate and up projections are alive at
/// once (~2 + 3 + 1 + 2 x intermediate/hidden, about 14 for 4x MLPs) with allocator slack;
/// calibrated to 24 on the seed's Gemma 3 4B start-up.
pub const ACTIVATION_FACTOR: f64 = 24.0;
/// Tokens in vLLM's profiling pass when not set (`max_num_batched_tokens`; the V1 engine's
/// default for the offline `LLM` class on a consumer GPU).
pub const DEFAULT_BATCHED_TOKENS: u64 = 8192;
/// The sampler holds fp32 logits and probabilities for every sequence of the batch:
/// max_num_seqs x vocab x 4 bytes x 2 (vLLM v1 sampler).
pub const SAMPLER_COPIES: f64 = 2.0;
/// Memory outside PyTorch's allocator: CUDA context, cuBLAS/cuDNN workspaces (vLLM logs it as
/// "non-torch memory"; 0.4-0.8 GiB on consumer cards).
pub const NON_TORCH_GIB: f64 = 0.6;
/// Extra peak for multimodal models, whose vision encoder is profiled with the largest image
/// batch (calibrated on Gemma 3 4B's SigLIP tower).
pub const VISION_PROFILE_GIB: f64 = 2.13;
/// CUDA graph memory per layer per captured batch size (calibrated: 0.64 GiB / (34 layers x 35
/// sizes) for Gemma 3 4B).
pub const GRAPH_MIB_PER_LAYER_SIZE: f64 = 0.55;

/// The batch sizes vLLM captures CUDA graphs for: 1, 2, 4, then every 8 up to 512, capped at
/// max_num_seqs (vLLM `cudagraph_capture_sizes` default).
pub fn capture_sizes(max_num_seqs: u32) -> usize {
    [1u32, 2, 4]
        .iter()
        .chain((8..=512).step_by(8).collect::<Vec<u32>>().iter())
        .filter(|&&s| s <= max_num_seqs.max(1))
        .count()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvDtype {
    /// The model's dtype (16-bit).
    Auto,
    Fp8,
}

impl KvDtype {
    pub fn bytes(self) -> f64 {
        match self {
            KvDtype::Auto => 2.0,
            KvDtype::Fp8 => 1.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanInput {
    pub gpu_name: String,
    pub gpu_memory_gib: f64,
    pub model: ModelEntry,
    pub kv_dtype: KvDtype,
    pub max_model_len: u64,
    pub max_num_seqs: u32,
    pub max_num_batched_tokens: Option<u64>,
    pub enforce_eager: bool,
    pub gpu_memory_utilization: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub budget_gib: f64,
    pub weights_gib: f64,
    pub activation_gib: f64,
    pub non_torch_gib: f64,
    pub cuda_graphs_gib: f64,
    /// What is left for the KV cache: never negative (see `shortfall_gib`).
    pub kv_cache_gib: f64,
    /// How much memory is missing when nothing is left for the KV cache (0 when something is).
    #[serde(default)]
    pub shortfall_gib: f64,
    pub kv_bytes_per_token: f64,
    /// KV bytes of one sequence at max_model_len (sliding-window aware).
    pub kv_bytes_per_sequence: f64,
    /// What vLLM would report as "GPU KV cache size: N tokens".
    pub kv_tokens: u64,
    /// Sequences of max_model_len that fit at once ("Maximum concurrency").
    pub max_concurrency: f64,
    pub fits: bool,
    /// What is wrong, with the numbers.
    pub problems: Vec<String>,
}

/// Estimated weight memory in bytes.
pub fn weight_bytes(m: &ModelEntry) -> f64 {
    if let Some(gb) = m.weights_gb {
        return gb * 1e9;
    }
    let a: &Architecture = &m.arch;
    if m.quant.embeddings_16bit() {
        let emb = a.embedding_params as f64 * if a.tied_embeddings { 1.0 } else { 2.0 };
        (a.params as f64 - emb) * m.quant.bytes_per_weight() + emb * 2.0
    } else {
        a.params as f64 * m.quant.bytes_per_weight()
    }
}

/// A whole-number setting as typed in a form: the number when it is whole and not negative (at
/// most `max`), else 0, which `check_settings` refuses.
pub fn whole(typed: f64, max: f64) -> f64 {
    if typed.is_finite() && typed >= 0.0 && typed.fract() == 0.0 {
        typed.min(max)
    } else {
        0.0
    }
}

/// `check_settings`' message for a whole-number setting, quoting the number as typed (`-5`,
/// `2.5`) rather than the 0 it was planned as.
pub fn as_typed(message: &str, typed: f64) -> String {
    let head = message.rsplit_once(", got ").map_or(message, |(h, _)| h);
    let whole = if typed.fract() == 0.0 { "" } else { " (a whole number)" };
    format!("{head}{whole}, got {}", super::format::quoted(typed))
}

/// The settings vLLM refuses to start with (or that make no sense), each named by its field with
/// the range it takes. Checked before anything is planned: a utilisation of 1.5 is a typo, not a
/// reason to blame the weights.
pub fn check_settings(i: &PlanInput) -> FieldErrors {
    let mut errs = FieldErrors::default();
    if !(i.gpu_memory_gib.is_finite() && i.gpu_memory_gib > 0.0 && i.gpu_memory_gib <= MAX_GPU_GIB) {
        errs.push(
            "gpu_memory_gib",
            format!(
                "GPU memory must be more than 0 and at most {MAX_GPU_GIB} GiB, got {}",
                super::format::quoted(i.gpu_memory_gib)
            ),
        );
    }
    if !(i.gpu_memory_utilization.is_finite() && i.gpu_memory_utilization > 0.0 && i.gpu_memory_utilization <= 1.0) {
        errs.push(
            "gpu_memory_utilization",
            format!(
                "gpu_memory_utilization is the share of the GPU's memory vLLM may use: more than 0 and at most 1 (0.9 is vLLM's default), got {}",
                super::format::quoted(i.gpu_memory_utilization)
            ),
        );
    }
    let max_positions = i.model.arch.max_positions;
    if i.max_model_len == 0 || i.max_model_len > max_positions {
        errs.push(
            "max_model_len",
            format!(
                "max_model_len must be from 1 to {max_positions} (this model's max_position_embeddings), got {}",
                i.max_model_len
            ),
        );
    }
    if i.max_num_seqs == 0 || i.max_num_seqs > MAX_NUM_SEQS {
        errs.push(
            "max_num_seqs",
            format!("max_num_seqs must be from 1 to {MAX_NUM_SEQS}, got {}", i.max_num_seqs),
        );
    }
    if i.max_num_batched_tokens == Some(0) {
        errs.push(
            "max_num_batched_tokens",
            "max_num_batched_tokens must be at least 1 (or unset), got 0",
        );
    }
    errs
}

/// The largest GPU memory the planner takes (a typo guard: today's largest cards hold 288 GB).
pub const MAX_GPU_GIB: f64 = 1024.0;
/// The most sequences at once the planner takes (vLLM's sampler and CUDA graphs are sized by it;
/// its defaults are 256 to 1024).
pub const MAX_NUM_SEQS: u32 = 16_384;

pub fn plan(i: &PlanInput) -> Plan {
    let a = &i.model.arch;
    let invalid = check_settings(i);
    let budget = i.gpu_memory_utilization * i.gpu_memory_gib;
    let weights = weight_bytes(&i.model) / GIB;
    let batched = i
        .max_num_batched_tokens
        .unwrap_or(DEFAULT_BATCHED_TOKENS)
        .max(i.max_model_len.min(DEFAULT_BATCHED_TOKENS));
    let activation = (batched as f64 * f64::from(a.hidden) * 2.0 * ACTIVATION_FACTOR
        + f64::from(i.max_num_seqs) * f64::from(a.vocab) * 4.0 * SAMPLER_COPIES)
        / GIB
        + if a.multimodal { VISION_PROFILE_GIB } else { 0.0 };
    let graphs = if i.enforce_eager {
        0.0
    } else {
        f64::from(a.layers) * capture_sizes(i.max_num_seqs) as f64 * GRAPH_MIB_PER_LAYER_SIZE / 1024.0
    };
    let kv = budget - weights - activation - NON_TORCH_GIB - graphs;
    let per_token = a.kv_bytes_per_token(i.kv_dtype.bytes());
    let per_seq = a.kv_bytes_per_sequence(i.max_model_len, i.kv_dtype.bytes());
    let kv_bytes = kv.max(0.0) * GIB;
    let gib = |x: f64| format!("{x:.2} GiB");
    let problems: Vec<String> = if !invalid.is_empty() {
        // Impossible settings: say so, and nothing about memory worked out from them.
        invalid.0.iter().map(|e| e.message.clone()).collect()
    } else if weights > i.gpu_memory_gib {
        vec![format!(
            "the weights alone need {} and the {} has {}: use a quantised variant or a bigger card",
            gib(weights),
            i.gpu_name,
            gib(i.gpu_memory_gib)
        )]
    } else if weights > budget {
        vec![format!(
            "the weights need {} but gpu_memory_utilization {} lets vLLM use only {} of the {}: raise it (at most 1) or use a quantised variant",
            gib(weights),
            i.gpu_memory_utilization,
            gib(budget),
            gib(i.gpu_memory_gib)
        )]
    } else if kv <= 0.0 {
        vec![format!(
            "no memory left for the KV cache: {} budget ({:.0}% of {}) - {} weights - {} activations - {} non-torch - {} CUDA graphs leaves nothing; {} more would be needed (vLLM: \"No available memory for the cache blocks\")",
            gib(budget),
            i.gpu_memory_utilization * 100.0,
            gib(i.gpu_memory_gib),
            gib(weights),
            gib(activation),
            gib(NON_TORCH_GIB),
            gib(graphs),
            gib(-kv)
        )]
    } else if kv_bytes < per_seq {
        vec![format!(
            "max_model_len {} needs {} of KV cache for one sequence but only {} is left (vLLM: \"max_model_len is larger than the maximum number of tokens that can be stored in KV cache\")",
            i.max_model_len,
            gib(per_seq / GIB),
            gib(kv)
        )]
    } else {
        Vec::new()
    };
    Plan {
        budget_gib: budget,
        weights_gib: weights,
        activation_gib: activation,
        non_torch_gib: NON_TORCH_GIB,
        cuda_graphs_gib: graphs,
        kv_cache_gib: kv.max(0.0),
        shortfall_gib: (-kv).max(0.0),
        kv_bytes_per_token: per_token,
        kv_bytes_per_sequence: per_seq,
        kv_tokens: if per_token > 0.0 { (kv_bytes / per_token) as u64 } else { 0 },
        max_concurrency: if per_seq > 0.0 { kv_bytes / per_seq } else { 0.0 },
        fits: problems.is_empty(),
        problems,
    }
}

/// Settings that fit, safest change first: eager mode (no graphs), fewer sequences, a higher
/// utilisation, a shorter context, an fp8 KV cache. `None` when nothing fits (the weights are too big)
/// or the settings are impossible ([`check_settings`]).
pub fn recommend(i: &PlanInput) -> Option<(PlanInput, Plan)> {
    if !check_settings(i).is_empty() {
        return None;
    }
    let p = plan(i);
    if p.fits {
        return Some((i.clone(), p));
    }
    let mut c = i.clone();
    c.max_model_len = c.max_model_len.min(i.model.arch.max_positions);
    let steps: [&dyn Fn(&mut PlanInput); 4] = [
        &|c| c.enforce_eager = true,
        &|c| c.max_num_seqs = c.max_num_seqs.min(64),
        &|c| c.gpu_memory_utilization = c.gpu_memory_utilization.max(0.95),
        &|c| c.kv_dtype = KvDtype::Fp8,
    ];
    for step in steps {
        step(&mut c);
        if plan(&c).fits {
            return Some((c.clone(), plan(&c)));
        }
        // With these settings, the longest context that fits (multiples of 256, at least 1024).
        let mut len = c.max_model_len;
        while len > 1024 {
            len = ((len / 2) / 256 * 256).max(1024);
            let mut t = c.clone();
            t.max_model_len = len;
            if plan(&t).fits {
                return Some((t.clone(), plan(&t)));
            }
        }
    }
    None
}

/// The `vllm serve` command for these settings.
pub fn command(i: &PlanInput) -> String {
    let mut s = format!(
        "vllm serve {} --gpu-memory-utilization {} --max-model-len {} --max-num-seqs {}",
        i.model.name, i.gpu_memory_utilization, i.max_model_len, i.max_num_seqs
    );
    if i.enforce_eager {
        s.push_str(" --enforce-eager");
    }
    if i.kv_dtype == KvDtype::Fp8 {
        s.push_str(" --kv-cache-dtype fp8");
    }
    if i.model.quant == Quant::Fp8 {
        s.push_str(" --quantization fp8");
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_whole_number_setting_is_refused_as_typed() {
        use super::{as_typed, whole};
        assert_eq!(whole(4096.0, 1e9), 4096.0);
        assert_eq!(whole(-5.0, 1e9), 0.0, "refused, not raised to 1");
        assert_eq!(whole(2.5, 1e9), 0.0);
        assert_eq!(whole(1e12, 1e9), 1e9);
        let m = "max_num_seqs must be from 1 to 1024, got 0";
        assert_eq!(as_typed(m, -5.0), "max_num_seqs must be from 1 to 1024, got -5");
        assert_eq!(as_typed(m, 2.5), "max_num_seqs must be from 1 to 1024 (a whole number), got 2.5");
    }

    use super::*;
    use crate::domain::models::presets;

    fn input(name: &str) -> PlanInput {
        PlanInput {
            gpu_name: "RTX 4080 16 GB".into(),
            gpu_memory_gib: 16.0,
            model: presets().into_iter().find(|m| m.name == name).expect("preset"),
            kv_dtype: KvDtype::Auto,
            max_model_len: 4096,
            max_num_seqs: 256,
            max_num_batched_tokens: None,
            enforce_eager: false,
            gpu_memory_utilization: 0.9,
        }
    }

    fn within(x: f64, target: f64, tol: f64) -> bool {
        (x - target).abs() / target <= tol
    }

    #[test]
    fn the_seeds_gemma_start_up_is_reproduced_within_ten_percent() {
        let p = plan(&input("google/gemma-3-4b-it"));
        assert!(within(p.weights_gib, 8.58, 0.10), "weights {}", p.weights_gib);
        assert!(within(p.kv_cache_gib, 1.58, 0.10), "kv {}", p.kv_cache_gib);
        assert!(within(p.cuda_graphs_gib, 0.64, 0.10), "graphs {}", p.cuda_graphs_gib);
        assert!(p.fits);
    }

    #[test]
    fn a_12b_model_in_bf16_cannot_fit_a_16_gb_card_and_says_why() {
        let p = plan(&input("google/gemma-3-12b-it"));
        assert!(!p.fits);
        assert!(
            p.problems[0].contains("the weights alone need 22.70 GiB") && p.problems[0].contains("16.00 GiB"),
            "{:?}",
            p.problems
        );
        assert!(recommend(&input("google/gemma-3-12b-it")).is_none());
    }

    #[test]
    fn the_12b_qat_model_fits_with_safer_settings() {
        let i = input("google/gemma-3-12b-it-qat-q4_0");
        let (r, p) = recommend(&i).expect("fits somehow");
        assert!(p.fits && p.kv_cache_gib > 0.0);
        assert!(command(&r).starts_with("vllm serve google/gemma-3-12b-it-qat-q4_0 --gpu-memory-utilization"));
    }

    #[test]
    fn a_context_too_long_for_the_cache_is_shortened() {
        let mut i = input("Qwen/Qwen3-4B-Instruct-2507");
        i.max_model_len = 262_144;
        let p = plan(&i);
        assert!(!p.fits && p.problems[0].contains("max_model_len 262144"), "{:?}", p.problems);
        let (r, p2) = recommend(&i).expect("a shorter context fits");
        assert!(p2.fits && r.max_model_len < 262_144);
    }

    #[test]
    fn eager_mode_frees_the_graph_memory() {
        let mut i = input("meta-llama/Llama-3.2-1B-Instruct");
        let with = plan(&i);
        i.enforce_eager = true;
        let without = plan(&i);
        assert_eq!(without.cuda_graphs_gib, 0.0);
        assert!((without.kv_cache_gib - with.kv_cache_gib - with.cuda_graphs_gib).abs() < 1e-9);
    }

    #[test]
    fn capture_sizes_follow_vllms_list() {
        assert_eq!(capture_sizes(256), 35);
        assert_eq!(capture_sizes(512), 67);
        assert_eq!(capture_sizes(1), 1);
    }

    #[test]
    fn max_model_len_zero_is_refused_with_its_range() {
        let mut i = input("google/gemma-3-4b-it");
        i.max_model_len = 0;
        let p = plan(&i);
        assert!(!p.fits);
        let msg = check_settings(&i)
            .for_field("max_model_len")
            .expect("named at its field")
            .to_string();
        assert!(msg.contains("from 1 to 131072") && msg.contains("got 0"), "{msg}");
        assert_eq!(p.problems, vec![msg]);
        assert!(recommend(&i).is_none(), "no command for impossible settings");
    }

    #[test]
    fn a_utilisation_above_one_is_refused_without_blaming_the_weights() {
        for util in [1.5, 0.0, -0.2, f64::NAN] {
            let mut i = input("google/gemma-3-12b-it");
            i.gpu_memory_utilization = util;
            let p = plan(&i);
            assert!(!p.fits);
            assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
            assert!(p.problems[0].contains("more than 0 and at most 1"), "{:?}", p.problems);
            assert!(!p.problems[0].contains("weights"), "{:?}", p.problems);
            assert!(check_settings(&i).for_field("gpu_memory_utilization").is_some());
        }
        let mut ok = input("google/gemma-3-4b-it");
        ok.gpu_memory_utilization = 1.0;
        assert!(check_settings(&ok).is_empty(), "1 is allowed");
    }

    #[test]
    fn no_sequences_or_no_memory_is_refused_at_its_field() {
        let mut i = input("google/gemma-3-4b-it");
        i.max_num_seqs = 0;
        i.gpu_memory_gib = 0.0;
        i.max_num_batched_tokens = Some(0);
        let errs = check_settings(&i);
        assert!(errs.for_field("max_num_seqs").is_some_and(|m| m.contains("from 1 to")), "{errs}");
        assert!(errs.for_field("gpu_memory_gib").is_some(), "{errs}");
        assert!(errs.for_field("max_num_batched_tokens").is_some(), "{errs}");
        assert!(!plan(&i).fits);
    }

    #[test]
    fn a_context_longer_than_the_model_takes_is_refused() {
        let mut i = input("meta-llama/Llama-3.2-1B-Instruct");
        i.max_model_len = i.model.arch.max_positions + 1;
        assert!(check_settings(&i).for_field("max_model_len").is_some());
        assert!(recommend(&i).is_none());
    }

    #[test]
    fn the_kv_cache_is_never_negative_and_the_shortfall_is_named() {
        let p = plan(&input("google/gemma-3-12b-it"));
        assert_eq!(p.kv_cache_gib, 0.0);
        assert!(p.shortfall_gib > 10.0, "short by {}", p.shortfall_gib);
        assert_eq!(p.kv_tokens, 0);
        assert_eq!(p.max_concurrency, 0.0);
        let fits = plan(&input("google/gemma-3-4b-it"));
        assert_eq!(fits.shortfall_gib, 0.0);
        assert!(fits.kv_cache_gib > 0.0);
    }

    #[test]
    fn weights_over_the_budget_but_under_the_card_ask_for_more_utilisation() {
        let mut i = input("google/gemma-3-4b-it");
        i.gpu_memory_utilization = 0.3;
        let p = plan(&i);
        assert!(!p.fits);
        assert!(p.problems[0].contains("gpu_memory_utilization 0.3"), "{:?}", p.problems);
        assert!(p.shortfall_gib > 0.0);
        let (r, _) = recommend(&i).expect("a higher utilisation fits");
        assert!(r.gpu_memory_utilization >= 0.95);
    }
}
