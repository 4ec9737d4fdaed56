//! A model saved by `Model::save` loads by name into PyTorch's `nn.LSTM` / `nn.GRU` / `nn.RNN`
//! plus `nn.Linear` (tools/load_in_pytorch.py, run with the project's own torch from `.venv`)
//! and gives the same probabilities.
use std::path::PathBuf;
use std::process::Command;

use lstm_support::model::{Layer, Model, ModelConfig};
use lstm_support::nn::CellKind;
use lstm_support::tch::{self, Device, Kind, Tensor};

/// The project's Python: `.cargo/config.toml` (written by `make setup`) sets VIRTUAL_ENV.
fn python() -> PathBuf {
    let venv = std::env::var("VIRTUAL_ENV")
        .expect("VIRTUAL_ENV is not set: run `make setup`, which writes .cargo/config.toml");
    PathBuf::from(venv).join("bin").join("python")
}

#[test]
fn pytorch_loads_the_model_file_and_gives_the_same_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tools/load_in_pytorch.py");
    let mut with_input_dropout = ModelConfig::stacked(CellKind::Lstm, &[6, 6], 0.15);
    if let Layer::Recurrent(c) = &mut with_input_dropout.layers[0] {
        c.dropout = 0.1;
    }
    let configs = [
        ModelConfig::lstm(8, 0.15),
        with_input_dropout,
        ModelConfig::stacked(CellKind::Gru, &[5, 5], 0.0),
        ModelConfig::recurrent(CellKind::SimpleRnn, 7, 0.15),
    ];
    for (i, config) in configs.iter().enumerate() {
        let model = Model::new(config, i as u64 + 1, Device::Cpu).unwrap();
        // Biases start at 0 (and 1 for the LSTM's forget gate); make them matter.
        for (_, mut var) in model.variables() {
            let noise = Tensor::randn(var.size(), (Kind::Float, Device::Cpu)) * 0.1;
            let _ = tch::no_grad(|| var.f_add_(&noise)).unwrap();
        }
        let images = Tensor::rand([5, 28, 28], (Kind::Float, Device::Cpu));
        let expected = model.probabilities(&images).unwrap();
        let model_path = dir.path().join(format!("model{i}.safetensors"));
        let check_path = dir.path().join(format!("check{i}.safetensors"));
        model.save(&model_path).unwrap();
        Tensor::write_safetensors(&[("images", &images), ("expected", &expected)], &check_path)
            .unwrap();
        let output = Command::new(python())
            .arg(&script)
            .arg(&model_path)
            .arg(&check_path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}: {}{}",
            config.describe(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn check_in_pytorch_reports_the_largest_difference() {
    let dir = tempfile::tempdir().unwrap();
    let model = Model::new(&ModelConfig::lstm(8, 0.15), 1, Device::Cpu).unwrap();
    let path = dir.path().join("model.safetensors");
    model.save(&path).unwrap();
    let images = Tensor::rand([4, 28, 28], (Kind::Float, Device::Cpu));
    let labels = Tensor::from_slice(&[1i64, 2, 3, 4]);
    let data = lstm_support::data::Dataset::new(images, labels, 10).unwrap();
    let check = lstm_support::interop::check_in_pytorch(&model, &path, &data, 3).unwrap();
    assert_eq!((check.module.as_str(), check.images), ("LSTM", 3));
    assert!(check.max_difference < 1e-5, "{check}");
    assert!(!dir.path().join("pytorch-check.safetensors").exists());
    let missing = dir.path().join("missing.safetensors");
    assert!(lstm_support::interop::check_in_pytorch(&model, &missing, &data, 3).is_err());
}
