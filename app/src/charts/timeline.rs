use super::{font, headed, palette, render, Mark};
use crate::domain::series::{server_throughput, RunSeries};
use plotters::prelude::*;

/// What the client line counts (the legend, and the caption under the chart).
pub const CLIENT_LINE: &str = "client: output tokens in the second they arrived";

/// Throughput over time (client's completions and the server's counter), with the server's
/// running / waiting requests and KV-cache usage beneath, on one time axis. Each half has its
/// legend above its plot, never over a line.
pub fn timeline(s: &RunSeries, width: u32, height: u32) -> String {
    let client = &s.charts.client_tps;
    if client.is_empty() && s.server.is_empty() {
        return "<p class=\"chart-empty\">No requests finished yet.</p>".into();
    }
    let server_tps = server_throughput(&s.server);
    let t_max = client
        .iter()
        .map(|p| p.0 + 1.0)
        .chain(s.server.iter().map(|m| m.t_ms as f64 / 1e3))
        .fold(1.0, f64::max);
    let tps_max = client.iter().chain(server_tps.iter()).map(|p| p.1).fold(1.0, f64::max) * 1.08;
    let req_max = s
        .server
        .iter()
        .flat_map(|m| [m.running.unwrap_or(0.0), m.waiting.unwrap_or(0.0)])
        .fold(1.0, f64::max)
        * 1.1;
    let (green, purple, grey) = (palette::SERIES[2], palette::SERIES[3], palette::SERIES[7]);
    render("the timeline", width, height, |root| {
        let (top, bottom) = root.split_vertically(height * 52 / 100);
        let mut entries = vec![(CLIENT_LINE.to_string(), Mark::Line(palette::OUTPUT))];
        if !server_tps.is_empty() {
            entries.push(("server: vllm:generation_tokens_total slope".to_string(), Mark::Line(palette::TOTAL)));
        }
        let top = headed(&top, "Throughput over time", &entries)?;
        let mut c1 = ChartBuilder::on(&top)
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(76)
            .build_cartesian_2d(0f64..t_max, 0f64..tps_max)?;
        c1.configure_mesh()
            .light_line_style(palette::GRID)
            .label_style(("sans-serif", font::TICK))
            .axis_desc_style(("sans-serif", font::AXIS))
            .y_desc("output tok/s")
            .y_label_formatter(&|y| crate::domain::format::int(*y))
            .draw()?;
        c1.draw_series(LineSeries::new(client.iter().copied(), palette::OUTPUT.stroke_width(2)))?;
        if !server_tps.is_empty() {
            c1.draw_series(LineSeries::new(server_tps, palette::TOTAL.stroke_width(2)))?;
        }

        let below: Vec<(String, Mark)> = if s.server.is_empty() {
            Vec::new()
        } else {
            vec![
                ("server: running (vllm:num_requests_running)".to_string(), Mark::Line(green)),
                ("server: waiting (vllm:num_requests_waiting)".to_string(), Mark::Line(purple)),
                ("server: KV-cache usage (right axis)".to_string(), Mark::Line(grey)),
            ]
        };
        let bottom = headed(&bottom, "", &below)?;
        let mut c2 = ChartBuilder::on(&bottom)
            .margin(10)
            .x_label_area_size(48)
            .y_label_area_size(76)
            .right_y_label_area_size(70)
            .build_cartesian_2d(0f64..t_max, 0f64..req_max)?
            .set_secondary_coord(0f64..t_max, 0f64..1.0);
        c2.configure_mesh()
            .light_line_style(palette::GRID)
            .label_style(("sans-serif", font::TICK))
            .axis_desc_style(("sans-serif", font::AXIS))
            .x_desc("seconds from the run's start")
            .y_desc("requests")
            .draw()?;
        c2.configure_secondary_axes()
            .label_style(("sans-serif", font::TICK))
            .axis_desc_style(("sans-serif", font::AXIS))
            .y_desc("KV cache")
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .draw()?;
        if s.server.is_empty() {
            return Ok(());
        }
        let t = |m: &crate::domain::metrics::MetricsSample| m.t_ms as f64 / 1e3;
        let running: Vec<(f64, f64)> = s.server.iter().filter_map(|m| Some((t(m), m.running?))).collect();
        let waiting: Vec<(f64, f64)> = s.server.iter().filter_map(|m| Some((t(m), m.waiting?))).collect();
        let kv: Vec<(f64, f64)> = s.server.iter().filter_map(|m| Some((t(m), m.kv_cache_usage?))).collect();
        c2.draw_series(LineSeries::new(running, green.stroke_width(2)))?;
        c2.draw_series(LineSeries::new(waiting, purple.stroke_width(2)))?;
        c2.draw_secondary_series(LineSeries::new(kv, grey.stroke_width(1)))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::svg_test::{line_points, text_y};
    use crate::domain::metrics::MetricsSample;

    /// A run of 20 s: the client's rate flat at its top, the server saturated (running at its
    /// top) the whole time: any legend inside a plot would cover a line.
    fn busy_run() -> RunSeries {
        let mut s = RunSeries::default();
        s.charts.client_tps = (0..20).map(|i| (i as f64, 1000.0)).collect();
        s.server = (0..=20)
            .map(|i| MetricsSample {
                t_ms: i * 1000,
                generation_tokens_total: Some(i as f64 * 1000.0),
                running: Some(16.0),
                waiting: Some(if i < 10 { 16.0 } else { 0.0 }),
                kv_cache_usage: Some(0.9),
                ..Default::default()
            })
            .collect();
        s
    }

    #[test]
    fn legends_sit_above_their_plots_never_over_a_line() {
        let svg = timeline(&busy_run(), 860, 540);
        assert!(svg.starts_with("<svg"), "{svg}");
        let boxes = svg
            .split("<rect")
            .skip(1)
            .filter(|r| r.split("/>").next().is_some_and(|r| r.contains("opacity=\"0.85\"")));
        assert_eq!(boxes.count(), 0, "no legend box drawn inside a plot");
        let points = line_points(&svg);
        let half = 540.0 * 0.52;
        // Lines (and the plot's frame and grid) of each half, against its legend's last row.
        let top_lines = points.iter().filter(|p| p.1 < half).map(|p| p.1).fold(f64::MAX, f64::min);
        let bottom_lines = points.iter().filter(|p| p.1 > half).map(|p| p.1).fold(f64::MAX, f64::min);
        for label in [CLIENT_LINE, "server: vllm:generation_tokens_total slope"] {
            let y = text_y(&svg, label);
            assert!(y + font::LEGEND as f64 <= top_lines, "{label} at {y}, a line at {top_lines}");
        }
        for label in [
            "server: running (vllm:num_requests_running)",
            "server: waiting (vllm:num_requests_waiting)",
            "server: KV-cache usage (right axis)",
        ] {
            let y = text_y(&svg, label);
            assert!(
                y > half && y + font::LEGEND as f64 <= bottom_lines,
                "{label} at {y}, a line at {bottom_lines}"
            );
        }
    }
}
