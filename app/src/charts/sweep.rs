use super::{palette, render};
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
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        chart
            .configure_mesh()
            .light_line_style(palette::GRID)
            .x_desc("output tok/s (completion tokens / wall time)")
            .y_desc(format!("{latency_name} p90 (ms)"))
            .x_label_formatter(&|x| crate::domain::format::int(*x))
            .y_label_formatter(&|y| crate::domain::format::int(*y))
            .draw()?;
        let mut sorted = points.to_vec();
        sorted.sort_by_key(|p| p.concurrency);
        chart.draw_series(LineSeries::new(
            sorted.iter().map(|p| (p.output_tps, p.p90_ms)),
            palette::OUTPUT.stroke_width(2),
        ))?;
        chart.draw_series(sorted.iter().map(|p| {
            EmptyElement::at((p.output_tps, p.p90_ms))
                + Circle::new((0, 0), 4, palette::OUTPUT.filled())
                + Text::new(format!("c={}", p.concurrency), (6, -14), ("sans-serif", 12))
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
