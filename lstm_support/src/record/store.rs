//! The runs directory: a [`RunStore`] finds a spec's finished run by its key and loads it
//! (moving a run version 1 recorded to today's form, [`super::version1`]), trains a run that has
//! not finished (resuming it from the checkpoint in its directory) and records it, and keeps
//! the sessions' quick looks in `quick-looks/` and the results of experiments that train
//! models of their own in a folder each (`remembering/`). Every file is written atomically.
//!
//! The store has no modes: whether to reuse finished runs (RETRAIN) and what to run (QUICK)
//! are the [`crate::session::Session`]'s to decide.
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tch::Device;

use super::{
    describe_device, version1, RunRecord, RunSpec, Timings, ValidationPredictions, MODEL_FILE,
    RECORD_FILE,
};
use crate::data::{Dataset, TestSet};
use crate::error::{Error, Result};
use crate::fsutil::{display_path, io_error, remove_stale_temp_files, write_json_atomically};
use crate::model::Model;
use crate::table::thousands;
use crate::training::{checkpoint, History, Trainer};

/// A run directory's checkpoint while the run trains.
const CHECKPOINT_DIR: &str = "checkpoint";
/// The runs directory's folder of quick looks.
const QUICK_LOOKS_DIR: &str = "quick-looks";

/// Finished runs, runs in progress and quick looks under one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStore {
    dir: PathBuf,
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
    /// The run recorded in `dir`: its record and its model file (or, for a run version 1
    /// recorded, its weights), on `device`.
    pub fn open(dir: &Path, device: Device) -> Result<Run> {
        let record = RunRecord::load(&dir.join(RECORD_FILE))?;
        let model_path = dir.join(MODEL_FILE);
        let model = if model_path.is_file() {
            Model::load(&model_path, device)?
        } else if let Some(model) = version1::load_model(dir, &record.spec, device)? {
            model
        } else {
            return Err(Error::invalid(
                format!("run {}", display_path(dir)),
                format!("no {MODEL_FILE} beside its record; delete the directory to retrain it"),
            ));
        };
        Ok(Run {
            record,
            model,
            reused: true,
            dir: dir.to_owned(),
        })
    }

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

impl RunStore {
    /// The store of the runs under `dir` (created when the first run is recorded).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RunStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `spec`'s run is recorded: `<slug of its name>-<key>` ([`RunSpec::dir`]).
    pub fn run_dir(&self, spec: &RunSpec) -> PathBuf {
        spec.dir(&self.dir)
    }

    /// Where `spec`'s run keeps its checkpoint while it trains.
    pub fn checkpoint_dir(&self, spec: &RunSpec) -> PathBuf {
        self.run_dir(spec).join(CHECKPOINT_DIR)
    }

    /// The finished run of `spec`, loaded on `device`: from its directory, or moved there from
    /// where version 1 recorded it. `None` when it has not finished.
    pub fn find(&self, spec: &RunSpec, device: Device) -> Result<Option<Run>> {
        let dir = self.run_dir(spec);
        if let Some(run) = self.load_finished(spec, &dir, device)? {
            return Ok(Some(run));
        }
        Ok(
            version1::migrate(&self.dir, spec, &dir, device)?.map(|(record, model)| Run {
                record,
                model,
                reused: true,
                dir,
            }),
        )
    }

    fn load_finished(&self, spec: &RunSpec, dir: &Path, device: Device) -> Result<Option<Run>> {
        if !(dir.join(RECORD_FILE).is_file() && dir.join(MODEL_FILE).is_file()) {
            return Ok(None);
        }
        let run = Run::open(dir, device)?;
        if run.model.config() != &spec.model {
            return Err(Error::invalid(
                format!("run {}", display_path(dir)),
                "its model file holds another model than its spec; delete the directory to retrain it",
            ));
        }
        // Validation only: the test accuracy is for the model a notebook chooses, which it
        // reads from the record (`run.record.test`); printing it for every run invites
        // choosing by it.
        println!(
            "{}: reusing {} (val_accuracy {:.4}); RETRAIN=1 retrains",
            spec.name,
            display_path(dir),
            run.record.kept_val_accuracy(),
        );
        Ok(Some(run))
    }

    /// Forgets the checkpoint of `spec`'s interrupted run, so that it trains from the start.
    pub fn discard_checkpoint(&self, spec: &RunSpec) -> Result<()> {
        let checkpoint_dir = self.checkpoint_dir(spec);
        if checkpoint_dir.exists() {
            fs::remove_dir_all(&checkpoint_dir)
                .map_err(|e| io_error("remove", &checkpoint_dir, e))?;
        }
        Ok(())
    }

