use super::{legend, palette, render};
use crate::domain::series::{server_throughput, RunSeries};
use plotters::prelude::*;

/// Throughput over time (client's completions and the server's counter), with the server's
/// running / waiting requests and KV-cache usage beneath, on one time axis.
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
    // Headroom above the data for the legend (upper right), so it never covers a line.
    let tps_max = client.iter().chain(server_tps.iter()).map(|p| p.1).fold(1.0, f64::max) * 1.45;
    let req_max = s
        .server
        .iter()
        .flat_map(|m| [m.running.unwrap_or(0.0), m.waiting.unwrap_or(0.0)])
        .fold(1.0, f64::max)
        * 1.6;
    render("the timeline", width, height, |root| {
        let (top, bottom) = root.split_vertically(height * 55 / 100);
        let mut c1 = ChartBuilder::on(&top)
            .caption("Throughput over time", ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(24)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..t_max, 0f64..tps_max)?;
        c1.configure_mesh()
            .light_line_style(palette::GRID)
            .y_desc("output tok/s")
            .y_label_formatter(&|y| crate::domain::format::int(*y))
            .draw()?;
        c1.draw_series(LineSeries::new(client.iter().copied(), palette::OUTPUT.stroke_width(2)))?
            .label("client: output tokens in the second they arrived")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], palette::OUTPUT.stroke_width(2)));
        if !server_tps.is_empty() {
            c1.draw_series(LineSeries::new(server_tps, palette::TOTAL.stroke_width(2)))?
                .label("server: vllm:generation_tokens_total slope")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], palette::TOTAL.stroke_width(2)));
        }
        legend(&mut c1, SeriesLabelPosition::UpperRight)?;

        let mut c2 = ChartBuilder::on(&bottom)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .right_y_label_area_size(50)
            .build_cartesian_2d(0f64..t_max, 0f64..req_max)?
            .set_secondary_coord(0f64..t_max, 0f64..1.0);
        c2.configure_mesh()
            .light_line_style(palette::GRID)
            .x_desc("seconds from the run's start")
            .y_desc("requests")
            .draw()?;
        c2.configure_secondary_axes()
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
        let green = palette::SERIES[2];
        let purple = palette::SERIES[3];
        let grey = palette::SERIES[7];
        c2.draw_series(LineSeries::new(running, green.stroke_width(2)))?
            .label("server: running (vllm:num_requests_running)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], green.stroke_width(2)));
        c2.draw_series(LineSeries::new(waiting, purple.stroke_width(2)))?
            .label("server: waiting (vllm:num_requests_waiting)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], purple.stroke_width(2)));
        c2.draw_secondary_series(LineSeries::new(kv, grey.stroke_width(1)))?
            .label("server: KV-cache usage (right axis)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], grey.stroke_width(1)));
        legend(&mut c2, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })
}
