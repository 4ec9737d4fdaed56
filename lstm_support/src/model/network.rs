//! The built layers of a [`ModelConfig`](super::ModelConfig) and their forward passes. Crate
//! private: users hold a [`Model`](super::Model), which owns the weights this reads.
use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

use super::config::{Activation, InputLayout, Layer, ModelConfig};
use crate::error::{Error, Result};
use crate::nn::init::glorot_uniform;
use crate::nn::{Backprop, Recurrent, RecurrentWeights, StepTrace};

/// One built layer.
#[derive(Debug)]
enum Block {
    Recurrent(Recurrent),
    Conv(nn::Conv2D),
    MaxPool(i64),
    Flatten,
    Dense(nn::Linear, Activation),
    Dropout(f64),
}

/// The layers of a config and a Dense head producing logits (the softmax is folded into the
/// loss and into the probabilities).
#[derive(Debug)]
pub(crate) struct Network {
    input: InputLayout,
    blocks: Vec<Block>,
    pub(super) head: nn::Linear,
}

/// Keras' Dense: Glorot-uniform kernel, zero bias.
fn dense(vs: nn::Path, inputs: usize, outputs: usize) -> nn::Linear {
    let config = nn::LinearConfig {
        ws_init: glorot_uniform(inputs as i64, outputs as i64),
        bs_init: Some(nn::Init::Const(0.0)),
        bias: true,
    };
    nn::linear(vs, inputs as i64, outputs as i64, config)
}

/// The parameter path of layer `index` (`layer0`, `layer1`, ...) and of the head (`head`).
pub(crate) fn layer_path(index: usize) -> String {
    format!("layer{index}")
}
pub(crate) const HEAD_PATH: &str = "head";

impl Network {
    /// Builds the network `config` describes with its parameters under `vs`.
    pub(crate) fn new(vs: &nn::Path, config: &ModelConfig) -> Result<Network> {
        let head_inputs = config.validate()?;
        let mut shape = config.input.shape();
        let mut blocks = Vec::with_capacity(config.layers.len());
        for (index, layer) in config.layers.iter().enumerate() {
            let path = vs / layer_path(index);
            let block = match layer {
                Layer::Recurrent(c) => Block::Recurrent(Recurrent::new(path, shape[1], *c)?),
                Layer::Conv2d {
                    filters,
                    kernel_size,
                } => {
                    let (k, cin, cout) = (*kernel_size as i64, shape[0] as i64, *filters as i64);
                    let conv_config = nn::ConvConfig {
                        ws_init: glorot_uniform(k * k * cin, k * k * cout),
                        bs_init: nn::Init::Const(0.0),
                        ..Default::default()
                    };
                    Block::Conv(nn::conv2d(path, cin, cout, k, conv_config))
                }
                Layer::MaxPool2d { pool_size } => Block::MaxPool(*pool_size as i64),
                Layer::Flatten => Block::Flatten,
                Layer::Dense { units, activation } => {
                    Block::Dense(dense(path, shape[0], *units), *activation)
                }
                Layer::Dropout { rate } => Block::Dropout(*rate),
            };
            shape = layer.output_shape(index, &shape)?;
            blocks.push(block);
        }
        let head = dense(vs / HEAD_PATH, head_inputs, config.num_classes);
        Ok(Network {
            input: config.input,
            blocks,
            head,
        })
    }

    /// `images: [B, 28, 28]` (checked by the caller) -> logits `[B, num_classes]`. With
    /// `train`, dropout is on.
    pub(crate) fn forward_t(&self, images: &Tensor, train: bool) -> Tensor {
        let mut xs = self.input_view(images);
        for block in &self.blocks {
            xs = apply(block, &xs, train);
        }
        self.head.forward_t(&xs, train)
    }

    /// The training forward pass: `forward_t(images, true)` with the same random draws, but
    /// recurrent layers with recurrent dropout run their taped paths; the tapes land in
    /// `tapes`, to be run right after `loss.backward()` (only `Model::training_step` calls
    /// this).
    pub(crate) fn forward_train(&self, images: &Tensor, tapes: &mut Backprop) -> Result<Tensor> {
        let mut xs = self.input_view(images);
        for block in &self.blocks {
            xs = match block {
                Block::Recurrent(layer) => {
                    let (ys, tape) = layer.forward_train(&xs)?;
                    if let Some(tape) = tape {
                        tapes.push(tape);
                    }
                    ys
                }
                other => apply(other, &xs, true),
            };
        }
        Ok(self.head.forward_t(&xs, true))
    }

    /// The images as the first layer takes them: rows as steps, or with a channel dimension
    /// for a CNN (added to `[B, H, W]` images).
    fn input_view(&self, images: &Tensor) -> Tensor {
        match self.input {
            InputLayout::Image { .. } if images.dim() == 3 => images.unsqueeze(1),
            _ => images.shallow_clone(),
        }
    }