    /// Trains `spec` on `device` (resuming from its checkpoint when an earlier attempt was
    /// interrupted), evaluates it once on `test`, and records it: the model file, then the
    /// record, which marks the run finished. A finished run is replaced.
    pub fn train(
        &self,
        spec: &RunSpec,
        train: &Dataset,
        validation: &Dataset,
        test: &TestSet,
        device: Device,
    ) -> Result<Run> {
        let dir = self.run_dir(spec);
        let checkpoint_dir = self.checkpoint_dir(spec);
        let mut trainer = if checkpoint::exists(&checkpoint_dir) {
            let trainer = Trainer::resume(&checkpoint_dir, device)?;
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
            let model = Model::new(&spec.model, options.seed, device)?;
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
            describe_device(device)
        );
        let history = trainer.fit(train, validation, spec.epochs, spec.batch_size)?;
        let stopped_early = trainer.stopped_early();
        let model = trainer.into_model();
        let started = Instant::now();
        let evaluation = model.evaluate(test)?;
        let timings = Timings::new(&history, started.elapsed().as_secs_f64());
        let mut record = RunRecord::new(
            spec,
            model.parameter_count() as i64,
            history,
            stopped_early,
            evaluation.into(),
            timings,
            describe_device(device),
        );
        // Kept for paired tests (McNemar, bootstrap) between runs validated on these images.
        record.validation = Some(ValidationPredictions {
            predictions: model.predict(validation)?.classes,
            labels: Vec::<i64>::try_from(validation.labels())?,
        });
        self.save(&record, &model)?;
        // The record and the model file now stand for the run; the checkpoint has served its
        // purpose, and temporary files of an earlier attempt that was killed are garbage.
        let _ = fs::remove_dir_all(&checkpoint_dir);
        remove_stale_temp_files(&dir);
        println!(
            "{}: val_accuracy {:.4} (the weights kept); recorded in {}, with the test set's \
             predictions for when this is the model chosen",
            spec.name,
            record.kept_val_accuracy(),
            display_path(&dir)
        );
        Ok(Run {
            record,
            model,
            reused: false,
            dir,
        })
    }

    /// Records a finished run in its directory: `model` first, then `record`, each written
    /// atomically, so that a record always has its model file beside it. Returns the
    /// directory.
    pub fn save(&self, record: &RunRecord, model: &Model) -> Result<PathBuf> {
        let dir = self.run_dir(&record.spec);
        model.save(dir.join(MODEL_FILE))?;
        record.save(&dir.join(RECORD_FILE))?;
        Ok(dir)
    }

    /// The quick look kept under `key` ([`crate::training::quick_look_key`]), saying so, or
    /// `None` when there is none.
    pub fn kept_quick_look(&self, key: &str) -> Result<Option<History>> {
        let path = self.quick_look_path(key);
        if !path.is_file() {
            return Ok(None);
        }
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
        Ok(Some(history))
    }

    /// Keeps `history` as the quick look under `key`, replacing any kept before.
    pub fn keep_quick_look(&self, key: &str, history: &History) -> Result<()> {
        write_json_atomically(&self.quick_look_path(key), history)
    }

    fn quick_look_path(&self, key: &str) -> PathBuf {
        self.dir.join(QUICK_LOOKS_DIR).join(format!("{key}.json"))
    }

    /// The result of experiment `folder` (e.g. `remembering`) kept under `key`, saying so, or
    /// `None` when there is none.
    pub fn kept_result<T: serde::de::DeserializeOwned>(
        &self,
        folder: &str,
        key: &str,
    ) -> Result<Option<T>> {
        let path = self.result_path(folder, key);
        if !path.is_file() {
            return Ok(None);
        }
        let text = fs::read_to_string(&path).map_err(|e| io_error("read", &path, e))?;
        let result = serde_json::from_str(&text).map_err(|e| {
            Error::invalid(
                format!("{folder} result {}", display_path(&path)),
                format!("not a result of this experiment ({e}); delete the file to run it again"),
            )
        })?;
        println!(
            "{folder}: reusing {} (RETRAIN=1 runs it again)",
            display_path(&path)
        );
        Ok(Some(result))
    }

    /// Keeps `result` as experiment `folder`'s result under `key`, replacing any kept before.
    pub fn keep_result<T: serde::Serialize>(
        &self,
        folder: &str,
        key: &str,
        result: &T,
    ) -> Result<()> {
        write_json_atomically(&self.result_path(folder, key), result)
    }

    fn result_path(&self, folder: &str, key: &str) -> PathBuf {
        self.dir.join(folder).join(format!("{key}.json"))
    }
}

#[cfg(test)]
mod tests;
