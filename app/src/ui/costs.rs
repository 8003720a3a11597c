//! Costs: every finished run priced by the chosen sheet at the chosen volume, the sheets
//! themselves (editable), and the hybrid strategy. Rendered on the server only: the sheet, the
//! volume and the hybrid's runs and share are the page's query (GET forms the `Enhance` island
//! sends as soon as a choice changes), and the price forms open as popovers and are posted by it.

use super::widgets::{allowed, use_me, ErrorBox, IfAllowed, OriginBadge};
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
use leptos_router::hooks::use_query_map;

/// What the hybrid section says until two runs are picked (none is picked for you when no two
/// runs with answers share a dataset).
pub const NO_PAIR: &str = "Pick two runs over the same dataset: one to screen, one to judge (the split reads the items both answered; each run's dataset is in its name above).";

/// The most requests a month the page prices (a trillion): beyond that a volume is a typing
/// mistake.
const MAX_VOLUME: f64 = 1e12;

/// The volume priced until another is chosen.
const DEFAULT_VOLUME: f64 = 1_000_000.0;

/// A run at `sheet` itself (a provider batch at its batch price).
fn priced(run: &CostRun, sheet: &PriceSheet, volume: f64) -> Option<(String, RunCost)> {
    run.priced_at(sheet, volume)
}

/// What the page's query chose: a sheet (by id), a monthly volume (as typed), the hybrid's two
/// runs and the share it judges.
#[derive(Clone, Debug, Default)]
struct Choice {
    sheet: Option<i64>,
    volume: Option<String>,
    screen: Option<i64>,
    judge: Option<i64>,
    share: Option<f64>,
}

impl Choice {
    /// The volume priced, or the reason the one typed is not (the default is priced then).
    fn volume(&self) -> (f64, Option<String>) {
        match self.volume.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => (DEFAULT_VOLUME, None),
            Some(v) => match v.parse::<f64>() {
                Ok(n) if (1.0..=MAX_VOLUME).contains(&n) => (n, None),
                _ => (
                    DEFAULT_VOLUME,
                    Some(format!(
                        "'{v}' is not a number of requests from 1 to {}: the figures are at {}.",
                        format::int(MAX_VOLUME),
                        format::int(DEFAULT_VOLUME)
                    )),
                ),
            },
        }
    }

    /// The share judged, 0 to 100 % (20 % until chosen).
    fn share(&self) -> f64 {
        self.share.filter(|s| s.is_finite()).map(|s| s.clamp(0.0, 100.0)).unwrap_or(20.0)
    }
}

/// The page's other choices, kept by a form that changes some of them (`skip` names those).
#[component]
fn KeepChoice(choice: Choice, skip: &'static [&'static str]) -> impl IntoView {
    let fields = [
        ("sheet", choice.sheet.map(|v| v.to_string())),
        ("volume", choice.volume.clone()),
        ("screen", choice.screen.map(|v| v.to_string())),
        ("judge", choice.judge.map(|v| v.to_string())),
        ("share", choice.share.map(|v| v.to_string())),
    ];
    fields
        .into_iter()
        .filter(|(k, v)| !skip.contains(k) && v.is_some())
        .map(|(k, v)| view! { <input type="hidden" name=k value=v/> })
        .collect_view()
}

