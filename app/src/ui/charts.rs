//! Chart sections shared by the run, compare and sweep pages.

use crate::charts::{cdf, histogram, timeline, Samples};
use crate::domain::definitions as def;
use crate::domain::series::RunSeries;
use crate::domain::summary::NO_TIMING;
use leptos::prelude::*;

/// What the timeline's lines are, in the words of its legend and the code
/// (`domain::series::ThroughputBuilder`).
pub const CLIENT_CAPTION: &str = "Client line: output tokens counted in the second they arrived (a request's tokens spread over the arrival of its chunks; without chunk times, at its end), over wider buckets for runs longer than a minute; the last, partial bucket is a rate over the time it covers. Server lines: scraped from the endpoint's /metrics about once a second (absent when it has none).";

/// `batch`: the run is a batch job, whose records have no per-request times; `untimed`: an import
/// whose file has no times (its records hold 0 ms). The section says so instead of drawing
/// empty charts, or charts of zeros.
#[component]
pub fn RunCharts(
    series: RunSeries,
    #[prop(optional)] batch: bool,
    #[prop(optional)] untimed: bool,
    /// An import of a run's summary alone (a seed run's totals): no request to chart.
    #[prop(optional)]
    summary_only: bool,
) -> impl IntoView {
    if batch || untimed || summary_only {
        let why = if batch {
            super::job::NO_PER_REQUEST_TIMING.to_string()
        } else if summary_only {
            "No charts: this run was imported as a summary of totals, without its requests one by one.".to_string()
        } else {
            format!("No charts: {NO_TIMING}; the file gives no per-request times.")
        };
        return view! {
            <section class="chart" aria-labelledby="charts-title">
                <h2 id="charts-title">"Charts"</h2>
                <p class="note no-timing">{why}</p>
            </section>
        }
        .into_any();
    }
    let tl = timeline(&series, 860, 540);
    let ttft = histogram("TTFT distribution", series.charts.ttft.as_ref(), 420, 260);
    let e2e = histogram("E2E latency distribution", series.charts.e2e.as_ref(), 420, 260);
    view! {
        <section class="chart" aria-labelledby="charts-title">
            <h2 id="charts-title">"Charts"</h2>
            <div class="svg" inner_html=tl></div>
            <p class="definition">
                {CLIENT_CAPTION}
            </p>
            <div class="pair">
                <div class="svg" inner_html=ttft></div>
                <div class="svg" inner_html=e2e></div>
            </div>
            <p class="definition">"TTFT: " {def::TTFT} ". E2E: " {def::E2E} "."</p>
        </section>
    }
    .into_any()
}

#[component]
pub fn CdfCharts(series: Vec<RunSeries>) -> impl IntoView {
    let ttft: Vec<Samples> = series
        .iter()
        .map(|s| Samples {
            label: &s.label,
            chart: s.charts.ttft.as_ref(),
        })
        .collect();
    let e2e: Vec<Samples> = series
        .iter()
        .map(|s| Samples {
            label: &s.label,
            chart: s.charts.e2e.as_ref(),
        })
        .collect();
    let ttft = cdf("TTFT, cumulative", &ttft, 860, 320);
    let e2e = cdf("E2E latency, cumulative", &e2e, 860, 320);
    view! {
        <section class="chart" aria-labelledby="cdf-title">
            <h2 id="cdf-title">"Latency distributions"</h2>
            <div class="svg" inner_html=ttft></div>
            <div class="svg" inner_html=e2e></div>
            <p class="definition">"Each curve: the fraction of a run's answered requests at or under that latency."</p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caption_counts_tokens_as_the_legend_and_the_code_do() {
        let rule = "in the second they arrived";
        assert!(crate::charts::CLIENT_LINE.ends_with(rule));
        assert!(CLIENT_CAPTION.contains(rule), "{CLIENT_CAPTION}");
        assert!(!CLIENT_CAPTION.contains("finished in each second"), "{CLIENT_CAPTION}");
    }
}
