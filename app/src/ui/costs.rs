//! Costs: every finished run priced by the chosen sheet (recomputed in the browser as you change
//! the sheet or the volume), the sheets themselves (editable), and the hybrid strategy.

use super::widgets::{allowed, use_me, ErrorBox, FieldMessage, FormMessage, IfAllowed, OriginBadge};
use crate::api::cost::{
    cost_data, hybrid_data, hybrid_default, mode_tables, AddSheet, CostRun, CostTables, DeletePrice, PriceForm, SavePrice,
};
use crate::api::AppError;
use crate::charts::{cost_bars, hybrid_curve, monthly_lines, speed_quality_cost, WIDTH};
use crate::domain::accounts::Permission;
use crate::domain::conditions::{differ_note, differences_of_runs, ComparedRun};
use crate::domain::cost::limits::{hourly_text, price_text, usd_text};
use crate::domain::cost::{PriceKind, PriceSheet, RunCost};
use crate::domain::format;
use crate::domain::hybrid::{hybrid_at, hybrid_curve as curve, HybridInput};
use crate::domain::pareto::{pareto_view, ParetoRun};
use leptos::prelude::*;

/// What the hybrid section says until two runs are picked (none is picked for you when no two
/// runs with answers share a dataset).
pub const NO_PAIR: &str = "Pick two runs over the same dataset: one to screen, one to judge (the split reads the items both answered; each run's dataset is in its name above).";

/// The most requests a month the page prices (a trillion): beyond that a volume is a typing
/// mistake.
const MAX_VOLUME: f64 = 1e12;

/// A run at `sheet` itself (a provider batch at its batch price).
fn priced(run: &CostRun, sheet: &PriceSheet, volume: f64) -> Option<(String, RunCost)> {
    run.priced_at(sheet, volume)
}

