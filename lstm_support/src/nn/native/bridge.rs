//! The kernels as a layer sees them: tensors in (the input, the weights, the masks), the
//! output as an autograd leaf, and a [`NativeTape`] whose backward pass hands the gradients to
//! autograd (the scheme of [`tape`](crate::nn::tape), which the libtorch tape shares). The
//! batch runs in parts, one per core ([`threads`](super::threads)).
use std::ops::Range;

use tch::{Device, Kind, Tensor};

use super::kernels::{Dims, Pass, Tape, Weights};
use super::pool::{buffer, buffer_to_overwrite, recycle};
use super::threads::{in_parallel, row_ranges, time_major_rows, write_batch_major_rows};
use crate::error::{Error, Result};
use crate::nn::CellKind;

/// The values of a CPU float tensor, contiguous.
fn values(t: &Tensor) -> Result<Vec<f32>> {
    let t = t.detach().to_device(Device::Cpu).contiguous();
    let n = t.numel();
    // From the pool: these buffers go back to it, and fresh ones each batch would grow it.
    let mut v = buffer_to_overwrite(n);
    t.f_copy_data(&mut v, n)?;
    Ok(v)
}

/// A recurrent layer as the kernels take it: its cell, whether it outputs every step's h, and
/// its parameters as tensors (for the gradients; the kernels read their values).
pub(crate) struct LayerTensors<'a> {
    pub cell: CellKind,
    pub return_sequences: bool,
    pub w_ih: &'a Tensor,
    pub w_hh: &'a Tensor,
    pub b_ih: &'a Tensor,
    pub b_hh: &'a Tensor,
}

/// One thread's rows of the batch, as its [`Pass`] reads them: their sizes and masks.
#[derive(Debug)]
struct Part {
    rows: Range<usize>,
    /// The batch's sizes with `rows.len()` rows.
    dims: Dims,
    input_mask: Option<Vec<f32>>,
    recurrent_mask: Option<Vec<f32>>,
}

impl Part {
    /// The pass of these rows over `weights`, forward or backward.
    fn pass<'a>(&'a self, cell: CellKind, weights: Weights<'a>) -> Pass<'a> {
        Pass {
            cell,
            dims: self.dims,
            weights,
            input_mask: self.input_mask.as_deref(),
            recurrent_mask: self.recurrent_mask.as_deref(),
        }
    }
}

/// One layer's native forward pass, kept for its backward pass (see [`tape`](crate::nn::tape)
/// for the leaf-and-surrogate scheme it shares with the libtorch tape).
#[derive(Debug)]
pub(crate) struct NativeTape {
    cell: CellKind,
    dims: Dims,
    /// One tape per range of batch rows, run on cores of their own.
    parts: Vec<(Part, Tape)>,
    input: Tensor,
    output: Tensor,
    return_sequences: bool,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    weight_values: [Vec<f32>; 4],
}

/// `xs: [B, T, I]` -> the output leaf (`[B, T, H]` with `return_sequences`, else `[B, H]`) and
/// its tape. Masks: `[B, I]`, and `[B, H]` (shared) or `[B, G*H]` (one per gate).
pub(crate) fn forward_tape(
    layer: &LayerTensors<'_>,
    xs: &Tensor,
    input_mask: Option<&Tensor>,
    recurrent_mask: Option<&Tensor>,
) -> Result<(Tensor, NativeTape)> {
    let LayerTensors {
        cell,
        return_sequences,
        ..
    } = *layer;
    let size = xs.size();
    let dims = Dims {
        batch: size[0] as usize,
        steps: size[1] as usize,
        inputs: size[2] as usize,
        units: layer.w_hh.size()[1] as usize,
    };
    let x = values(xs)?;
    let weight_values = [
        values(layer.w_ih)?,
        values(layer.w_hh)?,
        values(layer.b_ih)?,
        values(layer.b_hh)?,
    ];
    let input_mask = input_mask.map(values).transpose()?;
    let recurrent_mask = recurrent_mask.map(values).transpose()?;
    let parts = {
        let weights = Weights::of(&weight_values);
        let x = &x;
        let (input_mask, recurrent_mask) = (input_mask.as_deref(), recurrent_mask.as_deref());
        let jobs: Vec<_> = row_ranges(dims.batch)
            .into_iter()
            .map(|rows| {
                move || {
                    let rows_of = |mask: &[f32]| {
                        let width = mask.len() / dims.batch;
                        mask[rows.start * width..rows.end * width].to_vec()
                    };
                    let x = time_major_rows(x, (dims.steps, dims.inputs), &rows);
                    let part = Part {
                        dims: Dims {
                            batch: rows.len(),
                            ..dims
                        },
                        input_mask: input_mask.map(rows_of),
                        recurrent_mask: recurrent_mask.map(rows_of),
                        rows,
                    };
                    let tape = part.pass(cell, weights).forward(x);
                    (part, tape)
                }
            })
            .collect();
        in_parallel(jobs)?
    };
    let (steps, batch, units) = (dims.steps as i64, dims.batch as i64, dims.units as i64);
    let output = if return_sequences {
        let mut all = buffer_to_overwrite(dims.steps * dims.batch * dims.units);
        for (part, tape) in &parts {
            write_batch_major_rows(&tape.hs, &mut all, (dims.steps, dims.units), &part.rows);
        }
        let output = Tensor::from_slice(&all).view([batch, steps, units]);
        recycle([all]);
        output
    } else {
        let mut last = buffer_to_overwrite(dims.batch * dims.units);
        for (Part { rows, .. }, tape) in &parts {
            let n = rows.len() * dims.units;
            last[rows.start * dims.units..rows.end * dims.units]
                .copy_from_slice(&tape.hs[tape.hs.len() - n..]);
        }
        let output = Tensor::from_slice(&last).view([batch, units]);
        recycle([last]);
        output
    };
    recycle([x].into_iter().chain(input_mask).chain(recurrent_mask));
    let output = output.to_device(xs.device()).set_requires_grad(true);
    Ok((
        output.shallow_clone(),
        NativeTape {
            cell,
            dims,
            parts,
            input: xs.shallow_clone(),
            output,
            return_sequences,
            w_ih: layer.w_ih.shallow_clone(),
            w_hh: layer.w_hh.shallow_clone(),
            b_ih: layer.b_ih.shallow_clone(),
            b_hh: layer.b_hh.shallow_clone(),
            weight_values,
        },
    ))
}

