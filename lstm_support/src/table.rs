//! Tables for notebooks, terminals and reports, and the number formats they use. A [`Table`]
//! renders as HTML (`to_html`, `evcxr_display`, so the last expression of a cell shows it as a
//! table), as aligned text (`to_text`, also its `Display`) and as a Markdown pipe table
//! (`to_markdown`), always with the same columns. The ground floor of the crate: it imports
//! nothing of it but the path helper it re-exports.
use std::fmt;

/// How a column's cells line up: numbers to the right, so that their digits line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    #[default]
    Left,
    Right,
}

/// A table with a header row. `align[i]` is column `i`'s alignment; columns without an entry
/// are left-aligned.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    pub align: Vec<Align>,
    pub rows: Vec<Vec<String>>,
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Table {
    fn align_of(&self, column: usize) -> Align {
        self.align.get(column).copied().unwrap_or_default()
    }

    /// The number of columns: the header's, or the widest row's when that is wider.
    fn columns(&self) -> usize {
        self.rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0)
    }

    pub fn to_html(&self) -> String {
        let cell = |tag: &str, column: usize, text: &str| {
            let style = match self.align_of(column) {
                Align::Left => "",
                Align::Right => " style=\"text-align: right\"",
            };
            format!("<{tag}{style}>{}</{tag}>", escape(text))
        };
        let mut html = String::from("<table>\n");
        if !self.caption.is_empty() {
            html.push_str(&format!("<caption>{}</caption>\n", escape(&self.caption)));
        }
        html.push_str("<thead><tr>");
        for (i, h) in self.header.iter().enumerate() {
            html.push_str(&cell("th", i, h));
        }
        html.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            html.push_str("<tr>");
            for (i, text) in row.iter().enumerate() {
                html.push_str(&cell("td", i, text));
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</tbody>\n</table>\n");
        html
    }

    /// Aligned columns for a terminal: the caption on a line of its own, the header underlined
    /// with dashes, numeric columns right-aligned, two spaces between columns.
    pub fn to_text(&self) -> String {
        let n = self.columns();
        let text_of = |row: &[String], i: usize| row.get(i).map_or(String::new(), Clone::clone);
        let mut widths = vec![0; n];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (i, width) in widths.iter_mut().enumerate() {
                *width = (*width).max(text_of(row, i).chars().count());
            }
        }
        let line = |cells: Vec<String>| {
            let padded: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, text)| {
                    let pad = " ".repeat(widths[i] - text.chars().count());
                    match self.align_of(i) {
                        Align::Left => format!("{text}{pad}"),
                        Align::Right => format!("{pad}{text}"),
                    }
                })
                .collect();
            format!("{}\n", padded.join("  ").trim_end())
        };
        let mut out = String::new();
        if !self.caption.is_empty() {
            out.push_str(&format!("{}\n", self.caption));
        }
        out.push_str(&line((0..n).map(|i| text_of(&self.header, i)).collect()));
        out.push_str(&line(widths.iter().map(|&w| "-".repeat(w)).collect()));
        for row in &self.rows {
            out.push_str(&line((0..n).map(|i| text_of(row, i)).collect()));
        }
        out
    }

    /// A Markdown pipe table (`---:` under numeric columns), after the caption as a line of its
    /// own. Pipes inside cells are escaped.
    pub fn to_markdown(&self) -> String {
        let n = self.columns();
        let cell = |row: &[String], i: usize| {
            row.get(i)
                .map_or(String::new(), |t| t.replace('|', "\\|").replace('\n', " "))
        };
        let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
        let mut out = String::new();
        if !self.caption.is_empty() {
            out.push_str(&format!("{}\n\n", self.caption));
        }
        out.push_str(&line((0..n).map(|i| cell(&self.header, i)).collect()));
        out.push_str(&line(
            (0..n)
                .map(|i| match self.align_of(i) {
                    Align::Left => "---".to_owned(),
                    Align::Right => "---:".to_owned(),
                })
                .collect(),
        ));
        for row in &self.rows {
            out.push_str(&line((0..n).map(|i| cell(row, i)).collect()));
        }
        out
    }

    /// The text evcxr reads to show the table as HTML.
    pub fn evcxr_display_text(&self) -> String {
        evcxr_html(&self.to_html())
    }

    pub fn evcxr_display(&self) {
        print!("{}", self.evcxr_display_text());
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// `html` wrapped in the markers evcxr reads to show it as HTML.
pub(crate) fn evcxr_html(html: &str) -> String {
    format!("EVCXR_BEGIN_CONTENT text/html\n{html}EVCXR_END_CONTENT\n")
}

/// Plain text of paragraphs and `- ` bullet lines as HTML: consecutive bullets become one
/// `<ul>`, other non-empty lines `<p>`; everything escaped.
pub(crate) fn text_to_html(text: &str) -> String {
    let mut html = String::new();
    let mut in_list = false;
    for line in text.lines() {
        let bullet = line.strip_prefix("- ");
        if bullet.is_some() != in_list {
            html.push_str(if in_list { "</ul>\n" } else { "<ul>\n" });
            in_list = !in_list;
        }
        match bullet {
            Some(item) => html.push_str(&format!("<li>{}</li>\n", escape(item))),
            None if line.trim().is_empty() => {}
            None => html.push_str(&format!("<p>{}</p>\n", escape(line))),
        }
    }
    if in_list {
        html.push_str("</ul>\n");
    }
    html
}

/// A path relative to the project root, for outputs that must not show a machine's paths.
pub use crate::fsutil::display_path;

/// An integer with a comma every three digits: `8,138`, `10,000`, `-1,234`.
pub fn thousands(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A fraction as a percentage with two decimals: `98.39%`.
pub(crate) fn pct(v: f64) -> String {
    format!("{:.2}%", 100.0 * v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_table() -> Table {
        Table {
            caption: "a<b".into(),
            header: vec!["name".into(), "count".into()],
            align: vec![Align::Left, Align::Right],
            rows: vec![
                vec!["x & y".into(), "8,138".into()],
                vec!["a|b".into(), "7".into()],
            ],
        }
    }

    #[test]
    fn html_escapes_and_right_aligns_numbers() {
        let html = small_table().to_html();
        assert!(html.contains("<caption>a&lt;b</caption>"), "{html}");
        assert!(html.contains("<td>x &amp; y</td>"), "{html}");
        assert!(
            html.contains(r#"<td style="text-align: right">8,138</td>"#),
            "{html}"
        );
    }

    #[test]
    fn text_aligns_columns_under_an_underlined_header() {
        let text = small_table().to_text();
        assert_eq!(
            text,
            "a<b\n\
             name   count\n\
             -----  -----\n\
             x & y  8,138\n\
             a|b        7\n"
        );
        assert_eq!(small_table().to_string(), text);
    }

    #[test]
    fn markdown_marks_numeric_columns_and_escapes_pipes() {
        assert_eq!(
            small_table().to_markdown(),
            "a<b\n\n\
             | name | count |\n\
             | --- | ---: |\n\
             | x & y | 8,138 |\n\
             | a\\|b | 7 |\n"
        );
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(8138), "8,138");
        assert_eq!(thousands(10_000u64), "10,000");
        assert_eq!(thousands(1_234_567i64), "1,234,567");
        assert_eq!(thousands(-1234), "-1,234");
    }
}
