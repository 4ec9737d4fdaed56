//! The model file: safetensors with PyTorch's parameter names and the config in the metadata.
//!
//! Recurrent layer `i` is stored as PyTorch's `nn.LSTM` / `nn.GRU` / `nn.RNN` name their
//! layer `i` (`rnn.weight_ih_l{i}`, `rnn.weight_hh_l{i}`, `rnn.bias_ih_l{i}`,
//! `rnn.bias_hh_l{i}`), so a stack of recurrent layers loads into one PyTorch module with
//! `num_layers` layers; the head is `head.weight` / `head.bias` (`nn.Linear`); other layers keep
//! `layer{i}.weight` / `layer{i}.bias`. Keras' LSTM and simple RNN have one bias where PyTorch
//! has two: the file carries a zero `bias_hh`, and a file from PyTorch with a non-zero one is
//! folded into `bias_ih` on load (both are added to the same pre-activation).
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use tch::{Device, Kind, Tensor};

use super::config::{Layer, ModelConfig};
use super::network::layer_path;
use super::{copy_checked, Model};
use crate::error::{Error, Result};
use crate::fsutil::{io_error, write_bytes_atomically};
use crate::nn::CellKind;

/// Metadata keys of the model file.
const FORMAT_KEY: &str = "format";
const FORMAT: &str = "lstm_support.model.v1";
const CONFIG_KEY: &str = "config";

/// The recurrent parameters, in PyTorch's order.
const RECURRENT_PARAMS: [&str; 4] = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"];

/// The file name of a recurrent parameter (`weight_ih` of layer 1: `rnn.weight_ih_l1`).
fn pytorch_name(param: &str, layer: usize) -> String {
    format!("rnn.{param}_l{layer}")
}

/// The model's tensors under their file names, on the CPU.
fn file_tensors(model: &Model) -> Result<Vec<(String, Tensor)>> {
    let vars = model.variables();
    let mut named: Vec<(String, Tensor)> = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    for (index, layer) in model.config().layers.iter().enumerate() {
        let Layer::Recurrent(config) = layer else {
            continue;
        };
        for param in RECURRENT_PARAMS {
            let var_name = format!("{}.{param}", layer_path(index));
            let tensor = match vars.get(&var_name) {
                Some(t) => t.detach().to_device(Device::Cpu),
                // Keras' LSTM and simple RNN have no second bias; PyTorch's is zero then.
                None if param == "bias_hh" && config.cell != CellKind::Gru => Tensor::zeros(
                    [config.cell.gates() * config.units as i64],
                    (Kind::Float, Device::Cpu),
                ),
                None => {
                    return Err(Error::invalid(
                        "model",
                        format!("it has no parameter {var_name}"),
                    ))
                }
            };
            named.push((pytorch_name(param, index), tensor));
            taken.push(var_name);
        }
    }
    for (name, tensor) in vars {
        if !taken.contains(&name) {
            named.push((name, tensor.detach().to_device(Device::Cpu)));
        }
    }
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(named)
}

pub(super) fn save(model: &Model, path: &Path) -> Result<()> {
    let tensors = file_tensors(model)?;
    let buffers: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, tensor)| {
            let values = Vec::<f32>::try_from(tensor.contiguous().flatten(0, -1))?;
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            let shape = tensor.size().iter().map(|&d| d as usize).collect();
            Ok((name.clone(), shape, bytes))
        })
        .collect::<Result<_>>()?;
    let views = buffers
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|view| (name.as_str(), view))
                .map_err(|e| Error::invalid(format!("tensor {name}"), format!("{e:?}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let config = serde_json::to_string(model.config())
        .map_err(|e| Error::invalid("model config", e.to_string()))?;
    let metadata = HashMap::from([
        (FORMAT_KEY.to_owned(), FORMAT.to_owned()),
        (CONFIG_KEY.to_owned(), config),
    ]);
    let bytes = safetensors::tensor::serialize(views, &Some(metadata))
        .map_err(|e| Error::invalid(format!("model file {}", path.display()), format!("{e:?}")))?;
    write_bytes_atomically(path, &bytes)
}

/// A safetensors file's tensors (as f32 on the CPU) and metadata.
fn read_file(path: &Path) -> Result<(BTreeMap<String, Tensor>, HashMap<String, String>)> {
    let origin = || format!("model file {}", path.display());
    let bytes = std::fs::read(path).map_err(|e| io_error("read", path, e))?;
    let parsed = SafeTensors::deserialize(&bytes).map_err(|e| {
        Error::invalid(
            origin(),
            format!("it is not a safetensors file ({e:?}); it may be truncated"),
        )
    })?;
    let (_, metadata) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| Error::invalid(origin(), format!("unreadable header ({e:?})")))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in parsed.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(Error::invalid(
                origin(),
                format!(
                    "{name} is {:?}; only float32 tensors are supported",
                    view.dtype()
                ),
            ));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        tensors.insert(name, Tensor::from_slice(&values).reshape(shape));
    }
    Ok((tensors, metadata.metadata().clone().unwrap_or_default()))
}

