//! One run's numbers as the comparisons report them, and the noise between two runs.
use super::noise::{standard_error, two_standard_errors_of_difference};
use super::overfitting::OverfittingGap;
use crate::data::ValidationSplit;
use crate::error::Result;
use crate::record::RunRecord;

/// How close to its best validation accuracy a run must come to count as converged: 0.5
/// points.
pub const CONVERGED_WITHIN: f64 = 0.005;

/// One run's numbers, as [`super::Comparison`] reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub name: String,
    /// Epochs run (fewer than `planned_epochs` when early stopping ended the run).
    pub epochs: usize,
    pub planned_epochs: usize,
    pub parameters: i64,
    pub train_seconds: f64,
    pub best_val_accuracy: f64,
    /// The epoch (1-based) of `best_val_accuracy`.
    pub best_epoch: usize,
    pub final_val_accuracy: f64,
    /// Reported only: never used to choose.
    pub test_accuracy: f64,
    /// The first epoch whose validation accuracy came within [`CONVERGED_WITHIN`] of the
    /// run's best: how fast it converged.
    pub converged_epoch: usize,
    pub validation_images: usize,
    pub gap: OverfittingGap,
    /// Which images the run validated on: runs with equal values validated on the same ones.
    validation_set: (ValidationSplit, Option<usize>),
}

impl RunSummary {
    pub(super) fn new(record: &RunRecord) -> Result<Self> {
        let gap = OverfittingGap::new(record)?;
        let epochs = &record.history.epochs;
        let best = record.history.best_val_accuracy();
        let best_val_accuracy = best.map_or(0.0, |e| e.val_accuracy);
        // A small tolerance, so that an epoch exactly 0.5 points below counts despite rounding.
        let converged_epoch = epochs
            .iter()
            .find(|e| e.val_accuracy >= best_val_accuracy - CONVERGED_WITHIN - 1e-12)
            .map_or(0, |e| e.epoch);
        Ok(RunSummary {
            name: record.spec.name.clone(),
            epochs: epochs.len(),
            planned_epochs: record.spec.epochs,
            parameters: record.parameters,
            train_seconds: record.timings.train_seconds,
            best_val_accuracy,
            best_epoch: best.map_or(0, |e| e.epoch),
            final_val_accuracy: gap.val_accuracy,
            test_accuracy: record.test.accuracy,
            converged_epoch,
            validation_images: record.validation_images(),
            gap,
            validation_set: (record.spec.split.clone(), record.spec.train_limit),
        })
    }

    /// The standard error of `best_val_accuracy`.
    pub fn standard_error(&self) -> f64 {
        standard_error(self.best_val_accuracy, self.validation_images)
    }
}

/// 2 standard errors of the difference between two runs' best validation accuracies.
///
/// When both validated on the same images (same split, same `train_limit`), the larger of the
/// two standard errors: the two measurements share their images and most of their errors, so
/// the independent-samples formula would overstate the noise of the difference. Otherwise
/// the two are independent samples, and the standard error of the difference is
/// `sqrt(SE_a² + SE_b²)`.
pub fn difference_noise(a: &RunSummary, b: &RunSummary) -> f64 {
    two_standard_errors_of_difference(
        a.standard_error(),
        b.standard_error(),
        a.validation_set == b.validation_set,
    )
}
