//! A notebook session: the device, chosen once; the runs directory; quick and retrain modes;
//! the data, loaded once. `session.run(&spec)?` trains a run or loads it when it has finished
//! before, and resumes one that was interrupted from its last checkpoint.
//!
//! ```no_run
//! use lstm_support::{model::ModelConfig, record::RunSpec, session::Session};
//! let session = Session::from_env()?; // prints one line: device, runs directory, mode
//! let run = session.run(&RunSpec::new("LSTM 32", ModelConfig::lstm(32, 0.15)))?;
//! println!("{}", run.record.test.accuracy);
//! # Ok::<(), lstm_support::Error>(())
//! ```
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use once_cell::unsync::OnceCell;
use tch::Device;

use crate::data::{Dataset, Loader, Mnist, TestSet};
use crate::error::{Error, Result};
use crate::fsutil::{display_path, io_error, write_json_atomically};
use crate::model::{Model, ModelConfig};
use crate::record::{
    describe_device, RunRecord, RunSpec, TestMetrics, Timings, Versions, LEGACY_WEIGHTS_FILE,
    MODEL_FILE, RECORD_FILE, RECORD_FORMAT,
};
use crate::table::thousands;
use crate::training::{self, checkpoint, History, Trainer};

/// Where runs, data and the device come from, and whether runs are quick or retrained.
#[derive(Debug)]
pub struct Session {
    device: Device,
    runs_dir: PathBuf,
    quick: bool,
    retrain: bool,
    data_dir: Option<PathBuf>,
    mnist: OnceCell<Rc<Mnist>>,
}

/// A run, either just trained or loaded from its record, with its trained model.
#[derive(Debug)]
pub struct Run {
    pub record: RunRecord,
    pub model: Model,
    /// Whether the record was loaded rather than trained now.
    pub reused: bool,
    pub dir: PathBuf,
}

impl Run {
    /// The run's name, e.g. `LSTM 32`.
    pub fn name(&self) -> &str {
        &self.record.spec.name
    }

    pub fn history(&self) -> &History {
        &self.record.history
    }
}

impl AsRef<RunRecord> for Run {
    fn as_ref(&self) -> &RunRecord {
        &self.record
    }
}

/// Whether `QUICK=1` is set (as `make test` does): a few thousand images and at most 2
/// epochs, through the same cells.
pub fn quick_requested() -> bool {
    env_flag("QUICK")
}

