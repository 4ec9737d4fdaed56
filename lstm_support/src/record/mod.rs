//! Run records: everything about a finished run (spec, history, test metrics, timings,
//! device, versions) saved as JSON beside its model file, so notebooks and reports reuse
//! finished runs instead of retraining. The same spec (model, options, seed, data) maps to the
//! same directory, named by a key from a versioned canonical description of the spec; the
//! [`RunStore`] finds the stored run or trains and records it.
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::Device;

use crate::data::{Mnist, TestSet, ValidationSplit};
use crate::error::{Error, Result};
use crate::fsutil::{io_error, write_json_atomically};
use crate::model::{Evaluation, ModelConfig};
use crate::optim::LrSchedule;
use crate::training::{EarlyStopping, History, TrainOptions};

mod store;
mod tables;
pub mod version1;
pub use store::{Run, RunStore};
pub use tables::{describe_split, gradient_sizes_table, predictions_table, runs_table};

/// What determines a run's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// A short label for tables and legends, e.g. `LSTM 32`; not part of the identity.
    pub name: String,
    pub model: ModelConfig,
    pub options: TrainOptions,
    pub epochs: usize,
    pub batch_size: usize,
    pub split: ValidationSplit,
    /// Train on the first `n` training items only (a quick run).
    pub train_limit: Option<usize>,
    /// Evaluate on the first `n` test items only (a quick run).
    pub test_limit: Option<usize>,
}

impl RunSpec {
    /// The assignment's defaults for `model`: 10 epochs, batch 128, the 80/20 split, seed 42.
    pub fn new(name: impl Into<String>, model: ModelConfig) -> Self {
        RunSpec {
            name: name.into(),
            model,
            options: TrainOptions::default(),
            epochs: 10,
            batch_size: 128,
            split: ValidationSplit::default(),
            train_limit: None,
            test_limit: None,
        }
    }

    /// Trains for `epochs` epochs (10 by default).
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Batches of `batch_size` images (128 by default).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Validates on `split` of the training images (a shuffled 80/20 by default).
    pub fn split(mut self, split: ValidationSplit) -> Self {
        self.split = split;
        self
    }

    /// Draws the weights, the shuffles and the dropout masks from `seed` (42 by default).
    pub fn seed(mut self, seed: u64) -> Self {
        self.options.seed = seed;
        self
    }

    /// The optimizer's learning rate (Adam's, 0.001 by default, or plain SGD's once
    /// [`RunSpec::sgd`] chose it), constant unless a schedule is set ([`RunSpec::cosine_decay`]).
    pub fn learning_rate(mut self, learning_rate: f64) -> Self {
        match &mut self.options.sgd {
            Some(sgd) => sgd.learning_rate = learning_rate,
            None => self.options.adam.learning_rate = learning_rate,
        }
        self
    }

    /// Plain gradient descent at `learning_rate` instead of Adam: Keras' `SGD(learning_rate)`.
    pub fn sgd(mut self, learning_rate: f64) -> Self {
        self.options.sgd = Some(crate::optim::SgdConfig { learning_rate });
        self
    }

    /// Stops when the validation loss stops improving, as `early_stopping` says, and keeps
    /// the best epoch's weights (by default every epoch runs).
    pub fn early_stopping(mut self, early_stopping: EarlyStopping) -> Self {
        self.options.early_stopping = Some(early_stopping);
        self
    }

    /// Trains on the first `n` training images only (before the validation split).
    pub fn train_limit(mut self, n: usize) -> Self {
        self.train_limit = Some(n);
        self
    }

    /// Evaluates on the first `n` test images only.
    pub fn test_limit(mut self, n: usize) -> Self {
        self.test_limit = Some(n);
        self
    }

    /// The test images this run is evaluated on: all, or the first `test_limit`.
    pub fn test_set(&self, mnist: &Mnist) -> TestSet {
        mnist.test.take(self.test_limit.unwrap_or(mnist.test.len()))
    }

    /// Adam at `learning_rate`, decayed along a cosine to zero over the run's epochs (however
    /// many `epochs` says when it trains): Keras'
    /// `Adam(CosineDecay(learning_rate, epochs * steps_per_epoch))`.
    pub fn cosine_decay(mut self, learning_rate: f64) -> Self {
        self.options.lr_schedule = LrSchedule::cosine_decay();
        self.learning_rate(learning_rate)
    }

