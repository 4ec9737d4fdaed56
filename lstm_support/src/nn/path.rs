//! Which code trains a recurrent layer: [`TrainingPath::for_layer`] decides, for the layer
//! itself, for the model and for anyone else who asks (the table is in the [`nn`](super)
//! module docs).
use tch::Device;

use super::config::{CellKind, RecurrentConfig};

/// How a training step runs one recurrent layer's forward and backward pass: every path
/// computes the same function with the same masks from the same random draws; they differ in
/// speed and in which devices, cells and masks they handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainingPath {
    /// libtorch's fused kernel (cuDNN on a GPU) on the input after its dropout mask, under
    /// autograd: there is no recurrent dropout, so nothing enters between the steps.
    Fused,
    /// The native CPU kernels (`nn/native/`): forward and backward through time
    /// over `f32` buffers, the batch split across the cores, taped.
    Native,
    /// The LSTM's libtorch tape (`nn/lstm_bptt.rs`): a step loop of libtorch
    /// operations without an autograd graph and a hand-written backward pass through time.
    LstmTape,
    /// Autograd of the step loop ([`Recurrent::forward_steps`](super::Recurrent::forward_steps)).
    StepLoop,
}

impl TrainingPath {
    /// The path a layer with `config` trains along on `device`:
    ///
    /// 1. on the CPU: [`Native`](TrainingPath::Native), with or without recurrent dropout,
    ///    unless the environment sets `LSTM_SUPPORT_KERNELS=libtorch` (read once, for
    ///    comparisons; `native` is the default), which selects the libtorch paths below;
    /// 2. no recurrent dropout: [`Fused`](TrainingPath::Fused);
    /// 3. otherwise an LSTM with one mask shared by the gates: [`LstmTape`](TrainingPath::LstmTape);
    /// 4. otherwise (a GPU, or the libtorch paths, for the GRU, the simple RNN or masks per
    ///    gate): [`StepLoop`](TrainingPath::StepLoop).
    pub fn for_layer(config: &RecurrentConfig, device: Device) -> TrainingPath {
        static NATIVE_KERNELS: once_cell::sync::Lazy<bool> =
            once_cell::sync::Lazy::new(|| match std::env::var("LSTM_SUPPORT_KERNELS").as_deref() {
                Err(_) | Ok("native") => true,
                Ok("libtorch") => false,
                Ok(other) => {
                    eprintln!(
                        "LSTM_SUPPORT_KERNELS={other} is not known: use `native` (the default) \
                         or `libtorch`; training uses the native kernels"
                    );
                    true
                }
            });
        // On the CPU the native kernels are faster than the fused one even without a mask
        // (GRU and SimpleRNN about 1.8x, LSTM about 1.1x: docs/benchmarks.md), and they keep
        // their speed when another process shares the cores, where OpenMP's do not.
        if device == Device::Cpu && *NATIVE_KERNELS {
            TrainingPath::Native
        } else if config.recurrent_dropout == 0.0 {
            TrainingPath::Fused
        } else if config.cell == CellKind::Lstm && config.recurrent_mask.is_shared() {
            TrainingPath::LstmTape
        } else {
            TrainingPath::StepLoop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::RecurrentMask;

    /// The table in the `nn` module docs, row by row.
    #[test]
    fn the_paths_of_the_table() {
        let gpu = Device::Cuda(0);
        for cell in CellKind::ALL {
            for recurrent_mask in [RecurrentMask::Shared, RecurrentMask::PerGate] {
                let config = |recurrent_dropout| RecurrentConfig {
                    recurrent_mask,
                    dropout: 0.2,
                    ..RecurrentConfig::new(cell, 8, recurrent_dropout)
                };
                let case = format!("{cell:?} {recurrent_mask:?}");
                let path = |recurrent_dropout, device| {
                    TrainingPath::for_layer(&config(recurrent_dropout), device)
                };
                assert_eq!(path(0.0, gpu), TrainingPath::Fused, "{case}");
                let libtorch = if cell == CellKind::Lstm && recurrent_mask.is_shared() {
                    TrainingPath::LstmTape
                } else {
                    TrainingPath::StepLoop
                };
                assert_eq!(path(0.15, gpu), libtorch, "{case}");
                let on_cpu = match std::env::var("LSTM_SUPPORT_KERNELS").as_deref() {
                    Ok("libtorch") => libtorch,
                    _ => TrainingPath::Native,
                };
                assert_eq!(path(0.15, Device::Cpu), on_cpu, "{case}");
                let on_cpu_without_dropout = match std::env::var("LSTM_SUPPORT_KERNELS").as_deref()
                {
                    Ok("libtorch") => TrainingPath::Fused,
                    _ => TrainingPath::Native,
                };
                assert_eq!(path(0.0, Device::Cpu), on_cpu_without_dropout, "{case}");
            }
        }
    }
}
