use tch::nn::ModuleT;
use tch::{Device, Kind, Tensor};

use super::*;
use crate::nn::CellKind;
use crate::testutil::take_grads;

fn model(config: &ModelConfig) -> Model {
    Model::new(config, 0, Device::Cpu).unwrap()
}

/// The two models give the same probabilities on `images` (a saved and loaded copy).
fn assert_same_probabilities(a: &Model, b: &Model, images: &Tensor) {
    assert!(a.probabilities(images).unwrap().allclose(
        &b.probabilities(images).unwrap(),
        1e-6,
        1e-7,
        false
    ));
}

#[test]
fn parameter_counts_match_keras() {
    let _rng = crate::torch_rng_lock();
    // Keras model.summary(): LSTM(32)+Dense(10) = 7808 + 330.
    assert_eq!(model(&ModelConfig::lstm(32, 0.15)).parameter_count(), 8138);
    // Two stacked LSTM(32): 7808 + 8320 + 330.
    let two = ModelConfig::stacked(CellKind::Lstm, &[32, 32], 0.15);
    assert_eq!(model(&two).parameter_count(), 16458);
    // Conv2D(32, 3x3): 320; Dense(10) on 13*13*32 = 5408 features: 54090.
    assert_eq!(model(&ModelConfig::cnn()).parameter_count(), 320 + 54090);
    // 320 + 18,496 + (5 * 5 * 64) * 128 + 128 + 1,290, as Keras' model.summary() counts.
    assert_eq!(model(&ModelConfig::cnn_deep()).parameter_count(), 225_034);
}

#[test]
fn summary_lists_layers_shapes_and_parameters_as_keras_does() {
    let _rng = crate::torch_rng_lock();
    let two = ModelConfig::stacked(CellKind::Lstm, &[32, 32], 0.15);
    let summary = model(&two).summary();
    assert_eq!(summary.total_parameters, 16458);
    let shapes: Vec<(&str, usize)> = summary
        .layers
        .iter()
        .map(|(_, shape, params)| (shape.as_str(), *params))
        .collect();
    assert_eq!(
        shapes,
        [
            ("(None, 28, 32)", 7808),
            ("(None, 32)", 8320),
            ("(None, 10)", 330)
        ]
    );
    let text = summary.to_string();
    assert!(
        text.contains("LSTM(32, recurrent_dropout=0.15, return_sequences=True)"),
        "{text}"
    );
    assert!(text.contains("16,458"), "{text}");
}

#[test]
fn forward_shapes_and_probabilities() {
    let _rng = crate::torch_rng_lock();
    let images = Tensor::rand([4, 28, 28], (Kind::Float, Device::Cpu));
    for config in [
        ModelConfig::lstm(8, 0.15),
        ModelConfig::stacked(CellKind::Gru, &[8, 6], 0.1),
        ModelConfig::recurrent(CellKind::SimpleRnn, 5, 0.0),
        ModelConfig::cnn(),
        ModelConfig::cnn_deep(),
    ] {
        let model = model(&config);
        assert_eq!(model.forward_t(&images, true).unwrap().size(), [4, 10]);
        let sums = model
            .probabilities(&images)
            .unwrap()
            .sum_dim_intlist(-1, false, Kind::Float);
        assert!(sums.allclose(
            &Tensor::ones([4], (Kind::Float, Device::Cpu)),
            1e-5,
            1e-5,
            false
        ));
    }
}

