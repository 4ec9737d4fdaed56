//! The model file in PyTorch: [`Model::save`] writes safetensors under PyTorch's names, and
//! [`check_in_pytorch`] has the project's own PyTorch (`.venv`) load it into `nn.LSTM` /
//! `nn.GRU` / `nn.RNN` and `nn.Linear` (`tools/load_in_pytorch.py`) and compare its
//! probabilities with ours.
use std::fmt;
use std::path::Path;
use std::process::Command;

use tch::{Device, Tensor};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::fsutil::{display_path, project_root};
use crate::model::Model;

/// What PyTorch made of a model file.
#[derive(Debug, Clone, PartialEq)]
pub struct PyTorchCheck {
    /// The file, relative to the project.
    pub file: String,
    /// The PyTorch module the recurrent layers were loaded into (`LSTM`, `GRU`, `RNN`).
    pub module: String,
    pub images: usize,
    /// The largest difference between PyTorch's probabilities and ours.
    pub max_difference: f64,
}

impl fmt::Display for PyTorchCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PyTorch loaded {} into torch.nn.{} and torch.nn.Linear by name; on {} images its probabilities ",
            self.file, self.module, self.images
        )?;
        if self.max_difference == 0.0 {
            write!(f, "are exactly ours")
        } else {
            write!(f, "differ from ours by at most {:.1e}", self.max_difference)
        }
    }
}

/// Loads `model_file` (written by `model.save`) in PyTorch and compares its probabilities on
/// the first `count` items of `data` with `model`'s. Needs the project's `.venv` (`make setup`).
pub fn check_in_pytorch(
    model: &Model,
    model_file: &Path,
    data: &Dataset,
    count: usize,
) -> Result<PyTorchCheck> {
    let root = project_root();
    let python = root.join(".venv/bin/python");
    if !python.exists() {
        return Err(Error::invalid(
            "PyTorch",
            format!("{} is missing: run `make setup`", display_path(&python)),
        ));
    }
    let images = data.take(count).images().to_device(Device::Cpu);
    let expected = model.probabilities(&images)?.to_device(Device::Cpu);
    let check_file = model_file.with_file_name("pytorch-check.safetensors");
    Tensor::write_safetensors(&[("images", &images), ("expected", &expected)], &check_file)?;
    let output = Command::new(&python)
        .arg(root.join("tools/load_in_pytorch.py"))
        .arg(model_file)
        .arg(&check_file)
        .output()
        .map_err(|e| Error::Io {
            action: "run".into(),
            path: python.clone(),
            source: e,
        });
    let _ = std::fs::remove_file(&check_file);
    let output = output?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    // "<file>: LSTM, max |difference| 1.2e-07"
    let parsed = stdout.rsplit_once(": ").and_then(|(_, tail)| {
        let (module, rest) = tail.split_once(", max |difference| ")?;
        Some((module.to_owned(), rest.trim().parse::<f64>().ok()?))
    });
    match parsed {
        Some((module, max_difference)) => Ok(PyTorchCheck {
            file: display_path(model_file),
            module,
            images: images.size()[0] as usize,
            max_difference,
        }),
        None => Err(Error::invalid(
            "PyTorch load",
            format!(
                "tools/load_in_pytorch.py failed: {}{}",
                stdout.trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        )),
    }
}

impl PyTorchCheck {
    pub fn evcxr_display(&self) {
        println!("{self}");
    }
}
