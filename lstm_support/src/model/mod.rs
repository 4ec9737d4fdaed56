//! [`Model`]: a classifier you hold (its config, its weights, its device). It counts and
//! summarises its parameters, predicts, reads row by row, runs one training step, and saves
//! and loads itself as safetensors that PyTorch also reads.
//!
//! ```no_run
//! use lstm_support::model::{Model, ModelConfig};
//! let model = Model::new(&ModelConfig::lstm(32, 0.15), 42, tch::Device::Cpu)?;
//! println!("{}", model.summary()); // Keras' model.summary()
//! model.save("lstm32.safetensors")?;
//! let again = Model::load("lstm32.safetensors", tch::Device::Cpu)?;
//! # Ok::<(), lstm_support::Error>(())
//! ```
mod config;
mod input;
mod network;
mod summary;
mod weights;

use std::path::Path;

use tch::{nn, Device, Kind, Tensor};

pub use config::{Activation, InputLayout, Layer, ModelConfig};
pub use network::{categorical_cross_entropy, one_hot};
pub use summary::Summary;

use crate::data::{Dataset, TestSet};
use crate::error::{Error, Result};
use crate::nn::{Backprop, RecurrentWeights, StepTrace, TrainingPath, TrainingThreads};
use network::Network;

/// Rows per forward pass when evaluating (no gradients, so larger than a training batch).
const EVAL_BATCH: i64 = 2000;

/// A classifier: its config, its weights (in a `VarStore` on one device) and the built layers.
#[derive(Debug)]
pub struct Model {
    config: ModelConfig,
    vs: nn::VarStore,
    network: Network,
}

/// What one training step measured on its batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOutcome {
    /// Mean categorical cross-entropy of the batch.
    pub loss: f64,
    /// Correctly classified items of the batch (dropout on, as the step saw them).
    pub correct: i64,
}