#[test]
fn training_step_gives_autograd_gradients_for_every_layer() {
    let _rng = crate::torch_rng_lock();
    // Two stacked LSTMs with recurrent (and, on the first, input) dropout: the second tape's
    // input gradient must reach the first tape's leaf through autograd.
    let mut config = ModelConfig::stacked(CellKind::Lstm, &[6, 5], 0.3);
    if let Layer::Recurrent(c) = &mut config.layers[0] {
        c.dropout = 0.2;
    }
    let model = model(&config);
    let images = Tensor::rand([5, 28, 28], (Kind::Float, Device::Cpu));
    let labels = Tensor::from_slice(&[0i64, 3, 9, 3, 1]);
    tch::manual_seed(9);
    let reference = model.training_step_autograd(&images, &labels).unwrap();
    let expected = take_grads(&model.vs);
    tch::manual_seed(9);
    let fast = model.training_step(&images, &labels).unwrap();
    let actual = take_grads(&model.vs);
    assert!((reference.loss - fast.loss).abs() < 1e-5);
    assert_eq!(reference.correct, fast.correct);
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
fn probabilities_by_rows_equal_the_answers_on_each_prefix() {
    let _rng = crate::torch_rng_lock();
    let data = crate::testutil::synthetic(3, 7, false);
    for config in [
        ModelConfig::lstm(8, 0.15),
        ModelConfig::stacked(CellKind::Gru, &[6, 5], 0.0),
    ] {
        let model = model(&config);
        let by_rows = model.probabilities_by_rows(&data, &[0, 2]).unwrap();
        assert_eq!(
            (by_rows.len(), by_rows[0].len(), by_rows[0][0].len()),
            (2, 28, 10)
        );
        // One pass gives what 28 separate passes over the first k rows give.
        let images = data.select(&[0, 2]).unwrap().images().shallow_clone();
        for k in [1usize, 14, 28] {
            let prefix = model.probabilities(&images.narrow(1, 0, k as i64)).unwrap();
            for (item, rows) in by_rows.iter().enumerate() {
                let want = Vec::<f32>::try_from(prefix.get(item as i64)).unwrap();
                for (a, b) in want.iter().zip(&rows[k - 1]) {
                    assert!((a - b).abs() < 1e-5, "k={k}: {want:?} vs {:?}", rows[k - 1]);
                }
            }
        }
        let accuracy = model.accuracy_by_rows(&data).unwrap();
        assert_eq!(accuracy.len(), 28);
        // Answer by answer, what accuracy_by_rows counts.
        let labels = Vec::<i64>::try_from(data.labels()).unwrap();
        for k in [1usize, 14, 28] {
            let answers = model.predictions_after_rows(&data, k).unwrap();
            let right = answers.iter().zip(&labels).filter(|(a, l)| a == l).count();
            assert!((right as f64 / labels.len() as f64 - accuracy[k - 1].1).abs() < 1e-12);
            let direct = model.predict(&data.take(labels.len())).unwrap().classes;
            if k == 28 {
                assert_eq!(answers, direct);
            }
        }
        assert!(model.predictions_after_rows(&data, 0).is_err());
        assert!(model.predictions_after_rows(&data, 29).is_err());
    }
    let cnn = model(&ModelConfig::cnn());
    assert!(cnn.probabilities_by_rows(&data, &[0]).is_err());
    assert!(cnn.accuracy_by_rows(&data).is_err());
    assert!(cnn.predictions_after_rows(&data, 1).is_err());
}

#[test]
fn save_and_load_give_the_same_model() {
    let _rng = crate::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let images = Tensor::rand([3, 28, 28], (Kind::Float, Device::Cpu));
    for config in [
        ModelConfig::stacked(CellKind::Lstm, &[6, 6], 0.15),
        ModelConfig::recurrent(CellKind::Gru, 5, 0.0),
        ModelConfig::cnn_deep(),
    ] {
        let original = Model::new(&config, 3, Device::Cpu).unwrap();
        let path = dir.path().join("model.safetensors");
        original.save(&path).unwrap();
        let loaded = Model::load(&path, Device::Cpu).unwrap();
        assert_eq!(loaded.config(), &config);
        assert_same_probabilities(&loaded, &original, &images);
    }
}

#[test]
fn the_file_uses_pytorch_names_and_a_second_bias_is_folded_in() {
    let _rng = crate::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let config = ModelConfig::stacked(CellKind::Lstm, &[4, 4], 0.0);
    let original = Model::new(&config, 1, Device::Cpu).unwrap();
    original.save(&path).unwrap();
    let mut names: Vec<String> = Tensor::read_safetensors(&path)
        .unwrap()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "head.bias",
            "head.weight",
            "rnn.bias_hh_l0",
            "rnn.bias_hh_l1",
            "rnn.bias_ih_l0",
            "rnn.bias_ih_l1",
            "rnn.weight_hh_l0",
            "rnn.weight_hh_l1",
            "rnn.weight_ih_l0",
            "rnn.weight_ih_l1"
        ]
    );
    // A PyTorch state dict splits the bias in two; loading adds them up.
    let mut tensors: Vec<(String, Tensor)> = Tensor::read_safetensors(&path).unwrap();
    let halves_of: std::collections::HashMap<String, Tensor> = tensors
        .iter()
        .filter(|(name, _)| name.starts_with("rnn.bias_ih"))
        .map(|(name, t)| (name.replace("bias_ih", "bias_hh"), t * 0.5))
        .collect();
    for (name, tensor) in &mut tensors {
        if name.starts_with("rnn.bias_ih") {
            *tensor = tensor.shallow_clone() * 0.5;
        } else if let Some(half) = halves_of.get(name.as_str()) {
            *tensor = half.shallow_clone();
        }
    }
    let halves = dir.path().join("halves.safetensors");
    Tensor::write_safetensors(&tensors, &halves).unwrap();
    let mut loaded = Model::new(&config, 2, Device::Cpu).unwrap();
    loaded.load_weights(&halves).unwrap();
    let images = Tensor::rand([2, 28, 28], (Kind::Float, Device::Cpu));
    assert_same_probabilities(&loaded, &original, &images);
    // A plain weights file is no model file.
    let err = Model::load(&halves, Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("Model::save"), "{err}");
}

