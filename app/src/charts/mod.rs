//! Charts: data in, SVG text out (plotters' SVG backend). The same code draws in the browser
//! (wasm), in server-rendered pages, and in exported reports.

use plotters::coord::Shift;
use plotters::prelude::*;

mod cost;
mod hybrid;
mod latency;
mod place;
mod quality;
mod sweep;
mod throughput;
mod timeline;

pub use cost::{cost_bars, monthly_lines, speed_quality_cost};
pub use hybrid::hybrid_curve;
pub use latency::{cdf, histogram, Samples};
pub(crate) use place::place_tags;
#[cfg(test)]
pub(crate) use place::svg_test;
pub use quality::{bradley_terry_chart, grade_bars, rate_bars, speed_vs_quality, BtBar};
pub use sweep::{sweep_curve, SweepPoint};
pub use throughput::{throughput_bars, ThroughputBar};
pub use timeline::{timeline, CLIENT_LINE};

/// Colours used across charts (one per series kind).
pub(crate) mod palette {
    use plotters::style::RGBColor;
    pub const OUTPUT: RGBColor = RGBColor(37, 99, 235);
    pub const TOTAL: RGBColor = RGBColor(234, 88, 12);
    pub const GRID: RGBColor = RGBColor(229, 231, 235);
    pub const SERIES: [RGBColor; 8] = [
        RGBColor(37, 99, 235),
        RGBColor(234, 88, 12),
        RGBColor(22, 163, 74),
        RGBColor(147, 51, 234),
        RGBColor(220, 38, 38),
        RGBColor(8, 145, 178),
        RGBColor(202, 138, 4),
        RGBColor(75, 85, 99),
    ];
}

/// Font sizes (px at the chart's own width; charts are drawn about as wide as the page shows
/// them at 1366 px, so these are close to their size on screen).
pub(crate) mod font {
    pub const TITLE: u32 = 20;
    pub const AXIS: u32 = 16;
    pub const TICK: u32 = 15;
    pub const LABEL: u32 = 15;
    pub const LEGEND: u32 = 15;
}

/// The width most charts are drawn at: about the content width of a page at 1366 px, so the
/// SVG (scaled to its box) keeps its fonts near their nominal size.
pub const WIDTH: u32 = 1200;

/// Draw a chart on a white SVG canvas of `width` x `height`; a chart that could not be drawn
/// says so (naming `what`) in place of the SVG. The SVG scales to its box's full width (it keeps
/// its `viewBox`, with `width="100%"` and no fixed height) and is labelled for screen readers.
pub(crate) fn render(
    what: &str,
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), Box<dyn std::error::Error>>,
) -> String {
    let mut svg = String::new();
    let res = {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|()| draw(&root).map_err(|e| e.to_string()))
            .and_then(|()| root.present().map_err(|e| e.to_string()))
    };
    match res {
        Ok(()) => fluid(&svg, what, width, height),
        Err(e) => failed(what, e),
    }
}

/// The SVG's fixed size replaced by the full width of its box (height from the viewBox).
fn fluid(svg: &str, what: &str, width: u32, height: u32) -> String {
    let fixed = format!("<svg width=\"{width}\" height=\"{height}\" ");
    let label: String = what.chars().filter(|c| !matches!(c, '"' | '<' | '>' | '&')).collect();
    let scaled =
        format!("<svg width=\"100%\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"{label}\" class=\"chart-svg\" ");
    match svg.strip_prefix(&fixed) {
        Some(rest) => format!("{scaled}{rest}"),
        None => svg.to_string(),
    }
}

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mark {
    Bar(RGBColor),
    Line(RGBColor),
    Dot(RGBColor),
    /// A ring and a hollow square: what the sweep chart draws around the knee and the best.
    Ring(RGBColor),
    Frame(RGBColor),
}

/// Height of the header [`headed`] reserves for `entries` at `width`.
fn header_height(title: &str, entries: &[(String, Mark)], width: u32) -> u32 {
    let rows = legend_rows(entries, width).len() as u32;
    (if title.is_empty() { 8 } else { font::TITLE + 16 }) + rows * (font::LEGEND + 9) + if rows > 0 { 6 } else { 0 }
}

/// Approximate width of text in px (sans-serif averages about 0.56 em a character).
pub(crate) fn text_width(text: &str, size: u32) -> i32 {
    (text.chars().count() as f64 * size as f64 * 0.56).ceil() as i32
}

/// Legend entries laid out in rows that fit `width`: (row, x) per entry.
fn legend_rows(entries: &[(String, Mark)], width: u32) -> Vec<Vec<(usize, i32)>> {
    let mut rows: Vec<Vec<(usize, i32)>> = Vec::new();
    let mut x = 16;
    for (i, (text, _)) in entries.iter().enumerate() {
        let w = 28 + text_width(text, font::LEGEND) + 24;
        if rows.is_empty() || (x + w > width as i32 - 16 && x > 16) {
            rows.push(Vec::new());
            x = 16;
        }
        if let Some(r) = rows.last_mut() {
            r.push((i, x));
        }
        x += w;
    }
    rows
}

