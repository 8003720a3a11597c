//! What the simulator answers: text shaped by a per-model "profile", deterministic for a seed
//! and a prompt. Candidate profiles get an evaluation whose correctness depends on the profile's
//! noise, so quality differences between simulated models are measurable.

use app::domain::candidates::{strength_from_text, RATINGS, RECOMMENDATIONS};
use app::domain::rng::SplitMix64;
use serde_json::{json, Map, Value};

/// How a simulated model writes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Style {
    /// JSON inside a ```json fence.
    Fenced,
    /// A bare JSON object.
    Bare,
    /// JSON with a sentence of prose before it.
    Prose,
}

/// A simulated model: its speed relative to the simulator's base timings, and its habits.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub name: String,
    /// Multiplies the per-token time (smaller = faster).
    pub tpot_factor: f64,
    /// Multiplies the time to first token.
    pub ttft_factor: f64,
    pub style: Style,
    /// Standard deviation, in scale steps, of its error on recommendations and ratings.
    pub noise: f64,
    /// Probability it hands the task back instead of doing it (the seed's Llama 1B habit).
    pub handback: f64,
    /// Sentences of reasoning per field.
    pub verbosity: usize,
    /// Thinks before it answers (a "thinking" model, as Qwen3's or gpt-oss).
    pub reasons: bool,
}

impl Profile {
    /// A profile for a model name: known families get their habits, anything else a default.
    pub fn for_model(name: &str) -> Profile {
        let n = name.to_lowercase();
        let (tpot_factor, ttft_factor, style, noise, handback, verbosity) = if n.contains("gemma") {
            (1.0, 1.0, Style::Fenced, 0.35, 0.0, 2)
        } else if n.contains("1b") {
            (0.3, 0.5, Style::Bare, 1.4, 0.6, 1)
        } else if n.contains("qwen") {
            (1.3, 1.2, Style::Bare, 0.55, 0.0, 1)
        } else if n.contains("3b") {
            (0.6, 0.8, Style::Prose, 0.8, 0.05, 2)
        } else {
            (1.0, 1.0, Style::Bare, 0.7, 0.0, 2)
        };
        Profile {
            name: name.to_string(),
            tpot_factor,
            ttft_factor,
            style,
            noise,
            handback,
            verbosity,
            reasons: n.contains("thinking") || n.contains("gpt-oss"),
        }
    }
}

pub const HANDBACK: &str = "Be clear and concise.\n\n**Your Turn!**\n\nPlease fill in the fields with your evaluation and rationale. Remember to address the key areas of evaluation, such as Educational Pedigree, Company Pedigree, Trajectory, and Software Engineer. Use evidence from the candidate profile to support your recommendations. This is a high-stakes decision, and your evaluation will impact the candidate's future opportunities.";

/// The full answer text for a prompt.
pub fn answer(profile: &Profile, seed: u64, prompt: &str, schema: Option<&Value>) -> String {
    let mut g = SplitMix64::keyed(seed ^ fnv(&profile.name), prompt);
    let is_candidate = prompt.contains("**Name:**") || prompt.contains("**Candidate:**") || prompt.contains("Candidate Profile");
    if is_candidate {
        // Structured output (a schema in the request) forbids handing the task back.
        if schema.is_none() && g.chance(profile.handback) {
            return HANDBACK.to_string();
        }
        let v = candidate_evaluation(profile, &mut g, prompt);
        let text = serde_json::to_string_pretty(&v).unwrap_or_default();
        return if schema.is_some() { text } else { styled(profile.style, &text) };
    }
    if let Some(schema) = schema {
        return serde_json::to_string_pretty(&from_schema(schema, &mut g, 0)).unwrap_or_default();
    }
    prose(&mut g, 20 + 30 * profile.verbosity)
}

/// What a reasoning model thinks before answering `prompt`: exactly `tokens` tokens (as
/// [`tokenize`] splits them), deterministic for a seed and a prompt.
pub fn reasoning(profile: &Profile, seed: u64, prompt: &str, tokens: usize) -> String {
    let mut g = SplitMix64::keyed(seed ^ fnv(&profile.name) ^ fnv("reasoning"), prompt);
    // Every word is at least one token, so there are enough.
    let text = format!("Let me think about this. {}", prose(&mut g, tokens));
    tokenize(&text).into_iter().take(tokens).collect()
}