#[test]
fn weights_saved_under_varstore_names_still_load() {
    let _rng = crate::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let config = ModelConfig::recurrent(CellKind::Gru, 5, 0.15);
    let original = Model::new(&config, 4, Device::Cpu).unwrap();
    let legacy = dir.path().join("weights.safetensors");
    Tensor::write_safetensors(&original.weights_copy(), &legacy).unwrap();
    let mut loaded = Model::new(&config, 5, Device::Cpu).unwrap();
    loaded.load_weights(&legacy).unwrap();
    let images = Tensor::rand([2, 28, 28], (Kind::Float, Device::Cpu));
    assert_same_probabilities(&loaded, &original, &images);
    let mut other = Model::new(
        &ModelConfig::recurrent(CellKind::Gru, 6, 0.0),
        0,
        Device::Cpu,
    )
    .unwrap();
    let err = other.load_weights(&legacy).unwrap_err().to_string();
    assert!(err.contains("another model configuration"), "{err}");
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
    let mut config = ModelConfig::stacked(CellKind::Lstm, &[8, 8], 0.0);
    if let Layer::Recurrent(c) = &mut config.layers[0] {
        c.return_sequences = false;
    }
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("layer 1"), "{err}");

    let mut config = ModelConfig::cnn();
    config.input = InputLayout::mnist_sequence();
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("layer 0") && err.contains("Conv2D"), "{err}");

    let mut config = ModelConfig::lstm(8, 0.0);
    if let Layer::Recurrent(c) = &mut config.layers[0] {
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
fn config_round_trips_through_json_and_reads_the_old_layer_form() {
    for config in [ModelConfig::default(), ModelConfig::cnn()] {
        let json = serde_json::to_string(&config).unwrap();
        let back: ModelConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, config);
    }
    let old = r#"{"type":"simple_rnn","units":32,"dropout":0.0,"recurrent_dropout":0.15,"return_sequences":false}"#;
    let layer: Layer = serde_json::from_str(old).unwrap();
    assert_eq!(
        layer,
        Layer::Recurrent(crate::nn::RecurrentConfig::new(
            CellKind::SimpleRnn,
            32,
            0.15
        ))
    );
    assert_eq!(
        ModelConfig::stacked(CellKind::Gru, &[32, 32], 0.0).short_name(),
        "GRU 2x32"
    );
    assert_eq!(ModelConfig::lstm(256, 0.15).short_name(), "LSTM 256");
    assert_eq!(ModelConfig::cnn_deep().short_name(), "CNN");
}

