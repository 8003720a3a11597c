use super::{font, headed, palette, place_labels, render, text_width, Mark};
use plotters::prelude::*;

/// One step of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    pub run_id: i64,
    pub concurrency: u32,
    /// A rate step's requests per second (Poisson arrivals); `None` for a concurrency step.
    pub rate: Option<f64>,
    /// Requests per second served.
    pub req_per_s: f64,
    pub output_tps: f64,
    pub p90_ms: f64,
    /// Output tok/s of the requests within every target, when the run had targets.
    pub goodput_tps: Option<f64>,
}

impl SweepPoint {
    /// "c=4", or "22 req/s" for a rate step.
    fn level(&self) -> String {
        match self.rate {
            Some(r) => format!("{} req/s", crate::domain::format::dec(r, 2)),
            None => format!("c={}", self.concurrency),
        }
    }
}

/// The concurrency steps by concurrency and the rate steps by rate: two series, each from its
/// lightest load to its heaviest (a rate step's cap on requests in flight is not its load).
fn series(points: &[SweepPoint]) -> (Vec<&SweepPoint>, Vec<&SweepPoint>) {
    let (mut by_c, mut by_rate): (Vec<&SweepPoint>, Vec<&SweepPoint>) = points.iter().partition(|p| p.rate.is_none());
    by_c.sort_by(|a, b| a.concurrency.cmp(&b.concurrency).then(a.run_id.cmp(&b.run_id)));
    by_rate.sort_by(|a, b| {
        a.rate
            .unwrap_or(0.0)
            .total_cmp(&b.rate.unwrap_or(0.0))
            .then(a.run_id.cmp(&b.run_id))
    });
    (by_c, by_rate)
}

