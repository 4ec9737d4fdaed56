//! Training: [`Trainer::fit`] (Keras' `model.fit`) on a [`Model`] you hold, per-epoch
//! [`History`], progress, early stopping, the learning-rate schedule, and a checkpoint after
//! every epoch ([`checkpoint`]: `Trainer::resume` continues an interrupted run). The trainer
//! only trains: evaluation, prediction and saving belong to the [`Model`].
//!
//! ```no_run
//! use lstm_support::{data, model::{Model, ModelConfig}, training::{Trainer, TrainOptions}};
//! let mnist = data::load_mnist()?;
//! let (train, validation) = mnist.train.split(&Default::default())?;
//! let model = Model::new(&ModelConfig::lstm(32, 0.15), 42, tch::Device::Cpu)?;
//! let mut trainer = Trainer::new(model, TrainOptions::default())?;
//! let history = trainer.fit(&train, &validation, 10, 128)?;
//! let model = trainer.into_model();
//! let test = model.evaluate(&mnist.test)?; // once, at the end
//! # Ok::<(), lstm_support::Error>(())
//! ```
pub mod checkpoint;
mod history;

pub use history::{EpochMetrics, GradientStats, History, CONVERGED_WITHIN};

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::{Model, ModelConfig};
use crate::optim::{Adam, AdamConfig, LrSchedule, Parameters, Sgd, SgdConfig};
use crate::rng::SplitMix64;

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
    /// Plain gradient descent instead of Adam when set (Keras' `SGD(learning_rate)`, no
    /// momentum); `adam` is then unused. Left out of a spec when `None`, so Adam runs keep
    /// their keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sgd: Option<SgdConfig>,
    pub early_stopping: Option<EarlyStopping>,
    /// How the learning rate moves over the run; resolved against the `epochs` given to
    /// `fit`, so it means the same whatever order a spec is written in.
    #[serde(default, skip_serializing_if = "LrSchedule::is_constant")]
    pub lr_schedule: LrSchedule,
    /// Keras' `clipnorm`: before each update every parameter's gradient is clipped on its own
    /// to this L2 norm ([`crate::optim::clip_gradient_norms`]); `None` (the default) clips
    /// nothing. Left out of a spec when `None`, so runs without it keep their keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clipnorm: Option<f64>,
    /// Where a checkpoint is written after every epoch (none when `None`). Not part of what a
    /// run is, so not serialized.
    #[serde(skip)]
    pub checkpoint_dir: Option<PathBuf>,
    /// How progress is shown; not serialized either.
    #[serde(skip)]
    pub progress: Progress,
}

impl TrainOptions {
    /// The learning rate the run starts from: SGD's when set, else Adam's.
    pub fn learning_rate(&self) -> f64 {
        self.sgd
            .map_or(self.adam.learning_rate, |sgd| sgd.learning_rate)
    }

    /// e.g. `Adam 0.001`, `Adam 0.002, cosine decay to 0 over the run` or
    /// `SGD 0.3, clipnorm 4`, for tables and logs.
    pub fn optimizer_description(&self) -> String {
        let name = if self.sgd.is_some() { "SGD" } else { "Adam" };
        let mut description = format!("{name} {}", self.learning_rate());
        if !self.lr_schedule.is_constant() {
            description += &format!(", {}", self.lr_schedule.describe());
        }
        if let Some(clipnorm) = self.clipnorm {
            description += &format!(", clipnorm {clipnorm}");
        }
        description
    }

    /// Checks the optimizer's settings: Adam's, the schedule's and `clipnorm`'s.
    pub fn validate(&self) -> Result<()> {
        match self.sgd {
            Some(sgd) => sgd.validate()?,
            None => self.adam.validate()?,
        }
        self.lr_schedule.validate()?;
        match self.clipnorm {
            Some(c) if !(c > 0.0 && c.is_finite()) => Err(Error::invalid(
                "clipnorm",
                format!("{c}; it must be a positive number (or None for no clipping)"),
            )),
            _ => Ok(()),
        }
    }
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            seed: 42,
            adam: AdamConfig::default(),
            sgd: None,
            early_stopping: None,
            lr_schedule: LrSchedule::Constant,
            clipnorm: None,
            checkpoint_dir: None,
            progress: Progress::Auto,
        }
    }
}

