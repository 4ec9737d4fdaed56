//! Along the rows of the image, which are a recurrent model's time steps: what the model knows
//! after reading k rows, and how far back through the rows the loss's gradient reaches.
use std::fmt;

use serde::{Deserialize, Serialize};

use super::wording::print_as_html;
use crate::error::{Error, Result};
use crate::table::pct;

/// What a recurrent model knows part-way through the image: its accuracy after reading k
/// rows ([`crate::model::Model::accuracy_by_rows`]) at the middle and at the end, and the first
/// k at which it reaches a level.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingByRows {
    pub name: String,
    /// (rows read, accuracy), k = 1 to 28.
    pub points: Vec<(usize, f64)>,
}

impl ReadingByRows {
    pub fn new(name: &str, points: &[(usize, f64)]) -> Result<Self> {
        if points.is_empty() {
            return Err(Error::invalid(
                "accuracy by rows",
                "no points; give the output of accuracy_by_rows",
            ));
        }
        Ok(ReadingByRows {
            name: name.to_owned(),
            points: points.to_vec(),
        })
    }

    /// Accuracy after reading `rows` rows, if measured.
    pub fn after(&self, rows: usize) -> Option<f64> {
        self.points
            .iter()
            .find(|(k, _)| *k == rows)
            .map(|(_, a)| *a)
    }

    /// The first number of rows after which the accuracy reaches `level`.
    pub fn rows_to_reach(&self, level: f64) -> Option<usize> {
        self.points
            .iter()
            .find(|(_, a)| *a >= level)
            .map(|(k, _)| *k)
    }

    pub fn evcxr_display(&self) {
        print_as_html(self);
    }
}

impl fmt::Display for ReadingByRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = self.points[self.points.len() - 1];
        let middle = self.points[(self.points.len() - 1) / 2];
        let reach = |level: f64| match self.rows_to_reach(level) {
            Some(k) => format!("after {k} rows"),
            None => "never".to_owned(),
        };
        write!(
            f,
            "{}: {} after {} of {} rows, {} after all {}; 50% is first reached {}, 90% {}.",
            self.name,
            pct(middle.1),
            middle.0,
            last.0,
            pct(last.1),
            last.0,
            reach(0.5),
            reach(0.9)
        )
    }
}

/// How far back in time the loss's gradient reaches in one recurrent model: |dL/dh(t)| at the
/// first step against the last, after training and at initialisation
/// ([`crate::model::Model::hidden_gradient_norms`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientReach {
    pub name: String,
    /// |dL/dh(1)| / |dL/dh(T)| of the trained model.
    pub trained: f64,
    /// The same at initialisation.
    pub initial: f64,
    pub steps: usize,
}

impl GradientReach {
    /// From the two curves of mean |dL/dh(t)|, t = 1..T; an error when either is empty or they
    /// differ in length.
    pub fn new(name: &str, trained: &[f64], initial: &[f64]) -> Result<Self> {
        let ratio = |norms: &[f64]| match (norms.first(), norms.last()) {
            (Some(first), Some(last)) if *last > 0.0 => Ok(first / last),
            _ => Err(Error::invalid(
                format!("gradient norms of {name:?}"),
                "give one positive value per step",
            )),
        };
        if trained.len() != initial.len() {
            return Err(Error::invalid(
                format!("gradient norms of {name:?}"),
                format!(
                    "{} steps after training, {} at initialisation",
                    trained.len(),
                    initial.len()
                ),
            ));
        }
        Ok(GradientReach {
            name: name.to_owned(),
            trained: ratio(trained)?,
            initial: ratio(initial)?,
            steps: trained.len(),
        })
    }

    pub fn evcxr_display(&self) {
        print_as_html(self);
    }
}

impl fmt::Display for GradientReach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: the gradient reaching row 1 is {:.1e} times the one at row {} after training ({:.1e} at initialisation)",
            self.name, self.trained, self.steps, self.initial
        )
    }
}

/// What the head answers part-way through the image: how its answers after `rows` rows
/// spread over the classes, and how often each answer is right. An accuracy below chance
/// means the answers are not random guesses: they favour classes that the images are not.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswersAfterRows {
    pub rows: usize,
    pub accuracy: f64,
    /// The classes answered, most often first.
    pub answered: Vec<AnsweredClass>,
}

/// One class among the answers of [`AnswersAfterRows`].
#[derive(Debug, Clone, PartialEq)]
pub struct AnsweredClass {
    pub class: i64,
    /// Share of all answers that are this class.
    pub share: f64,
    /// Of those answers, the share that is right (the class's precision).
    pub right: f64,
    /// Share of the images that truly are this class.
    pub truly: f64,
}

