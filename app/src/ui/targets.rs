//! Issue 18 on the pages: the launch form's service-level targets, and the run page's
//! "Conditions" (what the endpoint said about itself, captured when the run started).

use super::widgets::FieldMessage;
use crate::api::AppError;
use crate::domain::conditions::Conditions;
use crate::domain::definitions as def;
use leptos::prelude::*;

/// Targets for goodput: TTFT, TPOT and E2E in ms, and the percentile the run is checked at.
#[component]
pub fn SloFields(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        <fieldset class="slo">
            <legend>"Service-level targets (goodput)"</legend>
            <p class="definition">
                "Optional. The summary then reports goodput beside throughput: " {def::GOODPUT} "."
            </p>
            <div class="row">
                <div class="field">
                    <label for="slo_ttft_ms">"TTFT target (ms)"</label>
                    <input id="slo_ttft_ms" name="form[slo_ttft_ms]" type="text" inputmode="decimal" placeholder="e.g. 2000"/>
                    <FieldMessage error field="slo_ttft_ms"/>
                </div>
                <div class="field">
                    <label for="slo_tpot_ms">"TPOT target (ms)"</label>
                    <input id="slo_tpot_ms" name="form[slo_tpot_ms]" type="text" inputmode="decimal" placeholder="e.g. 50"/>
                    <FieldMessage error field="slo_tpot_ms"/>
                </div>
                <div class="field">
                    <label for="slo_e2e_ms">"E2E target (ms)"</label>
                    <input id="slo_e2e_ms" name="form[slo_e2e_ms]" type="text" inputmode="decimal" placeholder="none"/>
                    <FieldMessage error field="slo_e2e_ms"/>
                </div>
                <div class="field">
                    <label for="slo_percentile">"At percentile"</label>
                    <input id="slo_percentile" name="form[slo_percentile]" type="text" inputmode="decimal" placeholder="90"
                        aria-describedby="slo_percentile-rule"/>
                    <FieldMessage error field="slo_percentile"/>
                </div>
            </div>
            <p id="slo_percentile-rule" class="note">
                {format!(
                    "At percentile: {}; empty: 90. Goodput counts each request against the targets; the percentile is only for whether the run as a whole met them.",
                    crate::domain::goodput::PERCENTILE_RULE
                )}
            </p>
            <FieldMessage error field="slo"/>
        </fieldset>
    }
}

/// What the endpoint said about itself for this run, captured rather than typed.
#[component]
pub fn ConditionsPanel(
    conditions: Option<Conditions>,
    imported: bool,
    /// The run has not started measuring yet (queued, or its pre-flight check): the conditions
    /// come when it does (the page reads the run again then).
    #[prop(optional)]
    pending: bool,
) -> impl IntoView {
    let body = match conditions {
        Some(c) => {
            let facts = c.facts();
            view! {
                <table class="figures conditions">
                    <tbody>
                        {facts.into_iter().map(|(k, v)| view! { <tr><th scope="row">{k}</th><td>{v}</td></tr> }).collect_view()}
                    </tbody>
                </table>
                <p class="definition">
                    "Read from the endpoint when the run started (/version, the vllm:*_info gauges of /metrics, /v1/models); the prefix-cache hit rate is the change of vllm:prefix_cache_hits over vllm:prefix_cache_queries (prompt tokens) between the run's start and end. A second run over the same prompts is faster because of the cache, not the model."
                </p>
            }
            .into_any()
        }
        None if imported => view! { <p class="note">"Not captured: the run was imported."</p> }.into_any(),
        None if pending => view! {
            <p class="note">"Read from the endpoint when the run starts measuring; they show here then."</p>
        }
        .into_any(),
        None => view! {
            <p class="note">"Not captured: the endpoint said nothing about itself (hosted endpoints have no /metrics or /version), or the run ended before measuring began."</p>
        }
        .into_any(),
    };
    view! {
        <section class="conditions" aria-labelledby="conditions-title">
            <h2 id="conditions-title">"Conditions"</h2>
            {body}
        </section>
    }
}
