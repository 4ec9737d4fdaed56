//! Classifiers built from a serializable [`ModelConfig`]: a stack of layers and a Dense
//! softmax head, as a Keras `Sequential` model would be.
use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

use crate::data::ROWS;
use crate::error::{Error, Result};
use crate::nn::init::glorot_uniform;
use crate::nn::lstm_bptt::Backprop;
use crate::nn::rnn::{CellKind, Recurrent, RecurrentConfig};

/// How an image enters the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum InputLayout {
    /// `[B, 28, 28]`: 28 time steps (rows) of 28 features.
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

    fn shape(&self) -> Vec<usize> {
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
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Layer {
    Lstm(RecurrentConfig),
    Gru(RecurrentConfig),
    SimpleRnn(RecurrentConfig),
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

impl Layer {
    /// Keras-style name with the settings that matter, e.g. `LSTM(32, recurrent_dropout=0.15)`.
    pub fn describe(&self) -> String {
        match self {
            Layer::Lstm(c) | Layer::Gru(c) | Layer::SimpleRnn(c) => {
                let mut s = format!(
                    "{}({}",
                    self.cell_kind().map_or("", |k| k.keras_name()),
                    c.units
                );
                if c.dropout > 0.0 {
                    s.push_str(&format!(", dropout={}", c.dropout));
                }
                if c.recurrent_dropout > 0.0 {
                    s.push_str(&format!(", recurrent_dropout={}", c.recurrent_dropout));
                }
                if c.return_sequences {
                    s.push_str(", return_sequences=True");
                }
                s + ")"
            }
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

    fn cell_kind(&self) -> Option<CellKind> {
        match self {
            Layer::Lstm(_) => Some(CellKind::Lstm),
            Layer::Gru(_) => Some(CellKind::Gru),
            Layer::SimpleRnn(_) => Some(CellKind::SimpleRnn),
            _ => None,
        }
    }

    /// The output shape (without the batch) for an input shape, or why the layer does not fit.
    fn output_shape(&self, index: usize, input: &[usize]) -> Result<Vec<usize>> {
        let misfit = |expected: &str| {
            Err(Error::invalid(
                format!("layer {index} ({})", self.describe()),
                format!("it needs {expected} input but gets shape {input:?}"),
            ))
        };
        match self {
            Layer::Lstm(c) | Layer::Gru(c) | Layer::SimpleRnn(c) => {
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
    /// One recurrent layer of `kind` on the 28x28 sequence view, then the softmax head.
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
                let config = RecurrentConfig {
                    units: width,
                    recurrent_dropout,
                    dropout: 0.0,
                    return_sequences: i + 1 < units.len(),
                };
                match kind {
                    CellKind::Lstm => Layer::Lstm(config),
                    CellKind::Gru => Layer::Gru(config),
                    CellKind::SimpleRnn => Layer::SimpleRnn(config),
                }
            })
            .collect();
        ModelConfig {
            input: InputLayout::mnist_sequence(),
            layers,
            num_classes: 10,
        }
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

/// A classifier: the layers of a [`ModelConfig`] and a Dense head producing logits (the
/// softmax is folded into the loss and into [`Classifier::predict_proba`]).
#[derive(Debug)]
pub struct Classifier {
    config: ModelConfig,
    blocks: Vec<Block>,
    head: nn::Linear,
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

/// Builds the classifier described by `config` with its parameters under `vs`.
pub fn classifier(vs: nn::Path, config: &ModelConfig) -> Result<Classifier> {
    let head_inputs = config.validate()?;
    let mut shape = config.input.shape();
    let mut blocks = Vec::with_capacity(config.layers.len());
    for (index, layer) in config.layers.iter().enumerate() {
        let path = &vs / format!("layer{index}");
        let block = match layer {
            Layer::Lstm(c) | Layer::Gru(c) | Layer::SimpleRnn(c) => {
                let kind = layer.cell_kind().unwrap_or(CellKind::Lstm);
                Block::Recurrent(Recurrent::new(path, kind, shape[1], *c)?)
            }
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
    let head = dense(&vs / "head", head_inputs, config.num_classes);
    Ok(Classifier {
        config: config.clone(),
        blocks,
        head,
    })
}

impl Classifier {
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// `images: [B, 28, 28]` -> logits `[B, num_classes]`.
    pub fn forward_t(&self, images: &Tensor, train: bool) -> Tensor {
        self.forward(images, train, None)
    }

    /// The training forward pass the trainer runs: `forward_t(images, true)` with the same
    /// random draws, but LSTM layers with recurrent dropout run their fast taped path. Call
    /// [`Backprop::run`] on the second value right after `loss.backward()`.
    pub fn forward_train(&self, images: &Tensor) -> (Tensor, Backprop) {
        let mut backprop = Backprop::default();
        let logits = self.forward(images, true, Some(&mut backprop));
        (logits, backprop)
    }

    fn forward(&self, images: &Tensor, train: bool, mut tapes: Option<&mut Backprop>) -> Tensor {
        let mut xs = match self.config.input {
            InputLayout::Sequence { .. } => images.shallow_clone(),
            InputLayout::Image { .. } => images.unsqueeze(1),
        };
        for block in &self.blocks {
            xs = match block {
                Block::Recurrent(layer) => match tapes.as_deref_mut() {
                    Some(tapes) => {
                        let (ys, tape) = layer.forward_train(&xs);
                        if let Some(tape) = tape {
                            tapes.push(tape);
                        }
                        ys
                    }
                    None => layer.forward_t(&xs, train),
                },
                Block::Conv(conv) => conv.forward_t(&xs, train).relu(),
                Block::MaxPool(size) => xs.max_pool2d_default(*size),
                Block::Flatten => xs.flatten(1, -1),
                Block::Dense(linear, activation) => {
                    let ys = linear.forward_t(&xs, train);
                    match activation {
                        Activation::Relu => ys.relu(),
                        Activation::Tanh => ys.tanh(),
                        Activation::Linear => ys,
                    }
                }
                Block::Dropout(rate) => xs.dropout(*rate, train),
            };
        }
        self.head.forward_t(&xs, train)
    }

    /// Whether the model reads the image as a sequence of rows (a recurrent model).
    pub fn reads_rows(&self) -> bool {
        matches!(self.config.input, InputLayout::Sequence { .. })
    }

    /// The probabilities the model gives after reading only the first k rows, for k = 1 to
    /// 28: `[B, 28, num_classes]`. Only for models that read rows ([`Classifier::reads_rows`]).
    pub fn probabilities_by_rows(&self, images: &Tensor) -> Result<Tensor> {
        if !self.reads_rows() {
            return Err(Error::invalid(
                "model",
                "it does not read the image row by row (a CNN sees the whole image at once)",
            ));
        }
        let steps = images.size()[1];
        let per_prefix: Vec<Tensor> = (1..=steps)
            .map(|k| self.predict_proba(&images.narrow(1, 0, k)))
            .collect();
        Ok(Tensor::stack(&per_prefix, 1))
    }

    /// Class probabilities `[B, num_classes]` (the softmax head), evaluation mode.
    pub fn predict_proba(&self, images: &Tensor) -> Tensor {
        tch::no_grad(|| self.forward_t(images, false).softmax(-1, Kind::Float))
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

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn count_params(config: &ModelConfig) -> i64 {
        let vs = nn::VarStore::new(Device::Cpu);
        classifier(vs.root(), config).unwrap();
        vs.trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum()
    }

    #[test]
    fn parameter_counts_match_keras() {
        let _rng = crate::torch_rng_lock();
        // Keras model.summary(): LSTM(32)+Dense(10) = 7808 + 330.
        assert_eq!(count_params(&ModelConfig::lstm(32, 0.15)), 8138);
        // Two stacked LSTM(32): 7808 + 8320 + 330.
        assert_eq!(
            count_params(&ModelConfig::stacked(CellKind::Lstm, &[32, 32], 0.15)),
            16458
        );
        // Conv2D(32, 3x3): 320; Dense(10) on 13*13*32 = 5408 features: 54090.
        assert_eq!(count_params(&ModelConfig::cnn()), 320 + 54090);
        // 320 + 18,496 + (5 * 5 * 64) * 128 + 128 + 1,290, as Keras' model.summary() counts.
        assert_eq!(count_params(&ModelConfig::cnn_deep()), 225_034);
    }

    #[test]
    fn forward_shapes() {
        let _rng = crate::torch_rng_lock();
        let vs = nn::VarStore::new(Device::Cpu);
        let images = Tensor::rand([4, 28, 28], (Kind::Float, Device::Cpu));
        for (i, config) in [
            ModelConfig::lstm(8, 0.15),
            ModelConfig::stacked(CellKind::Gru, &[8, 6], 0.1),
            ModelConfig::recurrent(CellKind::SimpleRnn, 5, 0.0),
            ModelConfig::cnn(),
            ModelConfig::cnn_deep(),
        ]
        .into_iter()
        .enumerate()
        {
            let model = classifier(vs.root() / format!("model{i}"), &config).unwrap();
            assert_eq!(model.forward_t(&images, true).size(), [4, 10]);
            let p = model.predict_proba(&images);
            let sums = p.sum_dim_intlist(-1, false, Kind::Float);
            assert!(sums.allclose(
                &Tensor::ones([4], (Kind::Float, Device::Cpu)),
                1e-5,
                1e-5,
                false
            ));
        }
    }

    #[test]
    fn fast_training_pass_gives_autograd_gradients_for_every_layer() {
        let _rng = crate::torch_rng_lock();
        // Two stacked LSTMs with recurrent (and, on the first, input) dropout: the second
        // tape's input gradient must reach the first tape's leaf through autograd.
        let mut config = ModelConfig::stacked(CellKind::Lstm, &[6, 5], 0.3);
        if let Layer::Lstm(c) = &mut config.layers[0] {
            c.dropout = 0.2;
        }
        let vs = nn::VarStore::new(Device::Cpu);
        let model = classifier(vs.root(), &config).unwrap();
        let images = Tensor::rand([5, 28, 28], (Kind::Float, Device::Cpu));
        let targets = one_hot(&Tensor::from_slice(&[0i64, 3, 9, 3, 1]), 10);
        tch::manual_seed(9);
        let logits = model.forward_t(&images, true);
        categorical_cross_entropy(&logits, &targets).backward();
        let expected = crate::testutil::take_grads(&vs);
        tch::manual_seed(9);
        let (fast_logits, backprop) = model.forward_train(&images);
        assert!(fast_logits.allclose(&logits, 1e-5, 1e-5, false));
        categorical_cross_entropy(&fast_logits, &targets).backward();
        assert!(!backprop.is_empty());
        backprop.run().unwrap();
        let actual = crate::testutil::take_grads(&vs);
        assert_eq!(expected.len(), 8, "2 x (W_ih, W_hh, b) + head (W, b)");
        for ((name, want), (_, got)) in expected.iter().zip(&actual) {
            assert!(want.abs().max().double_value(&[]) > 0.0, "{name}");
            assert!(
                want.allclose(got, 1e-4, 1e-5, false),
                "{name}: {want} vs {got}"
            );
        }
    }

    #[test]
    fn probabilities_by_rows_end_with_the_full_prediction() {
        let _rng = crate::torch_rng_lock();
        let vs = nn::VarStore::new(Device::Cpu);
        let model = classifier(vs.root(), &ModelConfig::lstm(8, 0.15)).unwrap();
        let images = Tensor::rand([3, 28, 28], (Kind::Float, Device::Cpu));
        let by_rows = model.probabilities_by_rows(&images).unwrap();
        assert_eq!(by_rows.size(), [3, 28, 10]);
        assert!(by_rows
            .select(1, 27)
            .allclose(&model.predict_proba(&images), 1e-5, 1e-5, false));
        let cnn_vs = nn::VarStore::new(Device::Cpu);
        let cnn = classifier(cnn_vs.root(), &ModelConfig::cnn()).unwrap();
        assert!(cnn.probabilities_by_rows(&images).is_err());
    }

    #[test]
    fn categorical_equals_sparse_cross_entropy() {
        let _rng = crate::torch_rng_lock();
        let logits = Tensor::randn([16, 10], (Kind::Float, Device::Cpu));
        let labels = Tensor::randint(10, [16], (Kind::Int64, Device::Cpu));
        let categorical = categorical_cross_entropy(&logits, &one_hot(&labels, 10));
        let sparse = logits.cross_entropy_for_logits(&labels);
        assert!((categorical.double_value(&[]) - sparse.double_value(&[])).abs() < 1e-5);
    }

    #[test]
    fn misfitting_layers_are_reported_before_building() {
        let _rng = crate::torch_rng_lock();
        let mut config = ModelConfig::stacked(CellKind::Lstm, &[8, 8], 0.0);
        if let Layer::Lstm(c) = &mut config.layers[0] {
            c.return_sequences = false;
        }
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("layer 1"), "{err}");

        let mut config = ModelConfig::cnn();
        config.input = InputLayout::mnist_sequence();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("layer 0") && err.contains("Conv2D"), "{err}");

        let mut config = ModelConfig::lstm(8, 0.0);
        if let Layer::Lstm(c) = &mut config.layers[0] {
            c.return_sequences = true;
        }
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("Dense head"));

        let err = ModelConfig::lstm(0, 0.15)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("units"), "{err}");
        let err = ModelConfig::lstm(32, 1.5)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("recurrent_dropout"), "{err}");
    }

    #[test]
    fn config_round_trips_through_json() {
        let _rng = crate::torch_rng_lock();
        for config in [ModelConfig::default(), ModelConfig::cnn()] {
            let json = serde_json::to_string(&config).unwrap();
            let back: ModelConfig = serde_json::from_str(&json).unwrap();
            assert_eq!(back, config);
        }
    }
}
