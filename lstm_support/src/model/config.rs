//! [`ModelConfig`]: what a classifier is made of (input layout, layers, a Dense softmax head),
//! as a Keras `Sequential` model lists it; serializable, validated before anything is built.
use serde::{Deserialize, Serialize};

use crate::data::ROWS;
use crate::error::{Error, Result};
use crate::nn::{CellKind, RecurrentConfig};

/// How an image enters the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum InputLayout {
    /// `[B, steps, features]`: for MNIST 28 time steps (rows) of 28 features; a recurrent
    /// model also reads the first k steps alone, `[B, k, features]`.
    Sequence { steps: usize, features: usize },
    /// `[B, 1, 28, 28]`: one channel, for convolutions.
    Image {
        channels: usize,
        height: usize,
        width: usize,
    },
}

impl InputLayout {
    pub fn mnist_sequence() -> Self {
        InputLayout::Sequence {
            steps: ROWS,
            features: ROWS,
        }
    }

    pub fn mnist_image() -> Self {
        InputLayout::Image {
            channels: 1,
            height: ROWS,
            width: ROWS,
        }
    }

    pub(crate) fn shape(&self) -> Vec<usize> {
        match *self {
            InputLayout::Sequence { steps, features } => vec![steps, features],
            InputLayout::Image {
                channels,
                height,
                width,
            } => vec![channels, height, width],
        }
    }
}

/// Activation of a hidden Dense layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Relu,
    Tanh,
    Linear,
}

/// One layer of the stack, before the softmax head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", from = "LayerRepr")]
pub enum Layer {
    /// An LSTM, GRU or simple RNN layer (`config.cell` says which).
    Recurrent(RecurrentConfig),
    /// Keras `Conv2D(filters, kernel_size, activation="relu")`, valid padding.
    Conv2d {
        filters: usize,
        kernel_size: usize,
    },
    /// Keras `MaxPooling2D(pool_size)`.
    MaxPool2d {
        pool_size: usize,
    },
    Flatten,
    Dense {
        units: usize,
        activation: Activation,
    },
    /// Keras `Dropout(rate)`: zeroes a fraction of its inputs during training only.
    Dropout {
        rate: f64,
    },
}

/// What run records store for a layer: today's form, or the form of records written before
/// the cell kind moved into [`RecurrentConfig`] (`{"type": "lstm", "units": 32, ...}`).
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
enum LayerRepr {
    Recurrent(RecurrentConfig),
    Lstm(LegacyRecurrent),
    Gru(LegacyRecurrent),
    SimpleRnn(LegacyRecurrent),
    Conv2d {
        filters: usize,
        kernel_size: usize,
    },
    MaxPool2d {
        pool_size: usize,
    },
    Flatten,
    Dense {
        units: usize,
        activation: Activation,
    },
    Dropout {
        rate: f64,
    },
}

#[derive(Deserialize)]
struct LegacyRecurrent {
    units: usize,
    #[serde(default)]
    dropout: f64,
    #[serde(default)]
    recurrent_dropout: f64,
    #[serde(default)]
    return_sequences: bool,
}

impl LegacyRecurrent {
    fn with_cell(self, cell: CellKind) -> Layer {
        Layer::Recurrent(RecurrentConfig {
            cell,
            units: self.units,
            dropout: self.dropout,
            recurrent_dropout: self.recurrent_dropout,
            return_sequences: self.return_sequences,
            recurrent_mask: Default::default(),
        })
    }
}

impl From<LayerRepr> for Layer {
    fn from(repr: LayerRepr) -> Self {
        match repr {
            LayerRepr::Recurrent(config) => Layer::Recurrent(config),
            LayerRepr::Lstm(old) => old.with_cell(CellKind::Lstm),
            LayerRepr::Gru(old) => old.with_cell(CellKind::Gru),
            LayerRepr::SimpleRnn(old) => old.with_cell(CellKind::SimpleRnn),
            LayerRepr::Conv2d {
                filters,
                kernel_size,
            } => Layer::Conv2d {
                filters,
                kernel_size,
            },
            LayerRepr::MaxPool2d { pool_size } => Layer::MaxPool2d { pool_size },
            LayerRepr::Flatten => Layer::Flatten,
            LayerRepr::Dense { units, activation } => Layer::Dense { units, activation },
            LayerRepr::Dropout { rate } => Layer::Dropout { rate },
        }
    }
}

