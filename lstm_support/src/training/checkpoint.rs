//! Checkpoints: after every epoch the trainer's whole state (weights, optimizer moments, best
//! weights for early stopping, history) goes to a directory, so that [`Trainer::resume`]
//! continues an interrupted run exactly where it stopped.
//!
//! The tensors go to `epoch-NNNN.safetensors`, then `checkpoint.json`, which names them, is
//! replaced last, atomically; older tensor files are removed afterwards. A crash at any moment
//! leaves a complete previous or new checkpoint.
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use super::{Best, History, TrainOptions, Trainer};
use crate::error::{Error, Result};
use crate::fsutil::{io_error, write_atomically, write_json_atomically};
use crate::model::{Model, ModelConfig};

/// What `checkpoint.json` holds; the tensors are in the safetensors file it names.
#[derive(Debug, Serialize, Deserialize)]
struct CheckpointMeta {
    format_version: u32,
    model: ModelConfig,
    options: TrainOptions,
    batch_size: Option<usize>,
    history: History,
    adam_step: i64,
    stopped_early: bool,
    best: Option<(usize, f64)>,
    tensors: String,
}

const CHECKPOINT_FORMAT: u32 = 1;
/// The file that makes a directory a checkpoint.
pub const CHECKPOINT_META: &str = "checkpoint.json";

/// Whether `dir` holds a checkpoint to resume from.
pub fn exists(dir: &Path) -> bool {
    dir.join(CHECKPOINT_META).is_file()
}

/// Writes `trainer`'s state after its last epoch into `dir`.
pub fn save(trainer: &Trainer, dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| io_error("create directory", dir, e))?;
    let tensors_name = format!("epoch-{:04}.safetensors", trainer.history.len());
    let mut named: Vec<(String, Tensor)> = trainer
        .model
        .weights_copy()
        .into_iter()
        .map(|(k, t)| (format!("model.{k}"), t))
        .collect();
    named.extend(
        trainer
            .optimizer
            .state_tensors()
            .into_iter()
            .map(|(k, t)| (k, t.detach().copy())),
    );
    if let Some(best) = &trainer.best {
        named.extend(
            best.weights
                .iter()
                .map(|(k, t)| (format!("best.{k}"), t.shallow_clone())),
        );
    }
    let tensors_path = dir.join(&tensors_name);
    write_atomically(&tensors_path, |temp| {
        Tensor::write_safetensors(&named, temp).map_err(Error::from)
    })?;
    let meta = CheckpointMeta {
        format_version: CHECKPOINT_FORMAT,
        model: trainer.model.config().clone(),
        options: trainer.options.clone(),
        batch_size: trainer.batch_size,
        history: trainer.history.clone(),
        adam_step: trainer.optimizer.parameters().step_count(),
        stopped_early: trainer.stopped_early,
        best: trainer.best.as_ref().map(|b| (b.epoch, b.val_loss)),
        tensors: tensors_name.clone(),
    };
    write_json_atomically(&dir.join(CHECKPOINT_META), &meta)?;
    crate::fsutil::remove_stale_temp_files(dir);
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("epoch-") && name.ends_with(".safetensors") && name != tensors_name
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

impl Trainer {
    /// Rebuilds a trainer from the newest checkpoint in `dir`; `fit` with the same data,
    /// epochs and batch size then continues the run as if it had not stopped.
    pub fn resume(dir: &Path, device: Device) -> Result<Self> {
        let meta_path = dir.join(CHECKPOINT_META);
        let text = fs::read_to_string(&meta_path).map_err(|e| io_error("read", &meta_path, e))?;
        let meta: CheckpointMeta = serde_json::from_str(&text).map_err(|e| {
            Error::invalid(
                format!("checkpoint {}", meta_path.display()),
                format!("it is not a valid checkpoint file ({e})"),
            )
        })?;
        if meta.format_version != CHECKPOINT_FORMAT {
            return Err(Error::invalid(
                format!("checkpoint {}", meta_path.display()),
                format!(
                    "format version {} (this lstm_support reads version {CHECKPOINT_FORMAT}); use a matching lstm_support",
                    meta.format_version
                ),
            ));
        }
        let mut options = meta.options;
        options.checkpoint_dir = Some(dir.to_owned());
        let mut model = Model::new(&meta.model, options.seed, device)?;
        let tensors = read_tensors(&dir.join(&meta.tensors))?;
        model.load_named(&tensors, "model.", "checkpoint")?;
        let mut trainer = Trainer::new(model, options)?;
        let adam_state: BTreeMap<String, Tensor> = tensors
            .iter()
            .filter(|(k, _)| k.starts_with("adam."))
            .map(|(k, t)| (k.clone(), t.to_device(device)))
            .collect();
        trainer.optimizer.load_state(&adam_state, meta.adam_step)?;
        if let Some((epoch, val_loss)) = meta.best {
            let weights = trainer
                .model
                .variables()
                .into_keys()
                .map(|name| {
                    tensors
                        .get(&format!("best.{name}"))
                        .map(|t| (name.clone(), t.to_device(device)))
                        .ok_or_else(|| {
                            Error::invalid("checkpoint", format!("it lacks best.{name}"))
                        })
                })
                .collect::<Result<Vec<_>>>()?;
            trainer.best = Some(Best {
                epoch,
                val_loss,
                weights,
            });
        }
        trainer.history = meta.history;
        trainer.batch_size = meta.batch_size;
        trainer.stopped_early = meta.stopped_early;
        Ok(trainer)
    }
}

fn read_tensors(path: &Path) -> Result<BTreeMap<String, Tensor>> {
    if !path.is_file() {
        return Err(Error::invalid(
            "checkpoint",
            format!("{} does not exist or is not a file", path.display()),
        ));
    }
    let tensors = Tensor::read_safetensors(path).map_err(|e| {
        Error::invalid(
            format!("checkpoint {}", path.display()),
            format!("it cannot be read as safetensors ({e}); it may be truncated"),
        )
    })?;
    Ok(tensors.into_iter().collect())
}