/// Throughput (and goodput, when the runs had targets) against p90 latency: the concurrency
/// steps joined in order of concurrency (where the curve bends up, more concurrency buys
/// latency, not throughput), and an automatic sweep's request-rate steps as a second series in
/// order of rate, in another colour and marker. The knee (where throughput stopped rising) is
/// ringed and the best setting boxed; labels are placed clear of each other, the knee's and the
/// best setting's first, and a label with no clear place is left out (its row is in the table).
pub fn sweep_curve(
    title: &str,
    latency_name: &str,
    points: &[SweepPoint],
    knee: Option<u32>,
    best: Option<i64>,
    width: u32,
    height: u32,
) -> String {
    if points.is_empty() {
        return "<p class=\"chart-empty\">No finished level with 10 or more requests yet: a p90 needs 10.</p>".into();
    }
    let x_max = points
        .iter()
        .flat_map(|p| [p.output_tps, p.goodput_tps.unwrap_or(0.0)])
        .fold(1.0, f64::max)
        * 1.15;
    let y_max = points.iter().map(|p| p.p90_ms).fold(1.0, f64::max) * 1.2;
    let (by_c, by_rate) = series(points);
    let (c_colour, rate_colour, good, knee_colour, best_colour) = (
        palette::OUTPUT,
        palette::TOTAL,
        palette::SERIES[2],
        palette::SERIES[4],
        palette::SERIES[3],
    );
    let has_goodput = points.iter().any(|p| p.goodput_tps.is_some());
    let mut legend = Vec::new();
    if by_rate.is_empty() {
        legend.push(("throughput: output tok/s".to_string(), Mark::Line(c_colour)));
    } else {
        legend.push(("concurrency steps (●): output tok/s".to_string(), Mark::Line(c_colour)));
        legend.push(("request-rate steps (■): output tok/s".to_string(), Mark::Line(rate_colour)));
    }
    if has_goodput {
        legend.push((
            "goodput: output tok/s within every target (same markers)".to_string(),
            Mark::Line(good),
        ));
    }
    let is_knee = |p: &SweepPoint| p.rate.is_none() && Some(p.concurrency) == knee;
    let is_best = |p: &SweepPoint| Some(p.run_id) == best;
    if by_c.iter().any(|p| is_knee(p)) {
        legend.push(("knee: throughput stops rising".to_string(), Mark::Ring(knee_colour)));
    }
    if points.iter().any(is_best) {
        legend.push(("best setting".to_string(), Mark::Frame(best_colour)));
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
        for (steps, colour, square) in [(&by_c, c_colour, false), (&by_rate, rate_colour, true)] {
            if steps.is_empty() {
                continue;
            }
            chart.draw_series(LineSeries::new(
                steps.iter().map(|p| (p.output_tps, p.p90_ms)),
                colour.stroke_width(3),
            ))?;
            let g: Vec<(f64, f64)> = steps.iter().filter_map(|p| Some((p.goodput_tps?, p.p90_ms))).collect();
            if square {
                chart.draw_series(
                    steps
                        .iter()
                        .map(|p| EmptyElement::at((p.output_tps, p.p90_ms)) + Rectangle::new([(-5, -5), (5, 5)], colour.filled())),
                )?;
                chart.draw_series(DashedLineSeries::new(g.iter().copied(), 8, 5, good.stroke_width(2)))?;
                chart.draw_series(
                    g.iter()
                        .map(|&(x, y)| EmptyElement::at((x, y)) + Rectangle::new([(-4, -4), (4, 4)], good.filled())),
                )?;
            } else {
                chart.draw_series(steps.iter().map(|p| Circle::new((p.output_tps, p.p90_ms), 5, colour.filled())))?;
                chart.draw_series(LineSeries::new(g.iter().copied(), good.stroke_width(2)))?;
                chart.draw_series(g.iter().map(|&(x, y)| Circle::new((x, y), 4, good.filled())))?;
            }
        }
        if let Some(k) = by_c.iter().find(|p| is_knee(p)) {
            chart.draw_series(std::iter::once(Circle::new(
                (k.output_tps, k.p90_ms),
                11,
                knee_colour.stroke_width(3),
            )))?;
        }
        if let Some(b) = points.iter().find(|p| is_best(p)) {
            chart.draw_series(std::iter::once(
                EmptyElement::at((b.output_tps, b.p90_ms)) + Rectangle::new([(-9, -9), (9, 9)], best_colour.stroke_width(3)),
            ))?;
        }
        // Labels: the knee's and the best setting's placed first, then the others in each
        // series' order; placed in plot pixels clear of those placed before.
        let mut order: Vec<&SweepPoint> = by_c.iter().chain(by_rate.iter()).copied().collect();
        order.sort_by_key(|p| !(is_knee(p) || is_best(p)));
        let labels: Vec<String> = order
            .iter()
            .map(|p| match (is_knee(p), is_best(p)) {
                (true, true) => format!("{} (knee, best)", p.level()),
                (true, false) => format!("{} (knee)", p.level()),
                (false, true) => format!("{} (best)", p.level()),
                (false, false) => p.level(),
            })
            .collect();
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        let anchors: Vec<(i32, i32)> = order
            .iter()
            .map(|p| {
                let (x, y) = chart.backend_coord(&(p.output_tps, p.p90_ms));
                (x - xr.start, y - yr.start)
            })
            .collect();
        let h = font::LABEL as i32 + 2;
        let widths: Vec<i32> = labels.iter().map(|l| text_width(l, font::LABEL)).collect();
        let offsets = place_labels(&anchors, &widths, h, (xr.end - xr.start, yr.end - yr.start));
        let mut placed: Vec<(i32, i32, i32, i32)> = Vec::new();
        let mut shown = Vec::new();
        let mut leaders: Vec<(&SweepPoint, (i32, i32))> = Vec::new();
        for (i, ((&(x, y), &(dx, dy)), label)) in anchors.iter().zip(&offsets).zip(labels).enumerate() {
            let r = (x + dx, y + dy, x + dx + widths[i], y + dy + h);
            if placed.iter().any(|q| r.0 < q.2 && q.0 < r.2 && r.1 < q.3 && q.1 < r.3) {
                continue;
            }
            placed.push(r);
            shown.push((order[i], label, (dx, dy)));
            // A label pushed away from its point (a crowded chart) gets a thin line to it, so it
            // is not read as the label of the point it landed beside (QA).
            let near = (0.clamp(dx, dx + widths[i]), 0.clamp(dy, dy + h));
            if near.0 * near.0 + near.1 * near.1 > LEADER_FROM_PX * LEADER_FROM_PX {
                leaders.push((order[i], near));
            }
        }
        chart.draw_series(leaders.iter().map(|&(p, (x, y))| {
            EmptyElement::at((p.output_tps, p.p90_ms)) + PathElement::new(vec![(0, 0), (x, y)], RGBColor(120, 120, 120).stroke_width(1))
        }))?;
        chart.draw_series(
            shown
                .into_iter()
                .map(|(p, label, off)| EmptyElement::at((p.output_tps, p.p90_ms)) + Text::new(label, off, ("sans-serif", font::LABEL))),
        )?;
        Ok(())
    })
}

