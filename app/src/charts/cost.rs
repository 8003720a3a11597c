use super::{category_labels, legend, palette, render, short};
use crate::domain::format;
use plotters::prelude::*;

/// Cost per 100K requests, grouped by model, one bar per price sheet.
pub fn cost_bars(models: &[String], sheets: &[String], per_100k: &[Vec<Option<f64>>], width: u32, height: u32) -> String {
    let max = per_100k.iter().flatten().flatten().copied().fold(0.0, f64::max);
    if models.is_empty() || max <= 0.0 {
        return "<p class=\"chart-empty\">Nothing priced yet.</p>".into();
    }
    render("the cost chart", width, height, |root| {
        let n = models.len();
        let mut chart = ChartBuilder::on(root)
            .caption("Cost per 100K requests, by model and price sheet", ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..n as f64, 0f64..max * 1.2)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(palette::GRID)
            .y_desc("USD per 100K requests")
            .x_labels(n * 2 + 1)
            .x_label_formatter(&category_labels(models, 22))
            .y_label_formatter(&|y| format::usd(*y))
            .draw()?;
        let k = sheets.len().max(1) as f64;
        for (s, sheet) in sheets.iter().enumerate() {
            let color = palette::SERIES[s % palette::SERIES.len()];
            let w = 0.76 / k;
            chart
                .draw_series(per_100k.iter().enumerate().filter_map(|(m, row)| {
                    let v = row.get(s).copied().flatten()?;
                    let x0 = m as f64 + 0.12 + s as f64 * w;
                    Some(Rectangle::new([(x0, 0.0), (x0 + w * 0.92, v)], color.filled()))
                }))?
                .label(short(sheet, 48))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })
}

/// Monthly cost as volume grows, one line per model (straight: cost scales with requests).
pub fn monthly_lines(models: &[String], per_request: &[f64], max_volume: f64, width: u32, height: u32) -> String {
    let top = per_request.iter().copied().fold(0.0, f64::max) * max_volume;
    if models.is_empty() || top <= 0.0 {
        return "<p class=\"chart-empty\">Nothing priced yet.</p>".into();
    }
    render("the monthly chart", width, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Monthly cost by volume", ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..max_volume, 0f64..top * 1.1)?;
        chart
            .configure_mesh()
            .light_line_style(palette::GRID)
            .x_desc("requests per month")
            .y_desc("USD per month")
            .x_label_formatter(&|x| format::int(*x))
            .y_label_formatter(&|y| format::usd(*y))
            .draw()?;
        for (i, (m, c)) in models.iter().zip(per_request).enumerate() {
            let color = palette::SERIES[i % palette::SERIES.len()];
            chart
                .draw_series(LineSeries::new([(0.0, 0.0), (max_volume, c * max_volume)], color.stroke_width(2)))?
                .label(short(m, 40))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    })
}

/// A run on the speed x quality x cost chart.
pub struct ScatterPoint {
    pub label: String,
    pub speed: f64,
    pub quality: f64,
    /// 95 % CI half-width of the quality, when known.
    pub quality_ci: Option<f64>,
    pub cost_per_100k: f64,
    pub on_frontier: bool,
}

/// Output tok/s against quality, each run a point coloured by cost (blue cheap -> red dear), the
/// Pareto frontier joined and named.
pub fn speed_quality_cost(points: &[ScatterPoint], width: u32, height: u32) -> String {
    if points.is_empty() {
        return "<p class=\"chart-empty\">No run has speed, quality and cost yet.</p>".into();
    }
    let x_max = points.iter().map(|p| p.speed).fold(1.0, f64::max) * 1.15;
    let (c_lo, c_hi) = points.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
        (lo.min(p.cost_per_100k), hi.max(p.cost_per_100k))
    });
    let colour = |c: f64| {
        let t = if c_hi > c_lo { (c - c_lo) / (c_hi - c_lo) } else { 0.0 };
        RGBColor((37.0 + t * 183.0) as u8, (99.0 - t * 61.0) as u8, (235.0 - t * 197.0) as u8)
    };
    render("the speed x quality x cost chart", width, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Speed x quality x cost (colour: cost per 100K, blue cheap to red dear)",
                ("sans-serif", 15),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..x_max, 0f64..1.05)?;
        chart
            .configure_mesh()
            .light_line_style(palette::GRID)
            .x_desc("output tok/s (completion tokens / wall time)")
            .y_desc("quality (0-1)")
            .x_label_formatter(&|x| format::int(*x))
            .draw()?;
        let mut front: Vec<&ScatterPoint> = points.iter().filter(|p| p.on_frontier).collect();
        front.sort_by(|a, b| a.speed.total_cmp(&b.speed));
        chart
            .draw_series(LineSeries::new(
                front.iter().map(|p| (p.speed, p.quality)),
                BLACK.mix(0.4).stroke_width(1),
            ))?
            .label("Pareto frontier (no other run is faster, better and cheaper)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], BLACK.mix(0.4)));
        for p in points {
            if let Some(ci) = p.quality_ci {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(p.speed, (p.quality - ci).max(0.0)), (p.speed, (p.quality + ci).min(1.05))],
                    BLACK.mix(0.5),
                )))?;
            }
        }
        chart.draw_series(points.iter().map(|p| {
            let label = format!(
                "{}{} ({})",
                if p.on_frontier { "★ " } else { "" },
                short(&p.label, 26),
                format::usd(p.cost_per_100k)
            );
            EmptyElement::at((p.speed, p.quality))
                + Circle::new((0, 0), 6, colour(p.cost_per_100k).filled())
                + Text::new(label, (8, -14), ("sans-serif", 12))
        }))?;
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_charts_draw() {
        let svg = cost_bars(
            &["gemma".into(), "llama".into()],
            &["seed".into()],
            &[vec![Some(9.31)], vec![Some(3.66)]],
            600,
            300,
        );
        assert!(svg.starts_with("<svg") && svg.contains("seed"));
        assert!(monthly_lines(&["gemma".into()], &[9.31e-5], 1e6, 600, 300).starts_with("<svg"));
        let s = speed_quality_cost(
            &[ScatterPoint {
                label: "a".into(),
                speed: 10.0,
                quality: 0.5,
                quality_ci: Some(0.1),
                cost_per_100k: 1.0,
                on_frontier: true,
            }],
            600,
            300,
        );
        assert!(s.contains("Pareto frontier") && s.contains("★ a"));
    }
}