/// The best epoch so far, for early stopping.
#[derive(Debug)]
struct Best {
    epoch: usize,
    val_loss: f64,
    weights: Vec<(String, Tensor)>,
}

/// The update rule a trainer applies, with its state.
#[derive(Debug)]
enum Optimizer {
    Adam(Adam),
    Sgd(Sgd),
}

impl Optimizer {
    fn new(model: &Model, options: &TrainOptions) -> Result<Self> {
        Ok(match options.sgd {
            Some(sgd) => Optimizer::Sgd(Sgd::new(model.variables(), sgd)?),
            None => Optimizer::Adam(Adam::new(model.variables(), options.adam)?),
        })
    }

    fn parameters(&self) -> &Parameters {
        match self {
            Optimizer::Adam(adam) => adam.parameters(),
            Optimizer::Sgd(sgd) => sgd.parameters(),
        }
    }

    fn parameters_mut(&mut self) -> &mut Parameters {
        match self {
            Optimizer::Adam(adam) => adam.parameters_mut(),
            Optimizer::Sgd(sgd) => sgd.parameters_mut(),
        }
    }

    fn step_with_learning_rate(&mut self, learning_rate: f64) {
        match self {
            Optimizer::Adam(adam) => adam.step_with_learning_rate(learning_rate),
            Optimizer::Sgd(sgd) => sgd.step_with_learning_rate(learning_rate),
        }
    }

    /// Adam's moments for a checkpoint (plain SGD has none).
    fn state_tensors(&self) -> Vec<(String, Tensor)> {
        match self {
            Optimizer::Adam(adam) => adam.state_tensors(),
            Optimizer::Sgd(_) => Vec::new(),
        }
    }

    fn load_state(&mut self, tensors: &BTreeMap<String, Tensor>, step: i64) -> Result<()> {
        match self {
            Optimizer::Adam(adam) => adam.load_state(tensors, step),
            Optimizer::Sgd(sgd) => {
                sgd.parameters_mut().restore_step_count(step);
                Ok(())
            }
        }
    }
}

/// Trains one [`Model`]: the optimizer state, the history, early stopping.
#[derive(Debug)]
pub struct Trainer {
    model: Model,
    optimizer: Optimizer,
    options: TrainOptions,
    history: History,
    best: Option<Best>,
    stopped_early: bool,
    batch_size: Option<usize>,
}

/// Training items and epochs of [`quick_look`].
pub const QUICK_LOOK_IMAGES: usize = 12_000;
pub const QUICK_LOOK_EPOCHS: usize = 3;

/// A quick look at one change, for "try this" cells: `config` from seed 42, trained on the
/// first 12,000 items of `train` for 3 epochs (batch 128, Adam 0.001) and validated on
/// `validation` after each, without progress lines; the history. Enough to see a large effect
/// in a few seconds, not to measure a small one.
pub fn quick_look(
    config: &ModelConfig,
    train: &Dataset,
    validation: &Dataset,
    device: Device,
) -> Result<History> {
    let options = TrainOptions {
        progress: Progress::Silent,
        ..TrainOptions::default()
    };
    let mut trainer = Trainer::new(Model::new(config, 42, device)?, options)?;
    trainer.fit(
        &train.take(QUICK_LOOK_IMAGES),
        validation,
        QUICK_LOOK_EPOCHS,
        128,
    )
}

/// What [`quick_look`]'s result depends on, as 16 hex digits: the config, the budget and the
/// two datasets' fingerprints. A cached quick look is found by it
/// ([`crate::session::Session::quick_look`]).
pub fn quick_look_key(
    config: &ModelConfig,
    train: &Dataset,
    validation: &Dataset,
) -> Result<String> {
    let config = serde_json::to_string(config)
        .map_err(|e| Error::invalid("model config", format!("cannot be written as JSON ({e})")))?;
    let description = format!(
        "lstm_support quick look v1 {config} images {QUICK_LOOK_IMAGES} epochs {QUICK_LOOK_EPOCHS} \
         train {} validation {}",
        train.take(QUICK_LOOK_IMAGES).fingerprint()?,
        validation.fingerprint()?
    );
    Ok(crate::data::source::sha256_hex(description.as_bytes())[..16].to_owned())
}

