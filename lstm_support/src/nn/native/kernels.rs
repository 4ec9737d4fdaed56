//! The forward pass and the backward pass through time over all steps of a batch (or of one
//! thread's rows of it). A [`Pass`] says what to compute: the cell, the sizes, the weights and
//! the masks. Per step, the recurrent product and the masks are here and the cell's
//! element-wise work is in [`cells`]; the inputs of all steps are projected in
//! one product before the loop, and the weight gradients are three products over all steps
//! after it. [`Pass::forward`] and [`Pass::backward`] run as code compiled for AVX2 and FMA
//! where the CPU has them (8 lanes wide instead of SSE2's 4), else as portable code, both from
//! one body.
use super::cells;
use super::maths::{gemm, masked_into, row_times_matrix, wide_vectors};
use super::pool::{buffer, buffer_to_overwrite, recycle};
use crate::nn::CellKind;

/// Sizes of one batch of sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    pub steps: usize,
    pub batch: usize,
    pub inputs: usize,
    pub units: usize,
}

/// A layer's weights, row-major: `w_ih [G*H, I]`, `w_hh [G*H, H]`, `b_ih`, `b_hh [G*H]`.
#[derive(Clone, Copy)]
pub(crate) struct Weights<'a> {
    pub w_ih: &'a [f32],
    pub w_hh: &'a [f32],
    pub b_ih: &'a [f32],
    pub b_hh: &'a [f32],
}

impl<'a> Weights<'a> {
    /// The weights held as `[w_ih, w_hh, b_ih, b_hh]`.
    pub(crate) fn of(values: &'a [Vec<f32>; 4]) -> Self {
        let [w_ih, w_hh, b_ih, b_hh] = values;
        Weights {
            w_ih,
            w_hh,
            b_ih,
            b_hh,
        }
    }
}

/// One run of the kernels over a batch of sequences (or one thread's rows of it). The backward
/// pass takes the same `Pass` as the forward pass whose [`Tape`] it reads.
#[derive(Clone, Copy)]
pub(crate) struct Pass<'a> {
    pub cell: CellKind,
    pub dims: Dims,
    pub weights: Weights<'a>,
    /// `[B, I]` on x(t), the same at every step.
    pub input_mask: Option<&'a [f32]>,
    /// On h(t-1) before the recurrent product only, the same at every step: `[B, H]` shared by
    /// the gates (Keras 3.0 to 3.7), or `[B, G*H]`, one per gate (tf.keras 2.x and Keras 3.8 and later).
    pub recurrent_mask: Option<&'a [f32]>,
}

/// What the forward pass keeps for the backward pass (its [`Pass`] holds the rest).
#[derive(Debug)]
pub(crate) struct Tape {
    /// The input after its mask, `[T, B, I]`.
    x: Vec<f32>,
    /// What entered each recurrent product, h(t-1) times its mask(s): `[T, B, M*H]`.
    h_dropped: Vec<f32>,
    /// Gate activations, `[T, B, G*H]`.
    gates: Vec<f32>,
    /// LSTM: the cell state c(t); GRU: the recurrent part of the candidate, U_n h + b_hn;
    /// `[T, B, H]` (empty for the simple RNN).
    state: Vec<f32>,
    /// LSTM: tanh(c(t)), `[T, B, H]`.
    tanh_state: Vec<f32>,
    /// h(t) for every step, `[T, B, H]`: the layer's output.
    pub hs: Vec<f32>,
}

/// Parameter and input gradients.
#[derive(Debug)]
pub(crate) struct Grads {
    pub w_ih: Vec<f32>,
    pub w_hh: Vec<f32>,
    pub b_ih: Vec<f32>,
    pub b_hh: Vec<f32>,
    /// `[T, B, I]`, through the input mask; empty when not asked for.
    pub x: Vec<f32>,
}

impl Drop for Tape {
    fn drop(&mut self) {
        recycle(
            [
                &mut self.x,
                &mut self.h_dropped,
                &mut self.gates,
                &mut self.state,
                &mut self.tanh_state,
                &mut self.hs,
            ]
            .map(std::mem::take),
        );
    }
}

