use super::{category_labels, font, headed, palette, place_labels, render, short, text_width, Mark};
use crate::domain::format;
use crate::domain::pareto::ParetoView;
use plotters::prelude::*;

/// Cost per 100K requests, grouped by model, one bar per price sheet.
pub fn cost_bars(models: &[String], sheets: &[String], per_100k: &[Vec<Option<f64>>], width: u32, height: u32) -> String {
    let max = per_100k.iter().flatten().flatten().copied().fold(0.0, f64::max);
    if models.is_empty() || max <= 0.0 {
        return "<p class=\"chart-empty\">Nothing priced yet.</p>".into();
    }
    render("the cost chart", width, height, |root| {
        let n = models.len();
        let entries: Vec<(String, Mark)> = sheets
            .iter()
            .enumerate()
            .map(|(s, name)| (short(name, 60), Mark::Bar(palette::SERIES[s % palette::SERIES.len()])))
            .collect();
        let body = headed(root, "Cost per 100K requests, by model and price sheet", &entries)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(84)
            .build_cartesian_2d(0f64..n as f64, 0f64..max * 1.1)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(palette::GRID)
            .label_style(("sans-serif", font::TICK))
            .axis_desc_style(("sans-serif", font::AXIS))
            .y_desc("USD per 100K requests")
            .x_labels(n * 2 + 1)
            .x_label_formatter(&category_labels(models, label_room(width, n)))
            .y_label_formatter(&|y| format::usd(*y))
            .draw()?;
        let k = sheets.len().max(1) as f64;
        for s in 0..sheets.len() {
            let color = palette::SERIES[s % palette::SERIES.len()];
            let w = 0.76 / k;
            chart.draw_series(per_100k.iter().enumerate().filter_map(|(m, row)| {
                let v = row.get(s).copied().flatten()?;
                let x0 = m as f64 + 0.12 + s as f64 * w;
                Some(Rectangle::new([(x0, 0.0), (x0 + w * 0.92, v)], color.filled()))
            }))?;
        }
        Ok(())
    })
}

/// Characters a category label may take when `n` categories share `width` px.
fn label_room(width: u32, n: usize) -> usize {
    ((width as f64 - 120.0) / n.max(1) as f64 / (font::TICK as f64 * 0.56))
        .floor()
        .clamp(8.0, 40.0) as usize
}

/// Monthly cost as volume grows, one line per model (straight: cost scales with requests).
pub fn monthly_lines(models: &[String], per_request: &[f64], max_volume: f64, width: u32, height: u32) -> String {
    let top = per_request.iter().copied().fold(0.0, f64::max) * max_volume;
    if models.is_empty() || top <= 0.0 {
        return "<p class=\"chart-empty\">Nothing priced yet.</p>".into();
    }
    render("the monthly chart", width, height, |root| {
        let entries: Vec<(String, Mark)> = models
            .iter()
            .enumerate()
            .map(|(i, m)| (short(m, 40), Mark::Line(palette::SERIES[i % palette::SERIES.len()])))
            .collect();
        let body = headed(root, "Monthly cost by volume (per-request cost x requests)", &entries)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .x_label_area_size(52)
            .y_label_area_size(84)
            .build_cartesian_2d(0f64..max_volume, 0f64..top * 1.05)?;
        chart
            .configure_mesh()
            .light_line_style(palette::GRID)
            .label_style(("sans-serif", font::TICK))
            .axis_desc_style(("sans-serif", font::AXIS))
            .x_desc("requests per month")
            .y_desc("USD per month")
            .x_label_formatter(&|x| format::int(*x))
            .y_label_formatter(&|y| format::usd(*y))
            .draw()?;
        for (i, c) in per_request.iter().enumerate().take(models.len()) {
            let color = palette::SERIES[i % palette::SERIES.len()];
            chart.draw_series(LineSeries::new([(0.0, 0.0), (max_volume, c * max_volume)], color.stroke_width(3)))?;
        }
        Ok(())
    })
}

