//! The runs list: newest first, 50 a page, filtered in SQL, rendered on the server and read
//! again every 2 s while the tab is shown (one light request, where an event stream per run
//! would use up the browser's six connections per host); rename and delete from its rows.

use super::live_html::Live;
use super::widgets::{allowed, use_me, ErrorBox, OriginBadge, StatusBadge};
use crate::api::runs::{list_runs_page, Origin, RunFilter, RunPage, STATUSES};
use crate::api::types::RunView;
use crate::charts::{throughput_bars, ThroughputBar};
use crate::domain::accounts::Permission;
use crate::domain::format;
use crate::domain::status::RunStatus;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

pub mod manage;
use manage::{Buttons, Panel, Target};

/// How often the list is read again while the tab is shown, in milliseconds.
const REFRESH_MS: u32 = 2_000;

/// Rendered on the server only: the table and chart are a `Live` part, read again every 2 s
/// while the tab is shown; the row buttons are answered by the rename-and-delete `Panel` island.
#[component]
pub fn RunsPage() -> impl IntoView {
    let filter = {
        let q = use_query_map().read_untracked();
        let get = |k: &str| q.get(k).unwrap_or_default();
        RunFilter::from_query(&get("status"), &get("q"), &get("origin"), &get("page"))
    };
    let wanted = filter.clone();
    let runs = Resource::new(|| (), move |_| list_runs_page(wanted.clone()));
    let shown = filter.clone();
    view! {
        <h1>"Runs"</h1>
        <p class="lead">
            "Every benchmark run, newest first. "
            <a href="/launch">"Launch a new run"</a>
            "."
        </p>
        <FilterForm filter/>
        <Panel/>
        <Suspense fallback=|| view! { <p>"Loading runs…"</p> }>
            {move || {
                let filter = shown.clone();
                Suspend::new(async move {
                    match runs.await {
                        Ok(page) => view! {
                            <Live id="runs" every_ms=REFRESH_MS>
                                <RunsBody page filter/>
                            </Live>
                        }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// The table and the chart.
#[component]
fn RunsBody(page: RunPage, filter: RunFilter) -> impl IntoView {
    let may_change = allowed(use_me(), Permission::Run);
    let list = page.runs.clone();
    view! {
        <RunsTable page filter may_change/>
        <ThroughputChart runs=list/>
    }
}

/// Status, text and origin, as a GET form: the filter lives in the address (shareable, and the
/// back button works).
#[component]
fn FilterForm(filter: RunFilter) -> impl IntoView {
    let clear = !filter.is_empty();
    view! {
        <form method="get" action="/" class="filter" aria-label="Filter runs">
            <div class="field">
                <label for="f-status">"Status"</label>
                <select id="f-status" name="status">
                    <option value="">"any"</option>
                    {STATUSES.into_iter().map(|s| view! {
                        <option value=s.label() selected=filter.status == Some(s)>{s.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-text">"Name or model contains"</label>
                <input id="f-text" name="q" type="search" value=filter.text.clone()/>
            </div>
            <div class="field">
                <label for="f-origin">"Origin"</label>
                <select id="f-origin" name="origin">
                    <option value="">"any"</option>
                    {Origin::ALL.into_iter().map(|o| view! {
                        <option value=o.label() selected=filter.origin == Some(o)>{o.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <button type="submit">"Filter"</button>
            {clear.then(|| view! { <a href="/">"Clear"</a> })}
        </form>
    }
}

#[component]
fn RunsTable(page: RunPage, filter: RunFilter, may_change: bool) -> impl IntoView {
    if page.runs.is_empty() {
        return if filter.is_empty() && page.page <= 1 {
            view! { <p class="empty">"No runs yet. " <a href="/launch">"Launch the first one"</a> "."</p> }.into_any()
        } else {
            view! { <p class="empty">"No run matches. " <a href="/">"Show every run"</a> "."</p> }.into_any()
        };
    }
    let first = i64::from(page.page - 1) * i64::from(page.per_page) + 1;
    let last = first + page.runs.len() as i64 - 1;
    let shown = format!("Runs {first}-{last} of {}", page.total);
    let (at, pages) = (page.page, page.pages());
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
                    <th title="how requests were released: concurrency, or a request rate">"Load"</th>
                    <th>"Status"</th>
                    <th class="num">"Requests"</th>
                    <th class="num" title=crate::domain::definitions::OUTPUT_TPS>"Output tok/s"</th>
                    <th class="num" title=crate::domain::definitions::TOTAL_TPS>"Total tok/s"</th>
                    <th class="num" title=crate::domain::definitions::WALL_TIME>"Wall time"</th>
                    {may_change.then(|| view! { <th><span class="sr-only">"Change"</span></th> })}
                </tr>
            </thead>
            <tbody>
                {page.runs
                    .into_iter()
                    .map(|r| {
                        let id = r.id;
                        let href = format!("/runs/{id}");
                        let s = r.summary.clone();
                        let summary_only = r.summary_only();
                        let origin = r.origin_label();
                        let kind = r.kind();
                        let label = format!("run #{id} '{}'", r.name);
                        let name = r.name.clone();
                        view! {
                            <tr data-run=id.to_string()>
                                <td>
                                    <input type="checkbox" name="run" value=id.to_string() aria-label=format!("compare run {id}")/>
                                </td>
                                <td>{id}</td>
                                <td>
                                    <a href=href>{r.name.clone()}</a>
                                    " "
                                    <OriginBadge label=origin/>
                                    {super::job::kind_tag(kind).map(|tag| view! {
                                        " " <span class="badge badge-batch" title=kind.label()>{tag}</span>
                                    })}
                                    {r.created_by.clone().map(|u| view! { <br/><small class="by">{format!("by {u}")}</small> })}
                                </td>
                                <td>{r.model.clone()}</td>
                                <td>{r.endpoint_name.clone()}</td>
                                // The load beside the speed: a run at concurrency 16 is not slower than one at
                                // 2 for its own sake (QA read two bars of one model as one).
                                <td class="load">{match r.spec.as_ref() {
                                    Some(_) if kind.is_batch() => kind.label().to_string(),
                                    Some(spec) => spec.load_label(),
                                    None => "not recorded".to_string(),
                                }}</td>
                                <td><StatusBadge status=r.status/></td>
                                <td class="num">{match s.as_ref().filter(|_| summary_only) {
                                    Some(s) => format!("{}/{}", s.requests, r.total_requests.max(s.requests as i64)),
                                    None => format!("{}/{}", r.done_requests, r.total_requests),
                                }}</td>
                                {match s.as_ref() {
                                    // An import without times: no zeros that read as measured.
                                    Some(s) if s.untimed() => view! {
                                        <td class="num no-timing" colspan="3">{crate::domain::summary::NO_TIMING}</td>
                                    }.into_any(),
                                    s => view! {
                                        <td class="num">{s.map(|s| s.output_rate_text(format::int)).unwrap_or_default()}</td>
                                        <td class="num">{s.map(|s| format::int(s.total_tokens_per_s)).unwrap_or_default()}</td>
                                        <td class="num">{s.map(|s| format::seconds(s.wall_time_s)).unwrap_or_default()}</td>
                                    }.into_any(),
                                }}
                                {may_change.then(|| view! {
                                    <td class="actions"><Buttons target=Target::Run(id) label=label.clone() name=name.clone()/></td>
                                })}
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
        <div class="pager">
            <button type="submit">"Compare selected runs"</button>
            <span class="note">{shown}</span>
            <Pager page=at pages filter/>
        </div>
        </form>
    }
    .into_any()
}

/// Previous and next pages, keeping the filter.
#[component]
fn Pager(page: u32, pages: u32, filter: RunFilter) -> impl IntoView {
    (pages > 1).then(|| {
        view! {
            <nav class="pages" aria-label="Pages">
                {(page > 1).then(|| view! { <a href=filter.query(page - 1)>"← Newer"</a> })}
                <span>{format!("page {page} of {pages}")}</span>
                {(page < pages).then(|| view! { <a href=filter.query(page + 1)>"Older →"</a> })}
            </nav>
        }
    })
}

/// Output and total tok/s of the finished runs, side by side (imports without times left out,
/// and named).
#[component]
fn ThroughputChart(runs: Vec<RunView>) -> impl IntoView {
    let finished = || {
        runs.iter()
            .rev()
            .filter(|r| matches!(r.status, RunStatus::Completed | RunStatus::Imported))
    };
    let untimed: Vec<String> = finished()
        .filter(|r| r.summary.as_ref().is_some_and(|s| s.untimed()))
        .map(|r| format!("#{}", r.id))
        .collect();
    let bars: Vec<ThroughputBar> = finished()
        .filter_map(|r| {
            let s = r.summary.as_ref().filter(|s| !s.untimed())?;
            // Origin and, for a batch job, its kind: never mistaken for a server run.
            let tags: Vec<&str> = [r.origin_label()]
                .into_iter()
                .chain(super::job::kind_tag(r.kind()))
                .filter(|t| !t.is_empty())
                .collect();
            // The load first (labels are cut short): two runs of one model at 16 and at 2 are
            // told apart.
            let load = match r.spec.as_ref() {
                Some(_) if r.kind().is_batch() => String::new(),
                Some(spec) => match spec.load.rate {
                    Some(rate) => format!("{rate}/s "),
                    None => format!("c{} ", spec.load.concurrency),
                },
                None => String::new(),
            };
            let label = if tags.is_empty() {
                format!("#{} {load}{}", r.id, r.model)
            } else {
                format!("#{} {load}{} ({})", r.id, r.model, tags.join(", "))
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
            {(!untimed.is_empty()).then(|| view! {
                <p class="note">{format!("Not drawn: {} ({}).", untimed.join(", "), crate::domain::summary::NO_TIMING)}</p>
            })}
            <p class="definition">
                "Output tok/s = " {crate::domain::definitions::OUTPUT_TPS} ". Total tok/s = "
                {crate::domain::definitions::TOTAL_TPS} ". The two are different quantities: compare like with like."
            </p>
        </section>
    }
}