pub(super) fn load(path: &Path, device: Device) -> Result<Model> {
    let origin = format!("model file {}", path.display());
    let (tensors, metadata) = read_file(path)?;
    if metadata.get(FORMAT_KEY).map(String::as_str) != Some(FORMAT) {
        return Err(Error::invalid(
            origin,
            format!(
                "its metadata does not say {FORMAT}: it was not written by Model::save \
                 (load plain weights with Model::load_weights into a model of the right config)"
            ),
        ));
    }
    let config: ModelConfig = metadata
        .get(CONFIG_KEY)
        .and_then(|json| serde_json::from_str(json).ok())
        .ok_or_else(|| Error::invalid(&origin, "its metadata has no readable model config"))?;
    let mut model = Model::new(&config, 0, device)?;
    load_tensors(&mut model, &tensors, &origin)?;
    Ok(model)
}

impl Model {
    /// Loads weights into this model from a safetensors file with PyTorch's names (a file of
    /// [`Model::save`], or a PyTorch `state_dict` saved with `safetensors.torch.save_file`),
    /// or with the `VarStore` names of run records written before `Model::save` existed.
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let (tensors, _) = read_file(path)?;
        load_tensors(self, &tensors, &format!("weights file {}", path.display()))
    }
}

fn load_tensors(model: &mut Model, tensors: &BTreeMap<String, Tensor>, origin: &str) -> Result<()> {
    let recurrent: HashMap<usize, CellKind> = model
        .config()
        .layers
        .iter()
        .enumerate()
        .filter_map(|(i, layer)| match layer {
            Layer::Recurrent(c) => Some((i, c.cell)),
            _ => None,
        })
        .collect();
    for (name, mut var) in model.variables() {
        // `layer3.weight_ih` of a recurrent layer is `rnn.weight_ih_l3` in the file; older
        // files used the VarStore name itself.
        let file_name = name
            .split_once('.')
            .and_then(|(layer, param)| {
                let index: usize = layer.strip_prefix("layer")?.parse().ok()?;
                recurrent
                    .contains_key(&index)
                    .then(|| pytorch_name(param, index))
            })
            .filter(|n| tensors.contains_key(n))
            .unwrap_or_else(|| name.clone());
        let saved = tensors.get(&file_name).ok_or_else(|| {
            Error::invalid(
                origin,
                format!(
                    "it has no tensor {file_name}: it was saved from another model configuration"
                ),
            )
        })?;
        let saved = match fold_second_bias(&name, &recurrent, tensors) {
            Some(extra) if extra.size() == saved.size() => saved + extra,
            _ => saved.shallow_clone(),
        };
        let saved = saved.to_device(var.device());
        copy_checked(&mut var, &saved, &file_name, origin)?;
    }
    Ok(())
}

/// For `layerN.bias_ih` of an LSTM or simple RNN: PyTorch's second bias `rnn.bias_hh_lN`, if
/// the file has one, to add to it.
fn fold_second_bias<'a>(
    var_name: &str,
    recurrent: &HashMap<usize, CellKind>,
    tensors: &'a BTreeMap<String, Tensor>,
) -> Option<&'a Tensor> {
    let index: usize = var_name
        .strip_suffix(".bias_ih")?
        .strip_prefix("layer")?
        .parse()
        .ok()?;
    match recurrent.get(&index)? {
        CellKind::Gru => None,
        _ => tensors.get(&pytorch_name("bias_hh", index)),
    }
}
