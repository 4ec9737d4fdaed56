//! The end of one run: the generalisation gap between training and validation accuracy
//! against its noise, and whether the run over-fitted (validation loss rising while training
//! loss falls).
use std::fmt;

use super::noise::{noise_points, standard_error, within_noise};
use super::wording::{plural, print_as_html};
use crate::error::{Error, Result};
use crate::record::RunRecord;
use crate::table::{pct, thousands};

/// What the final epoch's train-minus-validation accuracy gap says, given the validation noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapVerdict {
    /// The gap is not larger than 2 standard errors.
    NoMeasurableGap,
    /// Training accuracy above validation by more than 2 standard errors: a generalisation
    /// gap. It is not over-fitting by itself: that is the validation loss rising.
    GeneralisationGap,
    /// Validation accuracy above training by more than 2 standard errors.
    ValidationAboveTraining,
}

impl GapVerdict {
    /// The verdict on a train-minus-validation `gap` that is, or is not, `beyond_noise`.
    pub(super) fn of(gap: f64, beyond_noise: bool) -> Self {
        if !beyond_noise {
            GapVerdict::NoMeasurableGap
        } else if gap > 0.0 {
            GapVerdict::GeneralisationGap
        } else {
            GapVerdict::ValidationAboveTraining
        }
    }
}

/// How much the validation loss must rise above its lowest value, relative to it, for the
/// rise to count (0.05: 5%). Epoch-to-epoch wobble of a 12,000-image validation loss is a few
/// percent at most; a rise beyond this that lasts [`OVERFITTING_EPOCHS`] epochs is a trend.
pub const OVERFITTING_RISE: f64 = 0.05;
/// Epochs after the validation loss's minimum a rise must last (early stopping's usual
/// patience).
pub const OVERFITTING_EPOCHS: usize = 3;

/// Over-fitting, as textbooks define it: after the epoch of its lowest validation loss the
/// run trained on for at least [`OVERFITTING_EPOCHS`] epochs, its final validation loss is
/// more than [`OVERFITTING_RISE`] above that lowest value, and its training loss kept falling.
#[derive(Debug, Clone, PartialEq)]
pub struct LossTrend {
    /// The epoch (1-based) of the lowest validation loss, and that loss.
    pub lowest_epoch: usize,
    pub lowest_val_loss: f64,
    /// The last epoch's losses, and the training loss at `lowest_epoch`.
    pub final_val_loss: f64,
    pub train_loss_at_lowest: f64,
    pub final_train_loss: f64,
    pub overfitting: bool,
}

impl LossTrend {
    /// Of a history's epochs (at least one).
    fn new(epochs: &[crate::training::EpochMetrics]) -> Option<Self> {
        let last = epochs.last()?;
        let lowest = epochs.iter().fold(
            &epochs[0],
            |a, e| if e.val_loss < a.val_loss { e } else { a },
        );
        let overfitting = last.epoch >= lowest.epoch + OVERFITTING_EPOCHS
            && last.val_loss > lowest.val_loss * (1.0 + OVERFITTING_RISE)
            && last.train_loss < lowest.train_loss;
        Some(LossTrend {
            lowest_epoch: lowest.epoch,
            lowest_val_loss: lowest.val_loss,
            final_val_loss: last.val_loss,
            train_loss_at_lowest: lowest.train_loss,
            final_train_loss: last.train_loss,
            overfitting,
        })
    }

    fn sentence(&self, final_epoch: usize) -> String {
        if self.overfitting {
            format!(
                "over-fitting: validation loss rose from {:.4} at epoch {} to {:.4} at epoch \
                 {final_epoch} while training loss fell from {:.4} to {:.4}",
                self.lowest_val_loss,
                self.lowest_epoch,
                self.final_val_loss,
                self.train_loss_at_lowest,
                self.final_train_loss
            )
        } else if self.lowest_epoch == final_epoch {
            format!(
                "no over-fitting: validation loss lowest at the last epoch ({:.4})",
                self.lowest_val_loss
            )
        } else if self.final_val_loss <= self.lowest_val_loss * (1.0 + OVERFITTING_RISE) {
            format!(
                "no over-fitting: validation loss {:.4} at epoch {final_epoch}, within {:.0}% \
                 of its lowest ({:.4} at epoch {})",
                self.final_val_loss,
                100.0 * OVERFITTING_RISE,
                self.lowest_val_loss,
                self.lowest_epoch,
            )
        } else {
            let rise = 100.0 * (self.final_val_loss / self.lowest_val_loss - 1.0);
            let why = if final_epoch < self.lowest_epoch + OVERFITTING_EPOCHS {
                format!(
                    "but only {} after it (the check asks for {OVERFITTING_EPOCHS})",
                    plural((final_epoch - self.lowest_epoch) as u64, "epoch", "epochs")
                )
            } else {
                "but the training loss did not fall meanwhile".to_owned()
            };
            format!(
                "no over-fitting by this check: validation loss {:.4} at epoch {final_epoch}, \
                 {rise:.0}% above its lowest ({:.4} at epoch {}), {why}",
                self.final_val_loss, self.lowest_val_loss, self.lowest_epoch,
            )
        }
    }
}