/// Whether `RETRAIN=1` is set (as `make notebooks RETRAIN=1` does).
pub fn retrain_requested() -> bool {
    env_flag("RETRAIN")
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Where notebooks keep their run records: `$LSTM_RUNS_DIR` when set, else the project's
/// `runs/`.
pub fn default_runs_dir() -> PathBuf {
    std::env::var_os("LSTM_RUNS_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::fsutil::project_root().join("runs"))
}

impl Session {
    /// The session the notebooks use: the best device (CUDA when usable, else the CPU), the
    /// project's `runs/` (or `$LSTM_RUNS_DIR`), `QUICK` and `RETRAIN` from the environment. Prints one line saying
    /// so.
    pub fn from_env() -> Result<Session> {
        let session = Session::new(crate::device::best_device(), default_runs_dir())
            .quick(quick_requested())
            .retrain(retrain_requested());
        fs::create_dir_all(&session.runs_dir)
            .map_err(|e| io_error("create directory", &session.runs_dir, e))?;
        println!("{}", session.describe());
        Ok(session)
    }

    /// A session on `device` keeping its runs in `runs_dir`, full runs, finished runs reused.
    pub fn new(device: Device, runs_dir: impl Into<PathBuf>) -> Session {
        Session {
            device,
            runs_dir: runs_dir.into(),
            quick: false,
            retrain: false,
            data_dir: None,
            mnist: OnceCell::new(),
        }
    }

    /// Runs on 3,000 training and 1,000 test images for at most 2 epochs ([`RunSpec::quick`]).
    pub fn quick(mut self, quick: bool) -> Self {
        self.quick = quick;
        self
    }

    /// Trains every run again instead of loading finished ones.
    pub fn retrain(mut self, retrain: bool) -> Self {
        self.retrain = retrain;
        self
    }

    /// Reads MNIST from `dir` instead of `$MNIST_DIR` or `data/mnist/`.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Uses `mnist` instead of loading it (tests use small synthetic data).
    pub fn with_data(self, mnist: Mnist) -> Self {
        let _ = self.mnist.set(Rc::new(mnist));
        self
    }

    pub fn device(&self) -> Device {
        self.device
    }

    pub fn runs_dir(&self) -> &Path {
        &self.runs_dir
    }

    pub fn is_quick(&self) -> bool {
        self.quick
    }

    /// One line: device, runs directory (relative to the project), mode.
    pub fn describe(&self) -> String {
        let mode = if self.quick {
            "quick runs (3,000 training images, at most 2 epochs)"
        } else {
            "full runs (QUICK=1 for quick ones)"
        };
        let reuse = if self.retrain {
            "retraining every run (RETRAIN=1)"
        } else {
            "finished runs are reused (RETRAIN=1 retrains)"
        };
        format!(
            "Session: {}, libtorch {} · runs in {}/ · {mode} · {reuse}",
            describe_device(self.device),
            crate::device::torch_version(),
            display_path(&self.runs_dir),
        )
    }

    /// MNIST, loaded and verified on first use; later calls share it. (An `Rc`, not a
    /// reference, so that a notebook can keep it in a variable of its own.)
    pub fn mnist(&self) -> Result<Rc<Mnist>> {
        self.mnist
            .get_or_try_init(|| {
                match &self.data_dir {
                    Some(dir) => Loader::mnist().dir(dir).load(),
                    None => Loader::mnist().load(),
                }
                .map(Rc::new)
            })
            .cloned()
    }

    /// `spec` as this session runs it: shrunk in quick mode.
    pub fn spec(&self, spec: &RunSpec) -> RunSpec {
        if self.quick {
            spec.clone().quick()
        } else {
            spec.clone()
        }
    }

    /// The training and validation images `spec` trains on.
    pub fn split(&self, spec: &RunSpec) -> Result<(Dataset, Dataset)> {
        self.split_as_run(&self.spec(spec))
    }

    /// The split of a spec already as this session runs it ([`Session::spec`]).
    fn split_as_run(&self, spec: &RunSpec) -> Result<(Dataset, Dataset)> {
        let mnist = self.mnist()?;
        match spec.train_limit {
            Some(n) => mnist.train.take(n).split(&spec.split),
            None => mnist.train.split(&spec.split),
        }
    }

    /// The test images `spec` is evaluated on (all, or the first 1,000 in quick mode), in the
    /// order of its record's predictions.
    pub fn test_set(&self, spec: &RunSpec) -> Result<TestSet> {
        Ok(self.spec(spec).test_set(&*self.mnist()?))
    }

    /// `spec` trained once per seed (`options.seed`), each run loaded when finished before
    /// (the records only: for comparing seeds, [`crate::analysis::AcrossSeeds`]).
    pub fn run_seeds(&self, spec: &RunSpec, seeds: &[u64]) -> Result<Vec<RunRecord>> {
        seeds
            .iter()
            .map(|&seed| {
                let mut seeded = spec.clone();
                seeded.options.seed = seed;
                Ok(self.run(&seeded)?.record)
            })
            .collect()
    }

    /// [`training::quick_look`] for a "try this" cell, kept in `runs/quick-looks/` under
    /// [`training::quick_look_key`], so that running the notebook again shows the same curves
    /// without training again; a change to the config or the data looks anew, and so does
    /// RETRAIN=1.
    pub fn quick_look(
        &self,
        config: &ModelConfig,
        train: &Dataset,
        validation: &Dataset,
    ) -> Result<History> {
        let key = training::quick_look_key(config, train, validation)?;
        let dir = self.runs_dir.join("quick-looks");
        let path = dir.join(format!("{key}.json"));
        if !self.retrain && path.is_file() {
            let text = fs::read_to_string(&path).map_err(|e| io_error("read", &path, e))?;
            let history = serde_json::from_str(&text).map_err(|e| {
                Error::invalid(
                    format!("quick look {}", display_path(&path)),
                    format!("not a training history ({e}); delete the file to look again"),
                )
            })?;
            println!(
                "quick look: reusing {} (RETRAIN=1 looks again)",
                display_path(&path)
            );
            return Ok(history);
        }
        let history = training::quick_look(config, train, validation, self.device)?;
        fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, e))?;
        write_json_atomically(&path, &history)?;
        Ok(history)
    }

    /// Loads the finished run for `spec` (in quick mode, its quick version), or trains it
    /// (resuming an interrupted attempt from its checkpoint), evaluates it once on the test
    /// set, and records it.
    pub fn run(&self, spec: &RunSpec) -> Result<Run> {
        let spec = self.spec(spec);
        spec.validate()?;
        let dir = spec.dir(&self.runs_dir);
        if !self.retrain {
            if let Some(run) = self.load_finished(&spec, &dir)? {
                return Ok(run);
            }
            if let Some(run) = self.migrate_version_1(&spec, &dir)? {
                return Ok(run);
            }
        }
        self.train(&spec, dir)
    }

    fn load_finished(&self, spec: &RunSpec, dir: &Path) -> Result<Option<Run>> {
        let (record_path, model_path) = (dir.join(RECORD_FILE), dir.join(MODEL_FILE));
        if !(record_path.is_file() && model_path.is_file()) {
            return Ok(None);
        }
        let record = RunRecord::load(&record_path)?;
        let model = Model::load(&model_path, self.device)?;
        if model.config() != &spec.model {
            return Err(Error::invalid(
                format!("run {}", display_path(dir)),
                "its model file holds another model than its spec; delete the directory to retrain it",
            ));
        }
        println!(
            "{}: reusing {} (best val_accuracy {:.4}, test accuracy {:.4}); RETRAIN=1 retrains",
            spec.name,
            display_path(dir),
            record.best_val_accuracy(),
            record.test.accuracy
        );
        Ok(Some(Run {
            record,
            model,
            reused: true,
            dir: dir.to_owned(),
        }))
    }

    /// A run recorded by a version without key versions sits under its version-1 key with
    /// `weights.safetensors`: move it to today's directory, write its model file and update
    /// its record, saying so; never retrain it silently.
    fn migrate_version_1(&self, spec: &RunSpec, dir: &Path) -> Result<Option<Run>> {
        // Found by its key, whatever name it was recorded under.
        let suffix = format!("-{}", spec.legacy_key_v1());
        let Some(old_dir) = fs::read_dir(&self.runs_dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .find(|path| {
                path.file_name()
                    .is_some_and(|name| name.to_string_lossy().ends_with(&suffix))
                    && path.join(RECORD_FILE).is_file()
                    && path.join(LEGACY_WEIGHTS_FILE).is_file()
            })
        else {
            return Ok(None);
        };
        let (old_record, old_weights) =
            (old_dir.join(RECORD_FILE), old_dir.join(LEGACY_WEIGHTS_FILE));
        if dir.exists() {
            return Ok(None);
        }
        let mut record = RunRecord::load(&old_record)?;
        let mut model = Model::new(&spec.model, spec.options.seed, self.device)?;
        model.load_weights(&old_weights)?;
        fs::rename(&old_dir, dir).map_err(|e| io_error("rename", &old_dir, e))?;
        model.save(dir.join(MODEL_FILE))?;
        record.format_version = RECORD_FORMAT;
        record.key = spec.key();
        record.spec.name = spec.name.clone();
        record.save(&dir.join(RECORD_FILE))?;
        let _ = fs::remove_file(dir.join(LEGACY_WEIGHTS_FILE));
        println!(
            "{}: moved the run an earlier lstm_support recorded in {} to {} (same settings, \
             versioned key); reusing it (test accuracy {:.4}); RETRAIN=1 retrains",
            spec.name,
            display_path(&old_dir),
            display_path(dir),
            record.test.accuracy
        );
        Ok(Some(Run {
            record,
            model,
            reused: true,
            dir: dir.to_owned(),
        }))
    }

    fn train(&self, spec: &RunSpec, dir: PathBuf) -> Result<Run> {
        let checkpoint_dir = dir.join("checkpoint");
        if self.retrain && checkpoint_dir.exists() {
            fs::remove_dir_all(&checkpoint_dir)
                .map_err(|e| io_error("remove", &checkpoint_dir, e))?;
        }
        let (train, validation) = self.split_as_run(spec)?;
        let test = spec.test_set(&*self.mnist()?);
        let mut trainer = if checkpoint::exists(&checkpoint_dir) {
            let trainer = Trainer::resume(&checkpoint_dir, self.device)?;
            println!(
                "{}: resuming from its checkpoint after epoch {} of {} ({})",
                spec.name,
                trainer.history().len(),
                spec.epochs,
                display_path(&checkpoint_dir)
            );
            trainer
        } else {
            let mut options = spec.options.clone();
            options.checkpoint_dir = Some(checkpoint_dir.clone());
            let model = Model::new(&spec.model, options.seed, self.device)?;
            Trainer::new(model, options)?
        };
        println!(
            "{}: {}, {} parameters; {} training / {} validation images; {} epochs of batch {}, {}; {}",
            spec.name,
            spec.model.describe(),
            thousands(trainer.model().parameter_count() as u64),
            thousands(train.len() as u64),
            thousands(validation.len() as u64),
            spec.epochs,
            spec.batch_size,
            spec.options.optimizer_description(),
            describe_device(self.device)
        );
        let history = trainer.fit(&train, &validation, spec.epochs, spec.batch_size)?;
        let stopped_early = trainer.stopped_early();
        let model = trainer.into_model();
        let started = Instant::now();
        let evaluation = model.evaluate(&test)?;
        let evaluate_seconds = started.elapsed().as_secs_f64();
        model.save(dir.join(MODEL_FILE))?;
        // Where checkpoints went and how progress showed are not part of the run.
        let mut recorded = spec.clone();
        recorded.options.checkpoint_dir = None;
        recorded.options.progress = Default::default();
        let record = RunRecord {
            format_version: RECORD_FORMAT,
            key: spec.key(),
            spec: recorded,
            parameters: model.parameter_count() as i64,
            stopped_early,
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
            device: describe_device(self.device),
            versions: Versions::current(),
            finished_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        record.save(&dir.join(RECORD_FILE))?;
        // The record and the model file now stand for the run; the checkpoint has served its
        // purpose, and temporary files of an earlier attempt that was killed are garbage.
        let _ = fs::remove_dir_all(&checkpoint_dir);
        crate::fsutil::remove_stale_temp_files(&dir);
        println!(
            "{}: test accuracy {:.4}, test loss {:.4}; recorded in {}",
            spec.name,
            record.test.accuracy,
            record.test.loss,
            display_path(&dir)
        );
        Ok(Run {
            record,
            model,
            reused: false,
            dir,
        })
    }
}

#[cfg(test)]
mod tests;
