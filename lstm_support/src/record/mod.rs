//! Run records: everything about a finished run (spec, history, test metrics, timings,
//! device, versions) saved as JSON beside its model file, so notebooks and reports reuse
//! finished runs instead of retraining. The same spec (model, options, seed, data) maps to the
//! same directory, named by a key from a versioned canonical description of the spec;
//! [`crate::session::Session::run`] loads the stored run or trains it.
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::Device;

use crate::data::{Mnist, TestSet, ValidationSplit};
use crate::error::{Error, Result};
use crate::fsutil::{io_error, write_json_atomically};
use crate::model::ModelConfig;
use crate::optim::LrSchedule;
use crate::training::{History, TrainOptions};

mod tables;
pub use tables::{describe_split, predictions_table, runs_table};

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

    /// The test images this run is evaluated on: all, or the first `test_limit`.
    pub fn test_set(&self, mnist: &Mnist) -> TestSet {
        mnist.test.take(self.test_limit.unwrap_or(mnist.test.len()))
    }

    /// Adam at `learning_rate`, decayed along a cosine to zero over the run's epochs (however
    /// many `epochs` says when it trains): Keras'
    /// `Adam(CosineDecay(learning_rate, epochs * steps_per_epoch))`.
    pub fn cosine_decay(mut self, learning_rate: f64) -> Self {
        self.options.adam.learning_rate = learning_rate;
        self.options.lr_schedule = LrSchedule::cosine_decay();
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

    /// The key lstm_support gave this spec before key versions existed (version 1), so that
    /// runs recorded then are still found.
    pub fn legacy_key_v1(&self) -> String {
        let json = legacy::spec_json_v1(self);
        crate::data::source::sha256_hex(json.as_bytes())[..16].to_owned()
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
        self.options.adam.validate()?;
        self.options.lr_schedule.validate()?;
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Training (all epochs, including validation) in seconds.
    pub train_seconds: f64,
    pub seconds_per_epoch: f64,
    pub evaluate_seconds: f64,
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
    pub timings: Timings,
    /// e.g. `cpu (2 threads)` or `cuda:0`.
    pub device: String,
    pub versions: Versions,
    /// Seconds since the Unix epoch when the record was written.
    pub finished_at: u64,
}

/// The record format this version writes; it also reads [`LEGACY_RECORD_FORMAT`].
pub const RECORD_FORMAT: u32 = 2;
/// Records written before the model file and key versions (weights in `weights.safetensors`
/// under `VarStore` names); [`crate::session::Session::run`] migrates them.
pub const LEGACY_RECORD_FORMAT: u32 = 1;
/// A run directory's record.
pub const RECORD_FILE: &str = "record.json";
/// A run directory's trained model ([`crate::model::Model::save`]).
pub const MODEL_FILE: &str = "model.safetensors";
/// Where format-1 records kept their weights.
pub const LEGACY_WEIGHTS_FILE: &str = "weights.safetensors";

impl RunRecord {
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
        let known = [LEGACY_RECORD_FORMAT, RECORD_FORMAT].map(u64::from);
        if !version.is_some_and(|v| known.contains(&v)) {
            return Err(Error::invalid(
                what(),
                format!(
                    "format version {version:?}, but this lstm_support reads versions \
                     {LEGACY_RECORD_FORMAT} and {RECORD_FORMAT}; retrain (RETRAIN=1) or use the \
                     lstm_support that wrote it"
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

/// The JSON that version 1 hashed into a run key, rebuilt from today's spec: the same fields
/// in the same order, the recurrent layers tagged by cell (`{"type":"lstm",...}`), the schedule
/// with its length (always the run's epochs), progress "silent" and no checkpoint directory.
mod legacy {
    use serde::Serialize;

    use super::RunSpec;
    use crate::data::ValidationSplit;
    use crate::model::{InputLayout, Layer};
    use crate::nn::rnn::CellKind;
    use crate::optim::{AdamConfig, LrSchedule};
    use crate::training::EarlyStopping;

    #[derive(Serialize)]
    struct SpecV1<'a> {
        name: &'a str,
        model: ModelV1<'a>,
        options: OptionsV1<'a>,
        epochs: usize,
        batch_size: usize,
        split: &'a ValidationSplit,
        train_limit: Option<usize>,
        test_limit: Option<usize>,
    }

    #[derive(Serialize)]
    struct ModelV1<'a> {
        input: &'a InputLayout,
        layers: Vec<LayerV1<'a>>,
        num_classes: usize,
    }

    #[derive(Serialize)]
    #[serde(untagged)]
    enum LayerV1<'a> {
        Recurrent(RecurrentV1),
        Other(&'a Layer),
    }

    #[derive(Serialize)]
    #[serde(rename_all = "snake_case", tag = "type")]
    enum RecurrentV1 {
        Lstm(RecurrentConfigV1),
        Gru(RecurrentConfigV1),
        SimpleRnn(RecurrentConfigV1),
    }

    #[derive(Serialize)]
    struct RecurrentConfigV1 {
        units: usize,
        dropout: f64,
        recurrent_dropout: f64,
        return_sequences: bool,
    }

    #[derive(Serialize)]
    struct OptionsV1<'a> {
        seed: u64,
        adam: &'a AdamConfig,
        early_stopping: &'a Option<EarlyStopping>,
        checkpoint_dir: Option<()>,
        progress: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        lr_schedule: Option<ScheduleV1>,
    }

    #[derive(Serialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum ScheduleV1 {
        CosineDecay { decay_epochs: usize, alpha: f64 },
    }

    pub(super) fn spec_json_v1(spec: &RunSpec) -> String {
        let layers = spec
            .model
            .layers
            .iter()
            .map(|layer| match layer {
                Layer::Recurrent(c) => {
                    let config = RecurrentConfigV1 {
                        units: c.units,
                        dropout: c.dropout,
                        recurrent_dropout: c.recurrent_dropout,
                        return_sequences: c.return_sequences,
                    };
                    LayerV1::Recurrent(match c.cell {
                        CellKind::Lstm => RecurrentV1::Lstm(config),
                        CellKind::Gru => RecurrentV1::Gru(config),
                        CellKind::SimpleRnn => RecurrentV1::SimpleRnn(config),
                    })
                }
                other => LayerV1::Other(other),
            })
            .collect();
        let lr_schedule = match spec.options.lr_schedule {
            LrSchedule::Constant => None,
            LrSchedule::CosineDecay { alpha } => Some(ScheduleV1::CosineDecay {
                decay_epochs: spec.epochs,
                alpha,
            }),
        };
        let v1 = SpecV1 {
            name: "",
            model: ModelV1 {
                input: &spec.model.input,
                layers,
                num_classes: spec.model.num_classes,
            },
            options: OptionsV1 {
                seed: spec.options.seed,
                adam: &spec.options.adam,
                early_stopping: &spec.options.early_stopping,
                checkpoint_dir: None,
                progress: "silent",
                lr_schedule,
            },
            epochs: spec.epochs,
            batch_size: spec.batch_size,
            split: &spec.split,
            train_limit: spec.train_limit,
            test_limit: spec.test_limit,
        };
        serde_json::to_string(&v1).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::rnn::CellKind;
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
    }

    /// The notebooks' runs and the keys version 1 gave them (the directory names in the
    /// notebooks' outputs before key versions existed).
    #[test]
    fn legacy_keys_are_those_version_1_wrote() {
        let cosine = |name: &str, model: ModelConfig, epochs: usize| {
            RunSpec {
                epochs,
                ..RunSpec::new(name, model)
            }
            .cosine_decay(2e-3)
        };
        let cnn_split = ValidationSplit {
            validation_fraction: 0.1,
            ..Default::default()
        };
        let cases = [
            (
                cosine("", ModelConfig::lstm(32, 0.15), 30),
                "4a3f8a157a40db4b",
            ),
            (
                cosine("", ModelConfig::lstm(32, 0.15), 12),
                "9cb8b38c74079fa4",
            ),
            (
                RunSpec {
                    epochs: 10,
                    ..RunSpec::new("", ModelConfig::lstm(32, 0.15))
                },
                "243af0c4aa32aa01",
            ),
            (
                cosine("", ModelConfig::lstm(48, 0.15), 12),
                "46a97b2d0ab2b092",
            ),
            (
                cosine("", ModelConfig::lstm(96, 0.15), 12),
                "8a71c26aab6de8f3",
            ),
            (
                cosine("", ModelConfig::lstm(256, 0.15), 12),
                "83b31f3fad2434c3",
            ),
            (
                cosine(
                    "",
                    ModelConfig::stacked(CellKind::Lstm, &[32, 32], 0.15),
                    30,
                ),
                "0f68f776594b45cb",
            ),
            (
                RunSpec {
                    epochs: 10,
                    ..RunSpec::new("", ModelConfig::recurrent(CellKind::Gru, 32, 0.15))
                },
                "ca3769055b6a3419",
            ),
            (
                RunSpec {
                    epochs: 10,
                    ..RunSpec::new("", ModelConfig::recurrent(CellKind::SimpleRnn, 32, 0.15))
                },
                "f23af4c6fe1aee45",
            ),
            (
                RunSpec {
                    epochs: 5,
                    split: cnn_split.clone(),
                    ..RunSpec::new("", ModelConfig::cnn())
                },
                "33faeabb342749a7",
            ),
            (
                RunSpec {
                    epochs: 5,
                    batch_size: 64,
                    split: cnn_split,
                    ..RunSpec::new("", ModelConfig::cnn_deep())
                }
                .cosine_decay(2e-3),
                "3d42f38857a143f0",
            ),
        ];
        for (spec, key) in cases {
            assert_eq!(spec.legacy_key_v1(), key, "{}", spec.model.describe());
            assert_ne!(spec.key(), key);
        }
    }

    #[test]
    fn records_of_version_1_still_read() {
        let record = RunRecord {
            format_version: RECORD_FORMAT,
            key: "k".into(),
            spec: RunSpec::new("GRU 32", ModelConfig::recurrent(CellKind::Gru, 32, 0.15))
                .cosine_decay(2e-3),
            parameters: 6282,
            history: History::default(),
            stopped_early: false,
            test: TestMetrics {
                loss: 0.1,
                accuracy: 0.9,
                predictions: vec![1],
                labels: vec![1],
                confidences: vec![0.5],
            },
            timings: Timings {
                train_seconds: 1.0,
                seconds_per_epoch: 1.0,
                evaluate_seconds: 0.1,
            },
            device: "cpu".into(),
            versions: Versions::current(),
            finished_at: 0,
        };
        let json = serde_json::to_string(&record).unwrap();
        // Version 1 tagged the layer by its cell and gave the schedule a length.
        let old = json
            .replace(r#"{"type":"recurrent","cell":"gru","#, r#"{"type":"gru","#)
            .replace(
                r#"{"type":"cosine_decay","alpha""#,
                r#"{"type":"cosine_decay","decay_epochs":10,"alpha""#,
            )
            .replace(r#""format_version":2"#, r#""format_version":1"#);
        assert_ne!(old, json);
        let back = RunRecord::from_json(&old, "old").unwrap();
        assert_eq!(back.spec, record.spec);
        assert_eq!(back.format_version, LEGACY_RECORD_FORMAT);
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
}
