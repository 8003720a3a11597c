use super::{font, headed, palette, render, short, Mark};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One run's bars: output and total tokens per second (never compared with each other).
#[derive(Clone, Debug, PartialEq)]
pub struct ThroughputBar {
    pub label: String,
    pub output_tps: f64,
    pub total_tps: f64,
}

/// Up to this many runs every bar is labelled; beyond, every k-th (and the title says so).
pub const LABEL_EVERY_UP_TO: usize = 30;
/// Characters a label turned on its side may keep.
const SIDEWAYS_CHARS: usize = 30;
/// Width of a label's character as drawn, px (plotters draws text at its size / 1.24, and
/// sans-serif averages a little over half an em a character).
const CHAR_PX: f64 = font::TICK as f64 / 1.24 * 0.6;
const MARGIN: u32 = 14;
const Y_LABELS: u32 = 84;

/// How the runs' labels fit under their bars.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Labels {
    /// Turned on their side (reading upwards) when they do not fit across.
    sideways: bool,
    /// Characters a label keeps.
    chars: usize,
    /// Every `every`-th bar is labelled (1: all).
    every: usize,
    /// Height of the label area under the plot, px.
    area: u32,
}

/// Across when each bar's share of the width holds every label whole; else sideways (up to
/// [`SIDEWAYS_CHARS`] characters), every bar up to [`LABEL_EVERY_UP_TO`] runs and while one line
/// of text fits per label, else every k-th.
fn label_layout(labels: &[String], width: u32) -> Labels {
    let n = labels.len().max(1);
    let room = (width.saturating_sub(2 * MARGIN + Y_LABELS + 10)) as f64 / n as f64;
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let fit = ((room - 8.0) / CHAR_PX).floor().max(0.0) as usize;
    if fit >= longest {
        return Labels {
            sideways: false,
            chars: longest.max(1),
            every: 1,
            area: 44,
        };
    }
    let line = font::TICK as f64 + 3.0;
    let every = n.div_ceil(LABEL_EVERY_UP_TO).max((line / room).ceil() as usize).max(1);
    let chars = longest.min(SIDEWAYS_CHARS);
    Labels {
        sideways: true,
        chars,
        every,
        area: (chars as f64 * CHAR_PX).ceil() as u32 + 20,
    }
}

/// "every 2nd", "every 3rd", ...
fn ordinal(k: usize) -> String {
    let suffix = match (k % 10, k % 100) {
        (1, r) if r != 11 => "st",
        (2, r) if r != 12 => "nd",
        (3, r) if r != 13 => "rd",
        _ => "th",
    };
    format!("{k}{suffix}")
}