impl AnswersAfterRows {
    /// `labels` and `answers` image by image (answers from
    /// [`crate::model::Model::predictions_after_rows`]).
    pub fn new(rows: usize, labels: &[i64], answers: &[i64]) -> Result<Self> {
        if labels.len() != answers.len() || labels.is_empty() {
            return Err(Error::invalid(
                "answers after rows",
                format!(
                    "{} labels and {} answers; give one answer per labelled image",
                    labels.len(),
                    answers.len()
                ),
            ));
        }
        let n = labels.len() as f64;
        let mut classes: Vec<i64> = answers.to_vec();
        classes.sort_unstable();
        classes.dedup();
        let count = |f: &dyn Fn(usize) -> bool| (0..labels.len()).filter(|&i| f(i)).count() as f64;
        let mut answered: Vec<AnsweredClass> = classes
            .into_iter()
            .map(|class| {
                let given = count(&|i| answers[i] == class);
                AnsweredClass {
                    class,
                    share: given / n,
                    right: count(&|i| answers[i] == class && labels[i] == class) / given,
                    truly: count(&|i| labels[i] == class) / n,
                }
            })
            .collect();
        answered.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.class.cmp(&b.class)));
        Ok(AnswersAfterRows {
            rows,
            accuracy: count(&|i| answers[i] == labels[i]) / n,
            answered,
        })
    }

    pub fn evcxr_display(&self) {
        print_as_html(self);
    }
}

impl fmt::Display for AnswersAfterRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "After {} rows: accuracy {}; {} classes answered.",
            self.rows,
            pct(self.accuracy),
            self.answered.len()
        )?;
        for a in self.answered.iter().take(3) {
            writeln!(
                f,
                "- {}: {} of the answers, right on {} of them ({} of the images are {}s).",
                a.class,
                pct(a.share),
                pct(a.right),
                pct(a.truly),
                a.class
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_by_rows_names_the_middle_the_end_and_the_levels() {
        let points: Vec<(usize, f64)> = (1..=28).map(|k| (k, k as f64 / 28.0)).collect();
        let reading = ReadingByRows::new("LSTM 32", &points).unwrap();
        assert_eq!(reading.rows_to_reach(0.9), Some(26));
        assert_eq!(reading.after(14), Some(0.5));
        let text = reading.to_string();
        assert!(text.contains("50.00% after 14 of 28 rows"), "{text}");
        assert!(text.contains("100.00% after all 28"), "{text}");
        assert!(text.contains("90% after 26 rows"), "{text}");
        assert!(ReadingByRows::new("x", &[]).is_err());
    }

    #[test]
    fn the_reach_is_the_first_step_against_the_last() {
        let trained = [1e-4, 1e-3, 1e-2];
        let initial = [1e-2, 1e-2, 1e-2];
        let reach = GradientReach::new("SimpleRNN 32", &trained, &initial).unwrap();
        assert!((reach.trained - 1e-2).abs() < 1e-12 && (reach.initial - 1.0).abs() < 1e-12);
        let text = reach.to_string();
        assert!(
            text.contains("row 1 is 1.0e-2 times the one at row 3"),
            "{text}"
        );
        assert!(GradientReach::new("x", &[], &[]).is_err());
        assert!(GradientReach::new("x", &trained, &initial[..2]).is_err());
    }

    #[test]
    fn answers_after_rows_show_which_classes_the_head_favours() {
        // Ten images, two of each class 0-4; the head answers 1 for eight of them (right on
        // the two 1s) and 3 for the other two (both 4s, wrong): accuracy 2/10.
        let labels = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4];
        let answers = [1, 1, 1, 1, 1, 1, 1, 1, 3, 3];
        let early = AnswersAfterRows::new(6, &labels, &answers).unwrap();
        assert!((early.accuracy - 0.2).abs() < 1e-12);
        assert_eq!(early.answered.len(), 2);
        let first = &early.answered[0];
        assert_eq!(first.class, 1);
        assert!((first.share - 0.8).abs() < 1e-12 && (first.right - 0.25).abs() < 1e-12);
        assert!((first.truly - 0.2).abs() < 1e-12);
        assert_eq!(early.answered[1].right, 0.0);
        let text = early.to_string();
        assert!(
            text.starts_with("After 6 rows: accuracy 20.00%; 2 classes answered."),
            "{text}"
        );
        assert!(text.contains("- 1: 80.00% of the answers, right on 25.00% of them (20.00% of the images are 1s)."), "{text}");
        assert!(AnswersAfterRows::new(6, &labels, &answers[..3]).is_err());
    }
}
