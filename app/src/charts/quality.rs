use super::{category_labels, legend, palette, render, short};
use plotters::prelude::*;

/// Mean grade per run with 95 % confidence intervals.
pub fn grade_bars(labels: &[String], means: &[f64], cis: &[f64], width: u32, height: u32) -> String {
    if labels.is_empty() {
        return "<p class=\"chart-empty\">No grades yet: grade samples in a queue.</p>".into();
    }
    render("the grade chart", width, height, |root| {
        let n = labels.len();
        let mut chart = ChartBuilder::on(root)
            .caption("Mean overall grade per run (95% CI)", ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..n as f64, 0f64..5.2)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(palette::GRID)
            .y_desc("grade (1-5)")
            .x_labels(n * 2 + 1)
            .x_label_formatter(&category_labels(labels, 22))
            .draw()?;
        chart.draw_series(
            means
                .iter()
                .enumerate()
                .map(|(i, m)| Rectangle::new([(i as f64 + 0.25, 0.0), (i as f64 + 0.75, *m)], palette::OUTPUT.mix(0.8).filled())),
        )?;
        chart.draw_series(means.iter().zip(cis).enumerate().map(|(i, (m, c))| {
            PathElement::new(
                vec![(i as f64 + 0.5, (m - c).max(0.0)), (i as f64 + 0.5, (m + c).min(5.2))],
                BLACK.stroke_width(2),
            )
        }))?;
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
        let mut chart = ChartBuilder::on(root)
            .caption("Automatic checks per run", ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..n as f64, 0f64..110.0)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(palette::GRID)
            .y_desc("% of answers")
            .x_labels(n * 2 + 1)
            .x_label_formatter(&category_labels(labels, 22))
            .draw()?;
        for k in 0..3 {
            let c = colours[k];
            chart
                .draw_series(rates.iter().enumerate().map(|(i, r)| {
                    let x0 = i as f64 + 0.12 + k as f64 * 0.26;
                    Rectangle::new([(x0, 0.0), (x0 + 0.24, r[k] * 100.0)], c.filled())
                }))?
                .label(names[k])
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], c.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })
}

/// Each run a point: output tok/s against mean grade, CIs as bars.
pub fn speed_vs_quality(points: &[(String, f64, f64, f64)], width: u32, height: u32) -> String {
    if points.is_empty() {
        return "<p class=\"chart-empty\">No graded run with a measured speed yet.</p>".into();
    }
    let x_max = points.iter().map(|p| p.1).fold(1.0, f64::max) * 1.15;
    render("the speed vs quality chart", width, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Speed vs quality", ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..x_max, 0f64..5.3)?;
        chart
            .configure_mesh()
            .light_line_style(palette::GRID)
            .x_desc("output tok/s (completion tokens / wall time)")
            .y_desc("mean grade (1-5)")
            .x_label_formatter(&|x| crate::domain::format::int(*x))
            .draw()?;
        chart.draw_series(
            points
                .iter()
                .map(|(_, x, m, c)| PathElement::new(vec![(*x, (m - c).max(0.0)), (*x, (m + c).min(5.3))], BLACK.stroke_width(1))),
        )?;
        chart.draw_series(points.iter().map(|(l, x, m, _)| {
            EmptyElement::at((*x, *m))
                + Circle::new((0, 0), 5, palette::OUTPUT.filled())
                + Text::new(short(l, 26), (7, -14), ("sans-serif", 12))
        }))?;
        Ok(())
    })
}