impl Pass<'_> {
    /// Masks per gate block (M): 1 when they are shared (or there are none), G with one per
    /// gate.
    #[inline(always)]
    fn mask_blocks(&self) -> usize {
        let g = self.cell.gates() as usize;
        match self.recurrent_mask {
            Some(mask) if mask.len() == self.dims.batch * g * self.dims.units && g > 1 => g,
            _ => 1,
        }
    }

    /// Forward pass over all steps from `x`, `[T, B, I]` before its mask (the tape keeps it
    /// after).
    pub(crate) fn forward(&self, x: Vec<f32>) -> Tape {
        #[cfg(target_arch = "x86_64")]
        if wide_vectors() {
            // SAFETY: the CPU has AVX2 and FMA (checked at run time just above).
            return unsafe { self.forward_avx2(x) };
        }
        self.forward_portable(x)
    }

    /// [`Pass::forward`] compiled for AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn forward_avx2(&self, x: Vec<f32>) -> Tape {
        self.forward_portable(x)
    }

    #[inline(always)]
    fn forward_portable(&self, mut x: Vec<f32>) -> Tape {
        let Pass {
            cell,
            dims,
            weights,
            input_mask,
            recurrent_mask,
        } = *self;
        let Dims {
            steps,
            batch,
            inputs,
            units,
        } = dims;
        let gh = cell.gates() as usize * units;
        let mask_blocks = self.mask_blocks();
        if let Some(mask) = input_mask {
            for row in x.chunks_exact_mut(inputs * batch) {
                for (v, &k) in row.iter_mut().zip(mask) {
                    *v *= k;
                }
            }
        }
        // Input projections of all steps in one product, biases first. For the GRU the recurrent
        // bias of the candidate stays apart (it is multiplied by r); elsewhere both biases add.
        let mut gates = buffer_to_overwrite(steps * batch * gh);
        for row in gates.chunks_exact_mut(gh) {
            for (j, v) in row.iter_mut().enumerate() {
                let recurrent_bias = if cell == CellKind::Gru {
                    0.0
                } else {
                    weights.b_hh[j]
                };
                *v = weights.b_ih[j] + recurrent_bias;
            }
        }
        gemm(
            steps * batch,
            inputs,
            gh,
            &x,
            (inputs, 1),
            weights.w_ih,
            (1, inputs),
            1.0,
            &mut gates,
            gh,
        );
        let hd_width = mask_blocks * units;
        let mut h_dropped = buffer_to_overwrite(steps * batch * hd_width);
        // h(-1) is zero; the later steps are written as they come.
        h_dropped[..batch * hd_width].fill(0.0);
        let mut hs = buffer_to_overwrite(steps * batch * units);
        let stateful = cell != CellKind::SimpleRnn;
        let mut state = buffer_to_overwrite(if stateful { steps * batch * units } else { 0 });
        let mut tanh_state = buffer_to_overwrite(if cell == CellKind::Lstm {
            steps * batch * units
        } else {
            0
        });
        let mut recurrent = buffer_to_overwrite(batch * gh);
        // W_hh^T, `[H, G*H]`, for the per-gate products (their rows then read contiguous weights).
        let mut w_hh_t = buffer_to_overwrite(if mask_blocks > 1 { units * gh } else { 0 });
        if mask_blocks > 1 {
            for (r, w_row) in weights.w_hh.chunks_exact(units).enumerate() {
                for (k, &w) in w_row.iter().enumerate() {
                    w_hh_t[k * gh + r] = w;
                }
            }
        }
        let step_h = batch * units;
        let mut part = buffer_to_overwrite(step_h);
        for t in 0..steps {
            // h(t-1) through its mask(s) into the recurrent product.
            let (done, rest) = hs.split_at_mut(t * step_h);
            let h_prev: &[f32] = if t == 0 {
                &[]
            } else {
                &done[(t - 1) * step_h..]
            };
            let h_out = &mut rest[..step_h];
            let hd = &mut h_dropped[t * batch * hd_width..(t + 1) * batch * hd_width];
            if t > 0 {
                for block in 0..mask_blocks {
                    match recurrent_mask {
                        Some(mask) => masked_into(
                            &mut part,
                            h_prev,
                            mask,
                            mask.len() / batch,
                            block * units,
                            units,
                        ),
                        None => part.copy_from_slice(h_prev),
                    }
                    for (row, src) in hd.chunks_exact_mut(hd_width).zip(part.chunks_exact(units)) {
                        row[block * units..(block + 1) * units].copy_from_slice(src);
                    }
                }
            }
            // recurrent = h_dropped W_hh^T: one product when the mask is shared, else each gate's
            // block of W_hh times h through that gate's mask, row by row.
            if mask_blocks == 1 {
                gemm(
                    batch,
                    units,
                    gh,
                    hd,
                    (hd_width, 1),
                    weights.w_hh,
                    (1, units),
                    0.0,
                    &mut recurrent,
                    gh,
                );
            } else {
                for (out, h_row) in recurrent
                    .chunks_exact_mut(gh)
                    .zip(hd.chunks_exact(hd_width))
                {
                    for (block, (out, h)) in out
                        .chunks_exact_mut(units)
                        .zip(h_row.chunks_exact(units))
                        .enumerate()
                    {
                        row_times_matrix(out, h, &w_hh_t[block * units..], gh);
                    }
                }
            }
            let z = &mut gates[t * batch * gh..(t + 1) * batch * gh];
            match cell {
                CellKind::Lstm => {
                    let (c_done, c_rest) = state.split_at_mut(t * step_h);
                    let c_prev: &[f32] = if t == 0 {
                        &[]
                    } else {
                        &c_done[(t - 1) * step_h..]
                    };
                    let c_now = &mut c_rest[..step_h];
                    let tc_now = &mut tanh_state[t * step_h..(t + 1) * step_h];
                    cells::lstm_forward(z, &recurrent, c_prev, c_now, tc_now, h_out, units);
                }
                CellKind::Gru => {
                    let hn_now = &mut state[t * step_h..(t + 1) * step_h];
                    cells::gru_forward(z, &recurrent, weights.b_hh, h_prev, hn_now, h_out, units);
                }
                CellKind::SimpleRnn => cells::simple_rnn_forward(z, &recurrent, h_out),
            }
        }
        recycle([recurrent, part, w_hh_t]);
        Tape {
            x,
            h_dropped,
            gates,
            state,
            tanh_state,
            hs,
        }
    }

    /// Backpropagation through time from `d_hs`, the loss gradient of every step's h
    /// (`[T, B, H]`; zeros where a step's h is not an output), over the `tape` of this pass's
    /// forward pass. The input gradient is computed only with `input_grad` (a layer fed by
    /// another layer needs it; one fed by the images does not). The pre-activation gradients
    /// overwrite the gate activations of the same step once these are used, which keeps the
    /// peak memory of training to one `[T, B, G*H]` buffer instead of two.
    pub(crate) fn backward(&self, tape: &mut Tape, d_hs: &[f32], input_grad: bool) -> Grads {
        #[cfg(target_arch = "x86_64")]
        if wide_vectors() {
            // SAFETY: the CPU has AVX2 and FMA (checked at run time just above).
            return unsafe { self.backward_avx2(tape, d_hs, input_grad) };
        }
        self.backward_portable(tape, d_hs, input_grad)
    }

    /// [`Pass::backward`] compiled for AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn backward_avx2(&self, tape: &mut Tape, d_hs: &[f32], input_grad: bool) -> Grads {
        self.backward_portable(tape, d_hs, input_grad)
    }

    #[inline(always)]
    fn backward_portable(&self, tape: &mut Tape, d_hs: &[f32], input_grad: bool) -> Grads {
        let Pass {
            cell,
            dims,
            weights,
            input_mask,
            recurrent_mask,
        } = *self;
        let Dims {
            steps,
            batch,
            inputs,
            units,
        } = dims;
        let g = cell.gates() as usize;
        let gh = g * units;
        let mask_blocks = self.mask_blocks();
        let hd_width = mask_blocks * units;
        let step_h = batch * units;
        // Pre-activation gradients of the recurrent products (in place of the gates) and of
        // the input products (they differ only for the GRU's candidate, where r multiplies the
        // recurrent part).
        let mut d_rec = std::mem::take(&mut tape.gates);
        let mut d_in = if cell == CellKind::Gru {
            buffer_to_overwrite(steps * batch * gh)
        } else {
            Vec::new()
        };
        let mut dh_next = buffer(step_h);
        let mut dc_next = buffer(step_h);
        let mut d_hd = buffer_to_overwrite(batch * hd_width);
        let mut dh = buffer_to_overwrite(step_h);
        let mut dh_direct = buffer_to_overwrite(step_h);
        for t in (0..steps).rev() {
            // The gate activations of step t on entry, their gradients on exit.
            let dz = &mut d_rec[t * batch * gh..(t + 1) * batch * gh];
            let d_out = &d_hs[t * step_h..(t + 1) * step_h];
            let h_prev: &[f32] = if t == 0 {
                &[]
            } else {
                &tape.hs[(t - 1) * step_h..t * step_h]
            };
            // dh(t) = the output's gradient plus what step t+1 sent back.
            for ((d, &a), &b) in dh.iter_mut().zip(d_out).zip(&dh_next) {
                *d = a + b;
            }
            dh_direct.fill(0.0);
            match cell {
                CellKind::Lstm => {
                    let tc = &tape.tanh_state[t * step_h..(t + 1) * step_h];
                    let c_prev: &[f32] = if t == 0 {
                        &[]
                    } else {
                        &tape.state[(t - 1) * step_h..t * step_h]
                    };
                    cells::lstm_backward(dz, &dh, tc, c_prev, &mut dc_next, units);
                }
                CellKind::Gru => {
                    let hn = &tape.state[t * step_h..(t + 1) * step_h];
                    let dxi = &mut d_in[t * batch * gh..(t + 1) * batch * gh];
                    cells::gru_backward(dz, dxi, &dh, h_prev, hn, &mut dh_direct, units);
                }
                CellKind::SimpleRnn => cells::simple_rnn_backward(dz, &dh),
            }
            // dh(t-1): back through the recurrent product and the mask(s), plus the GRU's
            // direct path z h(t-1).
            dh_next.copy_from_slice(&dh_direct);
            if t > 0 {
                if mask_blocks == 1 {
                    gemm(
                        batch,
                        gh,
                        units,
                        dz,
                        (gh, 1),
                        weights.w_hh,
                        (units, 1),
                        0.0,
                        &mut d_hd,
                        hd_width,
                    );
                } else {
                    // Each gate's block of dz times that gate's rows of W_hh, row by row.
                    for (out, dz_row) in d_hd.chunks_exact_mut(hd_width).zip(dz.chunks_exact(gh)) {
                        for (block, (out, d)) in out
                            .chunks_exact_mut(units)
                            .zip(dz_row.chunks_exact(units))
                            .enumerate()
                        {
                            row_times_matrix(out, d, &weights.w_hh[block * units * units..], units);
                        }
                    }
                }
                for block in 0..mask_blocks {
                    let d_rows = d_hd
                        .chunks_exact(hd_width)
                        .map(|r| &r[block * units..][..units]);
                    let dh_rows = dh_next.chunks_exact_mut(units);
                    match recurrent_mask {
                        Some(mask) => {
                            let width = mask.len() / batch;
                            let mask_rows = mask
                                .chunks_exact(width)
                                .map(|r| &r[block * units..][..units]);
                            for ((dh_row, d_row), m_row) in dh_rows.zip(d_rows).zip(mask_rows) {
                                for ((s, &d), &k) in dh_row.iter_mut().zip(d_row).zip(m_row) {
                                    *s += d * k;
                                }
                            }
                        }
                        None => {
                            for (dh_row, d_row) in dh_rows.zip(d_rows) {
                                for (s, &d) in dh_row.iter_mut().zip(d_row) {
                                    *s += d;
                                }
                            }
                        }
                    }
                }
            }
        }
        // Weight gradients: one product each over all steps and rows.
        let rows = steps * batch;
        let mut w_hh = buffer_to_overwrite(gh * units);
        for block in recurrent_blocks(mask_blocks, g, units) {
            gemm(
                block.rows,
                rows,
                units,
                &d_rec[block.gate_row..],
                (1, gh),
                &tape.h_dropped[block.input..],
                (hd_width, 1),
                0.0,
                &mut w_hh[block.gate_row * units..],
                units,
            );
        }
        let d_input = if cell == CellKind::Gru { &d_in } else { &d_rec };
        let mut w_ih = buffer_to_overwrite(gh * inputs);
        gemm(
            gh,
            rows,
            inputs,
            d_input,
            (1, gh),
            &tape.x,
            (inputs, 1),
            0.0,
            &mut w_ih,
            inputs,
        );
        let column_sums = |d: &[f32]| {
            let mut sums = buffer(gh);
            for row in d.chunks_exact(gh) {
                for (s, v) in sums.iter_mut().zip(row) {
                    *s += v;
                }
            }
            sums
        };
        let b_ih = column_sums(d_input);
        let b_hh = column_sums(&d_rec);
        let mut x = buffer_to_overwrite(if input_grad { rows * inputs } else { 0 });
        if input_grad {
            gemm(
                rows,
                gh,
                inputs,
                d_input,
                (gh, 1),
                weights.w_ih,
                (inputs, 1),
                0.0,
                &mut x,
                inputs,
            );
        }
        if let Some(mask) = input_mask.filter(|_| input_grad) {
            for row in x.chunks_exact_mut(inputs * batch) {
                for (v, &k) in row.iter_mut().zip(mask) {
                    *v *= k;
                }
            }
        }
        recycle([d_rec, d_in, dh_next, dc_next, d_hd, dh, dh_direct]);
        Grads {
            w_ih,
            w_hh,
            b_ih,
            b_hh,
            x,
        }
    }
}