/// How far (pixels) a label may sit from its point before a line joins them.
const LEADER_FROM_PX: i32 = 14;

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(run_id: i64, concurrency: u32, rate: Option<f64>, output_tps: f64, p90_ms: f64) -> SweepPoint {
        SweepPoint {
            run_id,
            concurrency,
            rate,
            req_per_s: output_tps / 64.0,
            output_tps,
            p90_ms,
            goodput_tps: Some(output_tps * 0.9),
        }
    }

    #[test]
    fn a_label_pushed_away_from_its_point_is_joined_to_it_by_a_line() {
        let leader = "stroke=\"#787878\"";
        let lone = sweep_curve("Sweep", "TTFT", &pts(), None, None, 860, 380);
        assert!(!lone.contains(leader), "two points far apart: every label beside its point");
        let crowded = sweep_curve("Sweep", "TTFT", &qa_sweep(), Some(8), Some(5), 860, 380);
        assert!(
            crowded.contains(leader),
            "a step on another's spot has its label moved, and a line to it"
        );
    }

    fn pts() -> [SweepPoint; 2] {
        [pt(2, 4, None, 100.0, 50.0), pt(1, 1, None, 30.0, 20.0)]
    }

    /// The QA's sweep: concurrency 1, 2, 4, 8 (the knee), 16, then request rates from what
    /// concurrency 1 served (4.6 req/s) to what the knee served, at most 16 in flight (listed
    /// here out of order, as they ran). Concurrency 1 and the 4.6 req/s step sit on one spot.
    fn qa_sweep() -> Vec<SweepPoint> {
        vec![
            pt(1, 1, None, 294.0, 10.1),
            pt(2, 2, None, 560.0, 10.3),
            pt(3, 4, None, 1000.0, 10.4),
            pt(4, 8, None, 1700.0, 10.6),
            pt(5, 16, None, 1816.0, 100.0),
            pt(6, 16, Some(4.6), 294.0, 10.1),
            pt(7, 16, Some(27.0), 1728.0, 12.0),
            pt(8, 16, Some(10.0), 640.0, 10.2),
            pt(9, 16, Some(22.0), 1408.0, 11.0),
            pt(10, 16, Some(16.0), 1024.0, 10.5),
        ]
    }

    /// The `points` of every polyline of this colour with more than two points (a legend's
    /// sample line has two), as (x, y) pixels.
    fn polylines(svg: &str, colour: RGBColor) -> Vec<Vec<(f64, f64)>> {
        let stroke = format!("stroke=\"#{:02X}{:02X}{:02X}\"", colour.0, colour.1, colour.2);
        svg.split("<polyline")
            .skip(1)
            .filter(|el| el.split("/>").next().is_some_and(|head| head.contains(&stroke)))
            .filter_map(|el| {
                let pts = el.split("points=\"").nth(1)?.split('"').next()?;
                Some(
                    pts.split_whitespace()
                        .filter_map(|xy| {
                            let (x, y) = xy.split_once(',')?;
                            Some((x.parse().ok()?, y.parse().ok()?))
                        })
                        .collect(),
                )
            })
            .filter(|l: &Vec<(f64, f64)>| l.len() > 2)
            .collect()
    }

    /// Every text element of the plot whose content passes `keep`: (x, y, text).
    fn texts(svg: &str, keep: impl Fn(&str) -> bool) -> Vec<(i32, i32, String)> {
        svg.split("<text")
            .skip(1)
            .filter_map(|el| {
                let attr = |name: &str| -> Option<i32> {
                    el.split(&format!(" {name}=\""))
                        .nth(1)?
                        .split('"')
                        .next()?
                        .parse::<f64>()
                        .ok()
                        .map(|v| v as i32)
                };
                let text = el.split('>').nth(1)?.split("</text").next()?.trim().to_string();
                Some((attr("x")?, attr("y")?, text))
            })
            .filter(|(_, _, t)| keep(t))
            .collect()
    }

    #[test]
    fn points_are_labelled_by_concurrency() {
        let svg = sweep_curve("Sweep", "E2E", &pts(), None, None, 500, 300);
        assert!(svg.contains("c=1") && svg.contains("c=4"));
        assert!(svg.contains("E2E p90"));
    }

    #[test]
    fn the_knee_and_the_goodput_curve_are_named() {
        let svg = sweep_curve("Sweep", "TTFT", &pts(), Some(4), None, 900, 360);
        assert!(svg.contains("c=4 (knee)"), "the knee is labelled");
        assert!(svg.contains("goodput"), "goodput is in the legend");
        let plain = sweep_curve(
            "Sweep",
            "TTFT",
            &pts().map(|p| SweepPoint { goodput_tps: None, ..p }),
            None,
            None,
            900,
            360,
        );
        assert!(!plain.contains("goodput") && !plain.contains("knee"));
    }

    #[test]
    fn the_concurrency_search_and_the_rate_steps_are_two_lines_each_in_order_of_its_own_load() {
        let svg = sweep_curve("Sweep", "TTFT", &qa_sweep(), Some(8), Some(5), 860, 380);
        let search = polylines(&svg, palette::OUTPUT);
        let rates = polylines(&svg, palette::TOTAL);
        assert_eq!(search.len(), 1, "one line for the concurrency steps");
        assert_eq!(rates.len(), 1, "another, in its own colour, for the rate steps");
        assert_eq!(search[0].len(), 5, "c=1, 2, 4, 8, 16 and no rate step: {:?}", search[0]);
        assert_eq!(rates[0].len(), 5, "the five rates and no concurrency step: {:?}", rates[0]);
        // Throughput grows with the load along each line here, so its x pixels rise: no zigzag.
        for line in [&search[0], &rates[0]] {
            assert!(line.windows(2).all(|w| w[0].0 < w[1].0), "{line:?}");
        }
        // Goodput: one line per series as well (the rate steps' dashed, drawn as segments).
        let good = polylines(&svg, palette::SERIES[2]);
        assert!(
            good.iter().any(|l| l.len() == 5 && l.windows(2).all(|w| w[0].0 < w[1].0)),
            "{good:?}"
        );
        assert!(
            svg.contains("concurrency steps") && svg.contains("request-rate steps"),
            "both in the legend"
        );
        assert!(
            svg.contains("c=8 (knee)") && svg.contains("c=16 (best)"),
            "the knee and the best setting are named"
        );
    }

    #[test]
    fn no_two_point_labels_overlap_even_where_points_coincide() {
        for (w, h) in [(860, 380), (500, 300)] {
            let svg = sweep_curve("Sweep", "TTFT", &qa_sweep(), Some(8), Some(5), w, h);
            let labels = texts(&svg, |t| {
                t.starts_with("c=") || t.ends_with("req/s") || t.contains("(knee") || t.contains("(best")
            });
            assert!(labels.len() >= 3, "{labels:?}");
            assert!(
                labels.iter().any(|l| l.2 == "c=8 (knee)"),
                "the knee's label is always shown: {labels:?}"
            );
            assert!(labels.iter().any(|l| l.2 == "c=16 (best)"), "and the best setting's: {labels:?}");
            let hgt = font::LABEL as i32 + 2;
            for (i, a) in labels.iter().enumerate() {
                for b in &labels[i + 1..] {
                    let (wa, wb) = (text_width(&a.2, font::LABEL), text_width(&b.2, font::LABEL));
                    let apart = a.0 + wa <= b.0 || b.0 + wb <= a.0 || a.1 + hgt <= b.1 || b.1 + hgt <= a.1;
                    assert!(apart, "{w}x{h}: {a:?} covers {b:?}");
                }
            }
        }
    }
}
