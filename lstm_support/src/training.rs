//! Training: `Trainer::fit` (Keras' `model.fit`), per-epoch [`History`], progress, early
//! stopping, checkpoints after every epoch, `resume`, and `evaluate` on the test set.
//!
//! ```no_run
//! use lstm_support::{data, model::ModelConfig, training::{Trainer, TrainOptions}};
//! let mnist = data::load_mnist()?;
//! let (train, validation) = mnist.train.split(&Default::default())?;
//! let mut trainer = Trainer::new(&ModelConfig::lstm(32, 0.15), TrainOptions::default(), tch::Device::Cpu)?;
//! let history = trainer.fit(&train, &validation, 10, 128)?;
//! let test = trainer.evaluate(&mnist.test)?; // once, at the end
//! # Ok::<(), lstm_support::Error>(())
//! ```
use std::collections::BTreeMap;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use crate::data::{Dataset, TestSet};
use crate::error::{Error, Result};
use crate::fsutil::{io_error, write_atomically, write_json_atomically};
use crate::model::{categorical_cross_entropy, classifier, one_hot, Classifier, ModelConfig};
use crate::optim::{Adam, AdamConfig, LrSchedule};
use crate::rng::SplitMix64;

/// Rows per forward pass when evaluating (no gradients, so larger than a training batch).
const EVAL_BATCH: i64 = 2000;

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

/// Keras' `EarlyStopping(monitor="val_loss", patience, min_delta, restore_best_weights)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    pub patience: usize,
    pub min_delta: f64,
    pub restore_best_weights: bool,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping {
            patience: 3,
            min_delta: 0.0,
            restore_best_weights: true,
        }
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    /// A bar on a terminal, one line per epoch elsewhere (a notebook, a log file).
    #[default]
    Auto,
    Bar,
    Lines,
    Silent,
}

/// Everything about training except the epochs and batch size given to `fit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Seeds the initial weights, the shuffles and the dropout masks.
    pub seed: u64,
    pub adam: AdamConfig,
    pub early_stopping: Option<EarlyStopping>,
    /// Where a checkpoint is written after every epoch (none when `None`).
    pub checkpoint_dir: Option<PathBuf>,
    #[serde(default)]
    pub progress: Progress,
    /// Left out of the JSON when constant, so runs recorded before schedules existed keep
    /// their keys.
    #[serde(default, skip_serializing_if = "LrSchedule::is_constant")]
    pub lr_schedule: LrSchedule,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            seed: 42,
            adam: AdamConfig::default(),
            early_stopping: None,
            checkpoint_dir: None,
            progress: Progress::Auto,
            lr_schedule: LrSchedule::Constant,
        }
    }
}

/// Test-set results of a trained model.
#[derive(Debug)]
pub struct Evaluation {
    pub loss: f64,
    pub accuracy: f64,
    /// Predicted class per test item.
    pub predictions: Vec<i64>,
    /// True class per test item.
    pub labels: Vec<i64>,
    /// Probability the model gave its predicted class, per item.
    pub confidences: Vec<f32>,
    /// `[N, num_classes]` softmax outputs.
    pub probabilities: Tensor,
}

/// The best epoch so far, for early stopping.
#[derive(Debug)]
struct Best {
    epoch: usize,
    val_loss: f64,
    weights: Vec<(String, Tensor)>,
}

/// Trains one model: its parameters, optimizer state and history.
#[derive(Debug)]
pub struct Trainer {
    vs: nn::VarStore,
    model: Classifier,
    adam: Adam,
    options: TrainOptions,
    history: History,
    best: Option<Best>,
    stopped_early: bool,
    batch_size: Option<usize>,
}

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
const CHECKPOINT_META: &str = "checkpoint.json";