/// A title and the legend above the chart, outside the data area; returns the area left for
/// the chart itself.
pub(crate) fn headed<'a>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    title: &str,
    entries: &[(String, Mark)],
) -> Result<DrawingArea<SVGBackend<'a>, Shift>, Box<dyn std::error::Error>> {
    let (width, _) = root.dim_in_pixel();
    let h = header_height(title, entries, width);
    let (head, body) = root.split_vertically(h);
    let mut y = 8;
    if !title.is_empty() {
        head.draw(&Text::new(
            title.to_string(),
            (16, y),
            ("sans-serif", font::TITLE).into_font().color(&BLACK),
        ))?;
        y += font::TITLE as i32 + 10;
    }
    for row in legend_rows(entries, width) {
        for (i, x) in row {
            let (text, mark) = &entries[i];
            let cy = y + font::LEGEND as i32 / 2 + 1;
            match *mark {
                Mark::Bar(c) => head.draw(&Rectangle::new([(x, cy - 6), (x + 18, cy + 6)], c.filled()))?,
                Mark::Line(c) => head.draw(&PathElement::new(vec![(x, cy), (x + 20, cy)], c.stroke_width(3)))?,
                Mark::Dot(c) => head.draw(&Circle::new((x + 9, cy), 6, c.filled()))?,
                Mark::Ring(c) => head.draw(&Circle::new((x + 9, cy), 7, c.stroke_width(3)))?,
                Mark::Frame(c) => head.draw(&Rectangle::new([(x + 2, cy - 7), (x + 16, cy + 7)], c.stroke_width(3)))?,
            }
            head.draw(&Text::new(
                text.clone(),
                (x + 28, y),
                ("sans-serif", font::LEGEND).into_font().color(&BLACK.mix(0.85)),
            ))?;
        }
        y += font::LEGEND as i32 + 9;
    }
    Ok(body)
}

/// A chart that could not be drawn says so in place of the SVG.
pub(crate) fn failed(what: &str, err: impl std::fmt::Display) -> String {
    format!("<p class=\"chart-error\">could not draw {what}: {err}</p>")
}

/// Labels for a category axis drawn on 0..n with one category per unit: the label sits at the
/// middle of its unit (x = i + 0.5), other ticks are blank. Use with `.x_labels(n * 2 + 1)`.
pub(crate) fn category_labels(labels: &[String], max: usize) -> impl Fn(&f64) -> String {
    let labels: Vec<String> = labels.iter().map(|l| short(l, max)).collect();
    move |x: &f64| {
        let i = x.floor() as usize;
        if (x - x.floor() - 0.5).abs() < 0.01 && i < labels.len() {
            labels[i].clone()
        } else {
            String::new()
        }
    }
}

/// Shorten a label for an axis.
pub(crate) fn short(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let s: String = label.chars().take(max.saturating_sub(1)).collect();
        format!("{s}…")
    }
}

/// Offsets (dx, dy) for point labels so they neither run off the plot nor cover each other:
/// each label (`widths[i]` x `height` px, anchored at `points[i]` in plot pixels) goes right of
/// its point, or left where the right edge is near, at the first height (above, below, further
/// above, ...) where it overlaps no label placed before it.
pub(crate) fn place_labels(points: &[(i32, i32)], widths: &[i32], height: i32, plot: (i32, i32)) -> Vec<(i32, i32)> {
    let (plot_width, plot_height) = plot;
    let mut placed: Vec<(i32, i32, i32, i32)> = Vec::new();
    let mut out = Vec::with_capacity(points.len());
    for (i, &(x, y)) in points.iter().enumerate() {
        let w = widths.get(i).copied().unwrap_or(0);
        let dx = if x + 12 + w > plot_width { -(w + 12) } else { 12 };
        let tries = [-height - 6, 8, -2 * height - 8, height + 10, -3 * height - 10, 2 * height + 12];
        let overlaps = |dy: i32| {
            let (x0, y0) = (x + dx, y + dy);
            placed.iter().any(|&(a, b, c, d)| x0 < c && a < x0 + w && y0 < d && b < y0 + height)
        };
        // Inside the plot: a label under a point near the x axis would sit on its tick numbers.
        let inside = |dy: i32| y + dy >= 0 && y + dy + height <= plot_height;
        let dy = tries
            .iter()
            .copied()
            .find(|&dy| inside(dy) && !overlaps(dy))
            .or_else(|| tries.iter().copied().find(|&dy| inside(dy)))
            .unwrap_or(tries[0]);
        placed.push((x + dx, y + dy, x + dx + w, y + dy + height));
        out.push((dx, dy));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_of_coincident_points_do_not_cover_each_other_or_leave_the_plot() {
        let offs = place_labels(&[(100, 100), (100, 100), (990, 300)], &[200, 200, 200], 16, (1000, 400));
        assert_ne!(offs[0].1, offs[1].1, "the second label moves to another height");
        assert!(990 + offs[2].0 + 200 <= 1000, "a label near the right edge goes left of its point");
        // Points on the x axis: their labels go above, never onto the tick numbers below.
        let offs = place_labels(&[(100, 400), (100, 400), (100, 400)], &[200, 200, 200], 16, (1000, 400));
        for (_, dy) in offs {
            assert!(400 + dy + 16 <= 400, "a label below the plot: {dy}");
        }
    }
}
