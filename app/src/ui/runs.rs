use super::widgets::{ErrorBox, OriginBadge, StatusBadge};
use crate::api::runs::list_runs;
use crate::api::types::RunView;
use crate::charts::{throughput_bars, ThroughputBar};
use crate::domain::format;
use crate::domain::status::RunStatus;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn RunsPage() -> impl IntoView {
    let runs = Resource::new(|| (), |_| list_runs());
    view! {
        <h1>"Runs"</h1>
        <p class="lead">
            "Every benchmark run, newest first. "
            <A href="/launch">"Launch a new run"</A>
            "."
        </p>
        <Suspense fallback=|| view! { <p>"Loading runs…"</p> }>
            {move || Suspend::new(async move {
                match runs.await {
                    Ok(runs) => view! { <RunsTable runs=runs.clone()/> <ThroughputChart runs/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RunsTable(runs: Vec<RunView>) -> impl IntoView {
    if runs.is_empty() {
        return view! { <p class="empty">"No runs yet. " <A href="/launch">"Launch the first one"</A> "."</p> }.into_any();
    }
    view! {
        <form method="get" action="/compare" class="plain" aria-label="Compare runs">
        <table class="runs">
            <caption class="sr-only">"Runs"</caption>
            <thead>
                <tr>
                    <th><span class="sr-only">"Compare"</span></th>
                    <th>"#"</th>
                    <th>"Name"</th>
                    <th>"Model"</th>
                    <th>"Endpoint"</th>
                    <th>"Status"</th>
                    <th class="num">"Requests"</th>
                    <th class="num" title=crate::domain::definitions::OUTPUT_TPS>"Output tok/s"</th>
                    <th class="num" title=crate::domain::definitions::TOTAL_TPS>"Total tok/s"</th>
                    <th class="num" title=crate::domain::definitions::WALL_TIME>"Wall time"</th>
                </tr>
            </thead>
            <tbody>
                {runs
                    .into_iter()
                    .map(|r| {
                        let href = format!("/runs/{}", r.id);
                        let s = r.summary.clone();
                        let origin = r.origin_label();
                        view! {
                            <tr>
                                <td><input type="checkbox" name="run" value=r.id.to_string() aria-label=format!("compare run {}", r.id)/></td>
                                <td>{r.id}</td>
                                <td>
                                    <A href=href>{r.name.clone()}</A>
                                    " "
                                    <OriginBadge label=origin/>
                                </td>
                                <td>{r.model.clone()}</td>
                                <td>{r.endpoint_name.clone()}</td>
                                <td><StatusBadge status=r.status/></td>
                                <td class="num">{format!("{}/{}", r.done_requests, r.total_requests)}</td>
                                <td class="num">{s.as_ref().map(|s| format::int(s.output_tokens_per_s)).unwrap_or_default()}</td>
                                <td class="num">{s.as_ref().map(|s| format::int(s.total_tokens_per_s)).unwrap_or_default()}</td>
                                <td class="num">{s.as_ref().map(|s| format::seconds(s.wall_time_s)).unwrap_or_default()}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
        <button type="submit">"Compare selected runs"</button>
        </form>
    }
    .into_any()
}

/// Output and total tok/s of the finished runs, side by side.
#[component]
fn ThroughputChart(runs: Vec<RunView>) -> impl IntoView {
    let bars: Vec<ThroughputBar> = runs
        .iter()
        .rev()
        .filter(|r| matches!(r.status, RunStatus::Completed | RunStatus::Imported))
        .filter_map(|r| {
            let s = r.summary.as_ref()?;
            let origin = r.origin_label();
            let label = if origin.is_empty() {
                format!("#{} {}", r.id, r.model)
            } else {
                format!("#{} {} ({origin})", r.id, r.model)
            };
            Some(ThroughputBar {
                label,
                output_tps: s.output_tokens_per_s,
                total_tps: s.total_tokens_per_s,
            })
        })
        .collect();
    let svg = throughput_bars(&bars, 860, 360);
    view! {
        <section class="chart" aria-labelledby="throughput-title">
            <h2 id="throughput-title">"Throughput"</h2>
            <div class="svg" inner_html=svg></div>
            <p class="definition">
                "Output tok/s = " {crate::domain::definitions::OUTPUT_TPS} ". Total tok/s = "
                {crate::domain::definitions::TOTAL_TPS} ". The two are different quantities: compare like with like."
            </p>
        </section>
    }
}