/// One block of the recurrent product: the gate rows `gate_row..gate_row + rows` of `W_hh`
/// and the columns of h_dropped (`[B, M*H]`) from `input` that they read.
struct RecurrentBlock {
    input: usize,
    gate_row: usize,
    rows: usize,
}

/// The blocks of the recurrent product: all the gates in one when the mask is shared
/// (`mask_blocks` 1), else one per gate, each reading h through its own mask.
fn recurrent_blocks(mask_blocks: usize, gates: usize, units: usize) -> Vec<RecurrentBlock> {
    if mask_blocks == 1 {
        vec![RecurrentBlock {
            input: 0,
            gate_row: 0,
            rows: gates * units,
        }]
    } else {
        (0..gates)
            .map(|block| RecurrentBlock {
                input: block * units,
                gate_row: block * units,
                rows: units,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// through the kernels' f32 arithmetic (so the step is large and the tolerance loose).
    #[test]
    fn weight_gradients_agree_with_finite_differences() {
        let dims = Dims {
            steps: 4,
            batch: 3,
            inputs: 2,
            units: 3,
        };
        for cell in [CellKind::Lstm, CellKind::Gru, CellKind::SimpleRnn] {
            let gh = cell.gates() as usize * dims.units;
            let pseudo = |n: usize, seed: u32| -> Vec<f32> {
                (0..n)
                    .map(|i| {
                        (((i as u32).wrapping_mul(2_654_435_761u32) ^ seed) % 1000) as f32 / 1000.0
                            - 0.5
                    })
                    .collect()
            };
            let w_ih = pseudo(gh * dims.inputs, 1);
            let mut w_hh = pseudo(gh * dims.units, 2);
            let b_ih = pseudo(gh, 3);
            let b_hh = pseudo(gh, 4);
            let x = pseudo(dims.steps * dims.batch * dims.inputs, 5);
            let mask: Vec<f32> = (0..dims.batch * dims.units)
                .map(|i| if i % 4 == 0 { 0.0 } else { 1.25 })
                .collect();
            let readout = pseudo(dims.steps * dims.batch * dims.units, 6);
            // The pass with the given W_hh (the one here is never read).
            let base = Pass {
                cell,
                dims,
                weights: Weights {
                    w_ih: &w_ih,
                    w_hh: &[],
                    b_ih: &b_ih,
                    b_hh: &b_hh,
                },
                input_mask: None,
                recurrent_mask: Some(&mask),
            };
            let loss = |w_hh: &[f32]| -> f64 {
                let weights = Weights {
                    w_hh,
                    ..base.weights
                };
                let tape = Pass { weights, ..base }.forward(x.clone());
                tape.hs
                    .iter()
                    .zip(&readout)
                    .map(|(h, r)| f64::from(h * r))
                    .sum()
            };
            let grads = {
                let weights = Weights {
                    w_hh: &w_hh,
                    ..base.weights
                };
                let pass = Pass { weights, ..base };
                let mut tape = pass.forward(x.clone());
                pass.backward(&mut tape, &readout, true)
            };
            for index in [0, gh * dims.units / 2, gh * dims.units - 1] {
                let eps = 1e-2f32;
                let original = w_hh[index];
                w_hh[index] = original + eps;
                let up = loss(&w_hh);
                w_hh[index] = original - eps;
                let down = loss(&w_hh);
                w_hh[index] = original;
                let numeric = (up - down) / (2.0 * f64::from(eps));
                let analytic = f64::from(grads.w_hh[index]);
                assert!(
                    (numeric - analytic).abs() < 2e-3,
                    "{cell:?} w_hh[{index}]: {numeric} vs {analytic}"
                );
            }
        }
    }

    /// The kernels run as AVX2 code where the CPU has it, so the other tests check that build;
    /// this one checks that the portable build computes the same.
    #[test]
    fn portable_and_wide_builds_agree() {
        let dims = Dims {
            steps: 5,
            batch: 9,
            inputs: 7,
            units: 13,
        };
        let pseudo = |n: usize, seed: u32| -> Vec<f32> {
            (0..n)
                .map(|i| {
                    (((i as u32).wrapping_mul(2_654_435_761u32) ^ seed) % 1000) as f32 / 1000.0
                        - 0.5
                })
                .collect()
        };
        for cell in [CellKind::Lstm, CellKind::Gru, CellKind::SimpleRnn] {
            let gh = cell.gates() as usize * dims.units;
            let values = [
                pseudo(gh * dims.inputs, 1),
                pseudo(gh * dims.units, 2),
                pseudo(gh, 3),
                pseudo(gh, 4),
            ];
            let weights = Weights::of(&values);
            let x = pseudo(dims.steps * dims.batch * dims.inputs, 5);
            let input_mask = pseudo(dims.batch * dims.inputs, 6);
            let d_hs = pseudo(dims.steps * dims.batch * dims.units, 7);
            for mask_width in [dims.units, gh] {
                let mask = pseudo(dims.batch * mask_width, 8);
                let pass = Pass {
                    cell,
                    dims,
                    weights,
                    input_mask: Some(&input_mask),
                    recurrent_mask: Some(&mask),
                };
                let run = |portable: bool| {
                    let (mut tape, grads);
                    if portable {
                        tape = pass.forward_portable(x.clone());
                        grads = pass.backward_portable(&mut tape, &d_hs, true);
                    } else {
                        tape = pass.forward(x.clone());
                        grads = pass.backward(&mut tape, &d_hs, true);
                    }
                    (tape.hs.clone(), grads)
                };
                let (hs_a, a) = run(true);
                let (hs_b, b) = run(false);
                for (name, u, v) in [
                    ("h", &hs_a, &hs_b),
                    ("w_ih", &a.w_ih, &b.w_ih),
                    ("w_hh", &a.w_hh, &b.w_hh),
                    ("b_ih", &a.b_ih, &b.b_ih),
                    ("b_hh", &a.b_hh, &b.b_hh),
                    ("x", &a.x, &b.x),
                ] {
                    let diff = u
                        .iter()
                        .zip(v)
                        .map(|(p, q)| (p - q).abs())
                        .fold(0.0, f32::max);
                    assert!(
                        diff < 1e-5,
                        "{cell:?}, mask width {mask_width}: {name} differs by {diff}"
                    );
                }
            }
        }
    }
}