#[test]
fn the_step_trace_follows_the_lstm_equations_and_the_fused_kernel() {
    let _rng = crate::torch_rng_lock();
    let data = crate::testutil::synthetic(5, 5, false);
    let model = model(&ModelConfig::lstm(6, 0.15));
    let trace = model.step_trace(&data, &[0, 3]).unwrap();
    let [i, f, g, o] = ["input gate", "forget gate", "cell input", "output gate"]
        .map(|name| trace.gate(name).unwrap().shallow_clone());
    let c = trace.cell_state.as_ref().unwrap();
    assert_eq!(c.size(), [2, 28, 6]);
    // c(t) = f c(t-1) + i g and h(t) = o tanh(c(t)) at a middle step.
    let (t, previous) = (10, 9);
    let c_now = f.select(1, t) * c.select(1, previous) + i.select(1, t) * g.select(1, t);
    assert!(c_now.allclose(&c.select(1, t), 1e-5, 1e-6, false));
    let h_now = o.select(1, t) * c.select(1, t).tanh();
    assert!(h_now.allclose(&trace.hidden.select(1, t), 1e-5, 1e-6, false));
    // The last h is what the model's (fused) forward pass hands to its head.
    let images = data.select(&[0, 3]).unwrap().images().shallow_clone();
    let logits = model.forward_t(&images, false).unwrap();
    let from_trace = model
        .network
        .head
        .forward_t(&trace.hidden.select(1, 27), false);
    assert!(logits.allclose(&from_trace, 1e-5, 1e-6, false));
    assert!(trace.gate("reset gate").is_err());
    let gru = model_of_cell(CellKind::Gru);
    let names: Vec<String> = gru
        .step_trace(&data, &[1])
        .unwrap()
        .gates
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["reset gate", "update gate", "candidate"]);
    assert!(super::Model::new(&ModelConfig::cnn(), 0, Device::Cpu)
        .unwrap()
        .step_trace(&data, &[0])
        .is_err());
}

fn model_of_cell(cell: CellKind) -> Model {
    model(&ModelConfig::recurrent(cell, 5, 0.15))
}

#[test]
fn hidden_gradient_norms_reach_back_through_time() {
    let _rng = crate::torch_rng_lock();
    let data = crate::testutil::synthetic(4, 8, false);
    for cell in CellKind::ALL {
        let model = model_of_cell(cell);
        let norms = model.hidden_gradient_norms(&data, 8).unwrap();
        assert_eq!(norms.len(), 28);
        assert!(
            norms.iter().all(|n| n.is_finite() && *n > 0.0),
            "{cell:?}: {norms:?}"
        );
        // At the last step the loss sees h(T) only through the head: the same gradient as
        // with h(T) taken as a leaf.
        let images = data.take(8).images().shallow_clone();
        let h_last = model
            .network
            .trace(&images)
            .unwrap()
            .hidden
            .select(1, 27)
            .detach()
            .set_requires_grad(true);
        let targets = one_hot(&data.take(8).labels().shallow_clone(), 10);
        categorical_cross_entropy(&model.network.head.forward_t(&h_last, false), &targets)
            .backward();
        let direct = h_last
            .grad()
            .norm_scalaropt_dim(2, [-1].as_slice(), false)
            .mean(Kind::Double)
            .double_value(&[]);
        assert!(
            (norms[27] - direct).abs() < 1e-6 * direct.max(1.0),
            "{cell:?}: {} vs {direct}",
            norms[27]
        );
    }
    assert!(model(&ModelConfig::stacked(CellKind::Lstm, &[4, 4], 0.0))
        .hidden_gradient_norms(&data, 4)
        .is_err());
}

/// `size` random pixels of `kind`.
fn images_of(size: &[i64], kind: Kind) -> Tensor {
    Tensor::rand(size, (Kind::Float, Device::Cpu)).to_kind(kind)
}

fn images(size: &[i64]) -> Tensor {
    images_of(size, Kind::Float)
}

/// The message of an error the call had to return.
fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
    result.unwrap_err().to_string()
}

/// `call` returns, for images of each case's size and kind, the case's message.
fn assert_rejects<T: std::fmt::Debug>(
    call: impl Fn(&Tensor) -> Result<T>,
    cases: &[(&[i64], Kind, String)],
) {
    for (size, kind, expected) in cases {
        let got = message(call(&images_of(size, *kind)));
        assert_eq!(&got, expected, "images {size:?} of {kind:?}");
    }
}

