//! Tables for notebooks, terminals and reports: a [`History`], a [`ClassificationReport`] and
//! [`runs_table`], one row per run record. A [`Table`] renders as HTML (`to_html`,
//! `evcxr_display`, so the last expression of a cell shows it as a table), as aligned text
//! (`to_text`, also its `Display`) and as a Markdown pipe table (`to_markdown`), always with the
//! same columns.
use std::fmt;

use crate::metrics::ClassificationReport;
use crate::record::{RunRecord, RunSpec};
use crate::training::History;

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

impl History {
    /// One row per epoch, as Keras' `pd.DataFrame(history.history)` shows it.
    pub fn table(&self) -> Table {
        Table {
            caption: "Training history".into(),
            header: [
                "epoch",
                "loss",
                "accuracy",
                "val_loss",
                "val_accuracy",
                "seconds",
            ]
            .map(String::from)
            .to_vec(),
            align: vec![Align::Right; 6],
            rows: self
                .epochs
                .iter()
                .map(|e| {
                    vec![
                        e.epoch.to_string(),
                        format!("{:.4}", e.train_loss),
                        format!("{:.4}", e.train_accuracy),
                        format!("{:.4}", e.val_loss),
                        format!("{:.4}", e.val_accuracy),
                        format!("{:.1}", e.seconds),
                    ]
                })
                .collect(),
        }
    }

    pub fn evcxr_display(&self) {
        self.table().evcxr_display();
    }
}

impl ClassificationReport {
    /// scikit-learn's layout: one row per class, then accuracy, macro and weighted averages.
    pub fn table(&self) -> Table {
        let row = |m: &crate::metrics::ClassMetrics| {
            vec![
                m.name.clone(),
                format!("{:.4}", m.precision),
                format!("{:.4}", m.recall),
                format!("{:.4}", m.f1),
                m.support.to_string(),
            ]
        };
        let mut rows: Vec<Vec<String>> = self.classes.iter().map(row).collect();
        rows.push(vec![
            "accuracy".into(),
            String::new(),
            String::new(),
            format!("{:.4}", self.accuracy),
            self.macro_avg.support.to_string(),
        ]);
        rows.push(row(&self.macro_avg));
        rows.push(row(&self.weighted_avg));
        Table {
            caption: "Classification report".into(),
            header: ["", "precision", "recall", "f1-score", "support"]
                .map(String::from)
                .to_vec(),
            align: vec![
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
            ],
            rows,
        }
    }

    pub fn evcxr_display(&self) {
        self.table().evcxr_display();
    }
}

/// e.g. `shuffled 80/20` or `last 20% (Keras)`.
pub fn describe_split(spec: &RunSpec) -> String {
    let held_out = 100.0 * spec.split.validation_fraction;
    if spec.split.shuffle {
        format!("shuffled {:.0}/{held_out:.0}", 100.0 - held_out)
    } else {
        format!("last {held_out:.0}% (Keras)")
    }
}

/// The images a run trained on: its pool (60,000, or `train_limit`) less the validation ones.
fn train_images(r: &RunRecord) -> usize {
    let pool = r.spec.train_limit.map_or(60_000, |n| n.min(60_000));
    pool.saturating_sub(r.validation_images())
}

