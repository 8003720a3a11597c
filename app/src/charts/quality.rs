use super::{category_labels, font, headed, palette, place_labels, render, short, text_width, Mark};
use plotters::prelude::*;

/// Mean grade per run with 95 % t-intervals (`None`: too few grades, or no spread: no bar
/// drawn, and the label says so).
pub fn grade_bars(labels: &[String], means: &[f64], intervals: &[Option<(f64, f64)>], counts: &[u64], width: u32, height: u32) -> String {
    if labels.is_empty() {
        return "<p class=\"chart-empty\">No grades yet: grade samples in a queue.</p>".into();
    }
    render("the grade chart", width, height, |root| {
        let n = labels.len();
        let entries = vec![
            ("mean overall grade".to_string(), Mark::Bar(palette::OUTPUT)),
            (
                "95% t-interval (none drawn when fewer than 2 grades or all equal)".to_string(),
                Mark::Line(BLACK),
            ),
        ];
        let body = headed(root, "Mean overall grade per run", &entries)?;
        let named: Vec<String> = labels
            .iter()
            .zip(counts)
            .map(|(l, c)| format!("{} (n={c})", short(l, 24)))
            .collect();
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..n as f64, 0f64..5.2)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(palette::GRID)
            .label_style(("sans-serif", font::TICK))
            .axis_desc_style(("sans-serif", font::AXIS))
            .y_desc("grade (1-5)")
            .x_labels(n * 2 + 1)
            .x_label_formatter(&category_labels(&named, 34))
            .draw()?;
        chart.draw_series(
            means
                .iter()
                .enumerate()
                .map(|(i, m)| Rectangle::new([(i as f64 + 0.25, 0.0), (i as f64 + 0.75, *m)], palette::OUTPUT.mix(0.8).filled())),
        )?;
        for (i, iv) in intervals.iter().enumerate() {
            if let Some((lo, hi)) = iv {
                let x = i as f64 + 0.5;
                let (lo, hi) = (lo.max(0.0), hi.min(5.2));
                chart.draw_series(std::iter::once(PathElement::new(vec![(x, lo), (x, hi)], BLACK.stroke_width(2))))?;
                for y in [lo, hi] {
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(x - 0.06, y), (x + 0.06, y)],
                        BLACK.stroke_width(2),
                    )))?;
                }
            }
        }
        Ok(())
    })
}

/// Schema-valid, hand-back and truncation rates per run.
pub fn rate_bars(labels: &[String], rates: &[[f64; 3]], width: u32, height: u32) -> String {
    if labels.is_empty() {
        return "<p class=\"chart-empty\">No checked answers yet.</p>".into();
    }
    let names = [
        "valid against the schema (or JSON found)",
        "hands the task back",
        "truncated at max_tokens",
    ];
    let colours = [palette::SERIES[2], palette::SERIES[4], palette::SERIES[6]];
    render("the checks chart", width, height, |root| {
        let n = labels.len();
        let entries: Vec<(String, Mark)> = names.iter().zip(colours).map(|(n, c)| (n.to_string(), Mark::Bar(c))).collect();
        let body = headed(root, "Automatic checks per run", &entries)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..n as f64, 0f64..100.0)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(palette::GRID)
            .label_style(("sans-serif", font::TICK))
            .axis_desc_style(("sans-serif", font::AXIS))
            .y_desc("% of answers")
            .x_labels(n * 2 + 1)
            .x_label_formatter(&category_labels(labels, 30))
            .draw()?;
        for (k, c) in colours.iter().enumerate() {
            chart.draw_series(rates.iter().enumerate().map(|(i, r)| {
                let x0 = i as f64 + 0.12 + k as f64 * 0.26;
                Rectangle::new([(x0, 0.0), (x0 + 0.24, r[k] * 100.0)], c.filled())
            }))?;
        }
        Ok(())
    })
}