impl NativeTape {
    /// Backpropagation through time from the gradient autograd left in the output leaf; hands
    /// the parameter (and input) gradients to autograd. Does nothing when the output received
    /// no gradient.
    pub(crate) fn backward(mut self) -> Result<()> {
        let d_output = self.output.grad();
        if !d_output.defined() {
            return Ok(());
        }
        let Dims {
            steps,
            batch,
            inputs,
            units,
        } = self.dims;
        // Batch-major: [B, T, H] with return_sequences, else [B, H] (the last step's).
        let d_output = values(&d_output)?;
        let return_sequences = self.return_sequences;
        let input_grad = self.input.requires_grad();
        let cell = self.cell;
        let part_grads = {
            let weights = Weights::of(&self.weight_values);
            let d_output = &d_output;
            let jobs: Vec<_> = self
                .parts
                .iter_mut()
                .map(|(part, tape)| {
                    let part = &*part;
                    move || {
                        let rows = &part.rows;
                        let d = if return_sequences {
                            time_major_rows(d_output, (steps, units), rows)
                        } else {
                            // Zeros but for the last step.
                            let n = rows.len() * units;
                            let mut d = buffer(steps * n);
                            d[(steps - 1) * n..]
                                .copy_from_slice(&d_output[rows.start * units..rows.end * units]);
                            d
                        };
                        let grads = part.pass(cell, weights).backward(tape, &d, input_grad);
                        recycle([d]);
                        (rows.clone(), grads)
                    }
                })
                .collect();
            in_parallel(jobs)?
        };
        // The parts' weight gradients add up; their input gradients are rows of the whole.
        let mut parts = part_grads.into_iter();
        let Some((first_rows, mut grads)) = parts.next() else {
            return Ok(());
        };
        let mut d_x = buffer_to_overwrite(if input_grad {
            steps * batch * inputs
        } else {
            0
        });
        if input_grad {
            write_batch_major_rows(&grads.x, &mut d_x, (steps, inputs), &first_rows);
        }
        for (rows, more) in parts {
            for (total, part) in [
                (&mut grads.w_ih, &more.w_ih),
                (&mut grads.w_hh, &more.w_hh),
                (&mut grads.b_ih, &more.b_ih),
                (&mut grads.b_hh, &more.b_hh),
            ] {
                for (t, p) in total.iter_mut().zip(part) {
                    *t += p;
                }
            }
            if input_grad {
                write_batch_major_rows(&more.x, &mut d_x, (steps, inputs), &rows);
            }
            recycle([more.w_ih, more.w_hh, more.b_ih, more.b_hh, more.x]);
        }
        grads.x = d_x;
        let device = self.w_ih.device();
        let as_tensor = |v: &[f32], like: &Tensor| {
            Tensor::from_slice(v)
                .view(like.size().as_slice())
                .to_device(device)
        };
        let mut surrogate = (&self.w_ih * as_tensor(&grads.w_ih, &self.w_ih)).sum(Kind::Float)
            + (&self.w_hh * as_tensor(&grads.w_hh, &self.w_hh)).sum(Kind::Float)
            + (&self.b_ih * as_tensor(&grads.b_ih, &self.b_ih)).sum(Kind::Float);
        if self.b_hh.requires_grad() {
            surrogate += (&self.b_hh * as_tensor(&grads.b_hh, &self.b_hh)).sum(Kind::Float);
        }
        if input_grad {
            let (steps, batch, inputs) = (steps as i64, batch as i64, inputs as i64);
            let d_x = Tensor::from_slice(&grads.x)
                .view([batch, steps, inputs])
                .to_device(device);
            surrogate += (&self.input * d_x).sum(Kind::Float);
        }
        if !surrogate.requires_grad() {
            return Err(Error::invalid(
                "recurrent weights",
                "they do not require gradients, so the layer cannot be trained",
            ));
        }
        surrogate.backward();
        recycle([
            grads.w_ih, grads.w_hh, grads.b_ih, grads.b_hh, grads.x, d_output,
        ]);
        recycle(std::mem::take(&mut self.weight_values));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tch::nn;

    use super::*;
    use crate::nn::{dropout_mask, Recurrent, RecurrentConfig, RecurrentMask};

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    /// The gradients of every variable in `vs` and of `xs`, taken out and zeroed.
    fn take(vs: &nn::VarStore, xs: &Tensor) -> Vec<(String, Tensor)> {
        let mut grads = crate::testutil::take_grads(vs);
        let mut xs = xs.shallow_clone();
        grads.push(("input".into(), xs.grad().copy()));
        xs.zero_grad();
        grads
    }

    /// The native kernels against autograd of the step loop with the same masks: every cell,
    /// both mask modes, input dropout on and off, recurrent dropout on and off (no mask: what a
    /// layer without recurrent dropout trains with on the CPU), return_sequences on and off, an
    /// odd batch, and a batch split across threads.
    #[test]
    fn native_gradients_match_autograd_of_the_step_loop() {
        let _rng = crate::torch_rng_lock();
        assert!(row_ranges(70).len() == (tch::get_num_threads() as usize).clamp(1, 2));
        let cpu = (Kind::Float, Device::Cpu);
        for cell in CellKind::ALL {
            for recurrent_mask in [RecurrentMask::Shared, RecurrentMask::PerGate] {
                for (input_dropout, return_sequences, recurrent_on) in [
                    (0.0, false, true),
                    (0.3, true, true),
                    (0.3, false, true),
                    (0.0, true, false),
                    (0.3, false, false),
                ] {
                    tch::manual_seed(3);
                    let vs = nn::VarStore::new(Device::Cpu);
                    let config = RecurrentConfig {
                        cell,
                        units: 6,
                        dropout: input_dropout,
                        recurrent_dropout: 0.4,
                        return_sequences,
                        recurrent_mask,
                    };
                    let layer = Recurrent::new(vs.root(), 5, config).unwrap();
                    // Keras starts the biases at 0 (1 for the LSTM's forget gate); make
                    // every bias matter.
                    for (_, mut var) in vs.variables() {
                        let noise = Tensor::randn(var.size(), cpu) * 0.3;
                        let _ = tch::no_grad(|| var.f_add_(&noise)).unwrap();
                    }
                    // 70 rows run as two parts of 35 on two threads; 7 as one.
                    let (batch, units) = (if return_sequences { 70 } else { 7 }, 6);
                    let xs = Tensor::randn([batch, 9, 5], cpu).set_requires_grad(true);
                    let input_mask = dropout_mask(batch, 5, input_dropout, Device::Cpu);
                    let width = match recurrent_mask {
                        RecurrentMask::Shared => units,
                        RecurrentMask::PerGate => units * cell.gates(),
                    };
                    let mask =
                        dropout_mask(batch, width, 0.4, Device::Cpu).filter(|_| recurrent_on);
                    let out_shape: &[i64] = if return_sequences {
                        &[batch, 9, 6]
                    } else {
                        &[batch, 6]
                    };
                    let readout = Tensor::randn(out_shape, cpu);

                    let reference = layer.forward_steps(&xs, input_mask.as_ref(), mask.as_ref());
                    (&reference * &readout).sum(Kind::Float).backward();
                    let expected = take(&vs, &xs);

                    let (output, tape) = layer
                        .native_tape(&xs, input_mask.as_ref(), mask.as_ref())
                        .unwrap();
                    let what = format!("{cell:?} {recurrent_mask:?} dropout {input_dropout} recurrent {recurrent_on} sequences {return_sequences}");
                    assert!(
                        max_abs_diff(&output, &reference) < 1e-5,
                        "{what}: outputs differ"
                    );
                    (&output * &readout).sum(Kind::Float).backward();
                    tape.backward().unwrap();
                    let actual = take(&vs, &xs);
                    assert_eq!(expected.len(), actual.len());
                    for ((name, want), (_, got)) in expected.iter().zip(&actual) {
                        let scale = want.abs().max().double_value(&[]).max(1.0);
                        let diff = max_abs_diff(want, got);
                        assert!(diff < 1e-4 * scale, "{what}: {name} differs by {diff}");
                    }
                }
            }
        }
    }
}
