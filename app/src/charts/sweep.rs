use super::{font, headed, palette, render, text_width};
use plotters::prelude::*;

/// One level of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    pub concurrency: u32,
    pub output_tps: f64,
    pub p90_ms: f64,
}

/// Throughput against p90 latency, one point per concurrency level, joined in order: where the
/// curve bends up, more concurrency buys latency, not throughput.
pub fn sweep_curve(title: &str, latency_name: &str, points: &[SweepPoint], width: u32, height: u32) -> String {
    if points.is_empty() {
        return "<p class=\"chart-empty\">No finished levels yet.</p>".into();
    }
    let x_max = points.iter().map(|p| p.output_tps).fold(1.0, f64::max) * 1.15;
    let y_max = points.iter().map(|p| p.p90_ms).fold(1.0, f64::max) * 1.15;
    render(title, width, height, |root| {
        let body = headed(root, title, &[])?;
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .margin_right(24)
            .x_label_area_size(52)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        chart
            .configure_mesh()
            .light_line_style(palette::GRID)
            .label_style(("sans-serif", font::TICK))
            .axis_desc_style(("sans-serif", font::AXIS))
            .x_desc("output tok/s (completion tokens / wall time)")
            .y_desc(format!("{latency_name} p90 (ms)"))
            .x_label_formatter(&|x| crate::domain::format::int(*x))
            .y_label_formatter(&|y| crate::domain::format::int(*y))
            .draw()?;
        let mut sorted = points.to_vec();
        sorted.sort_by_key(|p| p.concurrency);
        chart.draw_series(LineSeries::new(
            sorted.iter().map(|p| (p.output_tps, p.p90_ms)),
            palette::OUTPUT.stroke_width(3),
        ))?;
        let plot_w = body.dim_in_pixel().0 as f64 - 80.0 - 38.0;
        chart.draw_series(sorted.iter().map(|p| {
            let label = format!("c={}", p.concurrency);
            let w = text_width(&label, font::LABEL);
            let dx = if p.output_tps / x_max * plot_w + 8.0 + w as f64 > plot_w {
                -(w + 8)
            } else {
                8
            };
            EmptyElement::at((p.output_tps, p.p90_ms))
                + Circle::new((0, 0), 5, palette::OUTPUT.filled())
                + Text::new(label, (dx, -20), ("sans-serif", font::LABEL))
        }))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_labelled_by_concurrency() {
        let pts = [
            SweepPoint {
                concurrency: 4,
                output_tps: 100.0,
                p90_ms: 50.0,
            },
            SweepPoint {
                concurrency: 1,
                output_tps: 30.0,
                p90_ms: 20.0,
            },
        ];
        let svg = sweep_curve("Sweep", "E2E", &pts, 500, 300);
        assert!(svg.contains("c=1") && svg.contains("c=4"));
        assert!(svg.contains("E2E p90"));
    }
}