/// The end of one run: the final epoch's training accuracy minus its validation accuracy
/// (the generalisation gap), against 2 standard errors of that validation accuracy, and the
/// validation loss's trend ([`LossTrend`]), which is what over-fitting means.
#[derive(Debug, Clone, PartialEq)]
pub struct OverfittingCheck {
    pub name: String,
    /// The final epoch (1-based).
    pub epoch: usize,
    /// Measured during the epoch, as the weights change, with any dropout on.
    pub train_accuracy: f64,
    pub val_accuracy: f64,
    /// `train_accuracy - val_accuracy`, a fraction (0.002 is 0.2 points).
    pub gap: f64,
    /// Of `val_accuracy` measured on `validation_images` images.
    pub standard_error: f64,
    pub validation_images: usize,
    pub verdict: GapVerdict,
    pub loss_trend: LossTrend,
}

impl OverfittingCheck {
    /// Of a record, or of a run; an error when the record has no epochs.
    pub fn new<R: AsRef<RunRecord>>(record: &R) -> Result<Self> {
        let record = record.as_ref();
        let no_epochs = || {
            Error::invalid(
                format!("run record {:?}", record.spec.name),
                "its history has no epochs, so there is nothing to compare",
            )
        };
        let last = record.history.last().ok_or_else(no_epochs)?;
        let loss_trend = LossTrend::new(&record.history.epochs).ok_or_else(no_epochs)?;
        let validation_images = record.validation_images();
        let standard_error = standard_error(last.val_accuracy, validation_images);
        let gap = last.train_accuracy - last.val_accuracy;
        let verdict = GapVerdict::of(gap, !within_noise(gap, 2.0 * standard_error));
        Ok(OverfittingCheck {
            name: record.spec.name.clone(),
            epoch: last.epoch,
            train_accuracy: last.train_accuracy,
            val_accuracy: last.val_accuracy,
            gap,
            standard_error,
            validation_images,
            verdict,
            loss_trend,
        })
    }

    /// 2 standard errors, a fraction.
    pub fn noise(&self) -> f64 {
        2.0 * self.standard_error
    }

    /// Whether the validation loss rose while the training loss fell ([`LossTrend`]).
    pub fn overfitting(&self) -> bool {
        self.loss_trend.overfitting
    }

    /// The verdicts without the run's name, for the comparison's lines.
    pub(super) fn sentence(&self) -> String {
        let (position, verdict) = match self.verdict {
            GapVerdict::NoMeasurableGap => ("within", "no measurable generalisation gap"),
            GapVerdict::GeneralisationGap => (
                "beyond",
                "a generalisation gap (it fits its training images better than new ones)",
            ),
            GapVerdict::ValidationAboveTraining => ("beyond", "validation above training"),
        };
        format!(
            "at epoch {}, training accuracy {} (during the epoch, any dropout on) against \
             validation {}: gap {:+.2} points, {position} the {} noise (2 standard errors of a \
             {}-image validation accuracy): {verdict}; {}",
            self.epoch,
            pct(self.train_accuracy),
            pct(self.val_accuracy),
            100.0 * self.gap,
            noise_points(self.noise()),
            thousands(self.validation_images as u64),
            self.loss_trend.sentence(self.epoch),
        )
    }

    pub fn evcxr_display(&self) {
        print_as_html(self);
    }
}