type Column = (&'static str, Align, fn(&RunRecord) -> String);

/// The columns of [`runs_table`], in order: one list, so that every rendering has the same
/// header and every row matches it.
const RUN_COLUMNS: [Column; 17] = [
    ("run", Align::Left, |r| r.spec.name.clone()),
    ("model", Align::Left, |r| r.spec.model.describe()),
    ("parameters", Align::Right, |r| thousands(r.parameters)),
    ("optimizer", Align::Left, |r| {
        r.spec.options.optimizer_description()
    }),
    ("epochs", Align::Right, |r| r.history.len().to_string()),
    ("batch", Align::Right, |r| r.spec.batch_size.to_string()),
    ("seed", Align::Right, |r| r.spec.options.seed.to_string()),
    ("split", Align::Left, |r| describe_split(&r.spec)),
    ("train images", Align::Right, |r| {
        thousands(train_images(r) as u64)
    }),
    ("best val acc", Align::Right, |r| pct(r.best_val_accuracy())),
    ("final val acc", Align::Right, |r| {
        r.history
            .last()
            .map_or(String::new(), |e| pct(e.val_accuracy))
    }),
    ("test acc", Align::Right, |r| pct(r.test.accuracy)),
    ("test loss", Align::Right, |r| format!("{:.4}", r.test.loss)),
    ("s/epoch", Align::Right, |r| {
        format!("{:.1}", r.timings.seconds_per_epoch)
    }),
    ("train s", Align::Right, |r| {
        format!("{:.0}", r.timings.train_seconds)
    }),
    ("device", Align::Left, |r| r.device.clone()),
    ("key", Align::Left, |r| r.key.clone()),
];

/// One row per run, with the same columns in every rendering (notebook HTML, the CLI's text
/// summary, the Markdown report): run, model, parameters, optimizer, epochs (run, not planned),
/// batch, seed, split, train images (the pool less the validation images), best and final
/// validation accuracy, test accuracy and loss, seconds per epoch, training seconds, device
/// and the run's key.
pub fn runs_table<R: std::borrow::Borrow<RunRecord>>(records: &[R]) -> Table {
    let records: Vec<&RunRecord> = records.iter().map(|r| r.borrow()).collect();
    Table {
        caption: "Runs".into(),
        header: RUN_COLUMNS.iter().map(|c| c.0.to_owned()).collect(),
        align: RUN_COLUMNS.iter().map(|c| c.1).collect(),
        rows: records
            .iter()
            .map(|r| RUN_COLUMNS.iter().map(|c| (c.2)(r)).collect())
            .collect(),
    }
}

/// The first `n` test images' true class, predicted class and the confidence of the
/// prediction, a row each; wrong predictions are marked.
pub fn predictions_table(test: &crate::record::TestMetrics, n: usize) -> Table {
    let rows = test
        .labels
        .iter()
        .zip(&test.predictions)
        .zip(&test.confidences)
        .take(n)
        .enumerate()
        .map(|(i, ((label, predicted), confidence))| {
            vec![
                i.to_string(),
                label.to_string(),
                predicted.to_string(),
                format!("{confidence:.2}"),
                if label == predicted { "" } else { "wrong" }.to_owned(),
            ]
        })
        .collect();
    Table {
        caption: format!("The first {n} test images"),
        header: ["test image", "true", "predicted", "confidence", ""]
            .map(String::from)
            .to_vec(),
        align: vec![
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Left,
        ],
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_table_marks_the_wrong_ones() {
        let test = crate::record::TestMetrics {
            loss: 0.1,
            accuracy: 0.5,
            predictions: vec![7, 3, 1],
            labels: vec![7, 2, 1],
            confidences: vec![0.99, 0.6, 0.8],
        };
        let table = predictions_table(&test, 2);
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.rows[1], ["1", "2", "3", "0.60", "wrong"]);
        assert_eq!(table.rows[0][4], "");
    }
    use crate::metrics::ConfusionMatrix;
    use crate::testutil::run_record;

    #[test]
    fn tables_are_html_for_evcxr() {
        let names: Vec<String> = (0..3).map(|i| i.to_string()).collect();
        let matrix = ConfusionMatrix::new(&[0, 1, 2, 2], &[0, 1, 2, 1], &names).unwrap();
        let report = ClassificationReport::new(&matrix);
        let text = report.table().evcxr_display_text();
        assert!(text.starts_with("EVCXR_BEGIN_CONTENT text/html\n<table>"));
        assert!(text.ends_with("</table>\nEVCXR_END_CONTENT\n"));
        assert!(text.contains("<td>macro avg</td>") && text.contains("<td>weighted avg</td>"));
        assert_eq!(report.table().rows.len(), 3 + 3);
    }

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

    #[test]
    fn runs_table_has_the_same_columns_in_every_rendering() {
        let a = run_record(
            "LSTM 32",
            8138,
            &[(0.95, 0.96), (0.98, 0.9839)],
            0.982,
            63.0,
        );
        let mut b = run_record("LSTM 256", 275_466, &[(0.99, 0.99)], 0.991, 300.0);
        b.spec = b.spec.cosine_decay(0.002);
        b.spec.split = crate::data::ValidationSplit::keras_tail(0.2);
        let table = runs_table(&[&a, &b]);
        assert_eq!(table.header.len(), 17);
        assert_eq!(table.align.len(), 17);
        assert!(table.rows.iter().all(|row| row.len() == 17));
        let header_line = format!("| {} |", table.header.join(" | "));
        assert!(table.to_markdown().contains(&header_line));
        let html = table.to_html();
        let text = table.to_text();
        for h in &table.header {
            assert!(html.contains(&format!(">{}</th>", escape(h))), "{h}");
            assert!(text.lines().nth(1).unwrap().contains(h.as_str()), "{h}");
        }
        let row = |i: usize| table.rows[i].join(" / ");
        assert!(row(0).contains("8,138 / Adam 0.001 / 2 / 128 / 42 / shuffled 80/20 / 48,000 / 98.39% / 98.39% / 98.20%"), "{}", row(0));
        assert!(
            row(1).contains("Adam 0.002, cosine decay to 0 over the run"),
            "{}",
            row(1)
        );
        assert!(row(1).contains("last 20% (Keras)"), "{}", row(1));
    }
}
