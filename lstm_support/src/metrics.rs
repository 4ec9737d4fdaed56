//! Classification metrics as scikit-learn computes them: the confusion matrix and the
//! classification report (precision, recall, F1, support per class; accuracy; macro and
//! weighted averages); the errors a matrix holds (its most frequent confusions, the weakest
//! class).
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::table::{Align, Table};

/// `counts[true][predicted]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    pub classes: Vec<String>,
    pub counts: Vec<Vec<u64>>,
}

impl ConfusionMatrix {
    /// Counts (true, predicted) pairs; both slices hold class indices below `classes.len()`.
    pub fn new(labels: &[i64], predictions: &[i64], classes: &[String]) -> Result<Self> {
        if labels.len() != predictions.len() {
            return Err(Error::invalid(
                "predictions",
                format!(
                    "{} predictions for {} labels",
                    predictions.len(),
                    labels.len()
                ),
            ));
        }
        let n = classes.len();
        let mut counts = vec![vec![0u64; n]; n];
        for (&t, &p) in labels.iter().zip(predictions) {
            let valid = |c: i64| usize::try_from(c).ok().filter(|&c| c < n);
            let (Some(t), Some(p)) = (valid(t), valid(p)) else {
                return Err(Error::invalid(
                    "class index",
                    format!("({t}, {p}) is outside 0..{n}"),
                ));
            };
            counts[t][p] += 1;
        }
        Ok(ConfusionMatrix {
            classes: classes.to_vec(),
            counts,
        })
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Misclassified images: everything off the diagonal.
    pub fn errors(&self) -> u64 {
        let correct: u64 = (0..self.counts.len())
            .map(|c| self.counts[c].get(c).copied().unwrap_or(0))
            .sum();
        self.total() - correct
    }

    /// The `n` largest off-diagonal cells that are not zero, count descending, ties by
    /// (actual, predicted) ascending.
    pub fn most_frequent_confusions(&self, n: usize) -> Vec<Confusion> {
        let mut cells: Vec<Confusion> = self
            .counts
            .iter()
            .enumerate()
            .flat_map(|(actual, row)| {
                row.iter()
                    .enumerate()
                    .map(move |(predicted, &count)| Confusion {
                        actual,
                        predicted,
                        count,
                    })
            })
            .filter(|c| c.actual != c.predicted && c.count > 0)
            .collect();
        cells.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then((a.actual, a.predicted).cmp(&(b.actual, b.predicted)))
        });
        cells.truncate(n);
        cells
    }
}

/// One off-diagonal cell of a confusion matrix: `count` images of class `actual` were
/// predicted as `predicted`. The class names are the matrix's `classes[actual]` and
/// `classes[predicted]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confusion {
    pub actual: usize,
    pub predicted: usize,
    pub count: u64,
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub name: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

/// scikit-learn's `classification_report`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    pub classes: Vec<ClassMetrics>,
    pub accuracy: f64,
    pub macro_avg: ClassMetrics,
    pub weighted_avg: ClassMetrics,
}

/// 0 when the denominator is 0, as scikit-learn's `zero_division` default reports.
fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

impl ClassificationReport {
    pub fn new(matrix: &ConfusionMatrix) -> Self {
        let n = matrix.classes.len();
        let total = matrix.total();
        let mut classes = Vec::with_capacity(n);
        for c in 0..n {
            let tp = matrix.counts[c][c];
            let predicted: u64 = (0..n).map(|t| matrix.counts[t][c]).sum();
            let support: u64 = matrix.counts[c].iter().sum();
            let precision = ratio(tp, predicted);
            let recall = ratio(tp, support);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            classes.push(ClassMetrics {
                name: matrix.classes[c].clone(),
                precision,
                recall,
                f1,
                support,
            });
        }
        let correct: u64 = (0..n).map(|c| matrix.counts[c][c]).sum();
        let average = |name: &str, weight: &dyn Fn(&ClassMetrics) -> f64| {
            let w_sum: f64 = classes.iter().map(weight).sum();
            let avg = |f: fn(&ClassMetrics) -> f64| {
                if w_sum == 0.0 {
                    0.0
                } else {
                    classes.iter().map(|m| weight(m) * f(m)).sum::<f64>() / w_sum
                }
            };
            ClassMetrics {
                name: name.to_owned(),
                precision: avg(|m| m.precision),
                recall: avg(|m| m.recall),
                f1: avg(|m| m.f1),
                support: total,
            }
        };
        let macro_avg = average("macro avg", &|_| 1.0);
        let weighted_avg = average("weighted avg", &|m| m.support as f64);
        ClassificationReport {
            accuracy: ratio(correct, total),
            classes,
            macro_avg,
            weighted_avg,
        }
    }

