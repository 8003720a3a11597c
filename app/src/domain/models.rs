//! The model registry's numbers: architecture from a Hugging Face `config.json`, and presets for
//! the seed team's models (from `shared/data/model-configs`, each naming its source).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How the weights are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quant {
    Fp32,
    Bf16,
    Fp16,
    Fp8,
    /// 4-bit AWQ / GPTQ: linear layers at 4 bits plus group scales; embeddings stay 16-bit.
    Int4,
    /// GGUF Q4_0 (also Google's QAT Q4_0 checkpoints): 4.5 bits per weight; embeddings 16-bit.
    GgufQ4_0,
}

impl Quant {
    pub const ALL: [Quant; 6] = [Quant::Bf16, Quant::Fp16, Quant::Fp32, Quant::Fp8, Quant::Int4, Quant::GgufQ4_0];
    /// Bytes per weight of the quantised (linear) layers.
    /// Sources: IEEE sizes for fp32/bf16/fp16/fp8; AWQ/GPTQ 4 bits + one 16-bit scale and zero
    /// per group of 128 = 4.25 bits; GGUF Q4_0 blocks of 32 weights = 16 bytes + a 2-byte scale
    /// = 18 bytes / 32 = 4.5 bits (ggml `block_q4_0`).
    pub fn bytes_per_weight(self) -> f64 {
        match self {
            Quant::Fp32 => 4.0,
            Quant::Bf16 | Quant::Fp16 => 2.0,
            Quant::Fp8 => 1.0,
            Quant::Int4 => 4.25 / 8.0,
            Quant::GgufQ4_0 => 4.5 / 8.0,
        }
    }
    /// Whether the embeddings are kept at 16 bits (not quantised).
    pub fn embeddings_16bit(self) -> bool {
        matches!(self, Quant::Int4 | Quant::GgufQ4_0 | Quant::Fp8)
    }
    pub fn label(self) -> &'static str {
        match self {
            Quant::Fp32 => "fp32",
            Quant::Bf16 => "bf16",
            Quant::Fp16 => "fp16",
            Quant::Fp8 => "fp8",
            Quant::Int4 => "int4 (AWQ/GPTQ)",
            Quant::GgufQ4_0 => "GGUF Q4_0 / QAT",
        }
    }
    pub fn parse(s: &str) -> Option<Quant> {
        Quant::ALL.into_iter().find(|q| {
            serde_json::to_value(q)
                .ok()
                .and_then(|v| v.as_str().map(|x| x == s))
                .unwrap_or(false)
        })
    }
}

/// What the planner needs of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    pub layers: u32,
    pub hidden: u32,
    pub intermediate: u32,
    pub heads: u32,
    pub kv_heads: u32,
    pub head_dim: u32,
    pub vocab: u32,
    pub max_positions: u64,
    /// Total parameters (all towers), for the weight size.
    pub params: u64,
    /// Parameters in the token embedding (kept 16-bit by 4-bit schemes).
    pub embedding_params: u64,
    /// Sliding-window attention: the window, and how many layers use full attention.
    pub sliding_window: Option<u32>,
    pub full_attention_layers: u32,
    /// Has a vision tower (vLLM profiles it too).
    pub multimodal: bool,
    pub tied_embeddings: bool,
}

impl Architecture {
    /// KV bytes per token with every layer full: 2 (K and V) x layers x KV heads x head dim x bytes.
    pub fn kv_bytes_per_token(&self, kv_bytes: f64) -> f64 {
        2.0 * f64::from(self.layers) * f64::from(self.kv_heads) * f64::from(self.head_dim) * kv_bytes
    }
    /// KV bytes for one sequence of `t` tokens: sliding layers keep only the window (vLLM's
    /// hybrid KV cache manager), full layers keep everything.
    pub fn kv_bytes_per_sequence(&self, t: u64, kv_bytes: f64) -> f64 {
        let per_layer = 2.0 * f64::from(self.kv_heads) * f64::from(self.head_dim) * kv_bytes;
        match self.sliding_window {
            Some(w) => {
                let sliding = self.layers - self.full_attention_layers;
                per_layer * (f64::from(self.full_attention_layers) * t as f64 + f64::from(sliding) * t.min(u64::from(w)) as f64)
            }
            None => per_layer * f64::from(self.layers) * t as f64,
        }
    }
}

fn get_u(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
}

