//! The errors of one model on the test images, in one sentence.
use std::fmt;

use super::wording::{plural, print_as_html};
use crate::metrics::{ClassMetrics, ClassificationReport, Confusion, ConfusionMatrix};
use crate::table::{pct, thousands};

/// `classes[i]`, or the index itself when the matrix has no name for it.
fn class_name(classes: &[String], i: usize) -> String {
    classes.get(i).cloned().unwrap_or_else(|| i.to_string())
}

/// "digit" when every class name is a digit (MNIST), else "class" (Fashion-MNIST).
fn class_noun(classes: &[String]) -> &'static str {
    let digit = |name: &String| name.len() == 1 && name.chars().all(|c| c.is_ascii_digit());
    if !classes.is_empty() && classes.iter().all(digit) {
        "digit"
    } else {
        "class"
    }
}

/// The errors of one model on the test images: how many, the weakest class, the most frequent
/// confusions.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorAnalysis {
    pub name: String,
    pub classes: Vec<String>,
    pub images: u64,
    pub errors: u64,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub weakest: Option<ClassMetrics>,
    /// The [`ErrorAnalysis::CONFUSIONS`] most frequent confusions.
    pub confusions: Vec<Confusion>,
}

impl ErrorAnalysis {
    /// How many confusions the text names.
    pub const CONFUSIONS: usize = 3;

    /// The analysis of `matrix`, the test set's confusion matrix of the model called `name`.
    pub fn new(name: &str, matrix: &ConfusionMatrix) -> Self {
        let report = ClassificationReport::new(matrix);
        ErrorAnalysis {
            name: name.to_owned(),
            classes: matrix.classes.clone(),
            images: matrix.total(),
            errors: matrix.errors(),
            accuracy: report.accuracy,
            macro_f1: report.macro_avg.f1,
            weakest: report.weakest_class().cloned(),
            confusions: matrix.most_frequent_confusions(Self::CONFUSIONS),
        }
    }

    pub fn evcxr_display(&self) {
        print_as_html(self);
    }
}

impl fmt::Display for ErrorAnalysis {
    /// e.g. `CNN: 214 errors in 10,000 test images (97.86% accuracy), macro F1 0.9785; weakest
    /// digit 8 (F1 0.967: precision 0.958, recall 0.977); most frequent confusions: 6 read as 0
    /// (13 times), 2 read as 8 (11), 7 read as 9 (10).`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = match self.errors {
            0 => "no errors".to_owned(),
            n => plural(n, "error", "errors"),
        };
        write!(
            f,
            "{}: {errors} in {} test images ({} accuracy), macro F1 {:.4}",
            self.name,
            thousands(self.images),
            pct(self.accuracy),
            self.macro_f1
        )?;
        if self.errors > 0 {
            if let Some(w) = &self.weakest {
                write!(
                    f,
                    "; weakest {} {} (F1 {:.3}: precision {:.3}, recall {:.3})",
                    class_noun(&self.classes),
                    w.name,
                    w.f1,
                    w.precision,
                    w.recall
                )?;
            }
            let confusions: Vec<String> = self
                .confusions
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    // The unit is said once, on the first count.
                    let count = if i == 0 {
                        plural(c.count, "time", "times")
                    } else {
                        thousands(c.count)
                    };
                    format!(
                        "{} read as {} ({count})",
                        class_name(&self.classes, c.actual),
                        class_name(&self.classes, c.predicted)
                    )
                })
                .collect();
            let label = if confusions.len() == 1 {
                "most frequent confusion"
            } else {
                "most frequent confusions"
            };
            write!(f, "; {label}: {}", confusions.join(", "))?;
        }
        write!(f, ".")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::confusion_matrix as matrix;

    #[test]
    fn error_analysis_names_errors_weakest_class_and_confusions() {
        let m = matrix(vec![vec![50, 3, 0], vec![5, 40, 3], vec![5, 0, 60]]);
        let text = ErrorAnalysis::new("CNN", &m).to_string();
        let report = ClassificationReport::new(&m);
        let w = &report.classes[1];
        assert_eq!(
            text,
            format!(
                "CNN: 16 errors in 166 test images (90.36% accuracy), macro F1 {:.4}; weakest \
                 digit 1 (F1 {:.3}: precision {:.3}, recall {:.3}); most frequent confusions: \
                 1 read as 0 (5 times), 2 read as 0 (5), 0 read as 1 (3).",
                report.macro_avg.f1, w.f1, w.precision, w.recall
            )
        );
        let mut big = matrix(vec![vec![9_000, 1], vec![0, 999]]);
        big.classes = vec!["shirt".into(), "coat".into()];
        assert_eq!(
            ErrorAnalysis::new("MLP", &big).to_string(),
            format!(
                "MLP: 1 error in 10,000 test images (99.99% accuracy), macro F1 {:.4}; weakest \
                 class coat (F1 0.999: precision 0.999, recall 1.000); most frequent confusion: \
                 shirt read as coat (1 time).",
                ClassificationReport::new(&big).macro_avg.f1
            )
        );
        let perfect = ErrorAnalysis::new("X", &matrix(vec![vec![4, 0], vec![0, 2]]));
        assert_eq!(
            perfect.to_string(),
            "X: no errors in 6 test images (100.00% accuracy), macro F1 1.0000."
        );
    }
}
