use super::{legend, palette, render, short};
use crate::domain::stats::ecdf;
use plotters::prelude::*;

/// A named set of latency samples (ms).
pub struct Samples<'a> {
    pub label: &'a str,
    pub values: &'a [f64],
}

/// Histogram of one run's latencies (ms), 30 bins between min and max.
pub fn histogram(title: &str, values: &[f64], width: u32, height: u32) -> String {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return "<p class=\"chart-empty\">No answered requests.</p>".into();
    }
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let bins = 30usize;
    let width_ms = ((hi - lo) / bins as f64).max(1e-3);
    let mut counts = vec![0u32; bins];
    for v in &finite {
        let i = (((v - lo) / width_ms).floor() as usize).min(bins - 1);
        counts[i] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1);
    render(title, width, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(34)
            .y_label_area_size(48)
            .build_cartesian_2d(lo..(lo + width_ms * bins as f64), 0u32..(top + top / 10 + 1))?;
        chart
            .configure_mesh()
            .light_line_style(palette::GRID)
            .x_desc("ms")
            .y_desc("requests")
            .x_label_formatter(&|x| crate::domain::format::int(*x))
            .draw()?;
        chart.draw_series(counts.iter().enumerate().map(|(i, c)| {
            let x0 = lo + i as f64 * width_ms;
            Rectangle::new([(x0, 0), (x0 + width_ms * 0.95, *c)], palette::OUTPUT.mix(0.8).filled())
        }))?;
        Ok(())
    })
}

/// Empirical CDFs of several runs' latencies, overlaid (one colour per run).
pub fn cdf(title: &str, runs: &[Samples], width: u32, height: u32) -> String {
    let all: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.values.iter().copied())
        .filter(|v| v.is_finite())
        .collect();
    if all.is_empty() {
        return "<p class=\"chart-empty\">No answered requests.</p>".into();
    }
    let hi = all.iter().copied().fold(0.0, f64::max).max(1e-3) * 1.05;
    render(title, width, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(34)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..hi, 0f64..1.0)?;
        chart
            .configure_mesh()
            .light_line_style(palette::GRID)
            .x_desc("ms")
            .y_desc("fraction of requests ≤ x")
            .x_label_formatter(&|x| crate::domain::format::int(*x))
            .draw()?;
        for (i, run) in runs.iter().enumerate() {
            let color = palette::SERIES[i % palette::SERIES.len()];
            let pts = ecdf(run.values, 400);
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
                .label(short(run.label, 40))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_and_cdf_draw_svg() {
        let v: Vec<f64> = (0..100).map(f64::from).collect();
        assert!(histogram("E2E", &v, 400, 240).starts_with("<svg"));
        let c = cdf(
            "E2E",
            &[
                Samples {
                    label: "run a",
                    values: &v,
                },
                Samples {
                    label: "run b",
                    values: &v[..50],
                },
            ],
            400,
            240,
        );
        assert!(c.starts_with("<svg") && c.contains("run a") && c.contains("run b"));
        assert!(histogram("E2E", &[], 400, 240).contains("No answered"));
    }
}