/// Read an architecture from a Hugging Face `config.json` (or the `text_config` inside one).
/// Missing required fields are all named at once.
pub fn from_hf_config(v: &Value, params_hint: Option<u64>) -> Result<Architecture, String> {
    let multimodal = v.get("vision_config").is_some() || v.get("text_config").is_some();
    let c = v.get("text_config").unwrap_or(v);
    let mut missing = Vec::new();
    let mut req = |k: &str| {
        let x = get_u(c, k);
        if x.is_none() {
            missing.push(k.to_string());
        }
        x.unwrap_or(0)
    };
    let layers = req("num_hidden_layers") as u32;
    let hidden = req("hidden_size") as u32;
    let heads = req("num_attention_heads") as u32;
    let vocab = req("vocab_size") as u32;
    let intermediate = req("intermediate_size") as u32;
    if !missing.is_empty() {
        return Err(format!("config.json lacks {}: paste the model's full config.json (for multimodal models the language model is read from `text_config`)", missing.join(", ")));
    }
    let kv_heads = get_u(c, "num_key_value_heads").unwrap_or(u64::from(heads)) as u32;
    let head_dim = get_u(c, "head_dim")
        .map(|h| h as u32)
        .unwrap_or(hidden.checked_div(heads).unwrap_or(0));
    if head_dim == 0 || layers == 0 || kv_heads == 0 {
        return Err("config.json has zero layers, heads or head_dim".into());
    }
    let max_positions = get_u(c, "max_position_embeddings").unwrap_or(4096);
    let tied = c
        .get("tie_word_embeddings")
        .and_then(Value::as_bool)
        .or_else(|| v.get("tie_word_embeddings").and_then(Value::as_bool))
        .unwrap_or(false);
    let sliding_window = get_u(c, "sliding_window")
        .filter(|_| c.get("use_sliding_window").and_then(Value::as_bool) != Some(false))
        .map(|w| w as u32);
    let full_layers = match (c.get("layer_types").and_then(Value::as_array), sliding_window) {
        (Some(types), Some(_)) => types.iter().filter(|t| t.as_str() == Some("full_attention")).count() as u32,
        (None, Some(_)) => {
            let pattern = get_u(c, "sliding_window_pattern")
                .or_else(|| get_u(c, "_sliding_window_pattern"))
                .unwrap_or(6) as u32;
            (0..layers).filter(|i| (i + 1) % pattern.max(1) == 0).count() as u32
        }
        _ => layers,
    };
    let embedding = u64::from(vocab) * u64::from(hidden);
    // Without a stated count: embeddings (+ head if untied) + per layer attention and MLP.
    let computed = embedding * if tied { 1 } else { 2 }
        + u64::from(layers)
            * (u64::from(hidden) * u64::from(heads * head_dim) * 2
                + u64::from(hidden) * u64::from(kv_heads * head_dim) * 2
                + 3 * u64::from(hidden) * u64::from(intermediate));
    Ok(Architecture {
        layers,
        hidden,
        intermediate,
        heads,
        kv_heads,
        head_dim,
        vocab,
        max_positions,
        params: params_hint.unwrap_or(computed),
        embedding_params: embedding,
        sliding_window,
        full_attention_layers: full_layers,
        multimodal,
        tied_embeddings: tied,
    })
}

/// A model in the registry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub id: i64,
    pub name: String,
    pub arch: Architecture,
    pub quant: Quant,
    /// Where the numbers come from.
    pub source: String,
    /// A known on-disk size of the weights (e.g. a GGUF file), which beats the estimate.
    pub weights_gb: Option<f64>,
}