    /// The optimizer's `clipnorm=max_norm` in Keras (Adam's or SGD's): every parameter's
    /// gradient clipped on its own to an L2 norm of at most `max_norm` before each update.
    pub fn clipnorm(mut self, max_norm: f64) -> Self {
        self.options.clipnorm = Some(max_norm);
        self
    }

    /// A quick version of this run, as `make test` runs the notebooks: 3,000 training and
    /// 1,000 test images and at most 2 epochs. It has its own key, so it never replaces the
    /// full run.
    pub fn quick(mut self) -> Self {
        self.train_limit = Some(3000);
        self.test_limit = Some(1000);
        self.epochs = self.epochs.min(2);
        self
    }

    /// Everything that determines the result, and nothing else (not the name, where
    /// checkpoints go or how progress shows), in a form that names its version: the run key
    /// hashes it. A change to what the key covers changes [`KEY_VERSION`].
    pub fn canonical_description(&self) -> String {
        #[derive(Serialize)]
        struct Identity<'a> {
            model: &'a ModelConfig,
            options: &'a TrainOptions,
            epochs: usize,
            batch_size: usize,
            split: &'a ValidationSplit,
            train_limit: Option<usize>,
            test_limit: Option<usize>,
        }
        let identity = Identity {
            model: &self.model,
            options: &self.options,
            epochs: self.epochs,
            batch_size: self.batch_size,
            split: &self.split,
            train_limit: self.train_limit,
            test_limit: self.test_limit,
        };
        let json = serde_json::to_string(&identity).unwrap_or_default();
        format!("lstm_support run v{KEY_VERSION} {json}")
    }

    /// A stable identifier of the run: 16 hex digits of the SHA-256 of
    /// [`RunSpec::canonical_description`].
    pub fn key(&self) -> String {
        let description = self.canonical_description();
        crate::data::source::sha256_hex(description.as_bytes())[..16].to_owned()
    }

    /// The run's directory under `runs_dir`: `<slug of name>-<key>`.
    pub fn dir(&self, runs_dir: &Path) -> PathBuf {
        runs_dir.join(format!("{}-{}", self.slug(), self.key()))
    }

    /// The name in lower case with `-` for anything but letters and digits.
    fn slug(&self) -> String {
        let slug: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        // One dash between words: `LSTM 32 (30 epochs)` is `lstm-32-30-epochs`.
        let words: Vec<&str> = slug.split('-').filter(|w| !w.is_empty()).collect();
        if words.is_empty() {
            "run".to_owned()
        } else {
            words.join("-")
        }
    }

    /// Checks everything a run needs before any training starts.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        self.options.validate()?;
        self.split.validate()?;
        if self.epochs == 0 {
            return Err(Error::invalid("epochs", "0; train for at least 1 epoch"));
        }
        if self.batch_size == 0 {
            return Err(Error::invalid("batch_size", "0; it must be at least 1"));
        }
        Ok(())
    }
}

/// The version of [`RunSpec::canonical_description`].
pub const KEY_VERSION: u32 = 2;

/// Test-set results as stored in a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestMetrics {
    pub loss: f64,
    pub accuracy: f64,
    pub predictions: Vec<i64>,
    pub labels: Vec<i64>,
    pub confidences: Vec<f32>,
}

/// What a record keeps of a model's evaluation: everything but the probabilities (the
/// predicted class's confidence stays).
impl From<Evaluation> for TestMetrics {
    fn from(evaluation: Evaluation) -> Self {
        TestMetrics {
            loss: evaluation.loss,
            accuracy: evaluation.accuracy,
            predictions: evaluation.predictions,
            labels: evaluation.labels,
            confidences: evaluation.confidences,
        }
    }
}

/// The kept model's answer for every validation image, in the validation set's order: what a
/// paired test of two models validated on the same images compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationPredictions {
    pub predictions: Vec<i64>,
    pub labels: Vec<i64>,
}

