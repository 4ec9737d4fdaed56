//! Over-fitting at the end of one run: the train-minus-validation gap against the noise.
use std::fmt;

use super::noise::{noise_points, standard_error, within_noise};
use super::wording::print_as_html;
use crate::error::{Error, Result};
use crate::record::RunRecord;
use crate::table::{pct, thousands};

/// What the final epoch's train-minus-validation gap says, given the validation noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapVerdict {
    /// The gap is not larger than 2 standard errors.
    NoMeasurableOverfitting,
    /// Training accuracy above validation by more than 2 standard errors.
    Overfitting,
    /// Validation accuracy above training by more than 2 standard errors.
    ValidationAboveTraining,
}

/// Over-fitting at the end of one run: the final epoch's training accuracy minus its
/// validation accuracy, against 2 standard errors of that validation accuracy.
#[derive(Debug, Clone, PartialEq)]
pub struct OverfittingGap {
    pub name: String,
    /// The final epoch (1-based).
    pub epoch: usize,
    pub train_accuracy: f64,
    pub val_accuracy: f64,
    /// `train_accuracy - val_accuracy`, a fraction (0.002 is 0.2 points).
    pub gap: f64,
    /// Of `val_accuracy` measured on `validation_images` images.
    pub standard_error: f64,
    pub validation_images: usize,
    pub verdict: GapVerdict,
}

impl OverfittingGap {
    /// Of a record, or of a run; an error when the record has no epochs.
    pub fn new<R: AsRef<RunRecord>>(record: &R) -> Result<Self> {
        let record = record.as_ref();
        let last = record.history.last().ok_or_else(|| {
            Error::invalid(
                format!("run record {:?}", record.spec.name),
                "its history has no epochs, so there is nothing to compare",
            )
        })?;
        let validation_images = record.validation_images();
        let standard_error = standard_error(last.val_accuracy, validation_images);
        let gap = last.train_accuracy - last.val_accuracy;
        // Not larger than the noise is never called over-fitting.
        let verdict = if within_noise(gap, 2.0 * standard_error) {
            GapVerdict::NoMeasurableOverfitting
        } else if gap > 0.0 {
            GapVerdict::Overfitting
        } else {
            GapVerdict::ValidationAboveTraining
        };
        Ok(OverfittingGap {
            name: record.spec.name.clone(),
            epoch: last.epoch,
            train_accuracy: last.train_accuracy,
            val_accuracy: last.val_accuracy,
            gap,
            standard_error,
            validation_images,
            verdict,
        })
    }

    /// 2 standard errors, a fraction.
    pub fn noise(&self) -> f64 {
        2.0 * self.standard_error
    }

    /// The verdict without the run's name, for the comparison's lines.
    pub(super) fn sentence(&self) -> String {
        let (position, verdict) = match self.verdict {
            GapVerdict::NoMeasurableOverfitting => ("within", "no measurable over-fitting"),
            GapVerdict::Overfitting => (
                "beyond",
                "over-fitting (it fits its training images better than new ones)",
            ),
            GapVerdict::ValidationAboveTraining => (
                "beyond",
                "validation above training (training accuracy is measured during the epoch, \
                 as the weights change and with any dropout on; validation after it, without \
                 dropout)",
            ),
        };
        format!(
            "at epoch {}, training accuracy {} against validation {}: gap {:+.2} points, \
             {position} the {} noise (2 standard errors of a {}-image validation accuracy): \
             {verdict}",
            self.epoch,
            pct(self.train_accuracy),
            pct(self.val_accuracy),
            100.0 * self.gap,
            noise_points(self.noise()),
            thousands(self.validation_images as u64),
        )
    }

    pub fn evcxr_display(&self) {
        print_as_html(self);
    }
}

impl fmt::Display for OverfittingGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}.", self.name, self.sentence())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{run_record, RunLike};

    #[test]
    fn a_gap_within_two_standard_errors_is_not_over_fitting() {
        // 2 SE of 98.9% on 12,000 images: 2 * sqrt(0.989 * 0.011 / 12000) = 0.001905.
        let val = 0.989;
        let two_se = 2.0 * (val * (1.0 - val) / 12_000.0f64).sqrt();
        assert!((two_se - 0.001905).abs() < 1e-6);
        let gap = |train: f64| {
            OverfittingGap::new(&run_record("LSTM 32", 8138, &[(train, val)], 0.98, 60.0)).unwrap()
        };
        let inside = gap(val + 0.0018);
        assert_eq!(inside.verdict, GapVerdict::NoMeasurableOverfitting);
        assert_eq!(inside.validation_images, 12_000);
        assert!((inside.noise() - two_se).abs() < 1e-12);
        let text = inside.to_string();
        assert!(
            text.contains(
                "gap +0.18 points, within the ±0.19-point noise (2 standard errors of a \
                 12,000-image validation accuracy): no measurable over-fitting"
            ),
            "{text}"
        );
        assert!(!text.contains("over-fitting (it fits"), "{text}");
        let inside_negative = gap(val - 0.0018);
        assert_eq!(inside_negative.verdict, GapVerdict::NoMeasurableOverfitting);
        let above = gap(val + 0.0020);
        assert_eq!(above.verdict, GapVerdict::Overfitting);
        assert!(
            above
                .to_string()
                .contains("gap +0.20 points, beyond the ±0.19-point noise"),
            "{above}"
        );
        assert!(above
            .to_string()
            .ends_with("over-fitting (it fits its training images better than new ones)."));
        let below = gap(val - 0.0020);
        assert_eq!(below.verdict, GapVerdict::ValidationAboveTraining);
        let text = below.to_string();
        assert!(
            text.contains("gap -0.20 points, beyond") && text.contains("validation above training"),
            "{text}"
        );
        assert!(text.contains("dropout"), "{text}");
        let mut empty = run_record("empty", 1, &[], 0.5, 1.0);
        empty.history.epochs.clear();
        assert!(OverfittingGap::new(&empty).is_err());
        let run = RunLike::from(run_record(
            "LSTM 32",
            8138,
            &[(val + 0.0018, val)],
            0.98,
            60.0,
        ));
        assert_eq!(OverfittingGap::new(&run).unwrap(), inside);
    }
}