fn styled(style: Style, json: &str) -> String {
    match style {
        Style::Fenced => format!("```json\n{json}\n```"),
        Style::Bare => json.to_string(),
        Style::Prose => format!("Here is my evaluation of the candidate.\n\n{json}"),
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Move an index on a 5-step scale by the profile's noise.
fn noisy(g: &mut SplitMix64, truth: usize, noise: f64) -> usize {
    let v = truth as f64 + noise * g.normal();
    v.round().clamp(0.0, 4.0) as usize
}

fn candidate_evaluation(p: &Profile, g: &mut SplitMix64, prompt: &str) -> Value {
    let s = strength_from_text(prompt);
    let name = prompt
        .split("**Name:**")
        .nth(1)
        .or_else(|| prompt.split("**Candidate:**").nth(1))
        .and_then(|r| r.lines().next())
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| "The candidate".into());
    let rec = RECOMMENDATIONS[noisy(g, s.recommendation_index(), p.noise)];
    let [edu, comp, traj] = s.rating_indexes();
    let says = |g: &mut SplitMix64, topic: &str| sentences(g, p.verbosity, &name, topic);
    let is_swe = if g.chance((p.noise / 6.0).min(0.5)) { !s.is_swe } else { s.is_swe };
    json!({
        "recommendation": rec,
        "reasoning": says(g, "overall fit"),
        "analysis": {
            "educational_pedigree": {"rating": RATINGS[noisy(g, edu, p.noise)], "reasoning": says(g, "education")},
            "company_pedigree": {"rating": RATINGS[noisy(g, comp, p.noise)], "reasoning": says(g, "employers")},
            "trajectory": {"rating": RATINGS[noisy(g, traj, p.noise)], "reasoning": says(g, "career trajectory")},
            "is_software_engineer": {"value": is_swe, "reasoning": says(g, "current role")}
        }
    })
}

const OPENERS: &[&str] = &["Looking at", "Considering", "Based on", "Weighing", "On"];
const MIDDLES: &[&str] = &[
    "shows a consistent record of delivery",
    "suggests solid engineering judgement",
    "indicates steady growth in responsibility",
    "points to relevant hands-on experience",
    "is typical for the level of the role",
    "leaves some open questions for the interview",
];

fn sentences(g: &mut SplitMix64, n: usize, name: &str, topic: &str) -> String {
    (0..n.max(1))
        .map(|i| {
            if i == 0 {
                format!("{} {}'s {}, the profile {}.", g.pick(OPENERS), name, topic, g.pick(MIDDLES))
            } else {
                format!("The evidence {}.", g.pick(MIDDLES))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

const WORDS: &[&str] = &[
    "the", "model", "answer", "batch", "token", "request", "result", "server", "quality", "value", "system", "data", "signal", "clear",
    "simple",
];

fn prose(g: &mut SplitMix64, words: usize) -> String {
    let mut out = String::new();
    for i in 0..words {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(*g.pick(WORDS));
    }
    out.push('.');
    out
}

/// A value shaped by a JSON Schema (objects, arrays, enums, strings, numbers, booleans).
fn from_schema(schema: &Value, g: &mut SplitMix64, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array).filter(|o| !o.is_empty()) {
        return g.pick(options).clone();
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    let ty = schema.get("type").and_then(|t| {
        t.as_str()
            .map(str::to_string)
            .or_else(|| t.get(0).and_then(Value::as_str).map(str::to_string))
    });
    match ty.as_deref() {
        Some("object") | None if schema.get("properties").is_some() => {
            let mut m = Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, sub) in props {
                    m.insert(k.clone(), from_schema(sub, g, depth + 1));
                }
            }
            Value::Object(m)
        }
        Some("object") => Value::Object(Map::new()),
        Some("array") => {
            let item = schema.get("items").cloned().unwrap_or(Value::Null);
            let n = 1 + g.below(3) as usize;
            Value::Array((0..n).map(|_| from_schema(&item, g, depth + 1)).collect())
        }
        Some("integer") => Value::from(g.below(100)),
        Some("number") => Value::from((g.next_f64() * 1000.0).round() / 10.0),
        Some("boolean") => Value::Bool(g.chance(0.5)),
        Some("null") => Value::Null,
        _ => Value::String(prose(g, 8)),
    }
}

/// Split text into the pieces streamed as tokens: a new piece at each space and every 4 bytes of
/// a long word (char boundaries respected). Concatenated, the pieces give the text back.
pub fn tokenize(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let len = i - start;
        if i > start && (c == ' ' || c == '\n' || len >= 4) {
            out.push(&text[start..i]);
            start = i;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Prompt tokens the simulator reports: about four characters a token, plus a few per message.
pub fn prompt_tokens(text: &str, messages: usize) -> u64 {
    (text.len() as u64).div_ceil(4) + 4 * messages as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::candidates::{answer_schema, demo_dataset};

    #[test]
    fn tokens_concatenate_back_to_the_text() {
        let t = "Hello wonderful wörld,\n  ok";
        assert_eq!(tokenize(t).concat(), t);
        assert!(tokenize(t).iter().all(|p| !p.is_empty()));
    }

    #[test]
    fn reasoning_has_exactly_the_tokens_asked_for() {
        let p = Profile::for_model("sim-qwen3-4b-thinking");
        assert!(p.reasons && !Profile::for_model("sim-qwen3-4b").reasons);
        for n in [0, 1, 5, 48, 300] {
            let r = reasoning(&p, 1, "**Name:** A", n);
            assert_eq!(tokenize(&r).len(), n, "{r:?}");
            assert_eq!(r, reasoning(&p, 1, "**Name:** A", n), "deterministic");
        }
        assert_ne!(reasoning(&p, 1, "a", 48), reasoning(&p, 1, "b", 48));
    }

    #[test]
    fn same_seed_and_prompt_same_answer() {
        let p = Profile::for_model("sim-gemma-3-4b");
        assert_eq!(answer(&p, 1, "**Name:** A", None), answer(&p, 1, "**Name:** A", None));
    }

    #[test]
    fn gemma_like_answers_fenced_json_that_fits_the_schema_shape() {
        let p = Profile::for_model("sim-gemma-3-4b");
        let item = &demo_dataset(1, 3)[0];
        let a = answer(&p, 1, &item.prompt_text(), None);
        assert!(a.starts_with("```json\n"), "{a}");
        let inner = a.trim_start_matches("```json\n").trim_end_matches("\n```");
        let v: Value = serde_json::from_str(inner).expect("json");
        assert!(RECOMMENDATIONS.contains(&v["recommendation"].as_str().unwrap_or("")));
        assert!(v["analysis"]["is_software_engineer"]["value"].is_boolean());
    }

    #[test]
    fn a_1b_model_often_hands_the_task_back_unless_a_schema_is_forced() {
        let p = Profile::for_model("sim-llama-3.2-1b");
        let items = demo_dataset(100, 5);
        let handbacks = items.iter().filter(|i| answer(&p, 1, &i.prompt_text(), None) == HANDBACK).count();
        assert!((40..=80).contains(&handbacks), "{handbacks}");
        let schema = answer_schema();
        assert!(items.iter().all(|i| answer(&p, 1, &i.prompt_text(), Some(&schema)) != HANDBACK));
    }

    #[test]
    fn a_schema_request_gets_a_value_of_that_shape() {
        let schema = json!({"type":"object","properties":{"n":{"type":"integer"},"tags":{"type":"array","items":{"enum":["a","b"]}}}});
        let p = Profile::for_model("x");
        let v: Value = serde_json::from_str(&answer(&p, 1, "anything", Some(&schema))).expect("json");
        assert!(v["n"].is_u64());
        assert!(v["tags"].as_array().is_some_and(|t| !t.is_empty()));
    }
}