/// Predictions on a dataset.
#[derive(Debug)]
pub struct Predictions {
    /// Predicted class per item.
    pub classes: Vec<i64>,
    /// Probability the model gave its predicted class, per item.
    pub confidences: Vec<f32>,
    /// `[N, num_classes]` softmax outputs, on the CPU.
    pub probabilities: Tensor,
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

impl Model {
    /// Builds the model `config` describes, its weights drawn from `seed` with Keras'
    /// initialisers, on `device`.
    pub fn new(config: &ModelConfig, seed: u64, device: Device) -> Result<Model> {
        config.validate()?;
        tch::manual_seed(seed as i64);
        let vs = nn::VarStore::new(device);
        let network = Network::new(&vs.root(), config)?;
        Ok(Model {
            config: config.clone(),
            vs,
            network,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// What training this model needs of libtorch's threads, to hold while an epoch trains:
    /// one thread while a recurrent layer trains through the native kernels (they use every
    /// core themselves), else as they are; restored when dropped.
    pub fn training_threads(&self) -> TrainingThreads {
        TrainingThreads::for_paths(self.config.layers.iter().filter_map(|layer| match layer {
            Layer::Recurrent(config) => Some(TrainingPath::for_layer(config, self.device())),
            _ => None,
        }))
    }

    /// Trainable parameters, as Keras' `model.count_params()`.
    pub fn parameter_count(&self) -> usize {
        self.vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel())
            .sum()
    }

    /// Keras' `model.summary()`: each layer, its output shape and its parameters. Shows as an
    /// HTML table in a notebook and as text with `println!("{}", ...)`.
    pub fn summary(&self) -> Summary {
        Summary::new(self)
    }

    /// Logits `[B, num_classes]` for images `[B, 28, 28]` (a CNN also takes `[B, 1, 28, 28]`;
    /// a recurrent model the first k rows alone, `[B, k, 28]`), moved to the model's device;
    /// with `train`, dropout is on (as in tch's `forward_t`). Errors, saying what it expected,
    /// for images of another shape or kind, or none.
    pub fn forward_t(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        let images = self.images_on_device(images)?;
        Ok(self.network.forward_t(&images, train))
    }

    /// Class probabilities `[B, num_classes]` for images as [`Model::forward_t`] takes them,
    /// evaluation mode.
    pub fn probabilities(&self, images: &Tensor) -> Result<Tensor> {
        let images = self.images_on_device(images)?;
        Ok(tch::no_grad(|| {
            self.network
                .forward_t(&images, false)
                .softmax(-1, Kind::Float)
        }))
    }

    /// `images` on the model's device, once they are checked to be what the model takes.
    fn images_on_device(&self, images: &Tensor) -> Result<Tensor> {
        input::check_images(&self.config.input, images)?;
        Ok(images.to_device(self.device()))
    }

    /// Checks that `data`'s images have a shape the model takes.
    fn check_dataset(&self, data: &Dataset) -> Result<()> {
        input::check_images_shape(&self.config.input, data.images())
    }

    /// Predicted classes, their confidences and all probabilities for every item of `data`.
    pub fn predict(&self, data: &Dataset) -> Result<Predictions> {
        let (probabilities, _) = self.probabilities_and_loss(data)?;
        let (confidence, predicted) = probabilities.max_dim(-1, false);
        Ok(Predictions {
            classes: Vec::<i64>::try_from(&predicted)?,
            confidences: Vec::<f32>::try_from(&confidence)?,
            probabilities,
        })
    }

    /// Mean loss and accuracy on `data`, evaluation mode (no dropout): what Keras reports as
    /// `val_loss` and `val_accuracy`.
    pub fn loss_and_accuracy(&self, data: &Dataset) -> Result<(f64, f64)> {
        let (probabilities, loss) = self.probabilities_and_loss(data)?;
        let accuracy = probabilities
            .argmax(-1, false)
            .eq_tensor(data.labels())
            .to_kind(Kind::Float)
            .mean(Kind::Float)
            .double_value(&[]);
        Ok((loss, accuracy))
    }

    /// Evaluates the model on the test set: the only function that takes it. Call it once,
    /// when training is over.
    pub fn evaluate(&self, test: &TestSet) -> Result<Evaluation> {
        let data = test.dataset();
        let (probabilities, loss) = self.probabilities_and_loss(data)?;
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

    /// Softmax outputs `[N, C]` on the CPU and the mean loss over `data`.
    fn probabilities_and_loss(&self, data: &Dataset) -> Result<(Tensor, f64)> {
        let num_classes = self.config.num_classes;
        let mut outputs = Vec::new();
        let mut loss_sum = 0.0;
        self.for_each_eval_batch(data, |images, labels| {
            let logits = self.network.forward_t(&images, false);
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
        if data.is_empty() {
            return Err(Error::invalid("dataset", "it is empty"));
        }
        self.check_dataset(data)?;
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

    /// Accuracy on `data` when the model stops reading after k rows, for k = 1 to 28: how much
    /// of the image a recurrent model needs to see. The head was trained on the state after
    /// the last row only, so early answers are answers it never practised. Errors for a model
    /// that does not read rows.
    pub fn accuracy_by_rows(&self, data: &Dataset) -> Result<Vec<(usize, f64)>> {
        let mut correct: Vec<i64> = Vec::new();
        self.for_each_eval_batch(data, |images, labels| {
            let logits = self.network.logits_after_every_row(&images)?; // [B, T, C]
            let hits = logits.argmax(-1, false).eq_tensor(&labels.unsqueeze(1)); // [B, T]
            let per_step = Vec::<i64>::try_from(
                hits.sum_dim_intlist(0, false, Kind::Int64)
                    .to_device(Device::Cpu),
            )?;
            correct.resize(per_step.len(), 0);
            for (total, hit) in correct.iter_mut().zip(per_step) {
                *total += hit;
            }
            Ok(())
        })?;
        let n = data.len() as f64;
        Ok(correct
            .into_iter()
            .enumerate()
            .map(|(k, c)| (k + 1, c as f64 / n))
            .collect())
    }

    /// The class the head answers for each image of `data` when the model stops reading after
    /// `rows` rows (1 to the number of steps): what [`Self::accuracy_by_rows`] counts, answer
    /// by answer.
    pub fn predictions_after_rows(&self, data: &Dataset, rows: usize) -> Result<Vec<i64>> {
        let mut answers: Vec<i64> = Vec::new();
        self.for_each_eval_batch(data, |images, _| {
            let steps = images.size().get(1).copied().unwrap_or(0) as usize;
            if rows == 0 || rows > steps {
                return Err(Error::invalid(
                    "rows",
                    format!("{rows}; give a number of rows from 1 to {steps}"),
                ));
            }
            let logits = self.network.logits_after_every_row(&images)?; // [B, T, C]
            let at = logits.select(1, rows as i64 - 1).argmax(-1, false);
            answers.extend(Vec::<i64>::try_from(at.to_device(Device::Cpu))?);
            Ok(())
        })?;
        Ok(answers)
    }

    /// The weights of the first layer, which must be recurrent (detached copies on the CPU):
    /// for computing a step by hand.
    pub fn recurrent_weights(&self) -> Result<RecurrentWeights> {
        let w = self.network.recurrent_weights()?;
        let cpu = |t: Tensor| t.to_device(Device::Cpu);
        Ok(RecurrentWeights {
            cell: w.cell,
            w_ih: cpu(w.w_ih),
            w_hh: cpu(w.w_hh),
            b_ih: cpu(w.b_ih),
            b_hh: cpu(w.b_hh),
        })
    }

    /// What the first layer (recurrent) computes at every step for the items of `data` at
    /// `indices`: its gates, the LSTM's cell state and h(t), each `[items, 28, H]`, on the CPU,
    /// evaluation mode.
    pub fn step_trace(&self, data: &Dataset, indices: &[usize]) -> Result<StepTrace> {
        self.check_dataset(data)?;
        let indices: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
        let images = data.select(&indices)?.images().to_device(self.device());
        let trace = self.network.trace(&images)?;
        let cpu = |t: Tensor| t.to_device(Device::Cpu);
        Ok(StepTrace {
            cell: trace.cell,
            gates: trace.gates.into_iter().map(|(n, t)| (n, cpu(t))).collect(),
            cell_state: trace.cell_state.map(cpu),
            hidden: cpu(trace.hidden),
        })
    }

    /// How far the loss reaches back in time: for every step t, the mean over the first
    /// `count` items of `data` of |dL/dh(t)|, the gradient of the loss (categorical
    /// cross-entropy, evaluation mode) with respect to the hidden state at step t, through the
    /// recurrence. For a model of one recurrent layer and the head.
    pub fn hidden_gradient_norms(&self, data: &Dataset, count: usize) -> Result<Vec<f64>> {
        self.check_dataset(data)?;
        if count == 0 || data.is_empty() {
            return Err(Error::invalid(
                "count",
                format!(
                    "{count} items of a dataset of {}; give at least 1 item",
                    data.len()
                ),
            ));
        }
        let data = data.take(count);
        let images = data.images().to_device(self.device());
        let targets = one_hot(
            &data.labels().to_device(self.device()),
            self.config.num_classes,
        );
        self.network.hidden_gradient_norms(&images, &targets)
    }

    /// For the items of `data` at `indices`: the class probabilities after reading 1, 2, ...,
    /// 28 rows, as `[item][rows][classes]`, from one forward pass.
    pub fn probabilities_by_rows(
        &self,
        data: &Dataset,
        indices: &[usize],
    ) -> Result<Vec<Vec<Vec<f32>>>> {
        self.check_dataset(data)?;
        let indices: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
        let subset = data.select(&indices)?;
        let probabilities = tch::no_grad(|| {
            self.network
                .logits_after_every_row(&subset.images().to_device(self.device()))
        })?
        .softmax(-1, Kind::Float)
        .to_device(Device::Cpu);
        let (items, steps) = (probabilities.size()[0], probabilities.size()[1]);
        (0..items)
            .map(|i| {
                (0..steps)
                    .map(|k| Ok(Vec::<f32>::try_from(probabilities.get(i).get(k))?))
                    .collect::<Result<Vec<_>>>()
            })
            .collect()
    }

    /// One training step's gradients: the forward pass with dropout, categorical
    /// cross-entropy against `labels`, and the backward pass, all three, so the gradients are
    /// complete when it returns (LSTM layers with recurrent dropout run their hand-written
    /// backward pass through time here). Gradients add up in the parameters: zero them before
    /// and apply them after, as an optimizer does. Errors, before any computation, for images
    /// [`Model::forward_t`] does not take or labels that are not one int64 class index per
    /// image.
    pub fn training_step(&self, images: &Tensor, labels: &Tensor) -> Result<StepOutcome> {
        let (images, labels) = self.batch_on_device(images, labels)?;
        let mut tapes = Backprop::default();
        let logits = self.network.forward_train(&images, &mut tapes)?;
        self.finish_step(&logits, &labels, tapes)
    }

    /// [`Model::training_step`] through autograd of the plain step loop instead of the
    /// hand-written backward pass: the same function, slower; the reference the fast path is
    /// tested and benchmarked against.
    pub fn training_step_autograd(&self, images: &Tensor, labels: &Tensor) -> Result<StepOutcome> {
        let (images, labels) = self.batch_on_device(images, labels)?;
        let logits = self.network.forward_t(&images, true);
        self.finish_step(&logits, &labels, Backprop::default())
    }

    /// A training batch on the model's device, once checked: images as [`Model::forward_t`]
    /// takes them and one int64 class index per image.
    fn batch_on_device(&self, images: &Tensor, labels: &Tensor) -> Result<(Tensor, Tensor)> {
        let batch = input::check_images(&self.config.input, images)?;
        input::check_labels(labels, batch, self.config.num_classes)?;
        Ok((
            images.to_device(self.device()),
            labels.to_device(self.device()),
        ))
    }

    fn finish_step(
        &self,
        logits: &Tensor,
        labels: &Tensor,
        tapes: Backprop,
    ) -> Result<StepOutcome> {
        let loss = categorical_cross_entropy(logits, &one_hot(labels, self.config.num_classes));
        loss.backward();
        tapes.run()?;
        let correct = logits
            .argmax(-1, false)
            .eq_tensor(labels)
            .sum(Kind::Int64)
            .int64_value(&[]);
        Ok(StepOutcome {
            loss: loss.double_value(&[]),
            correct,
        })
    }

    /// Saves the weights as safetensors under PyTorch's names (`rnn.weight_ih_l0`, ...,
    /// `head.weight`), with the config in the file's metadata, written atomically. PyTorch's
    /// `nn.LSTM` / `nn.GRU` / `nn.RNN` (`batch_first=True`) plus `nn.Linear` load it with
    /// `load_state_dict` (see the README).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        weights::save(self, path.as_ref())
    }

    /// Loads a model written by [`Model::save`] onto `device`.
    pub fn load(path: impl AsRef<Path>, device: Device) -> Result<Model> {
        weights::load(path.as_ref(), device)
    }

    /// The parameters by their `VarStore` names (`layer0.weight_ih`, `head.weight`, ...), as
    /// tch's `VarStore::variables` gives them: for an optimizer of your own.
    pub fn variables(&self) -> std::collections::HashMap<String, Tensor> {
        self.vs.variables()
    }

    /// A detached copy of every parameter, sorted by name.
    pub(crate) fn weights_copy(&self) -> Vec<(String, Tensor)> {
        let mut named: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .map(|(k, t)| (k, t.detach().copy()))
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        named
    }

    /// Copies `tensors[<prefix><name>]` into every parameter, checking each shape; `origin`
    /// names the file in errors.
    pub(crate) fn load_named(
        &mut self,
        tensors: &std::collections::BTreeMap<String, Tensor>,
        prefix: &str,
        origin: &str,
    ) -> Result<()> {
        for (name, mut var) in self.vs.variables() {
            let key = format!("{prefix}{name}");
            let saved = tensors.get(&key).ok_or_else(|| {
                Error::invalid(
                    origin,
                    format!(
                        "it has no tensor {key}: it was saved from another model configuration"
                    ),
                )
            })?;
            copy_checked(&mut var, saved, &key, origin)?;
        }
        Ok(())
    }
}

/// Copies `saved` into `var` when the shapes agree.
fn copy_checked(var: &mut Tensor, saved: &Tensor, key: &str, origin: &str) -> Result<()> {
    if saved.size() != var.size() {
        return Err(Error::invalid(
            origin,
            format!(
                "{key} has shape {:?} but the model needs {:?}: it was saved from another model configuration",
                saved.size(),
                var.size()
            ),
        ));
    }
    tch::no_grad(|| var.f_copy_(saved))?;
    Ok(())
}

#[cfg(test)]
mod tests;
