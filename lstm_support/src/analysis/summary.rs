//! One run's numbers as the comparisons report them, and the noise between two runs.
use super::noise::{standard_error, two_standard_errors_of_difference};
use super::overfitting::OverfittingCheck;
use crate::data::ValidationSplit;
use crate::error::Result;
use crate::record::RunRecord;

pub use crate::training::CONVERGED_WITHIN;

/// One run's numbers, as [`super::Comparison`] reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub name: String,
    /// Epochs run (fewer than `planned_epochs` when early stopping ended the run).
    pub epochs: usize,
    pub planned_epochs: usize,
    pub parameters: i64,
    pub train_seconds: f64,
    /// The validation accuracy of the weights the run kept: the final epoch's, or the
    /// restored epoch's when early stopping ended it ([`RunRecord::kept_val_accuracy`]). The
    /// number runs are compared and chosen by; the maximum over epochs would be biased upward.
    pub val_accuracy: f64,
    /// The epoch (1-based) of `val_accuracy`.
    pub kept_epoch: usize,
    /// The highest validation accuracy of any epoch, shown for reference only.
    pub best_val_accuracy: f64,
    pub final_val_accuracy: f64,
    /// Reported only: never used to choose.
    pub test_accuracy: f64,
    /// The first epoch whose validation accuracy came within [`CONVERGED_WITHIN`] of
    /// `val_accuracy`: how fast it converged.
    pub converged_epoch: usize,
    pub validation_images: usize,
    pub gap: OverfittingCheck,
    /// Which images the run validated on: runs with equal values validated on the same ones.
    validation_set: (ValidationSplit, Option<usize>),
}

impl RunSummary {
    pub(super) fn new(record: &RunRecord) -> Result<Self> {
        let gap = OverfittingCheck::new(record)?;
        let epochs = &record.history.epochs;
        let val_accuracy = record.kept_val_accuracy();
        let converged_epoch = record
            .history
            .first_epoch_within(val_accuracy, CONVERGED_WITHIN)
            .unwrap_or(0);
        Ok(RunSummary {
            name: record.spec.name.clone(),
            epochs: epochs.len(),
            planned_epochs: record.spec.epochs,
            parameters: record.parameters,
            train_seconds: record.timings.train_seconds,
            val_accuracy,
            kept_epoch: record.kept_epoch(),
            best_val_accuracy: record.best_val_accuracy(),
            final_val_accuracy: gap.val_accuracy,
            test_accuracy: record.test.accuracy,
            converged_epoch,
            validation_images: record.validation_images(),
            gap,
            validation_set: (record.spec.split.clone(), record.spec.train_limit),
        })
    }

    /// The standard error of `val_accuracy`.
    pub fn standard_error(&self) -> f64 {
        standard_error(self.val_accuracy, self.validation_images)
    }

    /// Whether the two runs validated on the same images (same split, same `train_limit`).
    pub fn same_validation_images(&self, other: &RunSummary) -> bool {
        self.validation_set == other.validation_set
    }
}

/// 2 standard errors of the difference between two runs' validation accuracies measured on
/// different images (independent samples): `2 sqrt(SE_a² + SE_b²)`. Runs validated on the
/// same images are compared image by image instead ([`super::McNemar`]).
pub fn difference_noise(a: &RunSummary, b: &RunSummary) -> f64 {
    two_standard_errors_of_difference(a.standard_error(), b.standard_error())
}
