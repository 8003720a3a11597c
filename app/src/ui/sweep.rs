//! A sweep's page: its steps (one run per concurrency level, or for an automatic sweep's spread
//! per request rate), throughput and goodput against latency with the knee marked, the best
//! setting within the targets, the prefix cache's share, and how the steps' conditions differ.
//! Rendered on the server only. An automatic sweep's steps come one by one: the page is a `Live`
//! part read again every 2 s until nothing more will be measured, then only after a change.

use super::live_html::Live;
use super::widgets::{ErrorBox, OriginBadge, StatusBadge};
use crate::api::runs::{sweep_runs, sweep_trashed};
use crate::api::types::RunView;
use crate::charts::{sweep_curve, SweepPoint};
use crate::domain::definitions as def;
use crate::domain::format;
use crate::domain::saturation::{SweepPhase, MIN_GAIN};
use crate::domain::status::RunStatus;
use crate::domain::summary::sample::{per_step_basis, percentile, percentile_cell, Pct, SMOKE_TEST_BELOW};
use crate::domain::summary::RunSummary;
use crate::domain::sweep_verdict::{
    best_setting, cache_note, conditions_note, knee_text, none_within, past_knee, sweep_finished, sweep_knee,
};
use leptos::prelude::*;

/// How often the page reads the sweep again while it goes on (ms).
const REFRESH_MS: u32 = 2000;