/// What a recurrent model on 28x28 images says for images of shape `got`.
fn sequence_shape(got: &str) -> String {
    format!(
        "invalid images: expected shape [batch, 28, 28] (a batch of images of 28 rows of 28 \
         pixels; the first k rows alone: [batch, k, 28]), got {got}"
    )
}

/// What a CNN on 28x28 images of one channel says for images of shape `got`.
fn image_shape(got: &str) -> String {
    format!(
        "invalid images: expected shape [batch, 28, 28] or [batch, 1, 28, 28] (a batch of 28x28 \
         images), got {got}"
    )
}

fn empty_batch(shape: &str) -> String {
    format!("invalid images: an empty batch (shape {shape}); give at least one image")
}

fn not_float(kind: &str, conversion: &str) -> String {
    format!(
        "invalid images: expected a tensor of kind Float (f32, as the weights), got {kind}: \
         convert with {conversion}"
    )
}

const ONE_IMAGE: &str = "; for one image, make a batch of one: image.unsqueeze(0)";
const FLATTENED: &str = "; for flattened images: images.view([-1, 28, 28])";
const RAW_PIXELS: &str = "images.to_kind(Kind::Float) / 255.0 (pixels in [0, 1])";

/// No parameter has a gradient: a rejected step computed nothing.
fn no_gradients(model: &Model) -> bool {
    model.variables().values().all(|v| !v.grad().defined())
}

#[test]
fn forward_t_says_which_images_it_takes() {
    let _rng = crate::torch_rng_lock();
    let lstm = model(&ModelConfig::lstm(8, 0.15));
    let squeeze = "; a recurrent model takes no channel dimension: images.squeeze_dim(1)";
    assert_rejects(
        |images| lstm.forward_t(images, false),
        &[
            // Wrong rank: one image without its batch dimension, a channel dimension.
            (
                &[28, 28],
                Kind::Float,
                sequence_shape(&format!("[28, 28]{ONE_IMAGE}")),
            ),
            (
                &[4, 1, 28, 28],
                Kind::Float,
                sequence_shape(&format!("[4, 1, 28, 28]{squeeze}")),
            ),
            // Wrong size: rows of 14 pixels, more rows than an image has.
            (&[4, 28, 14], Kind::Float, sequence_shape("[4, 28, 14]")),
            (&[4, 29, 28], Kind::Float, sequence_shape("[4, 29, 28]")),
            (
                &[4, 28, 28],
                Kind::Double,
                not_float("Double", "images.to_kind(Kind::Float)"),
            ),
            (&[0, 28, 28], Kind::Float, empty_batch("[0, 28, 28]")),
        ],
    );
    assert_eq!(
        message(lstm.forward_t(&Tensor::new(), true)),
        "invalid images: an undefined tensor (Tensor::new()); give a tensor of images"
    );
    // The first rows alone are fine.
    assert_eq!(
        lstm.forward_t(&images(&[4, 5, 28]), false).unwrap().size(),
        [4, 10]
    );
}

#[test]
fn probabilities_say_which_images_they_take() {
    let _rng = crate::torch_rng_lock();
    let gru = model(&ModelConfig::recurrent(CellKind::Gru, 6, 0.0));
    let one_flattened = "; for one flattened image: image.view([1, 28, 28])";
    assert_rejects(
        |images| gru.probabilities(images),
        &[
            (
                &[3, 784],
                Kind::Float,
                sequence_shape(&format!("[3, 784]{FLATTENED}")),
            ),
            (
                &[784],
                Kind::Float,
                sequence_shape(&format!("[784]{one_flattened}")),
            ),
            (&[3, 28, 27], Kind::Float, sequence_shape("[3, 28, 27]")),
            (&[3, 28, 28], Kind::Uint8, not_float("Uint8", RAW_PIXELS)),
            (&[0, 28, 28], Kind::Float, empty_batch("[0, 28, 28]")),
        ],
    );
}