#[component]
pub fn CostsPage() -> impl IntoView {
    let query = use_query_map();
    let choice = query.with_untracked(|q| {
        let num = |k: &str| q.get(k).and_then(|v| v.trim().parse::<i64>().ok()).filter(|v| *v > 0);
        Choice {
            sheet: num("sheet"),
            volume: q.get("volume"),
            screen: num("screen"),
            judge: num("judge"),
            share: q.get("share").and_then(|v| v.trim().parse().ok()),
        }
    });
    let data = Resource::new(|| (), |_| cost_data());
    let me = use_me();
    view! {
        <h1>"Costs"</h1>
        <p class="lead">
            "What each run's work costs under a price sheet. The model that produced the tokens and the price applied are shown apart. Choose the sheet or the volume: the figures are priced again."
        </p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let choice = choice.clone();
                Suspend::new(async move {
                    let can_run = allowed(me, Permission::Run);
                    match data.await {
                        Ok(d) => view! { <CostViews data=d choice can_run/> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn CostViews(data: CostTables, choice: Choice, can_run: bool) -> impl IntoView {
    let (v, volume_refused) = choice.volume();
    let sheet_ix = choice.sheet.and_then(|id| data.sheets.iter().position(|s| s.id == id)).unwrap_or(0);
    let sheet = data.sheets.get(sheet_ix).cloned();
    // Runs priced side by side whose captured conditions differ say so (in the order they ran).
    let conditions = {
        let mut by_id: Vec<&CostRun> = data.runs.iter().collect();
        by_id.sort_by_key(|r| r.id);
        let labelled: Vec<ComparedRun> = by_id.iter().map(|r| r.load.compared(format!("#{}", r.id))).collect();
        differ_note(&differences_of_runs(&labelled))
    };
    let table = match &sheet {
        None => view! { <p class="empty">"No price sheets."</p> }.into_any(),
        Some(sheet) => {
            let rows = data.runs.iter()
                .map(|r| {
                    // A hosted run is priced at its own provider's sheet (it says so).
                    let p = r.priced(sheet, &data.sheets, v);
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
                .collect_view();
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
        }
    };
    let charts = {
        let (all_sheets, all_runs) = (&data.sheets, &data.runs);
        let full: Vec<&CostRun> = all_runs.iter().filter(|r| r.summary.requests >= 10).collect();
        let models: Vec<String> = full.iter().map(|r| format!("#{} {}", r.id, r.model)).collect();
        let names: Vec<String> = all_sheets.iter().map(|s| s.name.clone()).collect();
        let matrix: Vec<Vec<Option<f64>>> = full
            .iter()
            .map(|r| all_sheets.iter().map(|s| priced(r, s, v).map(|p| p.1.per_100k.0)).collect())
            .collect();
        let bars = cost_bars(&models, &names, &matrix, WIDTH, 440);
        let (mut lm, mut lc, mut pts_in) = (Vec::new(), Vec::new(), Vec::new());
        if let Some(s) = &sheet {
            for r in &full {
                if let Some((_, c)) = r.priced(s, all_sheets, v) {
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
    let modes = sheet.as_ref().and_then(|current| {
        let tables = mode_tables(&data.runs, current, &data.sheets);
        (!tables.is_empty()).then(|| view! { <super::compare::ModesSection tables sheet=current.name.clone()/> })
    });
    let typed = choice.volume.clone().unwrap_or_else(|| format!("{DEFAULT_VOLUME}"));
    view! {
        <section aria-labelledby="price-title">
            <form method="get" action="/costs" class="row controls filter" data-auto="" aria-label="Choose the price sheet and volume">
                <KeepChoice choice=choice.clone() skip=&["sheet", "volume"]/>
                <div class="field">
                    <label for="sheet">"Price sheet"</label>
                    <select id="sheet" name="sheet">
                        {data.sheets.iter().enumerate().map(|(i, s)| view! { <option value=s.id.to_string() selected=i == sheet_ix>{format!("{} ({})", s.name, s.dated)}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="volume">"Requests per month"</label>
                    <input id="volume" name="volume" type="text" inputmode="numeric" value=typed aria-invalid=volume_refused.is_some().then_some("true")/>
                    {volume_refused.map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
                </div>
                <button type="submit">"Price"</button>
            </form>
            <h2 id="price-title">"Cost per run"</h2>
            {table}
        </section>
        {modes}
        <section class="chart" aria-labelledby="cost-charts-title">
            <h2 id="cost-charts-title">"Cost charts"</h2>
            {charts}
        </section>
        <Hybrid runs=data.runs.clone() sheet=sheet.clone() volume=v choice/>
        <Sheets sheets=data.sheets can_run/>
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
fn Hybrid(runs: Vec<CostRun>, sheet: Option<PriceSheet>, volume: f64, choice: Choice) -> impl IntoView {
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
    // A run's cost under the sheet chosen, at a monthly volume.
    let costed = {
        let (sheet, runs) = (sheet.clone(), with_answers.clone());
        move |id: i64, volume: f64| -> Option<RunCost> {
            let s = sheet.as_ref()?;
            runs.iter().find(|r| r.id == id).and_then(|r| priced(r, s, volume)).map(|p| p.1)
        }
    };
    // Start, over one dataset, from the cheapest run screening and the best-quality run of
    // another model judging (never one model screening and judging itself); none picked when no
    // two runs share a dataset (0: no run). A screen chosen alone gets its judge picked.
    let cost_now = |r: &CostRun| costed(r.id, 1.0).map(|c| c.per_request.0).unwrap_or(f64::INFINITY);
    let (screen, judge) = match (choice.screen, choice.judge) {
        (Some(s), Some(j)) => (s, j),
        (Some(s), None) => hybrid_default(&with_answers, cost_now, Some(s)).unwrap_or((s, 0)),
        (None, Some(j)) => (0, j),
        (None, None) => hybrid_default(&with_answers, cost_now, None).unwrap_or((0, 0)),
    };
    let share = choice.share();
    let items = Resource::new(
        move || (screen, judge),
        |(s, j)| async move {
            if s == 0 || j == 0 {
                return Ok(None);
            }
            hybrid_data(s, j).await.map(Some)
        },
    );
    let run_select = |id: &'static str, label: &'static str, chosen: i64| {
        view! {
            <div class="field">
                <label for=id>{label}</label>
                <select id=id name=id>
                    <option value="0" selected=chosen == 0>"— pick a run —"</option>
                    {with_answers.iter().map(|r| {
                        let dataset = if r.dataset.is_empty() { "dataset not recorded".to_string() } else { r.dataset.clone() };
                        view! { <option value=r.id.to_string() selected=chosen == r.id>{format!("#{} {} ({}, {dataset})", r.id, r.name, r.model)}</option> }
                    }).collect_view()}
                </select>
            </div>
        }
    };
    let model_of = {
        let runs = with_answers.clone();
        move |id: i64| runs.iter().find(|r| r.id == id).map(|r| r.model.clone()).unwrap_or_default()
    };
    view! {
        <section aria-labelledby="hybrid-title">
            <h2 id="hybrid-title">"Hybrid strategy"</h2>
            <p class="lead">"Screen every item with a cheap run's model, send the top share (by its recommendation) to a better one."</p>
            <form method="get" action="/costs#hybrid-title" class="row filter" data-auto="" aria-label="Choose the hybrid strategy">
                <KeepChoice choice=choice.clone() skip=&["screen", "judge", "share"]/>
                {run_select("screen", "Screen with", screen)}
                {run_select("judge", "Judge with", judge)}
                <div class="field">
                    <label for="share">{format!("Share judged: {share:.0}%")}</label>
                    <input id="share" name="share" type="range" min="0" max="100" step="5" value=share.to_string()/>
                </div>
                <button type="submit">"Show"</button>
            </form>
            <Suspense fallback=|| view! { <p>"Loading items…"</p> }>
                {move || {
                    let (costed, model_of) = (costed.clone(), model_of.clone());
                    Suspend::new(async move {
                    let cost_of = |id: i64| -> Option<f64> { costed(id, 1.0).map(|c| c.per_request.0) };
                    match items.await {
                        // Reviewers grade blind: the split reads each answer of the two runs.
                        Err(AppError::Forbidden(_)) => view! {
                            <p class="note role-note">"The hybrid strategy reads each answer of the runs it splits, which reviewers (grading blind) do not see."</p>
                        }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(None) => view! {
                            <p class="empty" role="note">{NO_PAIR}</p>
                        }.into_any(),
                        Ok(Some(items)) => {
                            let (Some(sc), Some(jc)) = (cost_of(screen), cost_of(judge)) else {
                                return view! { <p class="empty">"One of the two runs is not priced by this sheet."</p> }.into_any();
                            };
                            let input = HybridInput {
                                volume,
                                screen_cost_per_request: sc,
                                judge_cost_per_request: jc,
                                groups: items.groups.clone(),
                            };
                            let p = hybrid_at(&input, share / 100.0);
                            let svg = hybrid_curve(&curve(&input, 20), share / 100.0, WIDTH, 420);
                            let (screen_model, judge_model) = (model_of(screen), model_of(judge));
                            let same_model = screen_model.eq_ignore_ascii_case(&judge_model);
                            let words = p.savings_words(&judge_model);
                            let loss = p.screening_costs_more();
                            let (common, positives_are) = (items.common_items, items.positives_are.clone());
                            // A GPU paid by the hour: the strategy's figures are the GPU-hours each job
                            // needs; the GPU kept around the clock is paid whatever the plan (QA read
                            // $1.09 a month beside $61.37 for the card).
                            let kept = |id: i64| costed(id, volume).and_then(|c| c.gpu_month);
                            let gpu_note = match (kept(screen), kept(judge)) {
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
                                        <tr><th scope="row">"Strategy cost"</th><td class="num">{usd_text(p.cost, 2)}</td><td class="definition">{format!("{} x (screen + {:.0}% x judge)", format::int(volume), p.p * 100.0)}</td></tr>
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
                        }
                    }
                })}}
            </Suspense>
        </section>
    }
    .into_any()
}

/// The value a price kind is sent as (`serverless`, `self_hosted`...).
fn kind_value(k: PriceKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[component]
fn Sheets(sheets: Vec<PriceSheet>, can_run: bool) -> impl IntoView {
    let add_sheet = ServerAction::<AddSheet>::new();
    view! {
        <section aria-labelledby="sheets-title">
            <h2 id="sheets-title">"Price sheets"</h2>
            {sheets.into_iter().map(|s| {
                let sheet_id = s.id;
                let mut forms = Vec::new();
                let rows = s.rows.iter().map(|r| {
                    let form = PriceForm {
                        id: r.id.to_string(),
                        sheet_id: sheet_id.to_string(),
                        model_key: r.model_key.clone(),
                        kind: kind_value(r.kind),
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
                    let key = format!("price-{}", r.id);
                    if can_run {
                        forms.push(view! { <PriceEditor key=key.clone() form/> });
                    }
                    let self_hosted = r.self_hosted.clone().map(|h| format!("${} over {} y, {} W at ${}/kWh, {} h/day", price_text(h.hardware_usd), price_text(h.years), price_text(h.watts), price_text(h.usd_per_kwh), price_text(h.hours_per_day)));
                    let row_id = r.id.to_string();
                    let confirm = "Runs it priced show 'no row applies' under this sheet until another row covers them.";
                    let title = format!("Delete the price '{}' ({}) from {}?", r.model_key, r.kind.label(), s.name);
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
                                    <span class="manage">
                                        <button type="button" popovertarget=key.clone()>"Edit"</button>
                                        <ActionForm action={ServerAction::<DeletePrice>::new()} attr:class="inline" attr:data-confirm=confirm attr:data-confirm-title=title attr:data-then="reload" attr:data-ok="Price deleted.">
                                            <input type="hidden" name="id" value=row_id.clone()/>
                                            <button type="submit" class="danger">"Delete"</button>
                                        </ActionForm>
                                    </span>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view();
                let new_key = format!("price-new-{sheet_id}");
                if can_run {
                    let form = PriceForm { sheet_id: sheet_id.to_string(), kind: "serverless".into(), ..Default::default() };
                    forms.push(view! { <PriceEditor key=new_key.clone() form/> });
                }
                view! {
                    <h3>{format!("{} — {}", s.name, s.provider)}</h3>
                    <p class="note">{format!("Dated {}. Source: {}.", s.dated, s.source)} {s.default_model_key.clone().map(|k| format!(" Models it does not list are priced at the '{k}' row."))}</p>
                    <table class="prices">
                        <thead><tr><th>"Model / tier"</th><th>"Kind"</th><th class="num">"$ / 1M in"</th><th class="num">"$ / 1M out"</th><th class="num">"$ / hour"</th><th>"Note"</th><th></th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                    {can_run.then(|| view! {
                        <button type="button" popovertarget=new_key.clone()>{format!("Add a price to {}", s.name)}</button>
                    })}
                    {forms}
                }
            }).collect_view()}
            <IfAllowed what=Permission::Run>
            <h3>"Add a price sheet"</h3>
            <ActionForm action=add_sheet attr:class="sheet-form" attr:aria-label="Add a price sheet" attr:data-then="reload" attr:data-ok="Price sheet {} added.">
                <div class="row">
                    <div class="field"><label for="s-name">"Sheet name"</label><input id="s-name" name="name" type="text"/></div>
                    <div class="field"><label for="s-provider">"Provider"</label><input id="s-provider" name="provider" type="text"/></div>
                    <div class="field"><label for="s-dated">"Dated"</label><input id="s-dated" name="dated" type="text" placeholder="2026-11-28"/></div>
                </div>
                <div class="field"><label for="s-source">"Source"</label><input id="s-source" name="source" type="text" placeholder="URL or document"/></div>
                <button type="submit">"Add sheet"</button>
            </ActionForm>
            </IfAllowed>
        </section>
    }
}

/// A price's form (a new one when `form.id` is empty), opened as a popover by its button: the
/// `Enhance` island posts it; refused, it stays open with each reason at its field; stored, the
/// page is loaded again.
#[component]
fn PriceEditor(key: String, form: PriceForm) -> impl IntoView {
    let title = if form.id.is_empty() { "New price" } else { "Edit price" };
    let k = key.clone();
    let id = move |f: &str| format!("{k}-{f}");
    let kind_id = id("kind");
    let close_key = key.clone();
    let text = move |f: &'static str, label: &'static str, value: String| {
        view! {
            <div class="field">
                <label for=id(f)>{label}</label>
                <input id=id(f) name=format!("form[{f}]") data-field=f type="text" value=value/>
            </div>
        }
    };
    view! {
        <ActionForm action={ServerAction::<SavePrice>::new()} attr:id=key.clone() attr:popover="auto" attr:class="price-form" attr:aria-label="Price" attr:data-then="reload" attr:data-ok="Price saved.">
            <h3>{title}</h3>
            <input type="hidden" name="form[id]" value=form.id.clone()/>
            <input type="hidden" name="form[sheet_id]" value=form.sheet_id.clone()/>
            <div class="row">
                {text("model_key", "Model or tier", form.model_key.clone())}
                <div class="field">
                    <label for=kind_id.clone()>"Kind"</label>
                    <select id=kind_id.clone() name="form[kind]" data-field="kind">
                        {[PriceKind::Serverless, PriceKind::Batch, PriceKind::Dedicated, PriceKind::SelfHosted].into_iter().map(|k| {
                            let v = kind_value(k);
                            let selected = v == form.kind;
                            view! { <option value=v selected=selected>{k.label()}</option> }
                        }).collect_view()}
                    </select>
                </div>
            </div>
            <div class="row">
                {text("input_per_m", "$ per 1M input tokens", form.input_per_m.clone())}
                {text("output_per_m", "$ per 1M output tokens", form.output_per_m.clone())}
                {text("usd_per_hour", "$ per GPU-hour (dedicated)", form.usd_per_hour.clone())}
            </div>
            <fieldset>
                <legend>"Self-hosted: what owning the GPU costs"</legend>
                <div class="row">
                    {text("hardware_usd", "Hardware $", form.hardware_usd.clone())}
                    {text("years", "Years of use", form.years.clone())}
                    {text("watts", "Watts", form.watts.clone())}
                    {text("usd_per_kwh", "$ per kWh", form.usd_per_kwh.clone())}
                    {text("hours_per_day", "Hours a day", form.hours_per_day.clone())}
                </div>
            </fieldset>
            {text("note", "Note", form.note.clone())}
            <button type="submit" class="primary">"Save price"</button>
            " "
            <button type="button" popovertarget=close_key popovertargetaction="hide">"Close"</button>
        </ActionForm>
    }
}
