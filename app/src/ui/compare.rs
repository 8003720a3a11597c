use super::charts::CdfCharts;
use super::widgets::{tree, ErrorBox, IfAllowed, OriginBadge};
use crate::api::cost::{compare_modes, mode_tables, CostTables};
use crate::api::quality::side_by_side;
use crate::api::runs::{compare_missing, compare_runs};
use crate::api::AppError;
use crate::domain::accounts::Permission;
use crate::domain::definitions as def;
use crate::domain::format;
use crate::domain::modes::{kind_of, ModeTable, DEFINITION, HEAD, TITLE};
use crate::domain::quality::extract_json;
use crate::domain::report::load::{compare, RunLoad};
use crate::domain::stats::Distribution;
use crate::domain::summary::sample::{percentile_cell, small_sample_note, Pct};
use crate::domain::summary::NO_TIMING;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Runs side by side: key figures and overlaid latency distributions.
#[component]
pub fn ComparePage() -> impl IntoView {
    let query = use_query_map();
    let ids = move || {
        query
            .read()
            .get_all("run")
            .unwrap_or_default()
            .iter()
            .filter_map(|s| s.parse::<i64>().ok())
            .collect::<Vec<_>>()
    };
    let data = Resource::new(ids, compare_runs);
    let missing = Resource::new(ids, compare_missing);
    // Issue 14: when a batch job is among them, the kinds side by side, priced (made here, at the
    // page's top, so that the server and the browser create it in the same place).
    let modes = Resource::new(ids, compare_modes);
    let chosen = |key: &str| query.read_untracked().get(key);
    let item = chosen("item");
    let sheet_ix = chosen("sheet").and_then(|s| s.parse().ok()).unwrap_or(0usize);
    view! {
        <h1>"Compare runs"</h1>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                missing.await.unwrap_or_default().into_iter().map(|m| view! { <p class="note unlike" role="note">{format!("Not compared: {m}.")}</p> }).collect_view()
            })}
        </Suspense>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(rows) if rows.is_empty() => view! { <p class="empty">"Pick runs to compare on the Runs page."</p> }.into_any(),
                    Ok(rows) => {
                        // Batch jobs have no per-request times: their (empty) latencies are not drawn;
                        // nor are an untimed import's (its records hold 0 ms).
                        let untimed = |r: &crate::api::types::RunView| r.summary.as_ref().is_some_and(|s| s.untimed());
                        let series = rows.iter().filter(|(r, _)| !kind_of(r).is_batch() && !untimed(r)).map(|(_, s)| s.clone()).collect::<Vec<_>>();
                        let undrawn: Vec<String> = rows.iter().filter(|(r, _)| kind_of(r).is_batch()).map(|(r, _)| format!("#{}", r.id)).collect();
                        let untimed_ids: Vec<String> = rows.iter().filter(|(r, _)| !kind_of(r).is_batch() && untimed(r)).map(|(r, _)| format!("#{}", r.id)).collect();
                        // Smoke tests, flagged as the report flags them.
                        let small: Vec<String> = rows
                            .iter()
                            .filter_map(|(r, _)| Some(format!("#{} {}: {}", r.id, r.name, small_sample_note(r.summary.as_ref()?.requests)?)))
                            .collect();
                        // Like for like: each run's load and dataset, and whether they differ in them
                        // (compared in the order the runs ran: a cache one left serves a later one).
                        let loads: Vec<(String, RunLoad)> = rows.iter().map(|(r, _)| (format!("#{}", r.id), RunLoad::of_view(r))).collect();
                        let mut in_order: Vec<(i64, String, &RunLoad)> = rows.iter().zip(&loads).map(|((r, _), (l, x))| (r.id, l.clone(), x)).collect();
                        in_order.sort_by_key(|x| x.0);
                        let verdict = compare(&in_order.into_iter().map(|(_, l, x)| (l, x)).collect::<Vec<_>>());
                        let like = verdict.like_for_like() && verdict.conditions.is_empty();
                        let load_rows = rows.iter().zip(&loads).map(|((r, _), (_, l))| (format!("#{} {}", r.id, r.name), l.clone())).collect::<Vec<_>>();
                        view! {
                            <table class="compare">
                                <thead>
                                    <tr>
                                        <th>"Run"</th><th>"Model"</th><th>"Dataset"</th>
                                        <th class="num" title="measured requests (warm-up excluded)">"Requests"</th>
                                        <th class="num" title=def::OUTPUT_TPS>"Output tok/s"</th>
                                        <th class="num" title=def::TOTAL_TPS>"Total tok/s"</th>
                                        <th class="num" title=def::TTFT>"TTFT p50 / p99 (ms)"</th>
                                        <th class="num" title=def::E2E>"E2E p50 / p99 (ms)"</th>
                                        <th class="num" title=def::SUCCESS_RATE>"Success"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {rows.into_iter().map(|(r, _)| {
                                        let n = r.summary.as_ref().map(|s| format::int(s.requests as f64)).unwrap_or("—".into());
                                        // A run not finished has no summary yet: it says where it is, not "not recorded".
                                        let Some(s) = r.summary.clone() else {
                                            return view! {
                                                <tr>
                                                    <td><a href=format!("/runs/{}", r.id)>{format!("#{} {}", r.id, r.name)}</a> " " <OriginBadge label=r.origin_label()/></td>
                                                    <td>{r.model.clone()}</td>
                                                    <td>{if r.dataset_name.is_empty() { "not recorded".to_string() } else { r.dataset_name.clone() }}</td>
                                                    <td class="num">{n}</td>
                                                    <td class="unfinished" colspan="5">{format!("{} ({}/{} requests): no figures until it ends; reload then", r.status.label(), r.done_requests, r.total_requests)}</td>
                                                </tr>
                                            }.into_any();
                                        };
                                        // An untimed import has no speed to show, rank or compare.
                                        let speed = if s.untimed() {
                                            view! { <td class="num no-timing" colspan="4">{NO_TIMING}</td> }.into_any()
                                        } else {
                                            view! {
                                                <td class="num">{s.output_rate_text(format::int)}</td>
                                                <td class="num">{format::int(s.total_tokens_per_s)}</td>
                                                {pair(s.ttft_ms)}
                                                {pair(s.e2e_ms)}
                                            }
                                            .into_any()
                                        };
                                        view! {
                                            <tr>
                                                <td><a href=format!("/runs/{}", r.id)>{format!("#{} {}", r.id, r.name)}</a> " " <OriginBadge label=r.origin_label()/></td>
                                                <td>{r.model.clone()}</td>
                                                <td>{if r.dataset_name.is_empty() { "not recorded".to_string() } else { r.dataset_name.clone() }}</td>
                                                <td class="num">{n}</td>
                                                {speed}
                                                <td class="num">{format::percent(s.success_rate)}</td>
                                            </tr>
                                        }.into_any()
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <section class="loads" aria-labelledby="load-title">
                                <h2 id="load-title">"Load of each run"</h2>
                                <p class=if like { "note like" } else { "note unlike" } role="note">{verdict.sentence()}</p>
                                <table class="loads">
                                    <thead><tr><th>"Run"</th><th>"Requests released"</th><th>"Max tokens"</th><th>"Engine settings"</th><th>"Conditions (captured)"</th></tr></thead>
                                    <tbody>
                                        {load_rows.into_iter().map(|(label, l)| view! {
                                            <tr>
                                                <td>{label}</td>
                                                <td>{l.shape.clone().unwrap_or("not recorded".into())}</td>
                                                <td>{l.max_tokens.clone().unwrap_or("not recorded".into())}</td>
                                                <td>{l.engine_text()}</td>
                                                <td>{l.conditions.as_ref().map(|c| c.short()).unwrap_or_else(|| "not captured".into())}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </section>
                            {(!small.is_empty()).then(|| view! {
                                <ul class="note small-sample" role="note">
                                    {small.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}
                                </ul>
                            })}
                            {(!undrawn.is_empty()).then(|| view! {
                                <p class="note">{format!("Not in the latency charts: {} (batch jobs have no per-request timing).", undrawn.join(", "))}</p>
                            })}
                            {(!untimed_ids.is_empty()).then(|| view! {
                                <p class="note">{format!("Not in the latency charts: {} ({NO_TIMING}: the file gives no per-request times).", untimed_ids.join(", "))}</p>
                            })}
                            <CdfCharts series/>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <BatchModes data=modes ids=ids() sheet_ix item=item.clone()/>
        // Answers beside their models: not for reviewers, who grade blind.
        <IfAllowed what=Permission::ReadAnswers>
            <SideBySide ids=ids() item=item.clone() sheet_ix/>
        </IfAllowed>
    }
}

/// "p50 / p99" of one latency: each percentile by the shared rule (a p99 of fewer than 100
/// requests is "—"), with n in the cell's title when the sample is small.
fn pair(d: Option<Distribution>) -> impl IntoView {
    let [(p50, why50), (p99, why99)] = [Pct::P50, Pct::P99].map(|p| percentile_cell(d.as_ref(), p));
    let title: Vec<String> = [why50, why99].into_iter().filter(|t| !t.is_empty()).collect();
    let title = (!title.is_empty()).then(|| title.join("; "));
    let text = if d.is_none() { "—".to_string() } else { format!("{p50} / {p99}") };
    view! { <td class="num" title=title>{text}</td> }
}

/// The same item's answer from each run, named by model.
#[component]
fn SideBySide(ids: Vec<i64>, item: Option<String>, sheet_ix: usize) -> impl IntoView {
    let hidden = (ids.clone(), sheet_ix);
    let shown = item.clone();
    let answers = Resource::new(move || (ids.clone(), item.clone()), |(ids, item)| side_by_side(ids, item));
    view! {
        <section aria-labelledby="sbs-title">
            <h2 id="sbs-title">"Answers side by side"</h2>
            <p class="note">"The same item from each run, with the model named (for blind judgement use a pairwise grading queue)."</p>
            <Transition fallback=|| ()>
                {move || { let (hidden, shown) = (hidden.clone(), shown.clone()); Suspend::new(async move {
                    match answers.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(sbs) if sbs.answers.is_empty() => view! { <p class="empty">"No answers stored."</p> }.into_any(),
                        Ok(sbs) => {
                            let n = sbs.answers.len();
                            view! {
                                <form method="get" action="/compare#sbs-title" class="row filter" data-auto="" aria-label="Choose the item">
                                    <Keep ids=hidden.0.clone() sheet=Some(hidden.1) item=None/>
                                    <div class="field">
                                        <label for="sbs-item">"Item"</label>
                                        <select id="sbs-item" name="item">
                                            {sbs.items.iter().map(|i| view! { <option value=i.clone() selected=shown.as_deref() == Some(i.as_str())>{i.clone()}</option> }).collect_view()}
                                        </select>
                                    </div>
                                    <button type="submit">"Show"</button>
                                </form>
                                <details><summary>"Prompt"</summary><pre>{sbs.prompt.clone()}</pre></details>
                                <div class={if n >= 3 { "side many" } else { "side" }} style=format!("grid-template-columns: repeat({n}, 1fr)")>
                                    {sbs.answers.into_iter().map(|(label, text, check)| {
                                        let body = match extract_json(&text) {
                                            Some((_, v)) => tree(&v, "", &check.as_ref().map(|c| c.fields.keys().cloned().collect::<Vec<_>>()).unwrap_or_default()),
                                            None => view! { <pre class="answer-text">{text.clone()}</pre> }.into_any(),
                                        };
                                        let problems = check
                                            .map(|c| {
                                                let mut p = c.schema_errors;
                                                if c.handback {
                                                    p.push("hands the task back".into());
                                                }
                                                if c.truncated {
                                                    p.push("truncated".into());
                                                }
                                                p
                                            })
                                            .unwrap_or_default();
                                        let title = label.clone();
                                        view! {
                                            <section class="answer" aria-label=label>
                                                <h3>{title}</h3>
                                                {(!problems.is_empty()).then(|| view! { <p class="error">{problems.join("; ")}</p> })}
                                                {body}
                                            </section>
                                        }
                                    }).collect_view()}
                                </div>
                            }.into_any()
                        }
                    }
                })}}
            </Transition>
        </section>
    }
}

/// The compared runs' kinds side by side (a batch job is among them), at a price sheet chosen
/// here; runs not finished yet are left out (they have no figures).
#[component]
fn BatchModes(data: Resource<Result<Option<CostTables>, AppError>>, ids: Vec<i64>, sheet_ix: usize, item: Option<String>) -> impl IntoView {
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let (ids, item) = (ids.clone(), item.clone());
                Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(None) => ().into_any(),
                        Ok(Some(d)) => {
                            let all = d.sheets;
                            let (tables, sheet) = match all.get(sheet_ix) {
                                Some(sheet) => (mode_tables(&d.runs, sheet, &all), sheet.name.clone()),
                                None => (Vec::new(), String::new()),
                            };
                            view! {
                                <form method="get" action="/compare#modes-sheet" class="row filter" data-auto="" aria-label="Choose the price sheet">
                                    <Keep ids=ids.clone() sheet=None item=item.clone()/>
                                    <div class="field">
                                        <label for="modes-sheet">"Price sheet"</label>
                                        <select id="modes-sheet" name="sheet">
                                            {all.iter().enumerate().map(|(i, s)| view! { <option value=i.to_string() selected=i == sheet_ix>{format!("{} ({})", s.name, s.dated)}</option> }).collect_view()}
                                        </select>
                                    </div>
                                    <button type="submit">"Show"</button>
                                </form>
                                <ModesSection tables sheet/>
                            }
                            .into_any()
                        }
                    }
                })
            }}
        </Suspense>
    }
}