impl fmt::Display for OverfittingCheck {
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
            OverfittingCheck::new(&run_record("LSTM 32", 8138, &[(train, val)], 0.98, 60.0))
                .unwrap()
        };
        let inside = gap(val + 0.0018);
        assert_eq!(inside.verdict, GapVerdict::NoMeasurableGap);
        assert_eq!(inside.validation_images, 12_000);
        assert!((inside.noise() - two_se).abs() < 1e-12);
        let text = inside.to_string();
        assert!(
            text.contains(
                "gap +0.18 points, within the ±0.19-point noise (2 standard errors of a \
                 12,000-image validation accuracy): no measurable generalisation gap"
            ),
            "{text}"
        );
        assert!(!text.contains("a generalisation gap (it fits"), "{text}");
        let inside_negative = gap(val - 0.0018);
        assert_eq!(inside_negative.verdict, GapVerdict::NoMeasurableGap);
        let above = gap(val + 0.0020);
        assert_eq!(above.verdict, GapVerdict::GeneralisationGap);
        assert!(
            above
                .to_string()
                .contains("gap +0.20 points, beyond the ±0.19-point noise"),
            "{above}"
        );
        assert!(above
            .to_string()
            .contains("a generalisation gap (it fits its training images better than new ones); no over-fitting"));
        let below = gap(val - 0.0020);
        assert_eq!(below.verdict, GapVerdict::ValidationAboveTraining);
        let text = below.to_string();
        assert!(
            text.contains("gap -0.20 points, beyond") && text.contains("validation above training"),
            "{text}"
        );
        assert!(
            text.contains("(during the epoch, any dropout on)"),
            "{text}"
        );
        let mut empty = run_record("empty", 1, &[], 0.5, 1.0);
        empty.history.epochs.clear();
        assert!(OverfittingCheck::new(&empty).is_err());
        let run = RunLike::from(run_record(
            "LSTM 32",
            8138,
            &[(val + 0.0018, val)],
            0.98,
            60.0,
        ));
        assert_eq!(OverfittingCheck::new(&run).unwrap(), inside);
    }

    /// Epochs of (train loss, val loss), accuracies irrelevant here.
    fn losses(losses: &[(f64, f64)]) -> Vec<crate::training::EpochMetrics> {
        losses
            .iter()
            .enumerate()
            .map(
                |(i, &(train_loss, val_loss))| crate::training::EpochMetrics {
                    epoch: i + 1,
                    train_loss,
                    train_accuracy: 0.9,
                    val_loss,
                    val_accuracy: 0.9,
                    seconds: 1.0,
                    gradients: None,
                },
            )
            .collect()
    }

    #[test]
    fn over_fitting_is_validation_loss_rising_while_training_loss_falls() {
        // Lowest validation loss 0.10 at epoch 2; three epochs later 0.106 (> 5% above) while
        // the training loss fell from 0.20 to 0.05: over-fitting.
        let rising = losses(&[
            (0.3, 0.12),
            (0.2, 0.10),
            (0.1, 0.102),
            (0.07, 0.104),
            (0.05, 0.106),
        ]);
        let trend = LossTrend::new(&rising).unwrap();
        assert!(trend.overfitting, "{trend:?}");
        assert_eq!((trend.lowest_epoch, trend.lowest_val_loss), (2, 0.10));
        assert_eq!(
            trend.sentence(5),
            "over-fitting: validation loss rose from 0.1000 at epoch 2 to 0.1060 at epoch 5 \
             while training loss fell from 0.2000 to 0.0500"
        );
        // A rise of 4% is within the wobble; a 6% rise for only two epochs is too short; a
        // rise while the training loss rose too is not over-fitting.
        let small = losses(&[
            (0.3, 0.12),
            (0.2, 0.10),
            (0.1, 0.102),
            (0.07, 0.103),
            (0.05, 0.104),
        ]);
        assert!(!LossTrend::new(&small).unwrap().overfitting);
        let short = losses(&[(0.3, 0.12), (0.2, 0.10), (0.1, 0.102), (0.05, 0.106)]);
        assert!(!LossTrend::new(&short).unwrap().overfitting);
        assert_eq!(
            LossTrend::new(&short).unwrap().sentence(4),
            "no over-fitting by this check: validation loss 0.1060 at epoch 4, 6% above its \
             lowest (0.1000 at epoch 2), but only 2 epochs after it (the check asks for 3)"
        );
        let both_rise = losses(&[
            (0.3, 0.12),
            (0.2, 0.10),
            (0.21, 0.102),
            (0.22, 0.104),
            (0.23, 0.106),
        ]);
        assert!(!LossTrend::new(&both_rise).unwrap().overfitting);
        assert!(LossTrend::new(&both_rise)
            .unwrap()
            .sentence(5)
            .ends_with("but the training loss did not fall meanwhile"));
        let falling = losses(&[(0.3, 0.12), (0.2, 0.10), (0.1, 0.09)]);
        assert_eq!(
            LossTrend::new(&falling).unwrap().sentence(3),
            "no over-fitting: validation loss lowest at the last epoch (0.0900)"
        );
        assert!(LossTrend::new(&[]).is_none());
    }
}
