use super::charts::SweepChart;
use super::widgets::{ErrorBox, OriginBadge, StatusBadge};
use crate::api::runs::sweep_runs;
use crate::domain::format;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn SweepPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let runs = Resource::new(id, sweep_runs);
    view! {
        <h1>{move || format!("Sweep #{}", id())}</h1>
        <p class="lead">"One run per concurrency level, same model, dataset and settings."</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match runs.await {
                    Ok(runs) => view! {
                        <table class="sweep">
                            <thead><tr><th>"Concurrency"</th><th>"Run"</th><th>"Status"</th><th class="num">"Output tok/s"</th><th class="num">"E2E p90 (ms)"</th><th class="num">"TTFT p90 (ms)"</th></tr></thead>
                            <tbody>
                                {runs.iter().map(|r| {
                                    let s = r.summary.clone();
                                    view! {
                                        <tr>
                                            <td>{r.spec.as_ref().map(|s| s.load.concurrency).unwrap_or(0)}</td>
                                            <td><a href=format!("/runs/{}", r.id)>{format!("#{}", r.id)}</a> " " <OriginBadge label=r.origin_label()/></td>
                                            <td><StatusBadge status=r.status/></td>
                                            <td class="num">{s.as_ref().map(|s| format::int(s.output_tokens_per_s)).unwrap_or_default()}</td>
                                            <td class="num">{s.as_ref().and_then(|s| s.e2e_ms).map(|d| format::dec(d.p90, 1)).unwrap_or_default()}</td>
                                            <td class="num">{s.as_ref().and_then(|s| s.ttft_ms).map(|d| format::dec(d.p90, 1)).unwrap_or_default()}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        <SweepChart runs/>
                    }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