    /// The class with the lowest F1 (the first of equals); `None` without classes.
    pub fn weakest_class(&self) -> Option<&ClassMetrics> {
        self.classes.iter().min_by(|a, b| a.f1.total_cmp(&b.f1))
    }

    /// The report as scikit-learn prints it.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{:>14} {:>9} {:>9} {:>9} {:>9}\n\n",
            "", "precision", "recall", "f1-score", "support"
        );
        let row = |m: &ClassMetrics| {
            format!(
                "{:>14} {:>9.2} {:>9.2} {:>9.2} {:>9}\n",
                m.name, m.precision, m.recall, m.f1, m.support
            )
        };
        for m in &self.classes {
            out.push_str(&row(m));
        }
        out.push_str(&format!(
            "\n{:>14} {:>9} {:>9} {:>9.2} {:>9}\n",
            "accuracy", "", "", self.accuracy, self.macro_avg.support
        ));
        out.push_str(&row(&self.macro_avg));
        out.push_str(&row(&self.weighted_avg));
        out
    }
}

impl ClassificationReport {
    /// scikit-learn's layout: one row per class, then accuracy, macro and weighted averages.
    pub fn table(&self) -> Table {
        let row = |m: &ClassMetrics| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::confusion_matrix as matrix;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| i.to_string()).collect()
    }

    #[test]
    fn matches_hand_computed_values() {
        // labels:      0 0 0 1 1 2
        // predictions: 0 0 1 1 2 2
        let matrix =
            ConfusionMatrix::new(&[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2], &names(3)).unwrap();
        assert_eq!(
            matrix.counts,
            vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]
        );
        let report = ClassificationReport::new(&matrix);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        // class 0: P = 2/2, R = 2/3, F1 = 0.8
        assert!(close(report.classes[0].precision, 1.0));
        assert!(close(report.classes[0].recall, 2.0 / 3.0));
        assert!(close(report.classes[0].f1, 0.8));
        // class 1: P = 1/2, R = 1/2, F1 = 1/2
        assert!(close(report.classes[1].f1, 0.5));
        // class 2: P = 1/2, R = 1, F1 = 2/3
        assert!(close(report.classes[2].precision, 0.5));
        assert!(close(report.classes[2].f1, 2.0 / 3.0));
        assert!(close(report.accuracy, 4.0 / 6.0));
        assert!(close(report.macro_avg.precision, (1.0 + 0.5 + 0.5) / 3.0));
        assert!(close(report.macro_avg.f1, (0.8 + 0.5 + 2.0 / 3.0) / 3.0));
        // weighted by support 3, 2, 1
        assert!(close(
            report.weighted_avg.recall,
            (3.0 * 2.0 / 3.0 + 2.0 * 0.5 + 1.0) / 6.0
        ));
        assert_eq!(report.weighted_avg.support, 6);
        let text = report.to_text();
        assert!(text.contains("precision") && text.contains("macro avg") && text.contains("0.67"));
    }

    #[test]
    fn a_class_never_predicted_has_zero_precision_not_nan() {
        let matrix = ConfusionMatrix::new(&[0, 1], &[0, 0], &names(2)).unwrap();
        let report = ClassificationReport::new(&matrix);
        assert_eq!(report.classes[1].precision, 0.0);
        assert_eq!(report.classes[1].f1, 0.0);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(ConfusionMatrix::new(&[0, 1], &[0], &names(2)).is_err());
        assert!(ConfusionMatrix::new(&[0, 2], &[0, 1], &names(2)).is_err());
        assert!(ConfusionMatrix::new(&[0, -1], &[0, 1], &names(2)).is_err());
    }

    #[test]
    fn confusions_by_count_then_by_cell() {
        let m = matrix(vec![vec![50, 3, 0], vec![5, 40, 3], vec![5, 0, 60]]);
        assert_eq!(m.errors(), 16);
        let c = |actual, predicted, count| Confusion {
            actual,
            predicted,
            count,
        };
        assert_eq!(
            m.most_frequent_confusions(10),
            vec![c(1, 0, 5), c(2, 0, 5), c(0, 1, 3), c(1, 2, 3)]
        );
        assert_eq!(m.most_frequent_confusions(1), vec![c(1, 0, 5)]);
        assert!(matrix(vec![vec![4, 0], vec![0, 2]])
            .most_frequent_confusions(3)
            .is_empty());
    }

    #[test]
    fn weakest_class_has_the_lowest_f1() {
        let m = matrix(vec![vec![50, 3, 0], vec![5, 40, 3], vec![5, 0, 60]]);
        let report = ClassificationReport::new(&m);
        let weakest = report.weakest_class().unwrap();
        assert_eq!(weakest.name, "1");
        assert!(report.classes.iter().all(|c| c.f1 >= weakest.f1));
    }

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
}