    /// Logits after every row, `[B, T, num_classes]`, evaluation mode, in one pass: the last
    /// recurrent layer returns every step's h and the layers after it and the head apply to
    /// each step. The recurrence is causal, so step k's logits are what the model would answer
    /// after reading only k rows.
    pub(crate) fn logits_after_every_row(&self, images: &Tensor) -> Result<Tensor> {
        if !matches!(self.input, InputLayout::Sequence { .. }) {
            return Err(Error::invalid(
                "model",
                "it does not read the image row by row (a CNN sees the whole image at once)",
            ));
        }
        let last_recurrent = self
            .blocks
            .iter()
            .rposition(|b| matches!(b, Block::Recurrent(_)))
            .ok_or_else(|| Error::invalid("model", "it has no recurrent layer"))?;
        let mut xs = images.shallow_clone();
        for (index, block) in self.blocks.iter().enumerate() {
            xs = match block {
                Block::Recurrent(layer) if index == last_recurrent => {
                    layer.fused_every_step(&xs, false)
                }
                Block::Recurrent(layer) => layer.forward_t(&xs, false),
                Block::Dense(..) | Block::Dropout(_) => apply(block, &xs, false),
                _ => {
                    return Err(Error::invalid(
                        "model",
                        "a layer after its recurrent layers does not work step by step",
                    ))
                }
            };
        }
        Ok(self.head.forward_t(&xs, false))
    }
}

impl Network {
    /// The first layer, which must be recurrent; the error names `what` needs it.
    fn first_recurrent(&self, what: &str) -> Result<&Recurrent> {
        match self.blocks.first() {
            Some(Block::Recurrent(layer)) if matches!(self.input, InputLayout::Sequence { .. }) => {
                Ok(layer)
            }
            _ => Err(Error::invalid(
                "model",
                format!("{what} needs a model whose first layer is recurrent (an LSTM, GRU or SimpleRNN)"),
            )),
        }
    }

    /// The first recurrent layer's weights.
    pub(crate) fn recurrent_weights(&self) -> Result<RecurrentWeights> {
        Ok(self.first_recurrent("its recurrent weights")?.weights())
    }

    /// Inside the first recurrent layer at every step, evaluation mode.
    pub(crate) fn trace(&self, images: &Tensor) -> Result<StepTrace> {
        Ok(self.first_recurrent("a step trace")?.trace(images))
    }

    /// The mean over the batch of |dL/dh(t)| for every step t, `L` the categorical
    /// cross-entropy on `one_hot` targets, in evaluation mode (no dropout), for a model of one
    /// recurrent layer and the head.
    pub(crate) fn hidden_gradient_norms(
        &self,
        images: &Tensor,
        one_hot: &Tensor,
    ) -> Result<Vec<f64>> {
        let layer = self.first_recurrent("the gradient through time")?;
        if self.blocks.len() != 1 || layer.config().return_sequences {
            return Err(Error::invalid(
                "model",
                "the gradient through time is measured for one recurrent layer and the head only",
            ));
        }
        let (hidden, last) = layer.hidden_states_in_graph(images);
        let loss = categorical_cross_entropy(&self.head.forward_t(&last, false), one_hot);
        let grads = Tensor::f_run_backward(&[loss], &hidden, false, false)?;
        grads
            .iter()
            .map(|g| {
                let norms = g.norm_scalaropt_dim(2, [-1].as_slice(), false);
                Ok(norms.mean(Kind::Double).f_double_value(&[])?)
            })
            .collect()
    }
}

/// A non-recurrent block's forward pass.
fn apply(block: &Block, xs: &Tensor, train: bool) -> Tensor {
    match block {
        Block::Recurrent(layer) => layer.forward_t(xs, train),
        Block::Conv(conv) => conv.forward_t(xs, train).relu(),
        Block::MaxPool(size) => xs.max_pool2d_default(*size),
        Block::Flatten => xs.flatten(1, -1),
        Block::Dense(linear, activation) => {
            let ys = linear.forward_t(xs, train);
            match activation {
                Activation::Relu => ys.relu(),
                Activation::Tanh => ys.tanh(),
                Activation::Linear => ys,
            }
        }
        Block::Dropout(rate) => xs.dropout(*rate, train),
    }
}

/// Keras' `categorical_crossentropy` on logits and one-hot targets `[B, C]`, averaged over
/// the batch.
pub fn categorical_cross_entropy(logits: &Tensor, one_hot: &Tensor) -> Tensor {
    -(one_hot * logits.log_softmax(-1, Kind::Float))
        .sum_dim_intlist(-1, false, Kind::Float)
        .mean(Kind::Float)
}

/// One-hot encoding `[B, C]` of class indices `[B]` (Keras' `to_categorical`).
pub fn one_hot(labels: &Tensor, num_classes: usize) -> Tensor {
    labels.one_hot(num_classes as i64).to_kind(Kind::Float)
}