#[component]
pub fn CostsPage() -> impl IntoView {
    let save = ServerAction::<SavePrice>::new();
    let delete = ServerAction::<DeletePrice>::new();
    let add_sheet = ServerAction::<AddSheet>::new();
    // Moves when a price or a sheet was stored. A refused one changes nothing, and refetching
    // then would rebuild the forms below closed and empty: its form stays open instead, with
    // what was typed and each field's message.
    let stored = RwSignal::new(0u32);
    Effect::new(move |_| {
        if save.value().with(|v| matches!(v, Some(Ok(_)))) {
            stored.update(|n| *n += 1);
        }
    });
    Effect::new(move |_| {
        if add_sheet.value().with(|v| matches!(v, Some(Ok(_)))) {
            stored.update(|n| *n += 1);
        }
    });
    let data = Resource::new(move || (stored.get(), delete.version().get()), |_| cost_data());
    let me = use_me();
    view! {
        <h1>"Costs"</h1>
        <p class="lead">
            "What each run's work costs under a price sheet. The model that produced the tokens and the price applied are shown apart. Change the sheet or the volume: the figures are recomputed here, at once."
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let can_run = allowed(me, Permission::Run);
                match data.await {
                    Ok(d) => view! { <CostViews data=d save delete add_sheet can_run/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn CostViews(
    data: CostTables,
    save: ServerAction<SavePrice>,
    delete: ServerAction<DeletePrice>,
    add_sheet: ServerAction<AddSheet>,
    /// From `allowed` in the Suspend: the same on the server and in the browser.
    can_run: bool,
) -> impl IntoView {
    let sheets = StoredValue::new(data.sheets.clone());
    let runs = StoredValue::new(data.runs.clone());
    let sheet_ix = RwSignal::new(0usize);
    let volume = RwSignal::new(1_000_000.0f64);
    let volume_refused = RwSignal::new(false);
    let sheet = move || sheets.with_value(|s| s.get(sheet_ix.get()).cloned());
    // Runs priced side by side whose captured conditions differ say so (in the order they ran).
    let conditions = {
        let mut by_id: Vec<&CostRun> = data.runs.iter().collect();
        by_id.sort_by_key(|r| r.id);
        let labelled: Vec<ComparedRun> = by_id.iter().map(|r| r.load.compared(format!("#{}", r.id))).collect();
        differ_note(&differences_of_runs(&labelled))
    };
    let table = move || {
        let Some(sheet) = sheet() else {
            return view! { <p class="empty">"No price sheets."</p> }.into_any();
        };
        let v = volume.get();
        let rows = runs.with_value(|runs| {
            runs.iter()
                .map(|r| {
                    // A hosted run is priced at its own provider's sheet (it says so).
                    let p = sheets.with_value(|all| r.priced(&sheet, all, v));
                    view! {
                        <tr>
                            <td><a href=format!("/runs/{}", r.id)>{format!("#{} {}", r.id, r.name)}</a> " " <OriginBadge label=badge(&r.origin)/></td>
                            <td>{r.model.clone()}</td>
                            <td>{p.as_ref().map(|p| p.0.clone()).unwrap_or("no row applies (or the token split is unknown)".into())}</td>
                            <td class="num">{r.summary.mean_total_tokens().map(format::int).unwrap_or("unknown".into())}</td>
                            <td class="num">{p.as_ref().map(|p| usd_text(p.1.per_request.0, 6)).unwrap_or_default()}</td>
                            <td class="num">{p.as_ref().map(|p| usd_text(p.1.per_100k.0, 2)).unwrap_or_default()}</td>
                            <td class="num">{p.as_ref().map(|p| match &p.1.gpu_month {
                                Some(g) => view! {
                                    <span class="both-ways">
                                        <span>{format!("{} GPU around the clock", usd_text(g.around_the_clock.0, 2))}</span>
                                        <span>{format!("{} for the {} GPU-hours the job needs", usd_text(g.job_cost.0, 2), format::dec(g.job_hours, if g.job_hours < 10.0 { 2 } else { 0 }))}</span>
                                    </span>
                                }.into_any(),
                                None => view! { <span>{usd_text(p.1.per_month.0, 2)}</span> }.into_any(),
                            })}</td>
                            <td class="load">{r.load.describe()}</td>
                        </tr>
                    }
                })
                .collect_view()
        });
        view! {
            <table class="costs">
                <thead>
                    <tr>
                        <th>"Run"</th>
                        <th>"Model (produced the tokens)"</th>
                        <th>"Price applied"</th>
                        <th class="num">"Avg tokens/request"</th>
                        <th class="num">"Per request"</th>
                        <th class="num">"Per 100K"</th>
                        <th class="num">{format!("Per month ({})", format::int(v))}</th>
                        <th>"Measured at (load)"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
            {conditions.clone().map(|c| view! { <p class="note unlike" role="note">{c}</p> })}
            <p class="definition">"Per request = prompt tokens x input price + completion tokens x output price (per 1M); hourly rows: $ per hour / requests per hour measured. A GPU paid by the hour is shown both ways a month: kept around the clock (fixed, whatever the volume) and only the GPU-hours the job at this volume needs (at the rate measured at the run's load)."</p>
        }
        .into_any()
    };
    let charts = move || {
        let v = volume.get();
        let current = sheet();
        let (all_sheets, all_runs) = (sheets.get_value(), runs.get_value());
        let full: Vec<&CostRun> = all_runs.iter().filter(|r| r.summary.requests >= 10).collect();
        let models: Vec<String> = full.iter().map(|r| format!("#{} {}", r.id, r.model)).collect();
        let names: Vec<String> = all_sheets.iter().map(|s| s.name.clone()).collect();
        let matrix: Vec<Vec<Option<f64>>> = full
            .iter()
            .map(|r| all_sheets.iter().map(|s| priced(r, s, v).map(|p| p.1.per_100k.0)).collect())
            .collect();
        let bars = cost_bars(&models, &names, &matrix, WIDTH, 440);
        let (mut lm, mut lc, mut pts_in) = (Vec::new(), Vec::new(), Vec::new());
        if let Some(s) = &current {
            for r in &full {
                if let Some((_, c)) = r.priced(s, &all_sheets, v) {
                    lm.push(format!("#{} {}", r.id, r.model));
                    lc.push(c.per_request.0);
                    if let Some(q) = r.quality.clone().filter(|_| r.summary.timing_known) {
                        pts_in.push(ParetoRun {
                            label: format!("#{} {}", r.id, r.model),
                            output_tps: r.summary.output_tokens_per_s,
                            quality: q,
                            cost_per_request: c.per_request.0,
                            load: r.load.clone(),
                        });
                    }
                }
            }
        }
        let lines = monthly_lines(&lm, &lc, v, WIDTH, 420);
        let pareto = pareto_view(&pts_in);
        let scatter = speed_quality_cost(&pareto, WIDTH, 580);
        let caption = pareto.caption();
        let load_rows: Vec<(String, String)> = pareto.points.iter().map(|p| (p.label.clone(), p.load.clone())).collect();
        view! {
            <div class="svg" inner_html=bars></div>
            <div class="svg" inner_html=lines></div>
            <div class="svg" inner_html=scatter></div>
            <p class="definition">{caption}</p>
            {(!load_rows.is_empty()).then(|| view! {
                <table class="loads" aria-label="Load of each run on the chart">
                    <thead><tr><th>"Run"</th><th>"Measured at (concurrency or rate · max tokens · engine settings)"</th></tr></thead>
                    <tbody>{load_rows.into_iter().map(|(l, d)| view! { <tr><td>{l}</td><td>{d}</td></tr> }).collect_view()}</tbody>
                </table>
            })}
        }
    };
    // Issue 14: the finished runs that share a dataset with a batch job, the kinds side by side.
    let modes = move || {
        let current = sheet()?;
        let tables = sheets.with_value(|all| runs.with_value(|rs| mode_tables(rs, &current, all)));
        (!tables.is_empty()).then(|| view! { <super::compare::ModesSection tables sheet=current.name.clone()/> })
    };
    let hybrid_runs = data.runs.clone();
    let hybrid_sheet = Signal::derive(sheet);
    view! {
        <section aria-labelledby="price-title">
            <div class="row controls">
                <div class="field">
                    <label for="sheet">"Price sheet"</label>
                    <select id="sheet" on:change=move |ev| sheet_ix.set(event_target_value(&ev).parse().unwrap_or(0))>
                        {data.sheets.iter().enumerate().map(|(i, s)| view! { <option value=i.to_string()>{format!("{} ({})", s.name, s.dated)}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="volume">"Requests per month"</label>
                    <input
                        id="volume"
                        type="number"
                        value="1000000"
                        on:input=move |ev| {
                            match event_target_value(&ev).trim().parse::<f64>() {
                                Ok(v) if (1.0..=MAX_VOLUME).contains(&v) => {
                                    volume.set(v);
                                    volume_refused.set(false);
                                }
                                _ => volume_refused.set(true),
                            }
                        }
                    />
                    <Show when=move || volume_refused.get()>
                        <p class="field-error" role="alert">{format!("A number of requests from 1 to {}: the figures keep the last one.", format::int(MAX_VOLUME))}</p>
                    </Show>
                </div>
            </div>
            <h2 id="price-title">"Cost per run"</h2>
            {table}
        </section>
        {modes}
        <section class="chart" aria-labelledby="cost-charts-title">
            <h2 id="cost-charts-title">"Cost charts"</h2>
            {charts}
        </section>
        <Hybrid runs=hybrid_runs sheet=hybrid_sheet volume=volume.into()/>
        <Sheets sheets=data.sheets save delete add_sheet can_run/>
    }
}

fn badge(origin: &str) -> &'static str {
    match origin {
        "simulated" => "simulated",
        "imported" => "imported",
        _ => "",
    }
}

#[component]
fn Hybrid(runs: Vec<CostRun>, sheet: Signal<Option<PriceSheet>>, volume: Signal<f64>) -> impl IntoView {
    let with_answers: Vec<CostRun> = runs.into_iter().filter(|r| r.quality.is_some()).collect();
    if with_answers.len() < 2 {
        return view! {
            <section aria-labelledby="hybrid-title">
                <h2 id="hybrid-title">"Hybrid strategy"</h2>
                <p class="empty">"Needs two finished runs with stored answers on the same dataset: one to screen, one to judge."</p>
            </section>
        }
        .into_any();
    }
    // Start, over one dataset, from the cheapest run screening and the best-quality run of
    // another model judging (never one model screening and judging itself); none picked when no
    // two runs share a dataset (0: no run).
    let cost_now = |r: &CostRun| {
        sheet
            .get_untracked()
            .and_then(|s| priced(r, &s, 1.0))
            .map(|p| p.1.per_request.0)
            .unwrap_or(f64::INFINITY)
    };
    let (first_screen, first_judge) = hybrid_default(&with_answers, cost_now, None).unwrap_or((0, 0));
    let runs = StoredValue::new(with_answers.clone());
    let screen = RwSignal::new(first_screen);
    let judge = RwSignal::new(first_judge);
    let share = RwSignal::new(20.0f64);
    let items = Resource::new(
        move || (screen.get(), judge.get()),
        |(s, j)| async move {
            if s == 0 || j == 0 {
                return Ok(None);
            }
            hybrid_data(s, j).await.map(Some)
        },
    );
    let run_select = move |id: &'static str, label: &'static str, sig: RwSignal<i64>| {
        view! {
            <div class="field">
                <label for=id>{label}</label>
                <select id=id on:change=move |ev| sig.set(event_target_value(&ev).parse().unwrap_or(0)) prop:value=move || sig.get().to_string()>
                    <option value="0" selected=move || sig.get() == 0>"— pick a run —"</option>
                    {runs.with_value(|rs| rs.iter().map(|r| {
                        let id = r.id;
                        let dataset = if r.dataset.is_empty() { "dataset not recorded".to_string() } else { r.dataset.clone() };
                        view! { <option value=id.to_string() selected=move || sig.get() == id>{format!("#{} {} ({}, {dataset})", r.id, r.name, r.model)}</option> }
                    }).collect_view())}
                </select>
            </div>
        }
    };
    view! {
        <section aria-labelledby="hybrid-title">
            <h2 id="hybrid-title">"Hybrid strategy"</h2>
            <p class="lead">"Screen every item with a cheap run's model, send the top share (by its recommendation) to a better one."</p>
            <div class="row">
                {run_select("screen", "Screen with", screen)}
                {run_select("judge", "Judge with", judge)}
                <div class="field">
                    <label for="share">{move || format!("Share judged: {:.0}%", share.get())}</label>
                    <input id="share" type="range" min="0" max="100" step="5" prop:value=move || share.get().to_string() on:input=move |ev| share.set(event_target_value(&ev).parse().unwrap_or(20.0))/>
                </div>
            </div>
            <Transition fallback=|| view! { <p>"Loading items…"</p> }>
                {move || Suspend::new(async move {
                    let items = items.await;
                    // A run's cost under the sheet chosen, at a monthly volume.
                    let costed = move |id: i64, volume: f64| {
                        let s = sheet.get()?;
                        runs.with_value(|rs| rs.iter().find(|r| r.id == id).and_then(|r| priced(r, &s, volume)).map(|p| p.1))
                    };
                    let cost_of = move |id: i64| -> Option<f64> { costed(id, 1.0).map(|c| c.per_request.0) };
                    match items {
                        // Reviewers grade blind: the split reads each answer of the two runs.
                        Err(AppError::Forbidden(_)) => view! {
                            <p class="note role-note">"The hybrid strategy reads each answer of the runs it splits, which reviewers (grading blind) do not see."</p>
                        }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(None) => view! {
                            <p class="empty" role="note">{NO_PAIR}</p>
                        }.into_any(),
                        Ok(Some(items)) => {
                            let items = StoredValue::new(items);
                            view! {
                                {move || {
                                    let (Some(sc), Some(jc)) = (cost_of(screen.get()), cost_of(judge.get())) else {
                                        return view! { <p class="empty">"One of the two runs is not priced by this sheet."</p> }.into_any();
                                    };
                                    let input = items.with_value(|h| HybridInput {
                                        volume: volume.get(),
                                        screen_cost_per_request: sc,
                                        judge_cost_per_request: jc,
                                        groups: h.groups.clone(),
                                    });
                                    let p = hybrid_at(&input, share.get() / 100.0);
                                    let svg = hybrid_curve(&curve(&input, 20), share.get() / 100.0, WIDTH, 420);
                                    let model_of = |id: i64| runs.with_value(|rs| rs.iter().find(|r| r.id == id).map(|r| r.model.clone()).unwrap_or_default());
                                    let (screen_model, judge_model) = (model_of(screen.get()), model_of(judge.get()));
                                    let same_model = screen_model.eq_ignore_ascii_case(&judge_model);
                                    let words = p.savings_words(&judge_model);
                                    let loss = p.screening_costs_more();
                                    let (common, positives_are) = items.with_value(|h| (h.common_items, h.positives_are.clone()));
                                    // A GPU paid by the hour: the strategy's figures are the GPU-hours each job
                                    // needs; the GPU kept around the clock is paid whatever the plan (QA read
                                    // $1.09 a month beside $61.37 for the card).
                                    let kept = |id: i64| costed(id, volume.get()).and_then(|c| c.gpu_month);
                                    let gpu_note = match (kept(screen.get()), kept(judge.get())) {
                                        (None, None) => None,
                                        (a, b) => {
                                            let month = a.iter().chain(b.iter()).map(|g| g.around_the_clock.0).fold(0.0, f64::max);
                                            Some(format!(
                                                "Self-hosted: these are the GPU-hours each job needs at the rate measured. A GPU kept around the clock costs {} a month whatever the plan, and screening and judging with two models on one GPU means loading each in turn (or a second GPU).",
                                                usd_text(month, 2)
                                            ))
                                        }
                                    };
                                    view! {
                                        <table class="figures hybrid" aria-label="Hybrid result">
                                            <tbody>
                                                <tr><th scope="row">"Strategy cost"</th><td class="num">{usd_text(p.cost, 2)}</td><td class="definition">{format!("{} x (screen + {:.0}% x judge)", format::int(volume.get()), p.p * 100.0)}</td></tr>
                                                <tr><th scope="row">"Judge only"</th><td class="num">{usd_text(p.judge_only, 2)}</td><td class="definition">{format!("every item judged with {judge_model}")}</td></tr>
                                                <tr class=if loss { "loss" } else { "" }><th scope="row">{if loss { "Extra cost" } else { "Savings" }}</th><td class="num">{if loss { format!("{:.1}% more", -p.savings * 100.0) } else { format!("{:.1}%", p.savings * 100.0) }}</td><td class="definition">{format!("The strategy {words}.")}</td></tr>
                                                <tr><th scope="row">"Recall"</th><td class="num">{p.recall.map(format::percent).unwrap_or("unknown".into())}</td><td class="definition">{format!("of {} items {} (among {} items both runs answered), the share the screen passes on", p.positives, positives_are, common)}</td></tr>
                                            </tbody>
                                        </table>
                                        {same_model.then(|| view! { <p class="form-error" role="note">{format!("Screen and judge are both {screen_model}: one model screening and judging itself is no strategy. Pick a cheaper model to screen or a better one to judge.")}</p> })}
                                        {loss.then(|| view! { <p class="note">"At this share, screening first costs more than judging everything: judge-only is the cheaper plan."</p> })}
                                        {gpu_note.map(|n| view! { <p class="note" role="note">{n}</p> })}
                                        <div class="svg" inner_html=svg></div>
                                    }
                                    .into_any()
                                }}
                            }
                            .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
    .into_any()
}

#[component]
fn Sheets(
    sheets: Vec<PriceSheet>,
    save: ServerAction<SavePrice>,
    delete: ServerAction<DeletePrice>,
    add_sheet: ServerAction<AddSheet>,
    can_run: bool,
) -> impl IntoView {
    let error: Signal<Option<AppError>> = Signal::derive(move || save.value().get().and_then(Result::err));
    let sheet_error: Signal<Option<AppError>> = Signal::derive(move || add_sheet.value().get().and_then(Result::err));
    let editing = RwSignal::new(None::<PriceForm>);
    // Open a price form (or close it) without the last refusal's messages.
    let open = move |form: Option<PriceForm>| {
        save.value().set(None);
        editing.set(form);
    };
    let field = move |f: fn(&PriceForm) -> String| move || editing.get().map(|p| f(&p)).unwrap_or_default();
    view! {
        <section aria-labelledby="sheets-title">
            <h2 id="sheets-title">"Price sheets"</h2>
            {sheets.iter().map(|s| {
                let rows = s.rows.clone();
                let sheet_id = s.id;
                let add_label = format!("Add a price to {}", s.name);
                view! {
                    <h3>{format!("{} — {}", s.name, s.provider)}</h3>
                    <p class="note">{format!("Dated {}. Source: {}.", s.dated, s.source)} {s.default_model_key.clone().map(|k| format!(" Models it does not list are priced at the '{k}' row."))}</p>
                    <table class="prices">
                        <thead><tr><th>"Model / tier"</th><th>"Kind"</th><th class="num">"$ / 1M in"</th><th class="num">"$ / 1M out"</th><th class="num">"$ / hour"</th><th>"Note"</th><th></th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|r| {
                                let form = PriceForm {
                                    id: r.id.to_string(),
                                    sheet_id: sheet_id.to_string(),
                                    model_key: r.model_key.clone(),
                                    kind: serde_json::to_value(r.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
                                    input_per_m: r.input_per_m.map(price_text).unwrap_or_default(),
                                    output_per_m: r.output_per_m.map(price_text).unwrap_or_default(),
                                    usd_per_hour: r.usd_per_hour.map(price_text).unwrap_or_default(),
                                    hardware_usd: r.self_hosted.as_ref().map(|h| price_text(h.hardware_usd)).unwrap_or_default(),
                                    years: r.self_hosted.as_ref().map(|h| h.years.to_string()).unwrap_or_default(),
                                    watts: r.self_hosted.as_ref().map(|h| h.watts.to_string()).unwrap_or_default(),
                                    usd_per_kwh: r.self_hosted.as_ref().map(|h| h.usd_per_kwh.to_string()).unwrap_or_default(),
                                    hours_per_day: r.self_hosted.as_ref().map(|h| h.hours_per_day.to_string()).unwrap_or_default(),
                                    note: r.note.clone(),
                                };
                                let id = r.id;
                                let self_hosted = r.self_hosted.clone().map(|h| format!("${} over {} y, {} W at ${}/kWh, {} h/day", price_text(h.hardware_usd), price_text(h.years), price_text(h.watts), price_text(h.usd_per_kwh), price_text(h.hours_per_day)));
                                view! {
                                    <tr>
                                        <td>{r.model_key.clone()}</td>
                                        <td>{r.kind.label()}</td>
                                        <td class="num">{r.input_per_m.map(price_text).unwrap_or_default()}</td>
                                        <td class="num">{r.output_per_m.map(price_text).unwrap_or_default()}</td>
                                        <td class="num">{r.hourly().map(hourly_text).unwrap_or_default()}</td>
                                        <td>{r.note.clone()} {self_hosted}</td>
                                        <td>
                                            {can_run.then(|| view! {
                                            <button on:click={let form = form.clone(); move |_| open(Some(form.clone()))}>"Edit"</button>
                                            " "
                                            <button class="danger" on:click=move |_| { delete.dispatch(DeletePrice { id }); }>"Delete"</button>
                                            })}
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    {can_run.then(|| view! {
                    <button on:click=move |_| open(Some(PriceForm { sheet_id: sheet_id.to_string(), kind: "serverless".into(), ..Default::default() }))>{add_label.clone()}</button>
                    })}
                }
            }).collect_view()}
            <Show when=move || editing.get().is_some()>
                <ActionForm action=save attr:class="price-form" attr:aria-label="Price">
                    <h3>{move || if editing.get().is_some_and(|p| !p.id.is_empty()) { "Edit price" } else { "New price" }}</h3>
                    <FormMessage error fields=vec!["model_key", "kind", "input_per_m", "output_per_m", "usd_per_hour", "hardware_usd", "years", "watts", "usd_per_kwh", "hours_per_day"]/>
                    <input type="hidden" name="form[id]" prop:value=field(|p| p.id.clone())/>
                    <input type="hidden" name="form[sheet_id]" prop:value=field(|p| p.sheet_id.clone())/>
                    <div class="row">
                        <div class="field"><label for="p-model">"Model or tier"</label><input id="p-model" name="form[model_key]" type="text" prop:value=field(|p| p.model_key.clone())/><FieldMessage error field="model_key"/></div>
                        <div class="field">
                            <label for="p-kind">"Kind"</label>
                            <select id="p-kind" name="form[kind]" prop:value=field(|p| p.kind.clone())>
                                {[PriceKind::Serverless, PriceKind::Batch, PriceKind::Dedicated, PriceKind::SelfHosted].into_iter().map(|k| {
                                    let v = serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
                                    view! { <option value=v>{k.label()}</option> }
                                }).collect_view()}
                            </select>
                            <FieldMessage error field="kind"/>
                        </div>
                    </div>
                    <div class="row">
                        <div class="field"><label for="p-in">"$ per 1M input tokens"</label><input id="p-in" name="form[input_per_m]" type="text" prop:value=field(|p| p.input_per_m.clone())/><FieldMessage error field="input_per_m"/></div>
                        <div class="field"><label for="p-out">"$ per 1M output tokens"</label><input id="p-out" name="form[output_per_m]" type="text" prop:value=field(|p| p.output_per_m.clone())/><FieldMessage error field="output_per_m"/></div>
                        <div class="field"><label for="p-hour">"$ per GPU-hour (dedicated)"</label><input id="p-hour" name="form[usd_per_hour]" type="text" prop:value=field(|p| p.usd_per_hour.clone())/><FieldMessage error field="usd_per_hour"/></div>
                    </div>
                    <fieldset>
                        <legend>"Self-hosted: what owning the GPU costs"</legend>
                        <div class="row">
                            <div class="field"><label for="p-hw">"Hardware $"</label><input id="p-hw" name="form[hardware_usd]" type="text" prop:value=field(|p| p.hardware_usd.clone())/><FieldMessage error field="hardware_usd"/></div>
                            <div class="field"><label for="p-years">"Years of use"</label><input id="p-years" name="form[years]" type="text" prop:value=field(|p| p.years.clone())/><FieldMessage error field="years"/></div>
                            <div class="field"><label for="p-watts">"Watts"</label><input id="p-watts" name="form[watts]" type="text" prop:value=field(|p| p.watts.clone())/><FieldMessage error field="watts"/></div>
                            <div class="field"><label for="p-kwh">"$ per kWh"</label><input id="p-kwh" name="form[usd_per_kwh]" type="text" prop:value=field(|p| p.usd_per_kwh.clone())/><FieldMessage error field="usd_per_kwh"/></div>
                            <div class="field"><label for="p-hours">"Hours a day"</label><input id="p-hours" name="form[hours_per_day]" type="text" prop:value=field(|p| p.hours_per_day.clone())/><FieldMessage error field="hours_per_day"/></div>
                        </div>
                    </fieldset>
                    <div class="field"><label for="p-note">"Note"</label><input id="p-note" name="form[note]" type="text" prop:value=field(|p| p.note.clone())/></div>
                    <button type="submit" class="primary">"Save price"</button>
                    " "
                    <button type="button" on:click=move |_| open(None)>"Close"</button>
                </ActionForm>
            </Show>
            <IfAllowed what=Permission::Run>
            <h3>"Add a price sheet"</h3>
            <ActionForm action=add_sheet attr:class="sheet-form" attr:aria-label="Add a price sheet">
                <FormMessage error=sheet_error fields=vec!["name", "provider", "source", "dated"]/>
                <div class="row">
                    <div class="field"><label for="s-name">"Sheet name"</label><input id="s-name" name="name" type="text"/><FieldMessage error=sheet_error field="name"/></div>
                    <div class="field"><label for="s-provider">"Provider"</label><input id="s-provider" name="provider" type="text"/><FieldMessage error=sheet_error field="provider"/></div>
                    <div class="field"><label for="s-dated">"Dated"</label><input id="s-dated" name="dated" type="text" placeholder="2026-11-28"/><FieldMessage error=sheet_error field="dated"/></div>
                </div>
                <div class="field"><label for="s-source">"Source"</label><input id="s-source" name="source" type="text" placeholder="URL or document"/><FieldMessage error=sheet_error field="source"/></div>
                <button type="submit">"Add sheet"</button>
            </ActionForm>
            </IfAllowed>
        </section>
    }
}