impl Layer {
    /// Keras-style name with the settings that matter, e.g. `LSTM(32, recurrent_dropout=0.15)`.
    pub fn describe(&self) -> String {
        match self {
            Layer::Recurrent(c) => c.describe(),
            Layer::Conv2d {
                filters,
                kernel_size,
            } => format!("Conv2D({filters}, {kernel_size}x{kernel_size}, relu)"),
            Layer::MaxPool2d { pool_size } => format!("MaxPooling2D({pool_size})"),
            Layer::Flatten => "Flatten".into(),
            Layer::Dense { units, activation } => {
                format!(
                    "Dense({units}, {})",
                    format!("{activation:?}").to_lowercase()
                )
            }
            Layer::Dropout { rate } => format!("Dropout({rate})"),
        }
    }

    /// The output shape (without the batch) for an input shape, or why the layer does not fit.
    pub(crate) fn output_shape(&self, index: usize, input: &[usize]) -> Result<Vec<usize>> {
        let misfit = |expected: &str| {
            Err(Error::invalid(
                format!("layer {index} ({})", self.describe()),
                format!("it needs {expected} input but gets shape {input:?}"),
            ))
        };
        match self {
            Layer::Recurrent(c) => {
                c.validate(&format!("layer {index} ({})", self.describe()))?;
                match input {
                    [steps, _features] => Ok(if c.return_sequences {
                        vec![*steps, c.units]
                    } else {
                        vec![c.units]
                    }),
                    _ => misfit("a [steps, features] sequence"),
                }
            }
            Layer::Conv2d {
                filters,
                kernel_size,
            } => match input {
                [_c, h, w] if *filters > 0 && *kernel_size > 0 && h >= kernel_size && w >= kernel_size => {
                    Ok(vec![*filters, h - kernel_size + 1, w - kernel_size + 1])
                }
                [_, _, _] => Err(Error::invalid(
                    format!("layer {index} ({})", self.describe()),
                    format!("filters and kernel_size must be positive and the kernel no larger than the input {input:?}"),
                )),
                _ => misfit("a [channels, height, width] image"),
            },
            Layer::MaxPool2d { pool_size } => match input {
                [c, h, w] if *pool_size > 0 && h >= pool_size && w >= pool_size => {
                    Ok(vec![*c, h / pool_size, w / pool_size])
                }
                _ => misfit("a [channels, height, width] image at least pool_size wide, with pool_size > 0,"),
            },
            Layer::Flatten => Ok(vec![input.iter().product()]),
            Layer::Dropout { rate } if (0.0..1.0).contains(rate) => Ok(input.to_vec()),
            Layer::Dropout { rate } => Err(Error::invalid(
                format!("layer {index} (Dropout)"),
                format!("rate {rate}; it must be in [0, 1)"),
            )),
            Layer::Dense { units, .. } => match input {
                [_] if *units > 0 => Ok(vec![*units]),
                [_] => Err(Error::invalid(format!("layer {index} (Dense)"), "0 units")),
                _ => misfit("a flat [features]"),
            },
        }
    }
}

/// A whole classifier: input layout, layers, and a Dense softmax head over `num_classes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub input: InputLayout,
    pub layers: Vec<Layer>,
    pub num_classes: usize,
}

impl Default for ModelConfig {
    /// The assignment's model: LSTM(32, recurrent_dropout=0.15) -> Dense(10, softmax).
    fn default() -> Self {
        ModelConfig::lstm(32, 0.15)
    }
}

impl ModelConfig {
    /// One recurrent layer of `kind` on the 28x28 sequence view, then the softmax head (for
    /// other sequences, [`ModelConfig::with_input`]).
    pub fn recurrent(kind: CellKind, units: usize, recurrent_dropout: f64) -> Self {
        ModelConfig::stacked(kind, &[units], recurrent_dropout)
    }

    /// LSTM(units, recurrent_dropout) -> Dense(10, softmax).
    pub fn lstm(units: usize, recurrent_dropout: f64) -> Self {
        ModelConfig::recurrent(CellKind::Lstm, units, recurrent_dropout)
    }

    /// Stacked recurrent layers, one per entry of `units`; all but the last return sequences.
    pub fn stacked(kind: CellKind, units: &[usize], recurrent_dropout: f64) -> Self {
        let layers = units
            .iter()
            .enumerate()
            .map(|(i, &width)| {
                Layer::Recurrent(RecurrentConfig {
                    return_sequences: i + 1 < units.len(),
                    ..RecurrentConfig::new(kind, width, recurrent_dropout)
                })
            })
            .collect();
        ModelConfig {
            input: InputLayout::mnist_sequence(),
            layers,
            num_classes: 10,
        }
    }