impl Trainer {
    /// Builds the model with weights drawn from `options.seed`.
    pub fn new(config: &ModelConfig, options: TrainOptions, device: Device) -> Result<Self> {
        config.validate()?;
        options.adam.validate()?;
        options.lr_schedule.validate()?;
        tch::manual_seed(options.seed as i64);
        let vs = nn::VarStore::new(device);
        let model = classifier(vs.root(), config)?;
        let adam = Adam::new(vs.variables(), options.adam)?;
        Ok(Trainer {
            vs,
            model,
            adam,
            options,
            history: History::default(),
            best: None,
            stopped_early: false,
            batch_size: None,
        })
    }

    pub fn model(&self) -> &Classifier {
        &self.model
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    pub fn options(&self) -> &TrainOptions {
        &self.options
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// Trainable parameters, as Keras' `model.count_params()`.
    pub fn parameter_count(&self) -> i64 {
        self.vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum()
    }

    /// Whether early stopping ended the last `fit`.
    pub fn stopped_early(&self) -> bool {
        self.stopped_early
    }

    /// Trains until the history holds `epochs` epochs (so after [`Trainer::resume`] it
    /// continues where the checkpoint stopped), validating after each, and returns the
    /// history. The data are shuffled each epoch from the seed.
    pub fn fit(
        &mut self,
        train: &Dataset,
        validation: &Dataset,
        epochs: usize,
        batch_size: usize,
    ) -> Result<History> {
        if batch_size == 0 {
            return Err(Error::invalid("batch_size", "0; it must be at least 1"));
        }
        if epochs == 0 {
            return Err(Error::invalid("epochs", "0; train for at least 1 epoch"));
        }
        if train.is_empty() {
            return Err(Error::invalid("training set", "it is empty"));
        }
        if validation.is_empty() {
            return Err(Error::invalid("validation set", "it is empty"));
        }
        if let Some(previous) = self.batch_size.filter(|&b| b != batch_size) {
            return Err(Error::invalid(
                "batch_size",
                format!("{batch_size}, but this run was trained with {previous}; resuming needs the same"),
            ));
        }
        self.batch_size = Some(batch_size);
        while self.history.len() < epochs && !self.stopped_early {
            let epoch = self.history.len() + 1;
            let started = Instant::now();
            let (train_loss, train_accuracy) =
                self.train_epoch(train, batch_size, epoch, epochs)?;
            let (val_loss, val_accuracy) = self.validate(validation)?;
            let metrics = EpochMetrics {
                epoch,
                train_loss,
                train_accuracy,
                val_loss,
                val_accuracy,
                seconds: started.elapsed().as_secs_f64(),
            };
            if self.progress() != Progress::Silent {
                println!(
                    "epoch {epoch:>3}/{epochs}  loss {train_loss:.4}  accuracy {train_accuracy:.4}  \
                     val_loss {val_loss:.4}  val_accuracy {val_accuracy:.4}  {:.1} s",
                    metrics.seconds
                );
            }
            self.history.epochs.push(metrics);
            self.update_early_stopping(val_loss)?;
            if let Some(dir) = self.options.checkpoint_dir.clone() {
                self.save_checkpoint(&dir)?;
            }
        }
        Ok(self.history.clone())
    }

    fn progress(&self) -> Progress {
        match self.options.progress {
            Progress::Auto if std::io::stderr().is_terminal() => Progress::Bar,
            Progress::Auto => Progress::Lines,
            other => other,
        }
    }

    /// One pass over the shuffled training set; returns the mean loss and accuracy.
    fn train_epoch(
        &mut self,
        train: &Dataset,
        batch_size: usize,
        epoch: usize,
        epochs: usize,
    ) -> Result<(f64, f64)> {
        // Seeds derived from (seed, epoch) alone, so a resumed run draws the same shuffles and
        // dropout masks as an uninterrupted one.
        let epoch_seed = self.options.seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        tch::manual_seed(epoch_seed as i64);
        let mut order: Vec<i64> = (0..train.len() as i64).collect();
        SplitMix64::new(epoch_seed).shuffle(&mut order);

        let batches = order.chunks(batch_size).count();
        let bar = (self.progress() == Progress::Bar).then(|| progress_bar(batches, epoch, epochs));
        let device = self.device();
        let num_classes = self.model.config().num_classes;
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0i64, 0usize);
        for (batch_index, indices) in order.chunks(batch_size).enumerate() {
            let index = Tensor::from_slice(indices);
            let images = train.images().index_select(0, &index).to_device(device);
            let labels = train.labels().index_select(0, &index).to_device(device);
            self.adam.zero_grad();
            let (logits, backprop) = self.model.forward_train(&images);
            let loss = categorical_cross_entropy(&logits, &one_hot(&labels, num_classes));
            let loss_value = loss.double_value(&[]);
            if !loss_value.is_finite() {
                return Err(Error::NonFiniteLoss {
                    epoch,
                    batch: batch_index + 1,
                    value: loss_value,
                });
            }
            loss.backward();
            backprop.run()?;
            let step = (epoch - 1) * batches + batch_index;
            let learning_rate = self.options.lr_schedule.learning_rate(
                self.options.adam.learning_rate,
                step,
                batches,
            );
            self.adam.step_with_learning_rate(learning_rate);
            let n = indices.len();
            loss_sum += loss_value * n as f64;
            correct += logits
                .argmax(-1, false)
                .eq_tensor(&labels)
                .sum(Kind::Int64)
                .int64_value(&[]);
            seen += n;
            if let Some(bar) = &bar {
                bar.set_message(format!(
                    "loss {:.4}  accuracy {:.4}",
                    loss_sum / seen as f64,
                    correct as f64 / seen as f64
                ));
                bar.inc(1);
            }
        }
        if let Some(bar) = bar {
            bar.finish();
        }
        Ok((loss_sum / seen as f64, correct as f64 / seen as f64))
    }

    /// Loss and accuracy on a validation set, in evaluation mode (no dropout).
    pub fn validate(&self, data: &Dataset) -> Result<(f64, f64)> {
        let (probabilities, loss) = self.predict(data)?;
        let predictions = probabilities.argmax(-1, false);
        let accuracy = predictions
            .eq_tensor(data.labels())
            .to_kind(Kind::Float)
            .mean(Kind::Float)
            .double_value(&[]);
        Ok((loss, accuracy))
    }

    /// Softmax outputs `[N, C]` on the CPU and the mean loss over `data`.
    fn predict(&self, data: &Dataset) -> Result<(Tensor, f64)> {
        if data.is_empty() {
            return Err(Error::invalid("dataset", "it is empty"));
        }
        let num_classes = self.model.config().num_classes;
        let mut outputs = Vec::new();
        let mut loss_sum = 0.0;
        self.for_each_eval_batch(data, |images, labels| {
            let logits = self.model.forward_t(&images, false);
            let loss = categorical_cross_entropy(&logits, &one_hot(&labels, num_classes));
            loss_sum += loss.double_value(&[]) * labels.size()[0] as f64;
            outputs.push(logits.softmax(-1, Kind::Float).to_device(Device::Cpu));
            Ok(())
        })?;
        Ok((Tensor::cat(&outputs, 0), loss_sum / data.len() as f64))
    }

    /// Runs `f` on `data` in slices of `EVAL_BATCH` rows moved to the device (images, labels),
    /// without gradients.
    fn for_each_eval_batch(
        &self,
        data: &Dataset,
        mut f: impl FnMut(Tensor, Tensor) -> Result<()>,
    ) -> Result<()> {
        let device = self.device();
        let n = data.len() as i64;
        tch::no_grad(|| {
            let mut start = 0;
            while start < n {
                let len = EVAL_BATCH.min(n - start);
                let images = data.images().narrow(0, start, len).to_device(device);
                let labels = data.labels().narrow(0, start, len).to_device(device);
                f(images, labels)?;
                start += len;
            }
            Ok(())
        })
    }

    /// Evaluates the trained model on the test set: the only function that takes it.
    pub fn evaluate(&self, test: &TestSet) -> Result<Evaluation> {
        let data = test.dataset();
        let (probabilities, loss) = self.predict(data)?;
        let (confidence, predicted) = probabilities.max_dim(-1, false);
        let predictions = Vec::<i64>::try_from(&predicted)?;
        let labels = Vec::<i64>::try_from(data.labels())?;
        let correct = predictions
            .iter()
            .zip(&labels)
            .filter(|(p, l)| p == l)
            .count();
        Ok(Evaluation {
            loss,
            accuracy: correct as f64 / labels.len() as f64,
            predictions,
            labels,
            confidences: Vec::<f32>::try_from(&confidence)?,
            probabilities,
        })
    }

    /// Accuracy on `data` when the model stops reading after k rows, for k = 1 to 28: how much
    /// of the image a recurrent model needs to see. Errors for a model that does not read rows.
    pub fn accuracy_by_rows(&self, data: &Dataset) -> Result<Vec<(usize, f64)>> {
        if !self.model.reads_rows() {
            return Err(Error::invalid(
                "model",
                "it does not read the image row by row",
            ));
        }
        if data.is_empty() {
            return Err(Error::invalid("dataset", "it is empty"));
        }
        let n = data.len() as i64;
        let steps = data.images().size()[1];
        let mut correct = vec![0i64; steps as usize];
        self.for_each_eval_batch(data, |images, labels| {
            let by_rows = self.model.probabilities_by_rows(&images)?; // [B, T, C]
            let hits = by_rows.argmax(-1, false).eq_tensor(&labels.unsqueeze(1)); // [B, T]
            let per_step = Vec::<i64>::try_from(
                hits.sum_dim_intlist(0, false, Kind::Int64)
                    .to_device(Device::Cpu),
            )?;
            for (total, hit) in correct.iter_mut().zip(per_step) {
                *total += hit;
            }
            Ok(())
        })?;
        Ok(correct
            .into_iter()
            .enumerate()
            .map(|(k, c)| (k + 1, c as f64 / n as f64))
            .collect())
    }

    /// For the items at `indices`: the class probabilities after reading 1, 2, ..., 28 rows,
    /// as `[item][rows][classes]` (for [`crate::plot::reading_row_by_row`]).
    pub fn probabilities_by_rows(
        &self,
        data: &Dataset,
        indices: &[i64],
    ) -> Result<Vec<Vec<Vec<f32>>>> {
        let subset = data.select(indices)?;
        let by_rows = tch::no_grad(|| {
            self.model
                .probabilities_by_rows(&subset.images().to_device(self.device()))
        })?
        .to_device(Device::Cpu);
        let (items, steps) = (by_rows.size()[0], by_rows.size()[1]);
        (0..items)
            .map(|i| {
                (0..steps)
                    .map(|k| Ok(Vec::<f32>::try_from(by_rows.get(i).get(k))?))
                    .collect::<Result<Vec<_>>>()
            })
            .collect()
    }

    fn update_early_stopping(&mut self, val_loss: f64) -> Result<()> {
        let Some(rule) = self.options.early_stopping else {
            return Ok(());
        };
        let epoch = self.history.len();
        let improved = self
            .best
            .as_ref()
            .is_none_or(|best| val_loss < best.val_loss - rule.min_delta);
        if improved {
            self.best = Some(Best {
                epoch,
                val_loss,
                weights: self.weights_copy(),
            });
        } else if let Some((best_epoch, weights)) = self
            .best
            .as_ref()
            .filter(|best| epoch - best.epoch >= rule.patience)
            .map(|best| {
                let weights: BTreeMap<String, Tensor> = best
                    .weights
                    .iter()
                    .map(|(k, t)| (k.clone(), t.shallow_clone()))
                    .collect();
                (best.epoch, weights)
            })
        {
            self.stopped_early = true;
            if rule.restore_best_weights {
                self.load_weights_map(&weights, "")?;
            }
            if self.progress() != Progress::Silent {
                println!(
                    "early stopping: no val_loss improvement for {} epochs; best epoch {best_epoch}{}",
                    rule.patience,
                    if rule.restore_best_weights { ", its weights restored" } else { "" }
                );
            }
        }
        Ok(())
    }

    fn weights_copy(&self) -> Vec<(String, Tensor)> {
        let mut named: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .map(|(k, t)| (k, t.detach().copy()))
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        named
    }

    /// Copies tensors named `<prefix><param>` into the parameters, checking every shape.
    fn load_weights_map(&mut self, tensors: &BTreeMap<String, Tensor>, prefix: &str) -> Result<()> {
        for (name, mut var) in self.vs.variables() {
            let key = format!("{prefix}{name}");
            let saved = tensors.get(&key).ok_or_else(|| {
                Error::invalid(
                    "checkpoint",
                    format!(
                        "it has no tensor {key}: it was saved from another model configuration"
                    ),
                )
            })?;
            if saved.size() != var.size() {
                return Err(Error::invalid(
                    "checkpoint",
                    format!(
                        "{key} has shape {:?} but the model needs {:?}: it was saved from another model configuration",
                        saved.size(),
                        var.size()
                    ),
                ));
            }
            tch::no_grad(|| var.f_copy_(saved))?;
        }
        Ok(())
    }

    /// Writes the model's weights as safetensors, atomically.
    pub fn save_weights(&self, path: &Path) -> Result<()> {
        let named = self.weights_copy();
        write_atomically(path, |temp| {
            Tensor::write_safetensors(&named, temp).map_err(Error::from)
        })
    }

    /// Loads weights written by [`Trainer::save_weights`] into this trainer's model.
    pub fn load_weights(&mut self, path: &Path) -> Result<()> {
        let tensors = read_tensors(path)?;
        self.load_weights_map(&tensors, "")
    }

    /// Writes the state after the last epoch into `dir`: the tensors (weights, optimizer
    /// moments, best weights) as `epoch-NNNN.safetensors`, then `checkpoint.json`, which names
    /// them and is replaced last, atomically. Older tensor files are removed afterwards, so a
    /// crash at any moment leaves a complete previous or new checkpoint.
    pub fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).map_err(|e| io_error("create directory", dir, e))?;
        let tensors_name = format!("epoch-{:04}.safetensors", self.history.len());
        let mut named: Vec<(String, Tensor)> = self
            .weights_copy()
            .into_iter()
            .map(|(k, t)| (format!("model.{k}"), t))
            .collect();
        named.extend(
            self.adam
                .state_tensors()
                .into_iter()
                .map(|(k, t)| (k, t.detach().copy())),
        );
        if let Some(best) = &self.best {
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
            model: self.model.config().clone(),
            options: self.options.clone(),
            batch_size: self.batch_size,
            history: self.history.clone(),
            adam_step: self.adam.step_count(),
            stopped_early: self.stopped_early,
            best: self.best.as_ref().map(|b| (b.epoch, b.val_loss)),
            tensors: tensors_name.clone(),
        };
        write_json_atomically(&dir.join(CHECKPOINT_META), &meta)?;
        crate::fsutil::remove_stale_temp_files(dir);
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("epoch-")
                    && name.ends_with(".safetensors")
                    && name != tensors_name
                {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }

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
        let mut trainer = Trainer::new(&meta.model, options, device)?;
        let tensors = read_tensors(&dir.join(&meta.tensors))?;
        trainer.load_weights_map(&tensors, "model.")?;
        let adam_state: BTreeMap<String, Tensor> = tensors
            .iter()
            .filter(|(k, _)| k.starts_with("adam."))
            .map(|(k, t)| (k.clone(), t.to_device(device)))
            .collect();
        trainer.adam.load_state(&adam_state, meta.adam_step)?;
        if let Some((epoch, val_loss)) = meta.best {
            let weights = trainer
                .vs
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

fn progress_bar(batches: usize, epoch: usize, epochs: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(batches as u64);
    let style = indicatif::ProgressStyle::with_template(
        "epoch {prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!("{epoch}/{epochs}"));
    bar
}

#[cfg(test)]
mod tests;
