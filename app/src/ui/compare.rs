use super::charts::CdfCharts;
use super::widgets::{ErrorBox, OriginBadge};
use crate::api::runs::compare_runs;
use crate::domain::definitions as def;
use crate::domain::format;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Runs side by side: key figures and overlaid latency distributions.
#[component]
pub fn ComparePage() -> impl IntoView {
    let query = use_query_map();
    let ids = move || query.read().get_all("run").unwrap_or_default().iter().filter_map(|s| s.parse::<i64>().ok()).collect::<Vec<_>>();
    let data = Resource::new(ids, compare_runs);
    view! {
        <h1>"Compare runs"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(rows) if rows.is_empty() => view! { <p class="empty">"Pick runs to compare on the Runs page."</p> }.into_any(),
                    Ok(rows) => {
                        let series = rows.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>();
                        view! {
                            <table class="compare">
                                <thead>
                                    <tr>
                                        <th>"Run"</th><th>"Model"</th>
                                        <th class="num" title=def::OUTPUT_TPS>"Output tok/s"</th>
                                        <th class="num" title=def::TOTAL_TPS>"Total tok/s"</th>
                                        <th class="num" title=def::TTFT>"TTFT p50 / p99 (ms)"</th>
                                        <th class="num" title=def::E2E>"E2E p50 / p99 (ms)"</th>
                                        <th class="num" title=def::SUCCESS_RATE>"Success"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {rows.into_iter().map(|(r, _)| {
                                        let s = r.summary.clone().unwrap_or_default();
                                        let pair = |d: Option<crate::domain::stats::Distribution>| d.map(|d| format!("{} / {}", format::dec(d.p50, 1), format::dec(d.p99, 1))).unwrap_or("—".into());
                                        view! {
                                            <tr>
                                                <td><a href=format!("/runs/{}", r.id)>{format!("#{} {}", r.id, r.name)}</a> " " <OriginBadge label=r.origin_label()/></td>
                                                <td>{r.model.clone()}</td>
                                                <td class="num">{format::int(s.output_tokens_per_s)}</td>
                                                <td class="num">{format::int(s.total_tokens_per_s)}</td>
                                                <td class="num">{pair(s.ttft_ms)}</td>
                                                <td class="num">{pair(s.e2e_ms)}</td>
                                                <td class="num">{format::percent(s.success_rate)}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <CdfCharts series/>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