/// Side-by-side bars per run: output tok/s and total tok/s, labelled as such. Every run is named
/// under its bars (turned on their side when crowded, and the canvas taller to hold them); past
/// [`LABEL_EVERY_UP_TO`] runs, every k-th, and the title says so.
pub fn throughput_bars(bars: &[ThroughputBar], width: u32, height: u32) -> String {
    if bars.is_empty() {
        return "<p class=\"chart-empty\">No finished runs yet.</p>".into();
    }
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let layout = label_layout(&labels, width);
    let height = height + layout.area.saturating_sub(44);
    render("the throughput chart", width, height, |root| {
        let max = bars.iter().map(|b| b.output_tps.max(b.total_tps)).fold(0.0, f64::max).max(1.0) * 1.05;
        let n = bars.len();
        let title = if layout.every > 1 {
            format!(
                "Throughput of finished runs (every {} run named; all {n} in the table)",
                ordinal(layout.every)
            )
        } else {
            "Throughput of finished runs".to_string()
        };
        let body = headed(
            root,
            &title,
            &[
                (
                    "output tok/s (completion tokens / wall time)".to_string(),
                    Mark::Bar(palette::OUTPUT),
                ),
                (
                    "total tok/s ((prompt + completion) / wall time)".to_string(),
                    Mark::Bar(palette::TOTAL),
                ),
            ],
        )?;
        let mut chart = ChartBuilder::on(&body)
            .margin(MARGIN)
            .x_label_area_size(layout.area)
            .y_label_area_size(Y_LABELS)
            .build_cartesian_2d(0f64..n as f64, 0f64..max)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(palette::GRID)
            .label_style(("sans-serif", font::TICK))
            .axis_desc_style(("sans-serif", font::AXIS))
            .y_desc("tokens per second")
            .x_labels(0)
            .y_label_formatter(&|y| crate::domain::format::int(*y))
            .draw()?;
        chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
            let x = i as f64;
            Rectangle::new([(x + 0.12, 0.0), (x + 0.48, b.output_tps)], palette::OUTPUT.filled())
        }))?;
        chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
            let x = i as f64;
            Rectangle::new([(x + 0.52, 0.0), (x + 0.88, b.total_tps)], palette::TOTAL.filled())
        }))?;
        // The runs' names, centred under their pair of bars (canvas pixels).
        let bottom = chart.plotting_area().get_pixel_range().1.end;
        let style = if layout.sideways {
            TextStyle::from(("sans-serif", font::TICK).into_font().transform(FontTransform::Rotate270))
                .pos(Pos::new(HPos::Right, VPos::Center))
        } else {
            TextStyle::from(("sans-serif", font::TICK).into_font()).pos(Pos::new(HPos::Center, VPos::Top))
        };
        for (i, label) in labels.iter().enumerate().filter(|(i, _)| i % layout.every == 0) {
            let (x, _) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            root.draw(&Text::new(short(label, layout.chars), (x, bottom + 8), style.clone()))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::svg_test::texts;

    fn runs(n: usize) -> Vec<ThroughputBar> {
        (1..=n)
            .map(|i| ThroughputBar {
                label: format!("#{i} sim-gemma-3-4b (simulated)"),
                output_tps: 700.0 + i as f64,
                total_tps: 2511.0,
            })
            .collect()
    }

    /// The run labels drawn: (x, y, text), left to right.
    fn run_labels(svg: &str) -> Vec<(f64, f64, String)> {
        let mut l: Vec<(f64, f64, String)> = texts(svg)
            .into_iter()
            .filter(|t| t.content.starts_with('#'))
            .map(|t| (t.x, t.y, t.content))
            .collect();
        l.sort_by(|a, b| a.0.total_cmp(&b.0));
        l
    }

    #[test]
    fn bars_are_labelled_with_their_definitions() {
        let svg = throughput_bars(
            &[ThroughputBar {
                label: "gemma".into(),
                output_tps: 700.0,
                total_tps: 2511.0,
            }],
            640,
            320,
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("output tok/s"));
        assert!(svg.contains("total tok/s"));
        assert!(svg.contains("gemma"));
    }

    #[test]
    fn every_run_is_named_up_to_thirty_without_labels_covering_each_other() {
        for n in [3, 12, 13, 20, 30] {
            let svg = throughput_bars(&runs(n), 860, 360);
            let labels = run_labels(&svg);
            assert_eq!(labels.len(), n, "{n} runs, each named: {labels:?}");
            for (i, l) in labels.iter().enumerate() {
                assert_eq!(l.2, format!("#{} sim-gemma-3-4b (simulated)", i + 1), "whole, in order");
            }
            let sideways = svg.contains("rotate(270");
            for w in labels.windows(2) {
                let gap = w[1].0 - w[0].0;
                // Across: a label's width as drawn; on its side: one line of text.
                let need = if sideways {
                    font::TICK as f64
                } else {
                    w[0].2.chars().count() as f64 * CHAR_PX
                };
                assert!(gap >= need, "{n} runs: {:?} and {:?} {gap} px apart", w[0], w[1]);
            }
            assert!(!svg.contains("every"), "{n} runs: all named");
        }
    }

    #[test]
    fn past_thirty_runs_every_kth_is_named_and_the_title_says_so() {
        let svg = throughput_bars(&runs(50), 860, 360);
        let labels = run_labels(&svg);
        assert_eq!(labels.len(), 25, "{labels:?}");
        assert!(labels[1].2.starts_with("#3 "), "{labels:?}");
        assert!(svg.contains("every 2nd run named; all 50 in the table"));
        assert_eq!(ordinal(3), "3rd");
        assert_eq!(ordinal(11), "11th");
    }

    #[test]
    fn no_runs_gives_a_message_not_an_empty_chart() {
        assert!(throughput_bars(&[], 640, 320).contains("No finished runs"));
    }
}
