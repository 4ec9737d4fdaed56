//! Small synthetic data for tests.
use tch::{nn, Device, Kind, Tensor};

use crate::data::{Dataset, Mnist, TestSet};

/// `n` images of a task an LSTM learns in a few epochs: the class k image has a bright row
/// 2k + 3 over faint noise. With `flip_labels` the labels are 9 - k (the opposite rule).
pub fn synthetic(n: i64, seed: i64, flip_labels: bool) -> Dataset {
    tch::manual_seed(seed);
    let labels = Tensor::randint(10, [n], (Kind::Int64, Device::Cpu));
    let images = Tensor::rand([n, 28, 28], (Kind::Float, Device::Cpu)) * 0.2;
    let rows = Vec::<i64>::try_from(&labels).unwrap();
    for (i, k) in rows.iter().enumerate() {
        let _ = images.get(i as i64).get(2 * k + 3).fill_(1.0);
    }
    let labels = if flip_labels { 9 - labels } else { labels };
    Dataset::new(images, labels, 10).unwrap()
}

/// A synthetic stand-in for MNIST with `n_train` training and `n_test` test images.
pub fn synthetic_mnist(n_train: i64, n_test: i64) -> Mnist {
    Mnist {
        train: synthetic(n_train, 100, false),
        test: TestSet::from_dataset(synthetic(n_test, 101, false)),
        dir: "synthetic".into(),
        classes: (0..10).map(|d| d.to_string()).collect(),
    }
}

/// The gradients of every variable in `vs`, sorted by name, copied out; the variables' own
/// gradients are zeroed, ready for the next backward pass to compare against.
pub fn take_grads(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut grads: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(name, mut var)| {
            let grad = var.grad().copy();
            var.zero_grad();
            (name, grad)
        })
        .collect();
    grads.sort_by(|a, b| a.0.cmp(&b.0));
    grads
}

/// A confusion matrix from its counts (`counts[true][predicted]`), classes named by their index.
pub fn confusion_matrix(counts: Vec<Vec<u64>>) -> crate::metrics::ConfusionMatrix {
    crate::metrics::ConfusionMatrix {
        classes: (0..counts.len()).map(|i| i.to_string()).collect(),
        counts,
    }
}

/// A hand-made record for tests of tables and analyses: `LSTM(32)`, the default 80/20 split of
/// all 60,000 images (12,000 validation images), one epoch per `(train, val)` accuracy pair,
/// each epoch taking `train_seconds / epochs`.
pub fn run_record(
    name: &str,
    parameters: i64,
    accuracies: &[(f64, f64)],
    test_accuracy: f64,
    train_seconds: f64,
) -> crate::record::RunRecord {
    use crate::record::{RunRecord, RunSpec, TestMetrics, Timings, Versions};
    use crate::training::{EpochMetrics, History};
    let spec =
        RunSpec::new(name, crate::model::ModelConfig::lstm(32, 0.15)).epochs(accuracies.len());
    let seconds = train_seconds / accuracies.len().max(1) as f64;
    let epochs = accuracies
        .iter()
        .enumerate()
        .map(|(i, &(train_accuracy, val_accuracy))| EpochMetrics {
            epoch: i + 1,
            train_loss: 1.0 - train_accuracy,
            train_accuracy,
            val_loss: 1.0 - val_accuracy,
            val_accuracy,
            seconds,
            gradients: None,
        })
        .collect();
    let test = TestMetrics {
        loss: 1.0 - test_accuracy,
        accuracy: test_accuracy,
        predictions: vec![],
        labels: vec![],
        confidences: vec![],
    };
    // Hand-picked timings, not the epochs' sum: tests state them.
    let timings = Timings {
        train_seconds,
        seconds_per_epoch: seconds,
        evaluate_seconds: 1.0,
    };
    let mut record = RunRecord::new(
        &spec,
        parameters,
        History { epochs },
        false,
        test,
        timings,
        "cpu (2 threads)",
    );
    // Independent of the libtorch installed and of the clock.
    record.versions = Versions {
        lstm_support: "test".into(),
        tch: "0.26.0".into(),
        torch: "test".into(),
    };
    record.finished_at = 0;
    record
}

/// What the session's `Run` is to analyses and figures, which may not import the session: a
/// wrapper that holds a record and is `AsRef<RunRecord>`.
pub struct RunLike {
    pub record: crate::record::RunRecord,
}

impl From<crate::record::RunRecord> for RunLike {
    fn from(record: crate::record::RunRecord) -> Self {
        RunLike { record }
    }
}

impl AsRef<crate::record::RunRecord> for RunLike {
    fn as_ref(&self) -> &crate::record::RunRecord {
        &self.record
    }
}

/// `record` with validation predictions: image i right when `correct[i]` (labels all 0).
pub fn with_validation(
    mut record: crate::record::RunRecord,
    correct: &[bool],
) -> crate::record::RunRecord {
    record.validation = Some(crate::record::ValidationPredictions {
        predictions: correct.iter().map(|&c| i64::from(!c)).collect(),
        labels: vec![0; correct.len()],
    });
    record
}

/// `n` images of which the first `right` are right.
pub fn first_right(n: usize, right: usize) -> Vec<bool> {
    (0..n).map(|i| i < right).collect()
}
