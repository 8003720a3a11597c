//! Charts: data in, SVG text out (plotters' SVG backend). The same code draws in the browser
//! (wasm), in server-rendered pages, and in exported reports.

use plotters::coord::Shift;
use plotters::prelude::*;

mod cost;
mod hybrid;
mod latency;
mod quality;
mod sweep;
mod throughput;
mod timeline;

pub use cost::{cost_bars, monthly_lines, speed_quality_cost, ScatterPoint};
pub use hybrid::hybrid_curve;
pub use latency::{cdf, histogram, Samples};
pub use quality::{grade_bars, rate_bars, speed_vs_quality};
pub use sweep::{sweep_curve, SweepPoint};
pub use throughput::{throughput_bars, ThroughputBar};
pub use timeline::timeline;

/// Colours used across charts (one per series kind).
pub(crate) mod palette {
    use plotters::style::RGBColor;
    pub const OUTPUT: RGBColor = RGBColor(37, 99, 235);
    pub const TOTAL: RGBColor = RGBColor(234, 88, 12);
    pub const GRID: RGBColor = RGBColor(229, 231, 235);
    pub const SERIES: [RGBColor; 8] = [
        RGBColor(37, 99, 235),
        RGBColor(234, 88, 12),
        RGBColor(22, 163, 74),
        RGBColor(147, 51, 234),
        RGBColor(220, 38, 38),
        RGBColor(8, 145, 178),
        RGBColor(202, 138, 4),
        RGBColor(75, 85, 99),
    ];
}

/// Draw a chart on a white SVG canvas of `width` x `height`; a chart that could not be drawn
/// says so (naming `what`) in place of the SVG.
pub(crate) fn render(
    what: &str,
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), Box<dyn std::error::Error>>,
) -> String {
    let mut svg = String::new();
    let res = {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|()| draw(&root).map_err(|e| e.to_string()))
            .and_then(|()| root.present().map_err(|e| e.to_string()))
    };
    match res {
        Ok(()) => svg,
        Err(e) => failed(what, e),
    }
}

/// The series legend, in one style for every chart.
pub(crate) fn legend<'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    position: SeriesLabelPosition,
) -> Result<(), Box<dyn std::error::Error>> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

/// A chart that could not be drawn says so in place of the SVG.
pub(crate) fn failed(what: &str, err: impl std::fmt::Display) -> String {
    format!("<p class=\"chart-error\">could not draw {what}: {err}</p>")
}

/// Labels for a category axis drawn on 0..n with one category per unit: the label sits at the
/// middle of its unit (x = i + 0.5), other ticks are blank. Use with `.x_labels(n * 2 + 1)`.
pub(crate) fn category_labels(labels: &[String], max: usize) -> impl Fn(&f64) -> String {
    let labels: Vec<String> = labels.iter().map(|l| short(l, max)).collect();
    move |x: &f64| {
        let i = x.floor() as usize;
        if (x - x.floor() - 0.5).abs() < 0.01 && i < labels.len() {
            labels[i].clone()
        } else {
            String::new()
        }
    }
}

/// Shorten a label for an axis.
pub(crate) fn short(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let s: String = label.chars().take(max.saturating_sub(1)).collect();
        format!("{s}…")
    }
}
