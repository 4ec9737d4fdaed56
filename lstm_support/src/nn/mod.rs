//! Layers with Keras semantics: the recurrent family ([`Recurrent`]: [`lstm`], [`gru`],
//! [`simple_rnn`]) and Keras' initialisers ([`init`]).
//!
//! The files, each importing only those listed before it (and the crate's
//! [`error`](crate::error)); everything public is re-exported here, so that the rest of the
//! crate names `nn::CellKind`, not the file that holds it (`nn::rnn::CellKind` and its
//! siblings still resolve, for older code):
//! - [`init`]: Keras' initialisers;
//! - `config`: a recurrent layer's settings ([`CellKind`], [`RecurrentConfig`],
//!   [`RecurrentMask`]);
//! - `path`: which code trains a layer ([`TrainingPath::for_layer`], the table below);
//! - `lstm_bptt`: the LSTM's libtorch tape; `native/`: the native CPU kernels and their tape;
//! - `tape`: the tapes of one training step, run after `loss.backward()`;
//! - [`rnn`]: the layer itself, evaluation, the step loop and the training forward pass.
//!
//! # Which path trains a recurrent layer
//!
//! [`TrainingPath::for_layer`] decides, from the layer's config and the device, for the layer
//! (`Model::training_step`) and for the model (which asks for libtorch's threads through
//! `Model::training_threads`). All four paths compute the same function with the same masks
//! from the same random draws; they differ in speed (docs/benchmarks.md).
//!
//! | condition (first that holds) | path | why |
//! |---|---|---|
//! | on the CPU, unless `LSTM_SUPPORT_KERNELS=libtorch` | [`Native`](TrainingPath::Native): the native kernels, taped, the batch across the cores, libtorch on one thread meanwhile | no fused kernel takes a recurrent mask, and a step loop of libtorch operations pays a dispatch per operation; at fused speed or faster, every cell, both mask modes, and without recurrent dropout too (GRU and SimpleRNN about 1.8x faster than the fused kernel there) |
//! | `recurrent_dropout` is 0 (a GPU, or `LSTM_SUPPORT_KERNELS=libtorch`) | [`Fused`](TrainingPath::Fused): libtorch's fused kernel (cuDNN on a GPU) on the input after its dropout mask | nothing enters between the steps, so the fastest kernel there is can run |
//! | recurrent dropout, an LSTM with one mask shared by the gates (a GPU, or `LSTM_SUPPORT_KERNELS=libtorch`) | [`LstmTape`](TrainingPath::LstmTape): a step loop of libtorch operations without a graph and a hand-written backward pass through time | on a GPU the work stays on the device; a few large matmuls instead of autograd's fifteen small nodes a step |
//! | recurrent dropout, otherwise (the GRU, the simple RNN, masks per gate; a GPU or `LSTM_SUPPORT_KERNELS=libtorch`) | [`StepLoop`](TrainingPath::StepLoop): autograd of [`Recurrent::forward_steps`] | the reference every other path is tested against; no faster path is written for these on libtorch |
//!
//! `LSTM_SUPPORT_KERNELS` (`native`, the default, or `libtorch`) is read once per process,
//! for comparisons (`lstm-bench` sets it per measurement). `Model::training_step_autograd` and
//! [`Recurrent::forward_t`] always take the fused kernel or the step loop under autograd: they
//! are the reference.
mod config;
pub mod init;
mod lstm_bptt;
mod native;
mod path;
pub mod rnn;
mod tape;

pub use config::{CellKind, RecurrentConfig, RecurrentMask};
pub use native::TrainingThreads;
pub use path::TrainingPath;
pub use rnn::{dropout_mask, gru, lstm, simple_rnn, Recurrent, RecurrentWeights, StepTrace};
pub(crate) use tape::Backprop;
