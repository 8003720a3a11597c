use super::{category_labels, font, headed, palette, place_tags, render, short, text_width, Mark};
use crate::domain::format;
use crate::domain::pareto::{ParetoPoint, ParetoView};
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
    // One colour per line: past the palette's colours, the cheapest lines only (the table lists
    // every run), and the title says so.
    let mut order: Vec<usize> = (0..models.len().min(per_request.len())).collect();
    order.sort_by(|a, b| per_request[*a].total_cmp(&per_request[*b]));
    // Runs whose cost per request is the same (within 0.1%) draw one line, named together: eight
    // lines on one spot read as one (QA).
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in order {
        match groups.last_mut() {
            Some(g) if (per_request[i] - per_request[g[0]]).abs() <= 1e-3 * per_request[g[0]].abs() => g.push(i),
            _ => groups.push(vec![i]),
        }
    }
    groups.truncate(palette::SERIES.len());
    let shown: Vec<usize> = groups.iter().flatten().copied().collect();
    let title = if shown.len() < models.len() {
        format!(
            "Monthly cost by volume (per-request cost x requests): the {} cheapest of {} runs",
            shown.len(),
            models.len()
        )
    } else {
        "Monthly cost by volume (per-request cost x requests)".to_string()
    };
    render("the monthly chart", width, height, |root| {
        let entries: Vec<(String, Mark)> = groups
            .iter()
            .enumerate()
            .map(|(k, g)| {
                let name = match g.as_slice() {
                    [one] => short(&models[*one], 40),
                    [first, rest @ ..] => format!("{} and {} more at the same cost (one line)", short(&models[*first], 32), rest.len()),
                    [] => String::new(),
                };
                (name, Mark::Line(palette::SERIES[k]))
            })
            .collect();
        let body = headed(root, &title, &entries)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(14)
            // Room for the last volume's label, centred on the right edge.
            .margin_right(48)
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
        for (k, g) in groups.iter().enumerate() {
            let c = per_request[g[0]];
            chart.draw_series(LineSeries::new(
                [(0.0, 0.0), (max_volume, c * max_volume)],
                palette::SERIES[k].stroke_width(3),
            ))?;
        }
        Ok(())
    })
}

/// Below this spread of cost ((dearest - cheapest) / cheapest), every point has one colour: a
/// blue-to-red scale would show a 1% difference as opposite ends.
pub const ONE_COLOUR_BELOW: f64 = 0.05;
const DOT: i32 = 7;

/// The tag beside a point: the run's "#N" that starts its label, or else its place in the key
/// (then `false`: the key names it); starred on the frontier.
fn tag(p: &ParetoPoint, i: usize) -> (String, bool) {
    let run = p
        .label
        .split_whitespace()
        .next()
        .filter(|w| w.len() > 1 && w.starts_with('#') && w[1..].chars().all(|c| c.is_ascii_digit()));
    let star = if p.on_frontier { "★" } else { "" };
    match run {
        Some(id) => (format!("{star}{id}"), true),
        None => (format!("{star}{}", i + 1), false),
    }
}

/// What the colours say: the cheapest and dearest, or one colour and how close the costs are.
fn cost_legend(lo: f64, hi: f64) -> (bool, Vec<String>) {
    let spread = if lo > 0.0 {
        (hi - lo) / lo
    } else if hi > lo {
        f64::INFINITY
    } else {
        0.0
    };
    if spread >= ONE_COLOUR_BELOW {
        let more = if spread.is_finite() {
            format!(", {} more", format::percent(spread))
        } else {
            String::new()
        };
        (
            true,
            vec![
                format!("cheapest {} per 100K", format::usd(lo)),
                format!("dearest {} per 100K{more}", format::usd(hi)),
            ],
        )
    } else if hi > lo {
        let within = (spread * 100.0).ceil().max(1.0);
        (
            false,
            vec![format!(
                "cost {}-{} per 100K: within {within:.0}%, one colour",
                format::usd(lo),
                format::usd(hi)
            )],
        )
    } else {
        (false, vec![format!("cost {} per 100K, every run", format::usd(lo))])
    }
}

