//! Where point tags go so they cover neither each other nor the dots, and (for tests) reading
//! drawn SVG back.

/// A box in canvas pixels: (left, top, right, bottom).
pub(crate) type PxBox = (i32, i32, i32, i32);

/// Area two boxes share (0 when apart or touching).
fn shared(a: PxBox, b: PxBox) -> i64 {
    let w = (a.2.min(b.2) - a.0.max(b.0)).max(0) as i64;
    let h = (a.3.min(b.3) - a.1.max(b.1)).max(0) as i64;
    w * h
}

/// Where short tags (`widths[i]` x `height` px) go beside their points (canvas px): each at the
/// first place around its point, nearest first (right, left, above, below, the corners, then the
/// same further out), that stays inside `bounds` and covers no tag placed before it nor any
/// point's dot (`dot` px radius); where none is clear, the place covering least. Returns each
/// tag's top-left corner relative to its point.
pub(crate) fn place_tags(points: &[(i32, i32)], widths: &[i32], height: i32, dot: i32, bounds: PxBox) -> Vec<(i32, i32)> {
    let dots: Vec<PxBox> = points.iter().map(|&(x, y)| (x - dot, y - dot, x + dot, y + dot)).collect();
    let mut placed: Vec<PxBox> = Vec::new();
    let mut out = Vec::with_capacity(points.len());
    for (i, &(x, y)) in points.iter().enumerate() {
        let w = widths.get(i).copied().unwrap_or(0);
        let mut best: Option<((i32, i32), i64)> = None;
        'rings: for ring in 0..6 {
            let d = dot + 3 + ring * (height + 2);
            let half = height / 2;
            let tries = [
                (d, -half),
                (-d - w, -half),
                (-w / 2, -d - height),
                (-w / 2, d),
                (d, -d - height + half),
                (-d - w, -d - height + half),
                (d, d - half),
                (-d - w, d - half),
            ];
            for (dx, dy) in tries {
                let b = (x + dx, y + dy, x + dx + w, y + dy + height);
                if b.0 < bounds.0 || b.1 < bounds.1 || b.2 > bounds.2 || b.3 > bounds.3 {
                    continue;
                }
                let cover: i64 = placed.iter().chain(dots.iter()).map(|o| shared(b, *o)).sum();
                if best.is_none_or(|(_, c)| cover < c) {
                    best = Some(((dx, dy), cover));
                }
                if cover == 0 {
                    break 'rings;
                }
            }
        }
        let (dx, dy) = best.map(|(o, _)| o).unwrap_or((dot + 3, -height / 2));
        placed.push((x + dx, y + dy, x + dx + w, y + dy + height));
        out.push((dx, dy));
    }
    out
}

/// Reading drawn SVG back, for the charts' geometry tests.
#[cfg(test)]
pub(crate) mod svg_test {
    /// (x, y) of every point of the data lines (polylines of more than two points: not the
    /// legend's short marks).
    pub fn line_points(svg: &str) -> Vec<(f64, f64)> {
        svg.split("<polyline")
            .skip(1)
            .map(|el| {
                let pts = attr(el, "points").unwrap_or_default();
                pts.split_whitespace()
                    .filter_map(|p| {
                        let (x, y) = p.split_once(',')?;
                        Some((x.parse().ok()?, y.parse().ok()?))
                    })
                    .collect::<Vec<(f64, f64)>>()
            })
            .filter(|line| line.len() > 2)
            .flatten()
            .collect()
    }

    /// A `<text>` as drawn.
    #[derive(Clone, Debug)]
    pub struct Txt {
        pub x: f64,
        pub y: f64,
        pub anchor: String,
        pub dy: String,
        /// The nominal size (plotters writes it divided by 1.24).
        pub size: f64,
        pub rotated: bool,
        pub content: String,
    }

    impl Txt {
        /// The box the text covers, estimated as [`crate::charts::text_width`] does (left, top, right,
        /// bottom); for unrotated text.
        pub fn bbox(&self) -> (f64, f64, f64, f64) {
            let w = self.content.chars().count() as f64 * self.size * 0.56;
            let h = self.size;
            let left = match self.anchor.as_str() {
                "middle" => self.x - w / 2.0,
                "end" => self.x - w,
                _ => self.x,
            };
            let top = match self.dy.as_str() {
                "0.76em" => self.y,
                "0.5ex" => self.y - h / 2.0,
                _ => self.y - h,
            };
            (left, top, left + w, top + h)
        }
    }

    /// Every `<text>`, its content without the newlines plotters puts around it.
    pub fn texts(svg: &str) -> Vec<Txt> {
        svg.split("<text")
            .skip(1)
            .filter_map(|el| {
                let (tag, rest) = el.split_once('>')?;
                let content = rest.split("</text>").next()?.trim_matches('\n').to_string();
                let num = |k: &str| attr(tag, k).and_then(|v| v.parse::<f64>().ok());
                Some(Txt {
                    x: num("x")?,
                    y: num("y")?,
                    anchor: attr(tag, "text-anchor").unwrap_or_default(),
                    dy: attr(tag, "dy").unwrap_or_default(),
                    size: num("font-size").unwrap_or(0.0) * 1.24,
                    rotated: tag.contains("transform="),
                    content,
                })
            })
            .collect()
    }

    /// The y (top) of the text element whose content is `text`.
    pub fn text_y(svg: &str, text: &str) -> f64 {
        texts(svg)
            .into_iter()
            .find(|t| t.content == text)
            .unwrap_or_else(|| panic!("no text {text}"))
            .y
    }

    /// An attribute's value in an element's text.
    fn attr(el: &str, name: &str) -> Option<String> {
        let at = el.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(el[at..].split('"').next()?.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_stay_inside_and_clear_of_each_other_and_of_every_dot() {
        // Fourteen points: five on one spot, a cluster, and points in each corner.
        let mut pts = vec![(300, 200); 5];
        pts.extend([
            (310, 205),
            (320, 195),
            (305, 215),
            (100, 40),
            (890, 40),
            (100, 390),
            (890, 390),
            (500, 390),
            (880, 200),
        ]);
        let widths: Vec<i32> = (0..pts.len()).map(|i| 30 + 4 * i as i32).collect();
        let (h, dot) = (17, 7);
        let bounds = (90, 30, 900, 400);
        let offs = place_tags(&pts, &widths, h, dot, bounds);
        let boxes: Vec<PxBox> = pts
            .iter()
            .zip(&offs)
            .zip(&widths)
            .map(|((&(x, y), &(dx, dy)), &w)| (x + dx, y + dy, x + dx + w, y + dy + h))
            .collect();
        for (i, b) in boxes.iter().enumerate() {
            assert!(
                b.0 >= bounds.0 && b.1 >= bounds.1 && b.2 <= bounds.2 && b.3 <= bounds.3,
                "tag {i} leaves the plot: {b:?}"
            );
            for (j, o) in boxes.iter().enumerate().skip(i + 1) {
                assert_eq!(shared(*b, *o), 0, "tags {i} and {j} overlap: {b:?} {o:?}");
            }
            for (j, &(x, y)) in pts.iter().enumerate() {
                assert_eq!(shared(*b, (x - dot, y - dot, x + dot, y + dot)), 0, "tag {i} covers dot {j}");
            }
            // Near its own dot: within a few lines of text.
            let (x, y) = pts[i];
            let dist = (b.0 - x).max(x - b.2).max(0).max((b.1 - y).max(y - b.3).max(0));
            assert!(dist <= 6 * (h + 2) + dot, "tag {i} is {dist} px from its dot");
        }
    }
}
