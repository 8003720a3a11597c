use crate::domain::definitions as def;
use crate::domain::format;
use crate::domain::goodput::Goodput;
use crate::domain::stats::Distribution;
use crate::domain::summary::sample::{percentile_cell, small_sample_note, Pct};
use crate::domain::summary::{RunSummary, NO_TIMING};
use leptos::prelude::*;

/// The run's figures, each with its definition.
#[component]
pub fn SummaryTable(summary: RunSummary, origin: &'static str) -> impl IntoView {
    let s = summary;
    let o = &s.outcomes;
    let tokens_note = if s.usage_unknown > 0 {
        format!(" ({} answered requests without server usage are not counted)", s.usage_unknown)
    } else {
        String::new()
    };
    let mut rows: Vec<super::job::Row> = vec![
        (
            "Requests (measured)",
            format::int(s.requests as f64),
            "warm-up requests are excluded",
        ),
        (
            "Success rate",
            format!("{} ({}/{})", format::percent(s.success_rate), o.answered(), s.requests),
            def::SUCCESS_RATE,
        ),
    ];
    // A batch job's speed is over the job's time; a server run's over its wall time; an import
    // without times has none (its zeros are no measurement).
    let untimed = s.untimed();
    rows.extend(match &s.job {
        Some(job) => super::job::speed_rows(&s, job),
        None if untimed => vec![
            ("Wall time", NO_TIMING.to_string(), def::WALL_TIME),
            ("Output tokens/s", NO_TIMING.to_string(), def::OUTPUT_TPS),
            ("Total tokens/s", NO_TIMING.to_string(), def::TOTAL_TPS),
            ("Requests/s", NO_TIMING.to_string(), def::REQUESTS_PER_S),
        ],
        None => vec![
            ("Wall time", format::seconds(s.wall_time_s), def::WALL_TIME),
            (
                "Output tokens/s",
                match s.output_unknown() {
                    Some(why) => format!("unknown ({why})"),
                    None => format::dec(s.output_tokens_per_s, 1),
                },
                def::OUTPUT_TPS,
            ),
            ("Total tokens/s", format::dec(s.total_tokens_per_s, 1), def::TOTAL_TPS),
            ("Requests/s", format::dec(s.requests_per_s, 2), def::REQUESTS_PER_S),
        ],
    });
    rows.extend([
        (
            "Mean prompt tokens",
            s.mean_prompt_tokens.map(|v| format::dec(v, 1)).unwrap_or("unknown".into()),
            def::TOKENS,
        ),
        (
            "Mean completion tokens",
            s.mean_completion_tokens.map(|v| format::dec(v, 1)).unwrap_or("unknown".into()),
            def::TOKENS,
        ),
    ]);
    if s.job.is_none() && !untimed {
        rows.push((
            "Chunks per token",
            s.chunks_per_token.map(|v| format::dec(v, 2)).unwrap_or("—".into()),
            def::CHUNKS_PER_TOKEN,
        ));
    }
    // Goodput beside throughput, when the run has service-level targets.
    if let Some(g) = &s.goodput {
        let good = goodput_rows(g, s.requests);
        let at = rows.iter().position(|r| r.0 == "Requests/s").map_or(rows.len(), |i| i + 1);
        rows.splice(at..at, good);
    }
    if let Some(source) = s.reasoning_tokens_source {
        let share = if s.completion_tokens > 0 {
            format!(
                ", {} of completion tokens",
                format::percent(s.reasoning_tokens as f64 / s.completion_tokens as f64)
            )
        } else {
            String::new()
        };
        rows.push((
            "Reasoning tokens",
            format!("{} ({}{share})", format::int(s.reasoning_tokens as f64), source.label()),
            def::REASONING_TOKENS,
        ));
    }
    let answer_ttft = s
        .answer_ttft_ms
        .map(|d| view! { <LatencyRow name="Answer TTFT" d=Some(d) definition=def::ANSWER_TTFT/> });
    let batch = s.job.is_some();
    let model_load = s.model_load_time_s.map(|l| {
        let what = if batch { "job time" } else { "wall time" };
        // An import's file may not say whether its time held the load (the notes above say).
        let text = if origin == "imported" {
            format!("Model load time (shown apart, as the file gives it): {}", format::seconds(l))
        } else {
            format!("Model load time (not in {what}): {}", format::seconds(l))
        };
        view! { <p class="note">{text}</p> }
    });
    let small = small_sample_note(s.requests);
    let latency = if batch {
        view! {
            <h3>"Latency"</h3>
            <p class="note no-timing">{super::job::NO_PER_REQUEST_TIMING}</p>
        }
        .into_any()
    } else if untimed {
        view! {
            <h3>"Latency"</h3>
            <p class="note no-timing">{format!("TTFT, TPOT, ITL and E2E: {NO_TIMING}. The file gives no per-request times.")}</p>
        }
        .into_any()
    } else {
        view! {
            <h3>"Latency (ms)"</h3>
            <table class="latency">
                <thead>
                    <tr>
                        <th>"Metric"</th>
                        <th class="num">"mean"</th>
                        <th class="num">"p50"</th>
                        <th class="num">"p90"</th>
                        <th class="num">"p99"</th>
                        <th class="num" title="answered requests the figures rest on">"n"</th>
                        <th>"Definition"</th>
                    </tr>
                </thead>
                <tbody>
                    <LatencyRow name="TTFT" d=s.ttft_ms definition=def::TTFT/>
                    {answer_ttft}
                    <LatencyRow name="TPOT" d=s.tpot_ms definition=def::TPOT/>
                    <LatencyRow name="ITL" d=s.itl_ms definition=def::ITL/>
                    <LatencyRow name="E2E" d=s.e2e_ms definition=def::E2E/>
                </tbody>
            </table>
            <p class="definition">
                "Percentiles: " {def::PERCENTILES} ". A p90 needs 10 requests and a p99 100 (fewer: —, with n in its title)."
            </p>
        }
        .into_any()
    };
    view! {
        <section class="summary" aria-labelledby="summary-title">
            <h2 id="summary-title">"Summary " {(!origin.is_empty()).then(|| format!("({origin})"))}</h2>
            {small.map(|n| view! { <p class="note small-sample" role="note">{n}</p> })}
            <table class="figures">
                <tbody>
                    {rows
                        .into_iter()
                        .map(|(name, value, definition)| {
                            view! {
                                <tr>
                                    <th scope="row">{name}</th>
                                    <td class="num">{value}</td>
                                    <td class="definition">{definition}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
            <p class="note">{match s.total_tokens_only {
                Some(t) => format!("Tokens: {} in all (the file gives no prompt/completion split){}", format::int(t as f64), tokens_note),
                None => format!("Tokens: {} prompt + {} completion{}", format::int(s.prompt_tokens as f64), format::int(s.completion_tokens as f64), tokens_note),
            }}</p>
            {model_load}
            <h3>"Outcomes"</h3>
            <table class="outcomes">
                <thead>
                    <tr>
                        <th>"ok"</th>
                        <th>"truncated"</th>
                        <th>"HTTP error"</th>
                        <th>"timeout"</th>
                        <th>"connection error"</th>
                        <th>"stream error"</th>
                    </tr>
                </thead>
                <tbody>
                    <tr>
                        <td class="num">{o.ok}</td>
                        <td class="num">{o.truncated}</td>
                        <td class="num">
                            {o.http_error}
                            {(!o.http_status.is_empty()).then(|| {
                                format!(" ({})", o.http_status.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "))
                            })}
                        </td>
                        <td class="num">{o.timeout}</td>
                        <td class="num">{o.connection_error}</td>
                        <td class="num">{o.stream_error}</td>
                    </tr>
                </tbody>
            </table>
            {latency}
        </section>
    }
}

/// The goodput rows: the per-request targets (no percentile: each request is checked against
/// them) beside the figure, goodput's definition once, and the percentile only on the run-as-a-
/// whole check.
fn goodput_rows(g: &Goodput, requests: u64) -> Vec<super::job::Row> {
    vec![
        (
            "Goodput (output tokens/s)",
            format!("{} — {}", format::dec(g.output_tokens_per_s, 1), g.targets.describe()),
            def::GOODPUT,
        ),
        (
            "Goodput (requests/s)",
            format::dec(g.requests_per_s, 2),
            "the requests within every target (as above) / wall time",
        ),
        (
            "Requests within every target",
            format!(
                "{} of {} ({})",
                format::int(g.good_requests as f64),
                format::int(requests as f64),
                format::percent(g.good_share)
            ),
            "each measured request's own TTFT, TPOT and E2E against the targets (as above)",
        ),
        (
            "Targets met by the run",
            format!("{}: {}", if g.met { "yes" } else { "no" }, g.checks_text()),
            def::SLO_AT_PERCENTILE,
        ),
    ]
}

#[component]
fn LatencyRow(name: &'static str, d: Option<Distribution>, definition: &'static str) -> impl IntoView {
    // The mean of any n; each percentile only over enough requests (the shared rule), n beside.
    let mean = d.map(|d| format::dec(d.mean, 1)).unwrap_or("—".into());
    let cells = Pct::ALL.map(|p| percentile_cell(d.as_ref(), p));
    let n = d.map(|d| format::int(d.count as f64)).unwrap_or("—".into());
    view! {
        <tr>
            <th scope="row">{name}</th>
            <td class="num">{mean}</td>
            {cells
                .into_iter()
                .map(|(text, title)| view! { <td class="num" title=(!title.is_empty()).then_some(title)>{text}</td> })
                .collect_view()}
            <td class="num">{n}</td>
            <td class="definition">{definition}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::goodput::{PercentileCheck, Slo, SloMetric};

    #[test]
    fn goodput_rows_name_the_targets_without_a_percentile_and_define_goodput_once() {
        let g = Goodput {
            targets: Slo {
                ttft_ms: Some(300.0),
                tpot_ms: Some(10.0),
                e2e_ms: Some(800.0),
                percentile: 90.0,
            },
            good_requests: 6,
            good_share: 0.25,
            requests_per_s: 0.4,
            output_tokens_per_s: 26.9,
            at_percentile: vec![PercentileCheck {
                metric: SloMetric::Ttft,
                target_ms: 300.0,
                observed_ms: Some(1200.0),
                met: false,
            }],
            met: false,
        };
        let rows = goodput_rows(&g, 24);
        assert_eq!(rows[0].1, "26.9 — TTFT ≤ 300 ms, TPOT ≤ 10.0 ms, E2E ≤ 800 ms");
        assert!(
            rows.iter().take(3).all(|r| !r.1.contains("p90")),
            "goodput is per request: {rows:?}"
        );
        assert_eq!(rows[3].1, "no: p90 TTFT 1.2 s > 300 ms", "the percentile only on the run's check");
        let defined = rows.iter().filter(|r| r.2 == def::GOODPUT).count();
        assert_eq!(defined, 1, "the definition appears once: {rows:?}");
    }
}