/// Output tok/s against quality on the view's one measure, each run a dot coloured by cost (blue
/// cheap -> red dear, or one colour when the costs are within [`ONE_COLOUR_BELOW`]) with its 95 %
/// interval, the Pareto frontier drawn as a line and its runs starred. Each dot carries a short
/// tag (its run's #N), placed clear of the other tags and dots inside the plot; the key under the
/// plot names each run with its cost and n.
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
    let (scaled, cost_text) = cost_legend(c_lo, c_hi);
    let colour = move |c: f64| {
        let t = if scaled && c_hi > c_lo { (c - c_lo) / (c_hi - c_lo) } else { 0.0 };
        RGBColor((37.0 + t * 183.0) as u8, (99.0 - t * 61.0) as u8, (235.0 - t * 197.0) as u8)
    };
    let tagged: Vec<(String, bool)> = points.iter().enumerate().map(|(i, p)| tag(p, i)).collect();
    let tags: Vec<String> = tagged.iter().map(|t| t.0.clone()).collect();
    // The key: one entry a run, in columns as wide as the longest.
    let key: Vec<String> = points
        .iter()
        .zip(&tagged)
        .enumerate()
        .map(|(i, (p, (_, own)))| {
            let name = short(&p.label, 60);
            let name = if *own { name } else { format!("{}: {name}", i + 1) };
            format!(
                "{}{name} · {} per 100K · n={}",
                if p.on_frontier { "★ " } else { "" },
                format::usd(p.cost_per_100k),
                p.n
            )
        })
        .collect();
    let line = font::LABEL as i32 + 8;
    let col = key.iter().map(|k| text_width(k, font::LABEL) + 28).max().unwrap_or(1).max(1);
    let cols = ((width as i32 - 32) / col).max(1) as usize;
    let rows = key.len().div_ceil(cols);
    let key_h = (rows as i32 * line + 16) as u32;
    render("the speed x quality x cost chart", width, height + key_h, |root| {
        let mut entries = vec![(
            "Pareto frontier (★: no other run is faster, better and cheaper)".to_string(),
            Mark::Line(BLACK),
        )];
        match cost_text.as_slice() {
            [lo, hi] => {
                entries.push((lo.clone(), Mark::Dot(colour(c_lo))));
                entries.push((hi.clone(), Mark::Dot(colour(c_hi))));
            }
            texts => entries.extend(texts.iter().map(|t| (t.clone(), Mark::Dot(colour(c_lo))))),
        }
        entries.push(("95% interval of the quality".to_string(), Mark::Line(RGBColor(120, 120, 120))));
        let (plot, below) = root.split_vertically(height);
        let body = headed(&plot, "Speed x quality x cost", &entries)?;
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
        // Tags inside the plot, clear of each other and of the dots (canvas pixels).
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        let bounds = (xs.start + 2, ys.start + 2, xs.end - 2, ys.end - 2);
        let anchors: Vec<(i32, i32)> = points.iter().map(|p| chart.backend_coord(&(p.speed, p.quality))).collect();
        let widths: Vec<i32> = tags.iter().map(|t| text_width(t, font::LABEL)).collect();
        let offsets = place_tags(&anchors, &widths, font::LABEL as i32 + 2, DOT, bounds);
        chart.draw_series(points.iter().zip(&tags).zip(offsets).map(|((p, t), (dx, dy))| {
            EmptyElement::at((p.speed, p.quality))
                + Circle::new((0, 0), DOT, colour(p.cost_per_100k).filled())
                + Circle::new((0, 0), DOT, BLACK.mix(0.6).stroke_width(1))
                + Text::new(t.clone(), (dx, dy), ("sans-serif", font::LABEL))
        }))?;
        // The key.
        for (i, k) in key.iter().enumerate() {
            let (r, c) = ((i % rows) as i32, (i / rows) as i32);
            below.draw(&Text::new(
                k.clone(),
                (16 + c * col, 8 + r * line),
                ("sans-serif", font::LABEL).into_font().color(&BLACK.mix(0.85)),
            ))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_at_one_cost_draw_one_line_named_together() {
        let models: Vec<String> = ["#1 a", "#2 b", "#3 c", "#4 d"].iter().map(|s| s.to_string()).collect();
        let svg = monthly_lines(&models, &[2e-5, 2e-5, 2.00001e-5, 5e-5], 1e6, 860, 400);
        assert!(svg.contains("and 2 more at the same cost (one line)"), "{svg}");
        assert!(svg.contains("#4 d"), "the dearer run keeps its own line");
    }
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
        // 19 runs, 8 colours: the 8 cheapest drawn, each its own colour, and the title says so.
        let names: Vec<String> = (1..=19).map(|i| format!("#{i} run")).collect();
        let costs: Vec<f64> = (1..=19).map(|i| f64::from(20 - i) * 1e-5).collect();
        let svg = monthly_lines(&names, &costs, 1e6, 1200, 420);
        assert!(svg.contains("the 8 cheapest of 19 runs"), "{svg}");
        assert!(svg.contains("#19 run") && svg.contains("#12 run") && !svg.contains("#11 run"));
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
            s.contains("Pareto frontier") && s.contains("★ 1: a ·") && s.contains("mean reviewer grade"),
            "{s}"
        );
        assert!(s.contains("<polyline"), "the frontier is drawn as a line");
    }

    /// Fourteen runs as QA had them: costs within 1%, several on one spot, long names.
    fn crowded() -> ParetoView {
        let points = (1..=14)
            .map(|i| ParetoPoint {
                label: format!("#{i} sim-gemma-3-4b-it-with-a-long-name (simulated)"),
                speed: if i <= 5 { 1000.0 } else { 900.0 + 37.0 * i as f64 },
                quality: if i <= 5 { 4.0 } else { 3.0 + 0.1 * i as f64 },
                interval: Some((3.0, 4.6)),
                n: 12,
                cost_per_100k: 2.35 + 0.02 * (i as f64 / 14.0),
                on_frontier: i == 14,
                load: "concurrency 4".into(),
            })
            .collect();
        ParetoView {
            measure: Some(QualityMeasure::MeanGrade),
            points,
            ..Default::default()
        }
    }

    #[test]
    fn tags_cover_no_text_and_the_key_names_every_run() {
        let svg = speed_quality_cost(&crowded(), 1200, 580);
        let texts = crate::charts::svg_test::texts(&svg);
        let tags: Vec<_> = texts
            .iter()
            .filter(|t| t.content.starts_with('#') || t.content.starts_with('★'))
            .filter(|t| t.content.len() <= 6)
            .collect();
        assert_eq!(tags.len(), 14, "a tag a run: {tags:?}");
        for t in &tags {
            let b = t.bbox();
            for o in texts.iter().filter(|o| !std::ptr::eq(*o, *t) && !o.rotated) {
                let c = o.bbox();
                let apart = b.2 <= c.0 || c.2 <= b.0 || b.3 <= c.1 || c.3 <= b.1;
                assert!(apart, "tag {:?} covers {:?}", t.content, o.content);
            }
        }
        for i in 1..=14 {
            let entry = format!("#{i} sim-gemma-3-4b-it-with-a-long-name (simulated) · $2.3");
            assert!(
                texts
                    .iter()
                    .any(|t| t.content.starts_with(&entry) || t.content.starts_with(&format!("★ {entry}"))),
                "key entry for #{i}"
            );
        }
        assert!(
            texts.iter().all(|t| !t.content.contains("sim-gemma") || t.content.contains(" · ")),
            "full names only in the key"
        );
    }

    #[test]
    fn costs_within_five_percent_share_one_colour_and_the_legend_says_how_close() {
        let svg = speed_quality_cost(&crowded(), 1200, 580);
        assert!(svg.contains("cost $2.35-$2.37 per 100K: within 1%, one colour"), "{svg}");
        assert!(!svg.contains("cheapest") && !svg.contains("dearest"));
        let fills: std::collections::BTreeSet<&str> = svg
            .split("<circle")
            .skip(1)
            .filter_map(|c| c.split("fill=\"").nth(1)?.split('"').next())
            .filter(|f| *f != "none")
            .collect();
        assert_eq!(fills.len(), 1, "one colour: {fills:?}");
        // A real spread keeps the scale, and says how much dearer.
        let mut v = crowded();
        v.points[0].cost_per_100k = 3.10;
        let svg = speed_quality_cost(&v, 1200, 580);
        assert!(
            svg.contains("cheapest $2.35 per 100K") && svg.contains("dearest $3.10 per 100K"),
            "{svg}"
        );
    }
}