/// A run on the speed vs grade chart: label, output tok/s, mean grade, its 95 % interval.
pub type SpeedGrade = (String, f64, f64, Option<(f64, f64)>);

/// Each run a point: output tok/s against mean grade, 95 % intervals as bars where known.
pub fn speed_vs_quality(points: &[SpeedGrade], width: u32, height: u32) -> String {
    if points.is_empty() {
        return "<p class=\"chart-empty\">No graded run with a measured speed yet.</p>".into();
    }
    let x_max = points.iter().map(|p| p.1).fold(1.0, f64::max) * 1.08;
    render("the speed vs quality chart", width, height, |root| {
        let body = headed(
            root,
            "Speed vs mean grade",
            &[("95% t-interval of the mean grade".to_string(), Mark::Line(BLACK))],
        )?;
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .margin_right(24)
            .x_label_area_size(52)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, 0.8f64..5.3)?;
        chart
            .configure_mesh()
            .light_line_style(palette::GRID)
            .label_style(("sans-serif", font::TICK))
            .axis_desc_style(("sans-serif", font::AXIS))
            .x_desc("output tok/s (completion tokens / wall time)")
            .y_desc("mean grade (1-5)")
            .x_label_formatter(&|x| crate::domain::format::int(*x))
            .draw()?;
        chart.draw_series(points.iter().filter_map(|(_, x, _, iv)| {
            iv.map(|(lo, hi)| PathElement::new(vec![(*x, lo.max(0.8)), (*x, hi.min(5.3))], BLACK.stroke_width(2)))
        }))?;
        let (bw, bh) = body.dim_in_pixel();
        let (plot_w, plot_h) = (bw as f64 - 60.0 - 38.0, bh as f64 - 52.0 - 28.0);
        let labels: Vec<String> = points.iter().map(|p| short(&p.0, 30)).collect();
        let anchors: Vec<(i32, i32)> = points
            .iter()
            .map(|p| ((p.1 / x_max * plot_w) as i32, ((5.3 - p.2) / 4.5 * plot_h) as i32))
            .collect();
        let widths: Vec<i32> = labels.iter().map(|l| text_width(l, font::LABEL)).collect();
        let offsets = place_labels(&anchors, &widths, font::LABEL as i32 + 2, (plot_w as i32, plot_h as i32));
        chart.draw_series(points.iter().zip(labels).zip(offsets).map(|(((_, x, m, _), label), (dx, dy))| {
            EmptyElement::at((*x, *m))
                + Circle::new((0, 0), 6, palette::OUTPUT.filled())
                + Text::new(label, (dx, dy), ("sans-serif", font::LABEL))
        }))?;
        Ok(())
    })
}

/// A run's Bradley-Terry strength with its 95 % bootstrap interval.
#[derive(Clone, Debug, PartialEq)]
pub struct BtBar {
    pub label: String,
    pub strength: f64,
    pub low: f64,
    pub high: f64,
    pub votes: u64,
}

