use super::{headed, header_height, palette, render, short, Mark};
use crate::domain::series::LatencyChart;
use plotters::prelude::*;

/// A named latency curve (ms): one run's cumulative distribution.
pub struct Samples<'a> {
    pub label: &'a str,
    pub chart: Option<&'a LatencyChart>,
}

/// Histogram of one run's latencies (ms), from its stored bins.
pub fn histogram(title: &str, data: Option<&LatencyChart>, width: u32, height: u32) -> String {
    let Some(h) = data.filter(|h| h.count > 0 && !h.bins.is_empty()) else {
        return "<p class=\"chart-empty\">No answered requests yet.</p>".into();
    };
    let (lo, width_ms, bins) = (h.lo, h.width, h.bins.len());
    let top = h.bins.iter().copied().max().unwrap_or(1).max(1);
    let y_top = top as f64 * 1.1 + 1.0;
    render(title, width, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(64)
            // A continuous count axis: "nice" ticks whatever the counts (an integer axis draws a
            // grid line per count step, thousands of lines for a big run).
            .build_cartesian_2d(lo..(lo + width_ms * bins as f64), 0f64..y_top)?;
        chart
            .configure_mesh()
            .light_line_style(palette::GRID)
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .x_desc("ms")
            .y_desc("requests")
            // Small counts: one tick per whole request (else 0.5 steps read "0, 0, 1, 1, 2").
            .y_labels((y_top.floor() as usize + 1).clamp(2, 10))
            .x_label_formatter(&|x| crate::domain::format::int(*x))
            .y_label_formatter(&|y| crate::domain::format::int(*y))
            .draw()?;
        chart.draw_series(h.bins.iter().enumerate().map(|(i, c)| {
            let x0 = lo + i as f64 * width_ms;
            Rectangle::new([(x0, 0.0), (x0 + width_ms * 0.95, *c as f64)], palette::OUTPUT.mix(0.8).filled())
        }))?;
        Ok(())
    })
}

/// Cumulative distributions of several runs' latencies, overlaid (one colour per run), with the
/// legend above the plot area (outside the data: it never covers a curve, however many runs).
pub fn cdf(title: &str, runs: &[Samples], width: u32, height: u32) -> String {
    let hi = runs
        .iter()
        .filter_map(|r| r.chart)
        .filter_map(|c| c.cdf.last().map(|p| p.0))
        .fold(f64::NAN, f64::max);
    if !hi.is_finite() {
        return "<p class=\"chart-empty\">No answered requests.</p>".into();
    }
    let hi = hi.max(1e-3) * 1.05;
    let entries: Vec<(String, Mark)> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| (short(r.label, 40), Mark::Line(palette::SERIES[i % palette::SERIES.len()])))
        .collect();
    // Taller by the legend's rows, so the plot keeps its height.
    let height = height + header_height("", &entries, width).saturating_sub(20);
    render(title, width, height, |root| {
        let body = headed(root, title, &entries)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..hi, 0f64..1.02)?;
        chart
            .configure_mesh()
            .light_line_style(palette::GRID)
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .x_desc("ms")
            .y_desc("fraction of requests ≤ x")
            .y_label_formatter(&|y| format!("{y:.1}"))
            .x_label_formatter(&|x| crate::domain::format::int(*x))
            .draw()?;
        for (i, run) in runs.iter().enumerate() {
            let color = palette::SERIES[i % palette::SERIES.len()];
            let pts = run.chart.map(|c| c.cdf.clone()).unwrap_or_default();
            chart.draw_series(LineSeries::new(pts, color.stroke_width(2)))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_and_cdf_draw_svg() {
        let mut v: Vec<f64> = (0..100).map(f64::from).collect();
        let a = LatencyChart::of(&mut v).expect("chart");
        let mut half: Vec<f64> = (0..50).map(f64::from).collect();
        let b = LatencyChart::of(&mut half).expect("chart");
        assert!(histogram("E2E", Some(&a), 400, 240).starts_with("<svg"));
        let c = cdf(
            "E2E",
            &[
                Samples {
                    label: "run a",
                    chart: Some(&a),
                },
                Samples {
                    label: "run b",
                    chart: Some(&b),
                },
            ],
            400,
            240,
        );
        assert!(c.starts_with("<svg") && c.contains("run a") && c.contains("run b"));
        assert!(histogram("E2E", None, 400, 240).contains("No answered"));
    }
}
