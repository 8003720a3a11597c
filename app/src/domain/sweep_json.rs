//! A sweep for scripts: each step with its load and headline figures, and the verdict its page
//! shows (the knee, the best setting and why, the prefix cache's share). REST `GET
//! /api/sweeps/{id}` answers [`sweep_json`]; `bakeoff run --sweep ... --json` prints each step
//! (with [`load_json`]) and then [`verdict_json`]. Summaries only: no answer text.

use super::spec::RunSpec;
use super::sweep_verdict::{
    best_setting, cache_note, conditions_note, knee_text, none_within, past_knee, sweep_finished, sweep_knee, table_order,
};
use super::views::RunView;
use serde_json::{json, Value};

/// A step's load: `{"concurrency", "rate", "label", "phase"}` (rate in requests per second, null
/// for a concurrency step; phase "search" or "spread" for an automatic sweep's steps, else null).
pub fn load_json(spec: &RunSpec) -> Value {
    json!({
        "concurrency": spec.load.concurrency,
        "rate": spec.load.rate,
        "label": spec.load_label(),
        "phase": spec.auto_sweep.as_ref().map(|a| a.phase),
    })
}

/// One step: run id, status, load and its headline figures (p90s in ms).
pub fn step_json(r: &RunView) -> Value {
    let figures = r.summary.as_ref().map(|s| {
        json!({
            "requests": s.requests,
            "requests_per_s": s.requests_per_s,
            "output_tokens_per_s": s.output_tokens_per_s,
            "total_tokens_per_s": s.total_tokens_per_s,
            "ttft_p90_ms": s.ttft_ms.map(|d| d.p90),
            "e2e_p90_ms": s.e2e_ms.map(|d| d.p90),
            "goodput": s.goodput.as_ref().map(|g| json!({
                "output_tokens_per_s": g.output_tokens_per_s,
                "requests_per_s": g.requests_per_s,
                "good_share": g.good_share,
                "met": g.met,
            })),
        })
    });
    json!({
        "run_id": r.id,
        "name": r.name,
        "model": r.model,
        "status": r.status,
        "simulated": r.simulated,
        "load": r.spec.as_ref().map(load_json),
        "summary": figures,
        "prefix_cache_hit_rate": r.conditions.as_ref().and_then(|c| c.prefix_cache).and_then(|p| p.hit_rate()),
    })
}

/// What the sweep page concludes: `knee` (`concurrency`, `text`, or null) and `knee_text` (the
/// page's sentence, also when there is none), `best` (`run_id`, `load`, `text`, `past_knee`: why
/// a load heavier than the knee, or null), `no_best` (why none, with targets), `cache_note`,
/// `conditions_note`, `finished` (nothing more will be measured) and the page's path.
pub fn verdict_json(sweep_id: i64, runs: &[RunView]) -> Value {
    let best = best_setting(runs).map(|(id, text)| {
        json!({
            "run_id": id,
            "load": runs.iter().find(|r| r.id == id).and_then(|r| r.spec.as_ref()).map(load_json),
            "text": text,
            "past_knee": past_knee(runs),
        })
    });
    json!({
        "sweep_id": sweep_id,
        "finished": sweep_finished(runs),
        "steps": runs.len(),
        "knee": sweep_knee(runs).map(|k| json!({"concurrency": k.concurrency, "text": k.describe()})),
        "knee_text": knee_text(runs),
        "best": best,
        "no_best": if best.is_none() { none_within(runs) } else { None },
        "cache_note": cache_note(runs),
        "conditions_note": conditions_note(runs),
        "page": format!("/sweeps/{sweep_id}"),
    })
}

/// The whole sweep: `{"sweep_id", "steps": [step_json...] in the page's order, "verdict"}`.
pub fn sweep_json(sweep_id: i64, runs: &[RunView]) -> Value {
    let mut ordered = runs.to_vec();
    table_order(&mut ordered);
    json!({
        "sweep_id": sweep_id,
        "steps": ordered.iter().map(step_json).collect::<Vec<_>>(),
        "verdict": verdict_json(sweep_id, runs),
    })
}
