use super::{font, headed, palette, render, Mark};
use crate::domain::hybrid::HybridPoint;
use plotters::prelude::*;

/// Savings (negative where screening first costs more) and recall as the judged share grows,
/// with the chosen share marked.
pub fn hybrid_curve(points: &[HybridPoint], chosen: f64, width: u32, height: u32) -> String {
    if points.is_empty() {
        return String::new();
    }
    // The strategy's own saving at every share (at 100% too: screening all, then judging all),
    // so the curve does not jump back to 0% at its end where `savings` is judge-only's.
    let saving = |p: &HybridPoint| {
        if p.judge_only > 0.0 {
            1.0 - p.screen_then_judge / p.judge_only
        } else {
            0.0
        }
    };
    let low = points.iter().map(|p| saving(p) * 100.0).fold(0.0, f64::min);
    let y_lo = if low < 0.0 { (low / 10.0).floor() * 10.0 } else { 0.0 };
    render("the hybrid curve", width, height, |root| {
        let has_recall = points.iter().any(|p| p.recall.is_some());
        let mut entries = vec![(
            "savings against judging all (below 0: screening first costs more)".to_string(),
            Mark::Line(palette::OUTPUT),
        )];
        if has_recall {
            entries.push((
                "recall: share of the best items the screen keeps".to_string(),
                Mark::Line(palette::TOTAL),
            ));
        }
        entries.push((format!("chosen share: {:.0}%", chosen * 100.0), Mark::Line(RGBColor(150, 150, 150))));
        let body = headed(root, "Hybrid: savings and recall by share judged", &entries)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            .x_label_area_size(52)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..100.0, y_lo..100.0)?;
        chart
            .configure_mesh()
            .light_line_style(palette::GRID)
            .label_style(("sans-serif", font::TICK))
            .axis_desc_style(("sans-serif", font::AXIS))
            .x_desc("share sent to the judge (%)")
            .y_desc("%")
            .draw()?;
        if y_lo < 0.0 {
            chart.draw_series(std::iter::once(PathElement::new(vec![(0.0, 0.0), (100.0, 0.0)], BLACK.mix(0.5))))?;
        }
        chart.draw_series(LineSeries::new(
            points.iter().map(|p| (p.p * 100.0, saving(p) * 100.0)),
            palette::OUTPUT.stroke_width(3),
        ))?;
        let recall: Vec<(f64, f64)> = points.iter().filter_map(|p| Some((p.p * 100.0, p.recall? * 100.0))).collect();
        if !recall.is_empty() {
            chart.draw_series(LineSeries::new(recall, palette::TOTAL.stroke_width(3)))?;
        }
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(chosen * 100.0, y_lo), (chosen * 100.0, 100.0)],
            RGBColor(150, 150, 150).stroke_width(2),
        )))?;
        Ok(())
    })
}