#[component]
pub fn SweepPage() -> impl IntoView {
    let route_id = expect_context::<super::app::RouteId>().0;
    let id = move || route_id;
    let runs = Resource::new(id, sweep_runs);
    let trashed = Resource::new(id, sweep_trashed);
    view! {
        <h1>{format!("Sweep #{}", id())}</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                // A step deleted since changes the verdict: said, with what to do.
                let gone = trashed.await.unwrap_or_default();
                let gone = (!gone.is_empty()).then(|| view! {
                    <p class="note unlike" role="note">{format!(
                        "Left out: {} of this sweep {} in the trash. The knee and the best setting below are found without {}; an admin can restore {} from the Trash.",
                        gone.join(", "),
                        if gone.len() == 1 { "is" } else { "are" },
                        if gone.len() == 1 { "it" } else { "them" },
                        if gone.len() == 1 { "it" } else { "them" },
                    )}</p>
                });
                match runs.await {
                    // Read again every 2 s while steps are still to come.
                    Ok(runs) => {
                        let every = if sweep_finished(&runs) { 0 } else { REFRESH_MS };
                        view! { <Live id="sweep" every_ms=every>{gone} <SweepDetail runs/></Live> }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SweepDetail(runs: Vec<RunView>) -> impl IntoView {
    let auto = runs.iter().find_map(|r| r.spec.as_ref()?.auto_sweep.clone());
    let lead = match &auto {
        Some(a) => format!(
            "Automatic sweep to saturation: the concurrency doubles from 1 until throughput rises less than {} (or the run's targets break): that is the knee. Then {} evenly spaced request rates (Poisson arrivals) from what concurrency 1 served up to what the knee served. Same model, dataset and settings; warm-up once, in the first step.",
            format::percent(MIN_GAIN),
            a.steps
        ),
        None => "One run per concurrency level, same model, dataset and settings; warm-up once, in the first level's run.".into(),
    };
    let active = runs.iter().find(|r| !r.status.is_finished()).map(|r| {
        format!(
            "In progress: run #{} at {} is {}; {}",
            r.id,
            r.spec.as_ref().map(|s| s.load_label()).unwrap_or_default(),
            r.status.label(),
            if auto.is_some() {
                "the next step is planned from it when it ends."
            } else {
                "the other levels follow."
            }
        )
    });
    let knee = sweep_knee(&runs);
    let knee_says = knee_text(&runs);
    let best = best_setting(&runs);
    let why_past = past_knee(&runs);
    let best_id = best.as_ref().map(|b| b.0);
    // What the best setting rests on: the measured requests of the steps it was chosen among
    // (hedged under the smoke-test line).
    let step_requests: Vec<u64> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Completed)
        .filter_map(|r| Some(r.summary.as_ref()?.requests))
        .collect();
    let basis = best.as_ref().and_then(|_| per_step_basis(&step_requests));
    let hedged = step_requests.iter().any(|n| *n < SMOKE_TEST_BELOW);
    let no_best = if best.is_none() { none_within(&runs) } else { None };
    let cache = cache_note(&runs);
    let differ = conditions_note(&runs);
    let points = |latency: fn(&RunSummary) -> Option<f64>| -> Vec<SweepPoint> {
        runs.iter()
            .filter(|r| r.status.is_finished())
            .filter_map(|r| {
                let s = r.summary.as_ref()?;
                Some(SweepPoint {
                    run_id: r.id,
                    concurrency: r.spec.as_ref()?.load.concurrency,
                    rate: r.spec.as_ref()?.load.rate,
                    req_per_s: s.requests_per_s,
                    output_tps: s.output_tokens_per_s,
                    p90_ms: latency(s)?,
                    goodput_tps: s.goodput.as_ref().map(|g| g.output_tokens_per_s),
                })
            })
            .collect()
    };
    let at = knee.as_ref().map(|k| k.concurrency);
    let ttft = sweep_curve(
        "Throughput and goodput vs TTFT",
        "TTFT",
        &points(|s| percentile(&s.ttft_ms?, Pct::P90).ok()),
        at,
        best_id,
        860,
        380,
    );
    let e2e = sweep_curve(
        "Throughput and goodput vs E2E latency",
        "E2E",
        &points(|s| percentile(&s.e2e_ms?, Pct::P90).ok()),
        at,
        best_id,
        860,
        380,
    );
    let has_targets = runs.iter().any(|r| r.summary.as_ref().is_some_and(|s| s.goodput.is_some()));
    let cut = cut_off_note(&runs);
    view! {
        <p class="lead">{lead}</p>
        {active.map(|a| view! { <p class="note" role="status">{a}</p> })}
        {cut.map(|c| view! { <p class="note unlike" role="note">{c}</p> })}
        <section class="sweep-verdict" aria-labelledby="verdict-title">
            <h2 id="verdict-title">"Verdict"</h2>
            <dl class="facts">
                <dt>"Knee"</dt>
                <dd>{knee_says}</dd>
                <dt>{if has_targets { "Best setting within the targets" } else { "Best setting" }}</dt>
                <dd>
                    {match (best, no_best) {
                        (Some((id, text)), _) => view! {
                            <a href=format!("/runs/{id}")>{text}</a>
                            {basis.map(|b| view! { " " <span class="note" class:small-sample=hedged>{format!("({b})")}</span> })}
                            {why_past.map(|w| view! { <p class="note past-knee">{w}</p> })}
                        }.into_any(),
                        (None, Some(why)) => view! { <span>{why}</span> }.into_any(),
                        (None, None) => view! { <span>"no finished step yet"</span> }.into_any(),
                    }}
                </dd>
            </dl>
            {cache.map(|c| view! { <p class="note" role="note">{c}</p> })}
            {differ.map(|d| view! { <p class="note unlike" role="note">{d}</p> })}
        </section>
        <table class="sweep">
            <thead>
                <tr>
                    <th>"Load"</th>
                    {auto.is_some().then(|| view! { <th>"Step"</th> })}
                    <th>"Run"</th>
                    <th>"Status"</th>
                    <th class="num" title=def::OUTPUT_TPS>"Output tok/s"</th>
                    {has_targets.then(|| view! {
                        <th class="num" title=def::GOODPUT>"Goodput tok/s"</th>
                        <th class="num" title=def::GOODPUT>"Within targets"</th>
                    })}
                    <th class="num" title=def::TTFT>"TTFT p90 (ms)"</th>
                    <th class="num" title=def::E2E>"E2E p90 (ms)"</th>
                    <th class="num">"Prefix-cache hit rate"</th>
                </tr>
            </thead>
            <tbody>
                {runs.iter().map(|r| {
                    let s = r.summary.clone();
                    let g = s.as_ref().and_then(|s| s.goodput.clone());
                    let phase = r.spec.as_ref().and_then(|s| s.auto_sweep.as_ref()).map(|a| match a.phase {
                        SweepPhase::Search => "finding saturation",
                        SweepPhase::Spread => "spread",
                    });
                    let hit = r.conditions.as_ref().and_then(|c| c.prefix_cache).and_then(|p| p.hit_rate());
                    let is_knee = r.spec.as_ref().is_some_and(|s| s.load.rate.is_none() && Some(s.load.concurrency) == at) && r.status.is_finished();
                    view! {
                        <tr class:knee=is_knee>
                            <td>{r.spec.as_ref().map(|s| match s.load.rate {
                                Some(rate) => format!("{} req/s (≤{} in flight)", format::dec(rate, 2), s.load.concurrency),
                                None => s.load.concurrency.to_string(),
                            }).unwrap_or_default()} {is_knee.then_some(" (knee)")}</td>
                            {auto.is_some().then(|| view! { <td>{phase.unwrap_or("")}</td> })}
                            <td><a href=format!("/runs/{}", r.id)>{format!("#{}", r.id)}</a> " " <OriginBadge label=r.origin_label()/></td>
                            <td><StatusBadge status=r.status/></td>
                            <td class="num">{s.as_ref().map(|s| format::int(s.output_tokens_per_s)).unwrap_or_default()}</td>
                            {has_targets.then(|| view! {
                                <td class="num">{g.as_ref().map(|g| format::int(g.output_tokens_per_s)).unwrap_or_default()}</td>
                                <td class="num">{g.as_ref().map(|g| format!("{}{}", format::percent(g.good_share), if g.met { "" } else { " (targets broken)" })).unwrap_or_default()}</td>
                            })}
                            {[s.as_ref().and_then(|s| s.ttft_ms), s.as_ref().and_then(|s| s.e2e_ms)].into_iter().map(|d| {
                                // p90 only from 10 requests; n in the title when the step is small.
                                let (text, title) = if d.is_some() { percentile_cell(d.as_ref(), Pct::P90) } else { (String::new(), String::new()) };
                                view! { <td class="num" title=(!title.is_empty()).then_some(title)>{text}</td> }
                            }).collect_view()}
                            <td class="num">{hit.map(format::percent).unwrap_or_else(|| "—".into())}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <section class="chart" aria-labelledby="sweep-title">
            <h2 id="sweep-title">"Sweep curve"</h2>
            <div class="svg" inner_html=ttft></div>
            <div class="svg" inner_html=e2e></div>
            <p class="definition">
                "One point per step (a concurrency level, or a request rate). Where the curve turns upward, more concurrency buys latency, not throughput; the knee is where throughput stopped rising. Goodput: "
                {def::GOODPUT} "."
            </p>
        </section>
    }
}

/// Said above the verdict when a tenth or more of the steps' answers were cut off at max tokens:
/// their speed and cost are for shorter answers than the job's (QA: a sweep at max tokens 64
/// named a best setting from answers all cut off, none with its JSON).
fn cut_off_note(runs: &[RunView]) -> Option<String> {
    let (cut, all) = runs
        .iter()
        .filter_map(|r| r.summary.as_ref())
        .fold((0u64, 0u64), |(c, n), s| (c + s.outcomes.truncated, n + s.requests));
    let share = cut as f64 / all.max(1) as f64;
    let max = runs
        .iter()
        .find_map(|r| r.spec.as_ref()?.sampling.max_tokens)
        .map(|m| format!(" at max tokens {m}"))
        .unwrap_or_default();
    (all > 0 && share >= 0.1).then(|| {
        format!(
            "{} of these steps' answers were cut off{max}: the speed and cost here are for shorter answers than the job's, and a cut-off answer seldom holds its whole JSON. Sweep with a max tokens the answers fit in.",
            format::percent(share)
        )
    })
}
