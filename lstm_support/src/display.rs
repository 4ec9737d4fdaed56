//! Tables shown as HTML in notebooks: a [`History`], a [`ClassificationReport`] and a sweep
//! summary of run records. Each has `evcxr_display`, so the last expression of a cell shows
//! it as a table, and `to_html` for saving.
use crate::metrics::ClassificationReport;
use crate::record::RunRecord;
use crate::training::History;

/// An HTML table with a header row.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Table {
    pub fn to_html(&self) -> String {
        let mut html = String::from("<table>\n");
        if !self.caption.is_empty() {
            html.push_str(&format!("<caption>{}</caption>\n", escape(&self.caption)));
        }
        html.push_str("<thead><tr>");
        for h in &self.header {
            html.push_str(&format!("<th>{}</th>", escape(h)));
        }
        html.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            html.push_str("<tr>");
            for cell in row {
                html.push_str(&format!("<td>{}</td>", escape(cell)));
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</tbody>\n</table>\n");
        html
    }

    /// The text evcxr reads to show the table as HTML.
    pub fn evcxr_display_text(&self) -> String {
        format!(
            "EVCXR_BEGIN_CONTENT text/html\n{}EVCXR_END_CONTENT\n",
            self.to_html()
        )
    }

    pub fn evcxr_display(&self) {
        print!("{}", self.evcxr_display_text());
    }
}

fn pct(v: f64) -> String {
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
            rows,
        }
    }

    pub fn evcxr_display(&self) {
        self.table().evcxr_display();
    }
}

/// One row per run: model, parameters, best validation accuracy, test accuracy, time.
pub fn sweep_table(records: &[&RunRecord]) -> Table {
    Table {
        caption: "Runs".into(),
        header: [
            "run",
            "model",
            "parameters",
            "epochs",
            "best val accuracy",
            "test accuracy",
            "seconds / epoch",
            "total seconds",
        ]
        .map(String::from)
        .to_vec(),
        rows: records
            .iter()
            .map(|r| {
                vec![
                    r.spec.name.clone(),
                    r.spec.model.describe(),
                    r.parameters.to_string(),
                    r.history.len().to_string(),
                    pct(r.best_val_accuracy()),
                    pct(r.test.accuracy),
                    format!("{:.1}", r.timings.seconds_per_epoch),
                    format!("{:.0}", r.timings.train_seconds),
                ]
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ConfusionMatrix;

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
        let escaped = Table {
            caption: "a<b".into(),
            header: vec![],
            rows: vec![vec!["x & y".into()]],
        }
        .to_html();
        assert!(escaped.contains("a&lt;b") && escaped.contains("x &amp; y"));
    }
}
