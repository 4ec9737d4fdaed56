//! A run's per-epoch metrics, as Keras' `History` holds them, and their table.
use serde::{Deserialize, Serialize};

use crate::table::{Align, Table};

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
