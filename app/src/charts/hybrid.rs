use super::{legend, palette, render};
use crate::domain::hybrid::HybridPoint;
use plotters::prelude::*;

/// Savings and recall as the judged share grows, with the chosen share marked.
pub fn hybrid_curve(points: &[HybridPoint], chosen: f64, width: u32, height: u32) -> String {
    if points.is_empty() {
        return String::new();
    }
    render("the hybrid curve", width, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Hybrid: savings and recall by share judged", ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..100.0, 0f64..100.0)?;
        chart
            .configure_mesh()
            .light_line_style(palette::GRID)
            .x_desc("share sent to the judge (%)")
            .y_desc("%")
            .draw()?;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.p * 100.0, p.savings * 100.0)),
                palette::OUTPUT.stroke_width(2),
            ))?
            .label("savings vs judge-only")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], palette::OUTPUT.stroke_width(2)));
        let recall: Vec<(f64, f64)> = points.iter().filter_map(|p| Some((p.p * 100.0, p.recall? * 100.0))).collect();
        if !recall.is_empty() {
            chart
                .draw_series(LineSeries::new(recall, palette::TOTAL.stroke_width(2)))?
                .label("recall: share of the best items the screen keeps")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], palette::TOTAL.stroke_width(2)));
        }
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(chosen * 100.0, 0.0), (chosen * 100.0, 100.0)],
            BLACK.mix(0.4),
        )))?;
        legend(&mut chart, SeriesLabelPosition::MiddleRight)?;
        Ok(())
    })
}
