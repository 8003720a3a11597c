use super::{category_labels, font, headed, palette, render, Mark};
use plotters::prelude::*;

/// One run's bars: output and total tokens per second (never compared with each other).
#[derive(Clone, Debug, PartialEq)]
pub struct ThroughputBar {
    pub label: String,
    pub output_tps: f64,
    pub total_tps: f64,
}

/// Side-by-side bars per run: output tok/s and total tok/s, labelled as such.
pub fn throughput_bars(bars: &[ThroughputBar], width: u32, height: u32) -> String {
    if bars.is_empty() {
        return "<p class=\"chart-empty\">No finished runs yet.</p>".into();
    }
    render("the throughput chart", width, height, |root| {
        let max = bars.iter().map(|b| b.output_tps.max(b.total_tps)).fold(0.0, f64::max).max(1.0) * 1.05;
        let n = bars.len();
        let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
        let body = headed(
            root,
            "Throughput of finished runs",
            &[
                (
                    "output tok/s (completion tokens / wall time)".to_string(),
                    Mark::Bar(palette::OUTPUT),
                ),
                (
                    "total tok/s ((prompt + completion) / wall time)".to_string(),
                    Mark::Bar(palette::TOTAL),
                ),
            ],
        )?;
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(84)
            .build_cartesian_2d(0f64..n as f64, 0f64..max)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(palette::GRID)
            .label_style(("sans-serif", font::TICK))
            .axis_desc_style(("sans-serif", font::AXIS))
            .y_desc("tokens per second")
            .x_labels(n.min(12) * 2 + 1)
            .x_label_formatter(&category_labels(&labels, ((1100 / n.max(1)) / 9).clamp(10, 40)))
            .y_label_formatter(&|y| crate::domain::format::int(*y))
            .draw()?;
        chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
            let x = i as f64;
            Rectangle::new([(x + 0.12, 0.0), (x + 0.48, b.output_tps)], palette::OUTPUT.filled())
        }))?;
        chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
            let x = i as f64;
            Rectangle::new([(x + 0.52, 0.0), (x + 0.88, b.total_tps)], palette::TOTAL.filled())
        }))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_labelled_with_their_definitions() {
        let svg = throughput_bars(
            &[ThroughputBar {
                label: "gemma".into(),
                output_tps: 700.0,
                total_tps: 2511.0,
            }],
            640,
            320,
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("output tok/s"));
        assert!(svg.contains("total tok/s"));
        assert!(svg.contains("gemma"));
    }

    #[test]
    fn no_runs_gives_a_message_not_an_empty_chart() {
        assert!(throughput_bars(&[], 640, 320).contains("No finished runs"));
    }
}
