//! A tiny document model, rendered to Markdown and to self-contained HTML, so a report is
//! written once and reads the same in both.

#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    H1(String),
    H2(String),
    H3(String),
    P(String),
    /// A paragraph set apart (warnings, corrections).
    Note(String),
    List(Vec<String>),
    Table {
        head: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    Code(String),
    /// An SVG chart (HTML only; Markdown gets its caption).
    Svg {
        caption: String,
        svg: String,
    },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Doc {
    pub blocks: Vec<Block>,
}

impl Doc {
    pub fn push(&mut self, b: Block) {
        self.blocks.push(b);
    }

    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        for b in &self.blocks {
            match b {
                Block::H1(t) => out.push_str(&format!("# {t}\n\n")),
                Block::H2(t) => out.push_str(&format!("## {t}\n\n")),
                Block::H3(t) => out.push_str(&format!("### {t}\n\n")),
                Block::P(t) => out.push_str(&format!("{t}\n\n")),
                Block::Note(t) => out.push_str(&format!("> **Note:** {t}\n\n")),
                Block::List(items) => {
                    for i in items {
                        out.push_str(&format!("- {i}\n"));
                    }
                    out.push('\n');
                }
                Block::Table { head, rows } => {
                    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
                    out.push_str(&format!("| {} |\n", head.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | ")));
                    out.push_str(&format!("|{}\n", "---|".repeat(head.len())));
                    for r in rows {
                        out.push_str(&format!("| {} |\n", r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")));
                    }
                    out.push('\n');
                }
                Block::Code(t) => {
                    // A fence longer than any run of backticks in the text (a sample answer may
                    // carry its own fence), so the text cannot close it early.
                    let fence = "`".repeat(longest_run(t, '`').max(2) + 1);
                    out.push_str(&format!("{fence}\n{t}\n{fence}\n\n"));
                }
                Block::Svg { caption, .. } => out.push_str(&format!("*Chart: {caption} (in the HTML report).*\n\n")),
            }
        }
        out
    }

    /// A whole HTML page with its own styles and inline SVG: nothing to fetch.
    pub fn to_html(&self, title: &str) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head>\n<body>\n{}</body></html>\n",
            esc(title),
            self.to_html_fragment()
        )
    }

    /// The body only, for embedding in a page.
    pub fn to_html_fragment(&self) -> String {
        let mut body = String::new();
        for b in &self.blocks {
            match b {
                Block::H1(t) => body.push_str(&format!("<h1>{}</h1>\n", esc(t))),
                Block::H2(t) => body.push_str(&format!("<h2>{}</h2>\n", esc(t))),
                Block::H3(t) => body.push_str(&format!("<h3>{}</h3>\n", esc(t))),
                Block::P(t) => body.push_str(&format!("<p>{}</p>\n", inline(t))),
                Block::Note(t) => body.push_str(&format!("<p class=\"note\"><strong>Note:</strong> {}</p>\n", inline(t))),
                Block::List(items) => {
                    body.push_str("<ul>\n");
                    for i in items {
                        body.push_str(&format!("<li>{}</li>\n", inline(i)));
                    }
                    body.push_str("</ul>\n");
                }
                Block::Table { head, rows } => {
                    body.push_str("<table>\n<thead><tr>");
                    for h in head {
                        body.push_str(&format!("<th>{}</th>", inline(h)));
                    }
                    body.push_str("</tr></thead>\n<tbody>\n");
                    for r in rows {
                        body.push_str("<tr>");
                        for c in r {
                            body.push_str(&format!("<td>{}</td>", inline(c)));
                        }
                        body.push_str("</tr>\n");
                    }
                    body.push_str("</tbody>\n</table>\n");
                }
                Block::Code(t) => body.push_str(&format!("<pre>{}</pre>\n", esc(t))),
                Block::Svg { caption, svg } => body.push_str(&format!("<figure>{svg}<figcaption>{}</figcaption></figure>\n", esc(caption))),
            }
        }
        body
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1000px;margin:2rem auto;padding:0 1rem;color:#111827}\
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #e5e7eb;padding:.3rem .6rem;text-align:left}\
th{background:#f3f4f6}.note{background:#fffbeb;border-left:4px solid #f59e0b;padding:.4rem .8rem}\
pre{background:#f3f4f6;padding:.6rem;white-space:pre-wrap}figure{margin:1rem 0}figcaption{color:#6b7280;font-size:.9rem}svg{max-width:100%;height:auto}";

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escape, then turn `**bold**` and `` `code` `` into HTML.
fn inline(s: &str) -> String {
    let e = esc(s);
    let mut out = String::new();
    let mut bold = false;
    let mut code = false;
    let mut chars = e.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '*' && chars.peek() == Some(&'*') && !code {
            chars.next();
            out.push_str(if bold { "</strong>" } else { "<strong>" });
            bold = !bold;
        } else if c == '`' {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
        } else {
            out.push(c);
        }
    }
    out
}

/// The longest run of `c` in `text`.
fn longest_run(text: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for ch in text.chars() {
        run = if ch == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_blocks_render_as_markdown_and_html() {
        let mut d = Doc::default();
        d.push(Block::H2("Cost".into()));
        d.push(Block::Table {
            head: vec!["Model".into(), "$/100K".into()],
            rows: vec![vec!["**Gemma**".into(), "$9.31".into()]],
        });
        d.push(Block::Note("a <b> & c".into()));
        let md = d.to_markdown();
        assert!(md.contains("## Cost") && md.contains("| **Gemma** | $9.31 |") && md.contains("> **Note:**"));
        let html = d.to_html("R");
        assert!(html.contains("<td><strong>Gemma</strong></td>") && html.contains("a &lt;b&gt; &amp; c"));
        assert!(html.starts_with("<!DOCTYPE html>"));
    }

    #[test]
    fn a_sample_with_its_own_fence_stays_inside_the_code_block() {
        let mut d = Doc::default();
        d.push(Block::Code("```json\n{\"a\": 1}\n```".into()));
        d.push(Block::P("after".into()));
        let md = d.to_markdown();
        assert!(md.starts_with("````\n```json"), "{md}");
        assert!(md.contains("```\n````\n"), "the outer fence is longer: {md}");
        let plain = {
            let mut d = Doc::default();
            d.push(Block::Code("plain".into()));
            d.to_markdown()
        };
        assert_eq!(plain, "```\nplain\n```\n\n");
    }
}