/// The page's other choices, kept by a form that changes one of them.
#[component]
fn Keep(ids: Vec<i64>, sheet: Option<usize>, item: Option<String>) -> impl IntoView {
    view! {
        {ids.into_iter().map(|id| view! { <input type="hidden" name="run" value=id.to_string()/> }).collect_view()}
        {sheet.map(|s| view! { <input type="hidden" name="sheet" value=s.to_string()/> })}
        {item.map(|i| view! { <input type="hidden" name="item" value=i/> })}
    }
}

/// "Server mode, offline batch and provider batch": one table per dataset, with the definition
/// of its figures (the compare and costs pages; the report has the same in its document).
#[component]
pub fn ModesSection(tables: Vec<ModeTable>, sheet: String) -> impl IntoView {
    view! {
        <section class="modes" aria-labelledby="modes-title">
            <h2 id="modes-title">{TITLE}</h2>
            <p class="definition">{format!("Prices: {sheet}. {DEFINITION}")}</p>
            {if tables.is_empty() {
                view! { <p class="empty">"No batch job shares a dataset with another run here (or its dataset is not recorded)."</p> }.into_any()
            } else {
                tables.into_iter().map(|t| {
                    let label = format!("{TITLE}: {}", t.dataset);
                    let conditions = t.conditions.clone();
                    view! {
                        <h3>{format!("Dataset: {}", t.dataset)}</h3>
                        <table class="modes" aria-label=label>
                            <thead><tr>{HEAD.iter().map(|h| view! { <th>{*h}</th> }).collect_view()}</tr></thead>
                            <tbody>
                                {t.rows.into_iter().map(|r| {
                                    let href = format!("/runs/{}", r.id);
                                    let cells = r.cells();
                                    view! {
                                        <tr>
                                            <td><a href=href>{cells[0].clone()}</a></td>
                                            {cells.into_iter().skip(1).map(|c| view! { <td>{c}</td> }).collect_view()}
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        {conditions.map(|c| view! { <p class="note unlike" role="note">{c}</p> })}
                    }
                }).collect_view().into_any()
            }}
        </section>
    }
}