impl ValidationPredictions {
    /// Whether each validation image was classified right.
    pub fn correct(&self) -> Vec<bool> {
        self.predictions
            .iter()
            .zip(&self.labels)
            .map(|(p, l)| p == l)
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Training (all epochs, including validation) in seconds.
    pub train_seconds: f64,
    pub seconds_per_epoch: f64,
    pub evaluate_seconds: f64,
}

impl Timings {
    /// The timings of a run that trained as `history` says and evaluated in
    /// `evaluate_seconds`.
    pub fn new(history: &History, evaluate_seconds: f64) -> Self {
        Timings {
            train_seconds: history.epochs.iter().map(|e| e.seconds).sum(),
            seconds_per_epoch: history.seconds_per_epoch(),
            evaluate_seconds,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Versions {
    pub lstm_support: String,
    pub tch: String,
    pub torch: String,
}

impl Versions {
    pub fn current() -> Self {
        Versions {
            lstm_support: env!("CARGO_PKG_VERSION").to_owned(),
            tch: "0.26.0".to_owned(),
            torch: crate::device::torch_version().to_owned(),
        }
    }
}

/// A finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub format_version: u32,
    pub key: String,
    pub spec: RunSpec,
    pub parameters: i64,
    pub history: History,
    pub stopped_early: bool,
    pub test: TestMetrics,
    /// The kept model's validation predictions; `None` in records written before they were
    /// kept (retrain such a run for a paired comparison).
    #[serde(default)]
    pub validation: Option<ValidationPredictions>,
    pub timings: Timings,
    /// e.g. `cpu (2 threads)` or `cuda:0`.
    pub device: String,
    pub versions: Versions,
    /// Seconds since the Unix epoch when the record was written.
    pub finished_at: u64,
}

/// The record format this version writes; it also reads [`version1::RECORD_FORMAT`].
pub const RECORD_FORMAT: u32 = 2;
/// A run directory's record.
pub const RECORD_FILE: &str = "record.json";
/// A run directory's trained model ([`crate::model::Model::save`]).
pub const MODEL_FILE: &str = "model.safetensors";

impl RunRecord {
    /// The record of a run of `spec` that finished now, with this lstm_support and libtorch,
    /// on `device` (e.g. `cpu (2 threads)`, [`describe_device`]). It records the spec under its
    /// key, without where checkpoints went or how progress showed, which are not part of the
    /// run.
    pub fn new(
        spec: &RunSpec,
        parameters: i64,
        history: History,
        stopped_early: bool,
        test: TestMetrics,
        timings: Timings,
        device: impl Into<String>,
    ) -> Self {
        let mut recorded = spec.clone();
        recorded.options.checkpoint_dir = None;
        recorded.options.progress = Default::default();
        RunRecord {
            format_version: RECORD_FORMAT,
            key: spec.key(),
            spec: recorded,
            parameters,
            history,
            stopped_early,
            test,
            validation: None,
            timings,
            device: device.into(),
            versions: Versions::current(),
            finished_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// Reads a record, refusing formats this version does not know.
    pub fn load(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path).map_err(|e| io_error("read", path, e))?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// Parses a record's JSON; `origin` (a path) names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self> {
        let what = || format!("run record {origin}");
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid(what(), format!("not valid JSON ({e})")))?;
        let version = value.get("format_version").and_then(|v| v.as_u64());
        let known = [version1::RECORD_FORMAT, RECORD_FORMAT].map(u64::from);
        if !version.is_some_and(|v| known.contains(&v)) {
            return Err(Error::invalid(
                what(),
                format!(
                    "format version {version:?}, but this lstm_support reads versions \
                     {} and {RECORD_FORMAT}; retrain (RETRAIN=1) or use the \
                     lstm_support that wrote it",
                    version1::RECORD_FORMAT
                ),
            ));
        }
        serde_json::from_value(value)
            .map_err(|e| Error::invalid(what(), format!("unexpected content ({e})")))
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        write_json_atomically(path, self)
    }

    /// How many images the run validated on (what the validation accuracy's noise depends
    /// on): the spec's fraction of the 60,000 MNIST training images, or of `train_limit`.
    pub fn validation_images(&self) -> usize {
        let pool = self.spec.train_limit.map_or(60_000, |n| n.min(60_000));
        (pool as f64 * self.spec.split.validation_fraction).round() as usize
    }

    /// The epoch (1-based) whose weights the run kept: the final one, or, when early stopping
    /// ended the run and restored the best weights, the epoch of the lowest validation loss
    /// (as [`crate::training::EarlyStopping`] tracks it). 0 for a record without epochs.
    pub fn kept_epoch(&self) -> usize {
        let epochs = &self.history.epochs;
        let rule = self
            .spec
            .options
            .early_stopping
            .filter(|rule| self.stopped_early && rule.restore_best_weights);
        let Some(rule) = rule else {
            return epochs.last().map_or(0, |e| e.epoch);
        };
        let mut best: Option<&crate::training::EpochMetrics> = None;
        for e in epochs {
            if best.is_none_or(|b| e.val_loss < b.val_loss - rule.min_delta) {
                best = Some(e);
            }
        }
        best.map_or(0, |e| e.epoch)
    }

    /// The validation accuracy of the weights the run kept ([`Self::kept_epoch`]): the number
    /// to compare runs by. The maximum over epochs would be biased upward, since it picks the
    /// luckiest of many noisy measurements.
    pub fn kept_val_accuracy(&self) -> f64 {
        let epoch = self.kept_epoch();
        self.history
            .epochs
            .iter()
            .find(|e| e.epoch == epoch)
            .map_or(0.0, |e| e.val_accuracy)
    }

    /// Best validation accuracy over the epochs.
    pub fn best_val_accuracy(&self) -> f64 {
        self.history
            .best_val_accuracy()
            .map_or(0.0, |e| e.val_accuracy)
    }
}

/// Analyses, figures and tables take anything that holds a record: records, references to
/// them, and the session's runs.
impl AsRef<RunRecord> for RunRecord {
    fn as_ref(&self) -> &RunRecord {
        self
    }
}

/// e.g. `cpu (2 threads)` or `cuda:0`.
pub fn describe_device(device: Device) -> String {
    match device {
        Device::Cpu => format!("cpu ({} threads)", tch::get_num_threads()),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::Progress;

    #[test]
    fn key_ignores_name_and_progress_but_not_the_seed() {
        let a = RunSpec::new("LSTM 32", ModelConfig::lstm(32, 0.15));
        let mut b = a.clone();
        b.name = "other".into();
        b.options.progress = Progress::Lines;
        b.options.checkpoint_dir = Some("/tmp/x".into());
        assert_eq!(a.key(), b.key());
        let mut c = a.clone();
        c.options.seed = 43;
        assert_ne!(a.key(), c.key());
        let mut d = a.clone();
        d.model = ModelConfig::lstm(48, 0.15);
        assert_ne!(a.key(), d.key());
        let e = a.clone().cosine_decay(1e-3);
        assert_ne!(a.key(), e.key());
        // clipnorm is part of the run when set, and absent from the description otherwise,
        // so the runs recorded before it existed keep their keys.
        let f = a.clone().clipnorm(1.0);
        assert_ne!(a.key(), f.key());
        assert!(!a.canonical_description().contains("clipnorm"));
        assert!(f.canonical_description().contains("\"clipnorm\":1.0"));
        let g = a.clone().sgd(0.3);
        assert_ne!(a.key(), g.key());
        // The rate set afterwards is the chosen optimizer's.
        assert_eq!(g.clone().learning_rate(0.1).options.learning_rate(), 0.1);
        assert_eq!(g.options.adam, a.options.adam);
        assert!(!a.canonical_description().contains("sgd"));
        // The key of the assignment's main run, as version 2 has always written it.
        let main = RunSpec::new("LSTM 32 (30 epochs)", ModelConfig::lstm(32, 0.15))
            .epochs(30)
            .cosine_decay(2e-3);
        assert_eq!(main.key(), "0430f8eea44125f0");
        assert!(a
            .canonical_description()
            .starts_with("lstm_support run v2 {"));
        assert!(a
            .dir(Path::new("runs"))
            .to_string_lossy()
            .starts_with("runs/lstm-32-"));
        let named = RunSpec::new("LSTM 32 (30 epochs)", ModelConfig::lstm(32, 0.15));
        assert!(named
            .dir(Path::new("runs"))
            .to_string_lossy()
            .starts_with("runs/lstm-32-30-epochs-"));
    }

    #[test]
    fn a_spec_means_the_same_in_any_order() {
        let model = ModelConfig::lstm(32, 0.15);
        let epochs_first = RunSpec {
            epochs: 30,
            ..RunSpec::new("a", model.clone())
        }
        .cosine_decay(2e-3);
        let mut schedule_first = RunSpec::new("a", model).cosine_decay(2e-3);
        schedule_first.epochs = 30;
        assert_eq!(epochs_first, schedule_first);
        assert_eq!(epochs_first.key(), schedule_first.key());
        let built = RunSpec::new("a", ModelConfig::lstm(32, 0.15))
            .epochs(30)
            .cosine_decay(2e-3);
        assert_eq!(built, epochs_first);
    }

    /// Each builder sets the field it names, and only that one.
    #[test]
    fn builders_set_the_fields_they_name() {
        let base = RunSpec::new("a", ModelConfig::lstm(32, 0.15));
        let split = ValidationSplit::keras_tail(0.1);
        let stopping = EarlyStopping {
            patience: 5,
            ..Default::default()
        };
        let mut expected = base.clone();
        expected.epochs = 12;
        expected.batch_size = 64;
        expected.split = split.clone();
        expected.options.seed = 7;
        expected.options.adam.learning_rate = 5e-3;
        expected.options.early_stopping = Some(stopping);
        expected.train_limit = Some(1000);
        expected.test_limit = Some(100);
        let built = base
            .epochs(12)
            .batch_size(64)
            .split(split)
            .seed(7)
            .learning_rate(5e-3)
            .early_stopping(stopping)
            .train_limit(1000)
            .test_limit(100);
        assert_eq!(built, expected);
        assert!(built.options.lr_schedule.is_constant());
    }

    /// What a record keeps of a model's evaluation, and what it sets by itself.
    #[test]
    fn a_record_is_built_from_its_spec_and_evaluation() {
        let mut spec = RunSpec::new("LSTM 32", ModelConfig::lstm(32, 0.15));
        spec.options.progress = Progress::Silent;
        spec.options.checkpoint_dir = Some("/tmp/checkpoint".into());
        let evaluation = Evaluation {
            loss: 0.25,
            accuracy: 0.5,
            predictions: vec![3, 5],
            labels: vec![3, 3],
            confidences: vec![0.9, 0.6],
            probabilities: tch::Tensor::zeros([2, 10], (tch::Kind::Float, Device::Cpu)),
        };
        let test = TestMetrics::from(evaluation);
        assert_eq!(
            test,
            TestMetrics {
                loss: 0.25,
                accuracy: 0.5,
                predictions: vec![3, 5],
                labels: vec![3, 3],
                confidences: vec![0.9, 0.6],
            }
        );
        let history = History::default();
        let timings = Timings::new(&history, 0.5);
        assert_eq!(
            (timings.train_seconds, timings.evaluate_seconds),
            (0.0, 0.5)
        );
        let record = RunRecord::new(&spec, 4_554, history, true, test, timings, "cpu");
        assert_eq!(record.format_version, RECORD_FORMAT);
        assert_eq!(record.key, spec.key());
        assert_eq!(record.spec.options.checkpoint_dir, None);
        assert_eq!(record.spec.options.progress, Progress::Auto);
        assert_eq!(record.spec.key(), spec.key());
        assert!(record.stopped_early && record.finished_at > 0);
        assert_eq!(record.versions, Versions::current());
    }

    #[test]
    fn newer_record_format_is_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record.json");
        fs::write(&path, r#"{"format_version": 99}"#).unwrap();
        let err = RunRecord::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("format version") && err.contains("RETRAIN"),
            "{err}"
        );
        fs::write(&path, "{").unwrap();
        assert!(RunRecord::load(&path)
            .unwrap_err()
            .to_string()
            .contains("JSON"));
    }

    #[test]
    fn the_kept_epoch_is_the_last_or_the_one_early_stopping_restored() {
        let mut record = crate::testutil::run_record(
            "LSTM 32",
            8138,
            &[(0.9, 0.95), (0.95, 0.97), (0.97, 0.96), (0.98, 0.955)],
            0.96,
            10.0,
        );
        // The testutil losses are 1 - accuracy: lowest validation loss at epoch 2.
        assert_eq!(
            (record.kept_epoch(), record.kept_val_accuracy()),
            (4, 0.955)
        );
        assert_eq!(record.best_val_accuracy(), 0.97);
        record.spec.options.early_stopping = Some(crate::training::EarlyStopping::default());
        assert_eq!(
            record.kept_epoch(),
            4,
            "not stopped early: the last epoch's weights"
        );
        record.stopped_early = true;
        assert_eq!((record.kept_epoch(), record.kept_val_accuracy()), (2, 0.97));
        record.spec.options.early_stopping = Some(crate::training::EarlyStopping {
            restore_best_weights: false,
            ..Default::default()
        });
        assert_eq!(
            record.kept_epoch(),
            4,
            "stopped, weights not restored: the last epoch's"
        );
        record.history.epochs.clear();
        assert_eq!((record.kept_epoch(), record.kept_val_accuracy()), (0, 0.0));
    }
}
