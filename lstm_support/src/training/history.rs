//! A run's per-epoch metrics, as Keras' `History` holds them, and their table.
use serde::{Deserialize, Serialize};

use crate::table::{Align, Table};

/// How close to its final (or kept) validation accuracy a run must come to count as
/// converged: 0.5 points.
pub const CONVERGED_WITHIN: f64 = 0.005;

/// Metrics of one epoch, as Keras' `History.history` holds them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based.
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub val_loss: f64,
    pub val_accuracy: f64,
    /// Wall-clock seconds of the epoch, training and validation.
    pub seconds: f64,
    /// The gradients' sizes over the epoch's batches (absent from records written before
    /// they were measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gradients: Option<GradientStats>,
}

/// How large the gradients of one epoch's batches were, before any clipping.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GradientStats {
    /// The largest L2 norm of any one parameter's gradient in any batch.
    pub largest_norm: f64,
    /// The median over batches of each batch's largest parameter-gradient norm.
    pub median_norm: f64,
    /// Batches in which `clipnorm` scaled at least one gradient down (0 without clipnorm).
    pub clipped_batches: usize,
    pub batches: usize,
}

impl GradientStats {
    /// From each batch's largest parameter-gradient norm, and the clipping limit if any.
    pub fn new(batch_norms: &[f64], clipnorm: Option<f64>) -> Option<Self> {
        let mut sorted: Vec<f64> = batch_norms.to_vec();
        sorted.sort_by(f64::total_cmp);
        let largest_norm = *sorted.last()?;
        let median_norm = sorted[sorted.len() / 2];
        let clipped_batches =
            clipnorm.map_or(0, |c| batch_norms.iter().filter(|&&n| n > c).count());
        Some(GradientStats {
            largest_norm,
            median_norm,
            clipped_batches,
            batches: batch_norms.len(),
        })
    }
}

/// Every epoch's metrics, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub epochs: Vec<EpochMetrics>,
}

impl History {
    pub fn len(&self) -> usize {
        self.epochs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.epochs.is_empty()
    }

    pub fn last(&self) -> Option<&EpochMetrics> {
        self.epochs.last()
    }

    /// The epoch with the highest validation accuracy.
    pub fn best_val_accuracy(&self) -> Option<&EpochMetrics> {
        self.epochs
            .iter()
            .max_by(|a, b| a.val_accuracy.total_cmp(&b.val_accuracy))
    }

    /// The first epoch whose validation accuracy came within `within` (a fraction: 0.005 is
    /// half a point) of `accuracy`: how soon the run was about as good as it ended. Counts an
    /// epoch exactly `within` below, despite rounding.
    pub fn first_epoch_within(&self, accuracy: f64, within: f64) -> Option<usize> {
        self.epochs
            .iter()
            .find(|e| e.val_accuracy >= accuracy - within - 1e-12)
            .map(|e| e.epoch)
    }

    /// One line for a notebook, beside the curves (which show every epoch): the last epoch's
    /// validation accuracy and loss, and the first epoch within [`CONVERGED_WITHIN`] of it.
    pub fn summary(&self) -> String {
        let Some(last) = self.last() else {
            return "no epochs trained yet".to_owned();
        };
        let converged = self
            .first_epoch_within(last.val_accuracy, CONVERGED_WITHIN)
            .unwrap_or(last.epoch);
        format!(
            "{} epochs; the last: validation accuracy {:.2}%, validation loss {:.4}; first within \
             {:.1} points of that accuracy at epoch {converged}",
            self.len(),
            100.0 * last.val_accuracy,
            last.val_loss,
            100.0 * CONVERGED_WITHIN
        )
    }

    /// Mean seconds per epoch.
    pub fn seconds_per_epoch(&self) -> f64 {
        if self.epochs.is_empty() {
            return 0.0;
        }
        self.epochs.iter().map(|e| e.seconds).sum::<f64>() / self.epochs.len() as f64
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn history(val_accuracies: &[f64]) -> History {
        let epochs = val_accuracies
            .iter()
            .enumerate()
            .map(|(i, &val_accuracy)| EpochMetrics {
                epoch: i + 1,
                train_loss: 0.1,
                train_accuracy: 0.9,
                val_loss: 0.05,
                val_accuracy,
                seconds: 1.0,
                gradients: None,
            })
            .collect();
        History { epochs }
    }

    #[test]
    fn first_epoch_within_half_a_point_and_the_summary() {
        // Epoch 2 is the first within 0.5 points of the last (0.980), though epoch 3 falls back.
        let h = history(&[0.90, 0.978, 0.970, 0.976, 0.981, 0.980]);
        assert_eq!(h.first_epoch_within(0.980, 0.005), Some(2));
        assert_eq!(h.first_epoch_within(0.980, 0.0005), Some(5));
        assert_eq!(h.first_epoch_within(0.999, 0.005), None);
        assert_eq!(History::default().first_epoch_within(0.5, 0.005), None);
        assert_eq!(
            h.summary(),
            "6 epochs; the last: validation accuracy 98.00%, validation loss 0.0500; first within \
             0.5 points of that accuracy at epoch 2"
        );
        assert_eq!(History::default().summary(), "no epochs trained yet");
    }

    #[test]
    fn gradient_stats_of_batch_norms() {
        let stats = GradientStats::new(&[2.0, 9.0, 1.0, 3.0, 40.0], Some(5.0)).unwrap();
        assert_eq!(stats.largest_norm, 40.0);
        assert_eq!(stats.median_norm, 3.0);
        assert_eq!((stats.clipped_batches, stats.batches), (2, 5));
        assert_eq!(
            GradientStats::new(&[2.0, 9.0], None)
                .unwrap()
                .clipped_batches,
            0
        );
        assert_eq!(GradientStats::new(&[], None), None);
    }
}
