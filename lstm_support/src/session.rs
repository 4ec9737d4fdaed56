//! A notebook session: the device, chosen once; the runs directory ([`RunStore`]); quick and
//! retrain modes; the data, loaded once. `session.run(&spec)?` trains a run or loads it when it
//! has finished before, and resumes one that was interrupted from its last checkpoint.
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

use once_cell::unsync::OnceCell;
use tch::Device;

use crate::analysis::{RememberingExperiment, RememberingResult};
use crate::data::{Dataset, Loader, Mnist, TestSet};
use crate::error::Result;
use crate::fsutil::{display_path, io_error};
use crate::model::ModelConfig;
pub use crate::record::Run;
use crate::record::{describe_device, RunRecord, RunSpec, RunStore};
use crate::training::{self, History};

/// Where runs, data and the device come from, and whether runs are quick or retrained.
#[derive(Debug)]
pub struct Session {
    device: Device,
    store: RunStore,
    quick: bool,
    retrain: bool,
    data_dir: Option<PathBuf>,
    mnist: OnceCell<Rc<Mnist>>,
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
    /// project's `runs/` (or `$LSTM_RUNS_DIR`), `QUICK` and `RETRAIN` from the environment.
    /// Prints one line saying so.
    pub fn from_env() -> Result<Session> {
        let session = Session::new(crate::device::best_device(), default_runs_dir())
            .quick(quick_requested())
            .retrain(retrain_requested());
        let runs_dir = session.runs_dir();
        fs::create_dir_all(runs_dir).map_err(|e| io_error("create directory", runs_dir, e))?;
        println!("{}", session.describe());
        Ok(session)
    }

    /// A session on `device` keeping its runs in `runs_dir`, full runs, finished runs reused.
    pub fn new(device: Device, runs_dir: impl Into<PathBuf>) -> Session {
        Session {
            device,
            store: RunStore::new(runs_dir),
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
        self.store.dir()
    }

    /// The runs directory's finished runs, checkpoints and quick looks.
    pub fn store(&self) -> &RunStore {
        &self.store
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
            display_path(self.runs_dir()),
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
            .map(|&seed| Ok(self.run(&spec.clone().seed(seed))?.record))
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
        if !self.retrain {
            if let Some(history) = self.store.kept_quick_look(&key)? {
                return Ok(history);
            }
        }
        let history = training::quick_look(config, train, validation, self.device)?;
        self.store.keep_quick_look(&key, &history)?;
        Ok(history)
    }

    /// [`RememberingExperiment::run`] on this session's device, kept in `runs/remembering/`
    /// under [`RememberingExperiment::key`], so that running the notebook again shows the same
    /// numbers without training again; a change to any setting runs it anew, and so does
    /// RETRAIN=1. In quick mode it runs [`RememberingExperiment::quick`]; otherwise it takes
    /// about a minute on a CPU.
    pub fn remembering(&self, experiment: &RememberingExperiment) -> Result<RememberingResult> {
        const FOLDER: &str = "remembering";
        let quick = experiment.clone().quick();
        let experiment = if self.quick { &quick } else { experiment };
        let key = experiment.key()?;
        if !self.retrain {
            if let Some(result) = self.store.kept_result(FOLDER, &key)? {
                return Ok(result);
            }
        }
        let result = experiment.run(self.device)?;
        self.store.keep_result(FOLDER, &key, &result)?;
        Ok(result)
    }

    /// Loads the finished run for `spec` (in quick mode, its quick version), or trains it
    /// (resuming an interrupted attempt from its checkpoint, unless retraining), evaluates it
    /// once on the test set, and records it.
    pub fn run(&self, spec: &RunSpec) -> Result<Run> {
        let spec = self.spec(spec);
        spec.validate()?;
        if self.retrain {
            self.store.discard_checkpoint(&spec)?;
        } else if let Some(run) = self.store.find(&spec, self.device)? {
            return Ok(run);
        }
        let (train, validation) = self.split_as_run(&spec)?;
        let test = spec.test_set(&*self.mnist()?);
        self.store
            .train(&spec, &train, &validation, &test, self.device)
    }
}

#[cfg(test)]
mod tests;