#[test]
fn a_cnn_takes_images_with_or_without_their_channel() {
    let _rng = crate::torch_rng_lock();
    let cnn = model(&ModelConfig::cnn());
    let batch = images(&[3, 28, 28]);
    let with_channel = cnn.probabilities(&batch.unsqueeze(1)).unwrap();
    assert!(with_channel.equal(&cnn.probabilities(&batch).unwrap()));
    assert_rejects(
        |images| cnn.forward_t(images, false),
        &[
            (
                &[28, 28],
                Kind::Float,
                image_shape(&format!("[28, 28]{ONE_IMAGE}")),
            ),
            (&[3, 3, 28, 28], Kind::Float, image_shape("[3, 3, 28, 28]")),
            (&[0, 1, 28, 28], Kind::Float, empty_batch("[0, 1, 28, 28]")),
        ],
    );
}

#[test]
fn training_step_checks_images_and_labels_before_computing() {
    let _rng = crate::torch_rng_lock();
    let lstm = model(&ModelConfig::lstm(6, 0.15));
    let labels = Tensor::from_slice(&[0i64, 3, 9, 3]);
    assert_rejects(
        |images| lstm.training_step(images, &labels),
        &[
            (
                &[28, 28],
                Kind::Float,
                sequence_shape(&format!("[28, 28]{ONE_IMAGE}")),
            ),
            (&[4, 28, 30], Kind::Float, sequence_shape("[4, 28, 30]")),
            (
                &[4, 28, 28],
                Kind::Half,
                not_float("Half", "images.to_kind(Kind::Float)"),
            ),
            (&[0, 28, 28], Kind::Float, empty_batch("[0, 28, 28]")),
        ],
    );
    // Labels: one-hot, too few, wrong kind, not a class.
    let batch = images(&[4, 28, 28]);
    let shape = "invalid labels: expected shape [4] (one class index per image of the batch), got";
    let cases = [
        (
            one_hot(&labels, 10),
            format!("{shape} [4, 10]; for one-hot labels: labels.argmax(-1, false)"),
        ),
        (labels.narrow(0, 0, 3), format!("{shape} [3]")),
        (
            labels.to_kind(Kind::Int),
            "invalid labels: expected class indices of kind Int64, got Int: convert with \
             labels.to_kind(Kind::Int64)"
                .to_owned(),
        ),
        (
            Tensor::from_slice(&[0i64, 3, 10, -1]),
            "invalid labels: expected class indices from 0 to 9, got values from -1 to 10"
                .to_owned(),
        ),
    ];
    for (wrong, expected) in cases {
        assert_eq!(message(lstm.training_step(&batch, &wrong)), expected);
    }
    assert!(no_gradients(&lstm), "a rejected step computed gradients");
    // The first rows alone train too.
    assert!(lstm.training_step(&images(&[4, 7, 28]), &labels).is_ok());
}

#[test]
fn training_step_autograd_checks_images_and_labels_before_computing() {
    let _rng = crate::torch_rng_lock();
    let cnn = model(&ModelConfig::cnn());
    let labels = Tensor::from_slice(&[1i64, 2]);
    assert_rejects(
        |images| cnn.training_step_autograd(images, &labels),
        &[
            (
                &[2, 784],
                Kind::Float,
                image_shape(&format!("[2, 784]{FLATTENED}")),
            ),
            (&[2, 28, 29], Kind::Float, image_shape("[2, 28, 29]")),
            (&[2, 28, 28], Kind::Uint8, not_float("Uint8", RAW_PIXELS)),
            (&[0, 28, 28], Kind::Float, empty_batch("[0, 28, 28]")),
        ],
    );
    assert_eq!(
        message(cnn.training_step_autograd(&images(&[2, 28, 28]), &Tensor::new())),
        "invalid labels: an undefined tensor (Tensor::new()); give one class index per image"
    );
    assert!(no_gradients(&cnn), "a rejected step computed gradients");
}