/// Bradley-Terry strengths, one row per run (strongest first), each a dot with its interval, on
/// a log scale around 1 (the average run): overlapping intervals are runs the votes do not
/// tell apart.
pub fn bradley_terry_chart(bars: &[BtBar], width: u32) -> String {
    if bars.is_empty() {
        return "<p class=\"chart-empty\">No pairwise votes yet.</p>".into();
    }
    let n = bars.len();
    let height = 150 + 44 * n as u32;
    let lo = bars.iter().map(|b| b.low.min(b.strength)).filter(|v| *v > 0.0).fold(1.0, f64::min) * 0.8;
    let hi = bars.iter().map(|b| b.high.max(b.strength)).fold(1.0, f64::max) * 1.25;
    render("the Bradley-Terry chart", width, height, |root| {
        let entries = vec![
            ("strength (1 = an average run)".to_string(), Mark::Dot(palette::OUTPUT)),
            ("95% bootstrap interval".to_string(), Mark::Line(BLACK)),
        ];
        let body = headed(root, "Blind pairwise ratings (Bradley-Terry)", &entries)?;
        let names: Vec<String> = bars
            .iter()
            .map(|b| format!("{} ({} votes)", short(&b.label, 28), b.votes))
            .collect();
        let label_w = names
            .iter()
            .map(|l| text_width(l, font::TICK))
            .max()
            .unwrap_or(100)
            .clamp(100, width as i32 / 3) as u32
            + 16;
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .margin_right(28)
            .x_label_area_size(52)
            .y_label_area_size(label_w)
            .build_cartesian_2d((lo..hi).log_scale(), 0f64..n as f64)?;
        let labels = names.clone();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(palette::GRID)
            .label_style(("sans-serif", font::TICK))
            .axis_desc_style(("sans-serif", font::AXIS))
            .x_desc("strength (log scale; P(A beats B) = A / (A + B))")
            .y_labels(n * 2 + 1)
            .y_label_formatter(&move |y: &f64| {
                // Row i (strongest at the top) is centred at n - i - 0.5.
                let k = n as f64 - y - 0.5;
                if (k - k.round()).abs() < 0.01 && k >= -0.01 && (k.round() as usize) < labels.len() {
                    labels[k.round() as usize].clone()
                } else {
                    String::new()
                }
            })
            .x_label_formatter(&|x| format!("{x:.2}"))
            .draw()?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(1.0, 0.0), (1.0, n as f64)],
            BLACK.mix(0.25),
        )))?;
        for (i, b) in bars.iter().enumerate() {
            let y = n as f64 - i as f64 - 0.5;
            let (l, h) = (b.low.max(lo), b.high.min(hi));
            chart.draw_series(std::iter::once(PathElement::new(vec![(l, y), (h, y)], BLACK.stroke_width(2))))?;
            for x in [l, h] {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, y - 0.15), (x, y + 0.15)],
                    BLACK.stroke_width(2),
                )))?;
            }
            // The figures beside the dot, on its left near the right edge (never cut off).
            let text = format!("{:.2} ({:.2}–{:.2})", b.strength, b.low, b.high);
            let w = text_width(&text, font::LABEL);
            let (px, _) = chart.backend_coord(&(b.strength.max(lo), y));
            let right_edge = chart.plotting_area().get_pixel_range().0.end;
            let dx = if px + 10 + w > right_edge { -(w + 10) } else { 10 };
            chart.draw_series(std::iter::once(
                EmptyElement::at((b.strength.max(lo), y))
                    + Circle::new((0, 0), 7, palette::OUTPUT.filled())
                    + Text::new(text, (dx, -24), ("sans-serif", font::LABEL)),
            ))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bradley_terry_chart_shows_each_run_with_its_interval() {
        let bars = [
            BtBar {
                label: "#1 gemma".into(),
                strength: 1.6,
                low: 1.1,
                high: 2.4,
                votes: 20,
            },
            BtBar {
                label: "#2 llama".into(),
                strength: 0.4,
                low: 0.2,
                high: 0.7,
                votes: 20,
            },
        ];
        let svg = bradley_terry_chart(&bars, 900);
        assert!(svg.starts_with("<svg width=\"100%\""), "{svg}");
        assert!(svg.contains("#1 gemma (20 votes)") && svg.contains("1.60 (1.10–2.40)") && svg.contains("95% bootstrap interval"));
        assert!(bradley_terry_chart(&[], 900).contains("No pairwise votes"));
    }

    #[test]
    fn a_grade_without_an_interval_draws_no_whisker() {
        let one = grade_bars(&["a".into()], &[3.0], &[None], &[2], 600, 300);
        let two = grade_bars(&["a".into()], &[3.0], &[Some((2.0, 4.0))], &[5], 600, 300);
        assert!(one.contains("a (n=2)") && two.contains("a (n=5)"));
        assert!(two.matches("<polyline").count() > one.matches("<polyline").count());
    }
}