/// Output tok/s against quality on the view's one measure, each run a point coloured by cost
/// (blue cheap -> red dear) with its 95 % interval, the Pareto frontier drawn as a line and its
/// runs starred. Labels stay inside the canvas (placed left of a point near the right edge).
pub fn speed_quality_cost(view: &ParetoView, width: u32, height: u32) -> String {
    let (Some(measure), false) = (view.measure, view.points.is_empty()) else {
        return "<p class=\"chart-empty\">No run has speed, quality and cost yet.</p>".into();
    };
    let points = &view.points;
    let x_max = points.iter().map(|p| p.speed).fold(1.0, f64::max) * 1.08;
    let (y_lo, y_hi) = measure.range();
    let pad = (y_hi - y_lo) * 0.06;
    let (c_lo, c_hi) = points.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
        (lo.min(p.cost_per_100k), hi.max(p.cost_per_100k))
    });
    let colour = move |c: f64| {
        let t = if c_hi > c_lo { (c - c_lo) / (c_hi - c_lo) } else { 0.0 };
        RGBColor((37.0 + t * 183.0) as u8, (99.0 - t * 61.0) as u8, (235.0 - t * 197.0) as u8)
    };
    render("the speed x quality x cost chart", width, height, |root| {
        let entries = vec![
            (
                "Pareto frontier (★: no other run is faster, better and cheaper)".to_string(),
                Mark::Line(BLACK),
            ),
            (format!("cheapest {}", format::usd(c_lo)), Mark::Dot(colour(c_lo))),
            (format!("dearest {} per 100K", format::usd(c_hi)), Mark::Dot(colour(c_hi))),
            ("95% interval of the quality".to_string(), Mark::Line(RGBColor(120, 120, 120))),
        ];
        let body = headed(root, "Speed x quality x cost", &entries)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .margin_right(24)
            .x_label_area_size(52)
            .y_label_area_size(72)
            .build_cartesian_2d(0f64..x_max, (y_lo - pad)..(y_hi + pad))?;
        chart
            .configure_mesh()
            .light_line_style(palette::GRID)
            .label_style(("sans-serif", font::TICK))
            .axis_desc_style(("sans-serif", font::AXIS))
            .x_desc("output tok/s (completion tokens / wall time)")
            .y_desc(measure.label())
            .x_label_formatter(&|x| format::int(*x))
            .y_label_formatter(&|y| measure.format(*y))
            .draw()?;
        let mut front: Vec<_> = points.iter().filter(|p| p.on_frontier).collect();
        front.sort_by(|a, b| a.speed.total_cmp(&b.speed));
        if front.len() >= 2 {
            chart.draw_series(LineSeries::new(
                front.iter().map(|p| (p.speed, p.quality)),
                BLACK.mix(0.7).stroke_width(2),
            ))?;
        }
        for p in points {
            if let Some((lo, hi)) = p.interval {
                let (lo, hi) = (lo.max(y_lo - pad), hi.min(y_hi + pad));
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(p.speed, lo), (p.speed, hi)],
                    RGBColor(120, 120, 120).stroke_width(2),
                )))?;
            }
        }
        // Labels inside the canvas and clear of each other (plot pixels, approximately).
        let (bw, bh) = body.dim_in_pixel();
        let (plot_w, plot_h) = (bw as f64 - 72.0 - 38.0, bh as f64 - 52.0 - 28.0);
        let labels: Vec<String> = points
            .iter()
            .map(|p| {
                format!(
                    "{}{} ({}, n={})",
                    if p.on_frontier { "★ " } else { "" },
                    short(&p.label, 30),
                    format::usd(p.cost_per_100k),
                    p.n
                )
            })
            .collect();
        let anchors: Vec<(i32, i32)> = points
            .iter()
            .map(|p| {
                (
                    (p.speed / x_max * plot_w) as i32,
                    ((y_hi + pad - p.quality) / (y_hi - y_lo + 2.0 * pad) * plot_h) as i32,
                )
            })
            .collect();
        let widths: Vec<i32> = labels.iter().map(|l| text_width(l, font::LABEL)).collect();
        let offsets = place_labels(&anchors, &widths, font::LABEL as i32 + 2, plot_w as i32);
        chart.draw_series(points.iter().zip(labels).zip(offsets).map(|((p, label), (dx, dy))| {
            EmptyElement::at((p.speed, p.quality))
                + Circle::new((0, 0), 7, colour(p.cost_per_100k).filled())
                + Circle::new((0, 0), 7, BLACK.mix(0.6).stroke_width(1))
                + Text::new(label, (dx, dy), ("sans-serif", font::LABEL))
        }))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pareto::{ParetoPoint, QualityMeasure};

    #[test]
    fn cost_charts_draw_full_width_with_legends_outside_the_data() {
        let svg = cost_bars(
            &["gemma".into(), "llama".into()],
            &["seed".into()],
            &[vec![Some(9.31)], vec![Some(3.66)]],
            600,
            300,
        );
        assert!(
            svg.starts_with("<svg width=\"100%\"") && svg.contains("viewBox=\"0 0 600 300\"") && svg.contains("seed"),
            "{}",
            &svg[..200]
        );
        assert!(!svg.contains("height=\"300\" viewBox"));
        assert!(monthly_lines(&["gemma".into()], &[9.31e-5], 1e6, 600, 300).starts_with("<svg"));
        let point = |label: &str, speed: f64, on_frontier: bool| ParetoPoint {
            label: label.into(),
            speed,
            quality: 4.0,
            interval: Some((3.5, 4.5)),
            n: 12,
            cost_per_100k: 1.0,
            on_frontier,
            load: "concurrency 16".into(),
        };
        let view = ParetoView {
            measure: Some(QualityMeasure::MeanGrade),
            points: vec![point("a", 10.0, true), point("a very long label at the right edge", 100.0, true)],
            ..Default::default()
        };
        let s = speed_quality_cost(&view, 600, 300);
        assert!(
            s.contains("Pareto frontier") && s.contains("★ a") && s.contains("mean reviewer grade"),
            "{s}"
        );
        assert!(s.contains("<polyline"), "the frontier is drawn as a line");
    }
}