impl Trainer {
    /// A trainer for `model` (Adam over all its parameters).
    pub fn new(model: Model, options: TrainOptions) -> Result<Self> {
        options.validate()?;
        let optimizer = Optimizer::new(&model, &options)?;
        Ok(Trainer {
            model,
            optimizer,
            options,
            history: History::default(),
            best: None,
            stopped_early: false,
            batch_size: None,
        })
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The trained model, for evaluation, prediction and saving.
    pub fn into_model(self) -> Model {
        self.model
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    pub fn options(&self) -> &TrainOptions {
        &self.options
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
        self.fit_until(train, validation, epochs, batch_size, epochs)
    }

    /// [`Trainer::fit`] for a run of `epochs` epochs that stops after epoch `stop_after`, as a
    /// run that was interrupted there (tests of resuming use it).
    fn fit_until(
        &mut self,
        train: &Dataset,
        validation: &Dataset,
        epochs: usize,
        batch_size: usize,
        stop_after: usize,
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
        while self.history.len() < epochs.min(stop_after) && !self.stopped_early {
            let epoch = self.history.len() + 1;
            let started = Instant::now();
            let (train_loss, train_accuracy, gradients) =
                self.train_epoch(train, batch_size, epoch, epochs)?;
            let (val_loss, val_accuracy) = self.model.loss_and_accuracy(validation)?;
            let metrics = EpochMetrics {
                epoch,
                train_loss,
                train_accuracy,
                val_loss,
                val_accuracy,
                seconds: started.elapsed().as_secs_f64(),
                gradients,
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
                checkpoint::save(self, &dir)?;
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

    /// One pass over the shuffled training set; returns the mean loss and accuracy, and the
    /// sizes of the gradients.
    fn train_epoch(
        &mut self,
        train: &Dataset,
        batch_size: usize,
        epoch: usize,
        epochs: usize,
    ) -> Result<(f64, f64, Option<GradientStats>)> {
        // Seeds derived from (seed, epoch) alone, so a resumed run draws the same shuffles and
        // dropout masks as an uninterrupted one.
        let epoch_seed = self.options.seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        tch::manual_seed(epoch_seed as i64);
        let mut order: Vec<i64> = (0..train.len() as i64).collect();
        SplitMix64::new(epoch_seed).shuffle(&mut order);

        let batches = order.chunks(batch_size).count();
        let bar = (self.progress() == Progress::Bar).then(|| progress_bar(batches, epoch, epochs));
        let device = self.model.device();
        // The native kernels use every core themselves; libtorch's spinning workers would
        // compete with them (restored before validation).
        let _threads = self.model.training_threads();
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0i64, 0usize);
        let mut batch_norms = Vec::with_capacity(batches);
        for (batch_index, indices) in order.chunks(batch_size).enumerate() {
            crate::pause::point("batch");
            let index = Tensor::from_slice(indices);
            let images = train.images().index_select(0, &index).to_device(device);
            let labels = train.labels().index_select(0, &index).to_device(device);
            self.optimizer.parameters_mut().zero_grad();
            let step = self.model.training_step(&images, &labels)?;
            if !step.loss.is_finite() {
                return Err(Error::NonFiniteLoss {
                    epoch,
                    batch: batch_index + 1,
                    value: step.loss,
                });
            }
            // Measured on every batch (an infinite limit clips nothing), clipped when asked.
            let limit = self.options.clipnorm.unwrap_or(f64::INFINITY);
            batch_norms.push(self.optimizer.parameters_mut().clip_gradient_norms(limit));
            let update = (epoch - 1) * batches + batch_index;
            let learning_rate = self.options.lr_schedule.learning_rate(
                self.options.learning_rate(),
                update,
                batches,
                epochs,
            );
            self.optimizer.step_with_learning_rate(learning_rate);
            let n = indices.len();
            loss_sum += step.loss * n as f64;
            correct += step.correct;
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
        Ok((
            loss_sum / seen as f64,
            correct as f64 / seen as f64,
            GradientStats::new(&batch_norms, self.options.clipnorm),
        ))
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
                weights: self.model.weights_copy(),
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
                self.model.load_named(&weights, "", "best weights")?;
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
