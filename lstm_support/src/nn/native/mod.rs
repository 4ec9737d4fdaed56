//! Native CPU kernels for training the recurrent layers with recurrent dropout: the forward
//! pass and the backward pass through time of the LSTM, the GRU (`reset_after`, as Keras and
//! PyTorch) and the simple RNN, over contiguous `f32` buffers for one whole batch of sequences.
//!
//! Why: no fused kernel takes a recurrent dropout mask, and a step loop of libtorch operations
//! pays a dispatch of a microsecond or two per operation, about as much as the arithmetic at 32
//! units (docs/benchmarks.md). Here a step is one matrix product (libtorch's BLAS, MKL, where
//! it exports it, else `matrixmultiply`; any strides, so transposes cost nothing) and one pass
//! over the gates that does all the element-wise work, with an exp that the compiler
//! vectorises. The inputs of all steps are
//! projected in one product before the loop, and the weight gradients are three products over
//! all steps after it.
//!
//! Layouts are time-major and row-major: inputs `[T, B, I]`, gates `[T, B, G*H]` (gate order
//! i, f, g, o for the LSTM and r, z, n for the GRU, as libtorch stores the weights), weights
//! `[G*H, I]` and `[G*H, H]`. The recurrent mask is `[B, H]` shared by the gates (Keras 3.0 to 3.7)
//! or `[B, G*H]`, one per gate (Keras 3.8 and later); it multiplies h(t-1) before the recurrent
//! product only.
//!
//! The files, each using only those listed before it:
//! - [`pool`]: the buffers of finished batches, reused by the next;
//! - [`maths`]: the matrix products, exp, sigmoid and tanh, and whether the CPU has AVX2;
//! - [`cells`]: one step of each cell, forward and backward;
//! - [`kernels`]: a [`Pass`](kernels::Pass) over all steps, forward and backward, as AVX2 or
//!   portable code;
//! - [`threads`]: the batch in row ranges, one thread each, and libtorch's own threads while
//!   the kernels train ([`TrainingThreads`]);
//! - [`bridge`]: tensors in and out, and the [`NativeTape`] a training step runs backwards.
//!
//! Which layers train here is for [`TrainingPath::for_layer`](crate::nn::TrainingPath::for_layer)
//! to say.
mod bridge;
mod cells;
mod kernels;
mod maths;
mod pool;
mod threads;

pub(crate) use bridge::{forward_tape, LayerTensors, NativeTape};
pub use threads::TrainingThreads;