#[test]
fn dataset_methods_check_that_the_model_takes_the_dataset() {
    let _rng = crate::torch_rng_lock();
    let data = crate::testutil::synthetic(3, 7, false);
    // A recurrent model reading one pixel a step cannot read 28x28 images.
    let mut config = ModelConfig::lstm(4, 0.0);
    config.input = InputLayout::Sequence {
        steps: 784,
        features: 1,
    };
    let pixels = model(&config);
    let expected = "invalid images: expected shape [batch, 784, 1] (a batch of images of 784 \
                    rows of 1 pixel; the first k rows alone: [batch, k, 1]), got [3, 28, 28]";
    assert_eq!(message(pixels.predict(&data)), expected);
    assert_eq!(message(pixels.loss_and_accuracy(&data)), expected);
    assert_eq!(message(pixels.accuracy_by_rows(&data)), expected);
    assert_eq!(message(pixels.probabilities_by_rows(&data, &[0])), expected);
    assert_eq!(message(pixels.step_trace(&data, &[0])), expected);
    assert_eq!(message(pixels.hidden_gradient_norms(&data, 2)), expected);
    assert_eq!(
        message(pixels.evaluate(&crate::data::TestSet::from_dataset(
            crate::testutil::synthetic(2, 1, false)
        ))),
        expected.replace("[3, 28, 28]", "[2, 28, 28]")
    );
    let lstm = model(&ModelConfig::lstm(4, 0.0));
    assert_eq!(
        message(lstm.hidden_gradient_norms(&data, 0)),
        "invalid count: 0 items of a dataset of 3; give at least 1 item"
    );
    assert_eq!(
        message(lstm.probabilities_by_rows(&data, &[3])),
        "invalid index: 3 is outside a dataset of 3 items"
    );
}

#[test]
fn a_recurrent_model_reads_sequences_of_any_length_and_width() {
    let _rng = crate::torch_rng_lock();
    for steps in [1i64, 300] {
        let config = ModelConfig::recurrent(CellKind::Gru, 4, 0.0)
            .with_input(steps as usize, 12)
            .with_classes(5);
        let model = model(&config);
        let images = Tensor::rand([3, steps, 12], (Kind::Float, Device::Cpu));
        assert_eq!(model.forward_t(&images, false).unwrap().size(), [3, 5]);
        let wide = Tensor::rand([3, steps, 28], (Kind::Float, Device::Cpu));
        let message = model.forward_t(&wide, false).unwrap_err().to_string();
        assert!(
            message.contains(&format!("[batch, {steps}, 12]")),
            "{message}"
        );
        let longer = Tensor::rand([3, steps + 1, 12], (Kind::Float, Device::Cpu));
        assert!(model.forward_t(&longer, false).is_err());
        // A dataset of such sequences evaluates and measures its gradient through time.
        let labels = Tensor::from_slice(&[0i64, 4, 2]);
        let data = Dataset::new(images, labels, 5).unwrap();
        assert!(model.loss_and_accuracy(&data).is_ok());
        assert_eq!(
            model.hidden_gradient_norms(&data, 3).unwrap().len(),
            steps as usize
        );
    }
    let empty_steps = Tensor::zeros([2, 0, 12], (Kind::Float, Device::Cpu));
    let message = Dataset::new(empty_steps, Tensor::from_slice(&[0i64, 1]), 5)
        .unwrap_err()
        .to_string();
    assert!(message.contains("expected [N, T, F]"), "{message}");
}

#[test]
fn the_native_kernels_train_sequences_longer_than_an_image() {
    let _rng = crate::torch_rng_lock();
    // Recurrent dropout on the CPU: the native kernels' path, here over 60 steps of 12.
    for cell in [CellKind::Lstm, CellKind::SimpleRnn] {
        let config = ModelConfig::recurrent(cell, 5, 0.3).with_input(60, 12);
        let model = model(&config);
        let images = Tensor::rand([4, 60, 12], (Kind::Float, Device::Cpu));
        let labels = Tensor::from_slice(&[0i64, 3, 9, 3]);
        tch::manual_seed(9);
        let reference = model.training_step_autograd(&images, &labels).unwrap();
        let expected = take_grads(&model.vs);
        tch::manual_seed(9);
        let fast = model.training_step(&images, &labels).unwrap();
        let actual = take_grads(&model.vs);
        assert!((reference.loss - fast.loss).abs() < 1e-5, "{cell:?}");
        for ((name, want), (_, got)) in expected.iter().zip(&actual) {
            assert!(want.allclose(got, 1e-4, 1e-5, false), "{cell:?} {name}");
        }
    }
}
