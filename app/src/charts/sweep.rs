use super::{font, headed, palette, render, text_width, Mark};
use plotters::prelude::*;

/// One level of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    pub concurrency: u32,
    /// A rate step's requests per second (Poisson arrivals); `None` for a concurrency step.
    pub rate: Option<f64>,
    /// Requests per second served: the curve goes from the lightest load to the heaviest.
    pub req_per_s: f64,
    pub output_tps: f64,
    pub p90_ms: f64,
    /// Output tok/s of the requests within every target, when the run had targets.
    pub goodput_tps: Option<f64>,
}

/// Throughput (and goodput, when the runs had targets) against p90 latency, one point per
/// concurrency level, joined in order: where the curve bends up, more concurrency buys latency,
/// not throughput. The knee (where throughput stopped rising) is ringed and labelled.
pub fn sweep_curve(title: &str, latency_name: &str, points: &[SweepPoint], knee: Option<u32>, width: u32, height: u32) -> String {
    if points.is_empty() {
        return "<p class=\"chart-empty\">No finished levels yet.</p>".into();
    }
    let x_max = points.iter().map(|p| p.output_tps).fold(1.0, f64::max) * 1.15;
    let y_max = points.iter().map(|p| p.p90_ms).fold(1.0, f64::max) * 1.15;
    let good = palette::SERIES[2];
    let has_goodput = points.iter().any(|p| p.goodput_tps.is_some());
    let mut legend = vec![("throughput: output tok/s".to_string(), Mark::Line(palette::OUTPUT))];
    if has_goodput {
        legend.push(("goodput: output tok/s within every target".to_string(), Mark::Line(good)));
    }
    if knee.is_some() {
        legend.push(("knee: throughput stops rising".to_string(), Mark::Dot(palette::SERIES[4])));
    }
    render(title, width, height, |root| {
        let body = headed(root, title, &legend)?;
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
        sorted.sort_by(|a, b| a.req_per_s.total_cmp(&b.req_per_s).then(a.concurrency.cmp(&b.concurrency)));
        let is_knee = |p: &SweepPoint| p.rate.is_none() && Some(p.concurrency) == knee;
        chart.draw_series(LineSeries::new(
            sorted.iter().map(|p| (p.output_tps, p.p90_ms)),
            palette::OUTPUT.stroke_width(3),
        ))?;
        if has_goodput {
            let g: Vec<(f64, f64)> = sorted.iter().filter_map(|p| Some((p.goodput_tps?, p.p90_ms))).collect();
            chart.draw_series(LineSeries::new(g.iter().copied(), good.stroke_width(2)))?;
            chart.draw_series(g.iter().map(|&(x, y)| Circle::new((x, y), 4, good.filled())))?;
        }
        if let Some(k) = sorted.iter().find(|p| is_knee(p)) {
            chart.draw_series(std::iter::once(Circle::new(
                (k.output_tps, k.p90_ms),
                11,
                palette::SERIES[4].stroke_width(3),
            )))?;
        }
        let plot_w = body.dim_in_pixel().0 as f64 - 80.0 - 38.0;
        chart.draw_series(sorted.iter().map(|p| {
            let level = match p.rate {
                Some(r) => format!("{} req/s", crate::domain::format::dec(r, 2)),
                None => format!("c={}", p.concurrency),
            };
            let label = if is_knee(p) { format!("{level} (knee)") } else { level };
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

    fn pts() -> [SweepPoint; 2] {
        [
            SweepPoint {
                concurrency: 4,
                rate: None,
                req_per_s: 4.0,
                output_tps: 100.0,
                p90_ms: 50.0,
                goodput_tps: Some(80.0),
            },
            SweepPoint {
                concurrency: 1,
                rate: None,
                req_per_s: 1.0,
                output_tps: 30.0,
                p90_ms: 20.0,
                goodput_tps: Some(30.0),
            },
        ]
    }

    #[test]
    fn points_are_labelled_by_concurrency() {
        let svg = sweep_curve("Sweep", "E2E", &pts(), None, 500, 300);
        assert!(svg.contains("c=1") && svg.contains("c=4"));
        assert!(svg.contains("E2E p90"));
    }

    #[test]
    fn the_knee_and_the_goodput_curve_are_named() {
        let svg = sweep_curve("Sweep", "TTFT", &pts(), Some(4), 900, 360);
        assert!(svg.contains("c=4 (knee)"), "the knee is labelled");
        assert!(svg.contains("goodput"), "goodput is in the legend");
        let plain = sweep_curve(
            "Sweep",
            "TTFT",
            &pts().map(|p| SweepPoint { goodput_tps: None, ..p }),
            None,
            900,
            360,
        );
        assert!(!plain.contains("goodput") && !plain.contains("knee"));
    }
}
