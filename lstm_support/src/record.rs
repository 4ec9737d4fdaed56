//! Run records: everything about a finished run (spec, history, test metrics, timings,
//! device, versions) saved as JSON beside its weights, so notebooks and reports reuse finished
//! runs instead of retraining. The same spec (model, options, seed, data) maps to the same
//! directory; [`run_or_load`] loads the stored run unless asked to retrain, and resumes from
//! the run's checkpoint when an earlier attempt was interrupted.
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::Device;

use crate::data::{Mnist, ValidationSplit};
use crate::error::{Error, Result};
use crate::fsutil::{io_error, write_json_atomically};
use crate::model::ModelConfig;
use crate::optim::LrSchedule;
use crate::training::{History, Progress, TrainOptions, Trainer};

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
    pub fn test_set(&self, mnist: &Mnist) -> crate::data::TestSet {
        mnist.test.take(self.test_limit.unwrap_or(mnist.test.len()))
    }

    /// Adam at `learning_rate`, decayed along a cosine to zero over this spec's `epochs`
    /// (set `epochs` first): Keras' `Adam(CosineDecay(learning_rate, epochs * steps_per_epoch))`.
    pub fn cosine_decay(mut self, learning_rate: f64) -> Self {
        self.options.adam.learning_rate = learning_rate;
        self.options.lr_schedule = LrSchedule::CosineDecay {
            decay_epochs: self.epochs,
            alpha: 0.0,
        };
        self
    }

    /// A stable identifier of everything that affects the result (not the name, the progress
    /// display or where checkpoints go): 16 hex digits of a SHA-256.
    pub fn key(&self) -> String {
        let mut identity = self.clone();
        identity.name = String::new();
        identity.options.checkpoint_dir = None;
        identity.options.progress = Progress::Silent;
        let json = serde_json::to_string(&identity).unwrap_or_default();
        crate::data::source::sha256_hex(json.as_bytes())[..16].to_owned()
    }

    /// The run's directory under `runs_dir`: `<slug of name>-<key>`.
    pub fn dir(&self, runs_dir: &Path) -> PathBuf {
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
        let slug = slug.trim_matches('-');
        runs_dir.join(format!(
            "{}-{}",
            if slug.is_empty() { "run" } else { slug },
            self.key()
        ))
    }
}

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

