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
    assert!(a
        .probabilities(images)
        .allclose(&b.probabilities(images), 1e-6, 1e-7, false));
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
        assert_eq!(model.forward_t(&images, true).size(), [4, 10]);
        let sums = model
            .probabilities(&images)
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
            let prefix = model.probabilities(&images.narrow(1, 0, k as i64));
            for (item, rows) in by_rows.iter().enumerate() {
                let want = Vec::<f32>::try_from(prefix.get(item as i64)).unwrap();
                for (a, b) in want.iter().zip(&rows[k - 1]) {
                    assert!((a - b).abs() < 1e-5, "k={k}: {want:?} vs {:?}", rows[k - 1]);
                }
            }
        }
        let accuracy = model.accuracy_by_rows(&data).unwrap();
        assert_eq!(accuracy.len(), 28);
    }
    let cnn = model(&ModelConfig::cnn());
    assert!(cnn.probabilities_by_rows(&data, &[0]).is_err());
    assert!(cnn.accuracy_by_rows(&data).is_err());
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
    let logits = model.forward_t(&images, false);
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