/// The seed team's models, from `shared/data/model-configs` (sources in each file's `_source`).
pub fn presets() -> Vec<ModelEntry> {
    let files: [(&str, &str, Quant, Option<f64>); 7] = [
        (
            "google/gemma-3-4b-it",
            include_str!("../../tests/fixtures/model-configs/google--gemma-3-4b-it.json"),
            Quant::Bf16,
            None,
        ),
        (
            "google/gemma-3-12b-it",
            include_str!("../../tests/fixtures/model-configs/google--gemma-3-12b-it.json"),
            Quant::Bf16,
            None,
        ),
        (
            "google/gemma-3-12b-it-qat-q4_0",
            include_str!("../../tests/fixtures/model-configs/google--gemma-3-12b-it-qat-q4_0.json"),
            Quant::GgufQ4_0,
            Some(8.07),
        ),
        (
            "meta-llama/Llama-3.2-1B-Instruct",
            include_str!("../../tests/fixtures/model-configs/meta-llama--Llama-3.2-1B-Instruct.json"),
            Quant::Bf16,
            None,
        ),
        (
            "meta-llama/Llama-3.2-3B-Instruct",
            include_str!("../../tests/fixtures/model-configs/meta-llama--Llama-3.2-3B-Instruct.json"),
            Quant::Bf16,
            None,
        ),
        (
            "Qwen/Qwen3-4B-Instruct-2507",
            include_str!("../../tests/fixtures/model-configs/Qwen--Qwen3-4B-Instruct-2507.json"),
            Quant::Bf16,
            None,
        ),
        (
            "allenai/OLMo-1B-0724-hf",
            include_str!("../../tests/fixtures/model-configs/allenai--OLMo-1B-0724-hf.json"),
            // Its checkpoint is float32 (unverified), which vLLM's `--dtype auto` serves in
            // float16 ("FP16 precision for FP32 and FP16 models"): 2 bytes a weight.
            Quant::Fp16,
            None,
        ),
    ];
    files
        .into_iter()
        .filter_map(|(name, text, quant, weights_gb)| {
            let v: Value = serde_json::from_str(text).ok()?;
            let params = v.pointer("/_param_count/total").and_then(Value::as_u64);
            let arch = from_hf_config(&v, params).ok()?;
            let verified = v.get("_verified").and_then(Value::as_bool).unwrap_or(false);
            Some(ModelEntry {
                id: 0,
                name: name.to_string(),
                arch,
                quant,
                source: format!(
                    "shared/data/model-configs ({}){}",
                    if verified {
                        "verified against public config files"
                    } else {
                        "partly unverified: see the file's _verified_note"
                    },
                    if weights_gb.is_some() {
                        "; weights size 8.07 GB from a third-party model card"
                    } else {
                        ""
                    }
                ),
                weights_gb,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_float32_checkpoint_is_planned_as_vllm_serves_it_in_float16() {
        let olmo = super::presets().into_iter().find(|m| m.name.contains("OLMo")).expect("OLMo preset");
        assert_eq!(olmo.quant, super::Quant::Fp16);
        let gib = crate::domain::planner::weight_bytes(&olmo) / crate::domain::planner::GIB;
        assert!((2.3..2.45).contains(&gib), "about 2.38 GiB, as the seed report's ~2 GB: {gib}");
    }

    use super::*;

    #[test]
    fn every_preset_reads_and_gemma_keeps_its_explicit_head_dim() {
        let p = presets();
        assert_eq!(p.len(), 7);
        let g = &p[0].arch;
        assert_eq!(
            (g.layers, g.kv_heads, g.head_dim, g.full_attention_layers, g.sliding_window),
            (34, 4, 256, 5, Some(1024))
        );
        assert!(g.multimodal);
        assert_eq!(g.params, 4_300_079_472);
    }

    #[test]
    fn kv_bytes_match_the_readme_table() {
        let p = presets();
        let bytes = |name: &str| {
            p.iter()
                .find(|m| m.name == name)
                .map(|m| m.arch.kv_bytes_per_token(2.0))
                .expect("preset")
        };
        assert_eq!(bytes("google/gemma-3-4b-it"), 139_264.0);
        assert_eq!(bytes("meta-llama/Llama-3.2-1B-Instruct"), 32_768.0);
        assert_eq!(bytes("Qwen/Qwen3-4B-Instruct-2507"), 147_456.0);
        // Gemma 4B with windowing at T = 32,768: 20,480 T + 118,784 x 1024 bytes = 0.74 GiB.
        let g = p.iter().find(|m| m.name == "google/gemma-3-4b-it").expect("gemma");
        let gib = g.arch.kv_bytes_per_sequence(32_768, 2.0) / (1u64 << 30) as f64;
        assert!((gib - 0.7383).abs() < 1e-3, "{gib}");
    }

    #[test]
    fn a_config_without_the_needed_fields_names_them() {
        let e = from_hf_config(&serde_json::json!({"hidden_size": 10}), None).expect_err("incomplete");
        assert!(
            e.contains("num_hidden_layers") && e.contains("vocab_size") && e.contains("intermediate_size"),
            "{e}"
        );
    }

    #[test]
    fn head_dim_defaults_to_hidden_over_heads_and_kv_heads_to_heads() {
        let a = from_hf_config(&serde_json::json!({"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 100, "intermediate_size": 128}), None).expect("ok");
        assert_eq!((a.head_dim, a.kv_heads, a.full_attention_layers), (16, 4, 2));
    }
}