pub const RECORD_FORMAT: u32 = 1;
const RECORD_FILE: &str = "record.json";
const WEIGHTS_FILE: &str = "weights.safetensors";

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
        if version != Some(u64::from(RECORD_FORMAT)) {
            return Err(Error::invalid(
                what(),
                format!(
                    "format version {version:?}, but this lstm_support reads version {RECORD_FORMAT}; \
                     retrain (RETRAIN=1) or use the lstm_support that wrote it"
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

/// A run, either just trained or loaded from its record, with its trained model.
#[derive(Debug)]
pub struct Run {
    pub record: RunRecord,
    pub trainer: Trainer,
    /// Whether the record was loaded rather than trained now.
    pub reused: bool,
    pub dir: PathBuf,
}

/// Whether notebooks run in quick mode (`QUICK=1`, as `make test` sets): a few thousand
/// images and at most 2 epochs, through the same cells.
pub fn quick_mode() -> bool {
    std::env::var("QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

impl RunSpec {
    /// In quick mode ([`quick_mode`]), shrinks the run to 3,000 training and 1,000 test images
    /// and at most 2 epochs; otherwise returns it unchanged. Quick runs have their own keys, so
    /// they never replace full runs.
    pub fn quick_if_requested(mut self) -> Self {
        if quick_mode() {
            self.train_limit = Some(3000);
            self.test_limit = Some(1000);
            self.epochs = self.epochs.min(2);
            // The schedule shrinks with the run, so a quick run decays as the full one does.
            if let LrSchedule::CosineDecay { decay_epochs, .. } = &mut self.options.lr_schedule {
                *decay_epochs = (*decay_epochs).min(self.epochs);
            }
        }
        self
    }
}

/// The project's `runs/` directory, where notebooks keep their run records.
pub fn default_runs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("runs"), |root| root.join("runs"))
}

/// Whether the user asked to retrain (`RETRAIN=1`, as `make notebooks RETRAIN=1` sets).
pub fn retrain_requested() -> bool {
    std::env::var("RETRAIN").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Loads the finished run for `spec` from `runs_dir`, or trains it (resuming an interrupted
/// attempt from its checkpoint), evaluates it once on the test set, and records it.
pub fn run_or_load(
    spec: &RunSpec,
    mnist: &Mnist,
    runs_dir: &Path,
    device: Device,
    retrain: bool,
) -> Result<Run> {
    let dir = spec.dir(runs_dir);
    let record_path = dir.join(RECORD_FILE);
    let weights_path = dir.join(WEIGHTS_FILE);
    let checkpoint_dir = dir.join("checkpoint");
    if !retrain && record_path.is_file() && weights_path.is_file() {
        let record = RunRecord::load(&record_path)?;
        let mut trainer = Trainer::new(&spec.model, spec.options.clone(), device)?;
        trainer.load_weights(&weights_path)?;
        println!(
            "{}: reusing the run in {} (val_accuracy {:.4}, test accuracy {:.4}); RETRAIN=1 retrains",
            spec.name,
            dir.display(),
            record.best_val_accuracy(),
            record.test.accuracy
        );
        return Ok(Run {
            record,
            trainer,
            reused: true,
            dir,
        });
    }
    if retrain && checkpoint_dir.exists() {
        fs::remove_dir_all(&checkpoint_dir).map_err(|e| io_error("remove", &checkpoint_dir, e))?;
    }
    let (train, validation) = match spec.train_limit {
        Some(n) => mnist.train.take(n).split(&spec.split)?,
        None => mnist.train.split(&spec.split)?,
    };
    let test = spec.test_set(mnist);
    let mut trainer = if checkpoint_dir.join("checkpoint.json").is_file() {
        println!("{}: resuming from {}", spec.name, checkpoint_dir.display());
        Trainer::resume(&checkpoint_dir, device)?
    } else {
        let mut options = spec.options.clone();
        options.checkpoint_dir = Some(checkpoint_dir.clone());
        Trainer::new(&spec.model, options, device)?
    };
    println!(
        "{}: {} ({} parameters), {} training / {} validation images, {} epochs of batch {} on {}",
        spec.name,
        spec.model.describe(),
        trainer.parameter_count(),
        train.len(),
        validation.len(),
        spec.epochs,
        spec.batch_size,
        describe_device(device)
    );
    let history = trainer.fit(&train, &validation, spec.epochs, spec.batch_size)?;
    let started = Instant::now();
    let evaluation = trainer.evaluate(&test)?;
    let evaluate_seconds = started.elapsed().as_secs_f64();
    trainer.save_weights(&weights_path)?;
    let record = RunRecord {
        format_version: RECORD_FORMAT,
        key: spec.key(),
        spec: spec.clone(),
        parameters: trainer.parameter_count(),
        stopped_early: trainer.stopped_early(),
        test: TestMetrics {
            loss: evaluation.loss,
            accuracy: evaluation.accuracy,
            predictions: evaluation.predictions,
            labels: evaluation.labels,
            confidences: evaluation.confidences,
        },
        timings: Timings {
            train_seconds: history.epochs.iter().map(|e| e.seconds).sum(),
            seconds_per_epoch: history.seconds_per_epoch(),
            evaluate_seconds,
        },
        history,
        device: describe_device(device),
        versions: Versions::current(),
        finished_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    record.save(&record_path)?;
    // The record and weights now stand for the run; the checkpoint has served its purpose,
    // and temporary files of an earlier attempt that was killed are garbage.
    let _ = fs::remove_dir_all(&checkpoint_dir);
    crate::fsutil::remove_stale_temp_files(&dir);
    println!(
        "{}: test accuracy {:.4}, test loss {:.4}; recorded in {}",
        spec.name,
        record.test.accuracy,
        record.test.loss,
        record_path.display()
    );
    Ok(Run {
        record,
        trainer,
        reused: false,
        dir,
    })
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
        // A constant rate is left out of the JSON, so runs recorded before schedules existed
        // keep their keys.
        let json = serde_json::to_string(&a).unwrap();
        assert!(!json.contains("lr_schedule"), "{json}");
        assert!(a
            .dir(Path::new("runs"))
            .to_string_lossy()
            .starts_with("runs/lstm-32-"));
    }

    #[test]
    fn a_finished_run_is_reused_unless_retraining_is_asked_for() {
        let _rng = crate::torch_rng_lock();
        let mnist = crate::testutil::synthetic_mnist(200, 50);
        let runs = tempfile::tempdir().unwrap();
        let mut spec = RunSpec::new("tiny", ModelConfig::lstm(8, 0.15));
        spec.epochs = 2;
        spec.batch_size = 32;
        spec.options.progress = Progress::Silent;
        let first = run_or_load(&spec, &mnist, runs.path(), Device::Cpu, false).unwrap();
        assert!(!first.reused);
        assert_eq!(first.record.history.len(), 2);
        assert_eq!(first.record.test.predictions.len(), 50);
        assert_eq!(first.record.parameters, 8 * 4 * (28 + 8 + 1) + 90);
        assert!(!first.dir.join("checkpoint").exists());
        let again = run_or_load(&spec, &mnist, runs.path(), Device::Cpu, false).unwrap();
        assert!(again.reused);
        assert_eq!(again.record, first.record);
        // The reloaded weights give the recorded test accuracy.
        let evaluation = again.trainer.evaluate(&mnist.test).unwrap();
        assert!((evaluation.accuracy - first.record.test.accuracy).abs() < 1e-12);
        let retrained = run_or_load(&spec, &mnist, runs.path(), Device::Cpu, true).unwrap();
        assert!(!retrained.reused);
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