    /// The same layers reading sequences of `steps` time steps of `features` values instead of
    /// MNIST's 28 rows of 28 pixels: `ModelConfig::recurrent(CellKind::Gru, 32, 0.0)
    /// .with_input(300, 16)` reads `[batch, 300, 16]`. For recurrent layers; a CNN's config
    /// built this way fails [`ModelConfig::validate`], saying its first layer needs an image.
    pub fn with_input(mut self, steps: usize, features: usize) -> Self {
        self.input = InputLayout::Sequence { steps, features };
        self
    }

    /// `num_classes` classes in the softmax head instead of MNIST's 10.
    pub fn with_classes(mut self, num_classes: usize) -> Self {
        self.num_classes = num_classes;
        self
    }

    /// The CNN of the second seed notebook: Conv2D(32, 3x3, relu) -> MaxPooling2D(2) ->
    /// Flatten -> Dense(10, softmax).
    pub fn cnn() -> Self {
        ModelConfig {
            input: InputLayout::mnist_image(),
            layers: vec![
                Layer::Conv2d {
                    filters: 32,
                    kernel_size: 3,
                },
                Layer::MaxPool2d { pool_size: 2 },
                Layer::Flatten,
            ],
            num_classes: 10,
        }
    }

    /// A deeper CNN: two convolution + pooling blocks (as in Keras' "Simple MNIST convnet"
    /// example), a hidden Dense(128) layer and dropout before the head. The second convolution
    /// works on the pooled 13x13 maps, so an epoch costs about a third of Keras' older
    /// `mnist_cnn` (both convolutions at full resolution), which reaches the same 99% in 5
    /// epochs.
    pub fn cnn_deep() -> Self {
        ModelConfig {
            input: InputLayout::mnist_image(),
            layers: vec![
                Layer::Conv2d {
                    filters: 32,
                    kernel_size: 3,
                },
                Layer::MaxPool2d { pool_size: 2 },
                Layer::Conv2d {
                    filters: 64,
                    kernel_size: 3,
                },
                Layer::MaxPool2d { pool_size: 2 },
                Layer::Flatten,
                Layer::Dense {
                    units: 128,
                    activation: Activation::Relu,
                },
                Layer::Dropout { rate: 0.5 },
            ],
            num_classes: 10,
        }
    }

    /// e.g. `LSTM(32, recurrent_dropout=0.15) -> Dense(10, softmax)`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.layers.iter().map(Layer::describe).collect();
        parts.push(format!("Dense({}, softmax)", self.num_classes));
        parts.join(" -> ")
    }

    /// A short name for legends and tables, e.g. `LSTM 32`, `GRU 2x32` or `CNN` (the first
    /// layer's kind and width).
    pub fn short_name(&self) -> String {
        let recurrent: Vec<&RecurrentConfig> = self
            .layers
            .iter()
            .filter_map(|layer| match layer {
                Layer::Recurrent(c) => Some(c),
                _ => None,
            })
            .collect();
        match recurrent.as_slice() {
            [] => "CNN".to_owned(),
            [one] => format!("{} {}", one.cell.keras_name(), one.units),
            [first, ..] if recurrent.iter().all(|c| c.units == first.units) => format!(
                "{} {}x{}",
                first.cell.keras_name(),
                recurrent.len(),
                first.units
            ),
            [first, ..] => format!(
                "{} {}",
                first.cell.keras_name(),
                recurrent
                    .iter()
                    .map(|c| c.units.to_string())
                    .collect::<Vec<_>>()
                    .join("-")
            ),
        }
    }

    /// Checks every value and that each layer fits the output of the one before; returns the
    /// feature count the head receives.
    pub fn validate(&self) -> Result<usize> {
        if self.num_classes < 2 {
            return Err(Error::invalid(
                "num_classes",
                format!("{}; a classifier needs at least 2", self.num_classes),
            ));
        }
        let mut shape = self.input.shape();
        if shape.contains(&0) {
            return Err(Error::invalid("input", format!("shape {shape:?} has a 0")));
        }
        for (index, layer) in self.layers.iter().enumerate() {
            shape = layer.output_shape(index, &shape)?;
        }
        match shape.as_slice() {
            [features] => Ok(*features),
            _ => Err(Error::invalid(
                "layers",
                format!(
                    "the last layer outputs shape {shape:?}, but the Dense head needs a flat vector \
                     (end with a recurrent layer without return_sequences, or with Flatten)"
                ),
            )),
        }
    }
}
