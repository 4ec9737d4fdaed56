//! Native CPU kernels for training the recurrent layers with recurrent dropout: the forward
//! pass and the backward pass through time of the LSTM, the GRU (`reset_after`, as Keras and
//! PyTorch) and the simple RNN, over contiguous `f32` buffers for one whole batch of sequences.
//!
//! Why: no fused kernel takes a recurrent dropout mask, and a step loop of libtorch operations
//! pays a dispatch of a microsecond or two per operation, about as much as the arithmetic at 32
//! units (docs/benchmarks.md). Here a step is one matrix product (`matrixmultiply`'s `sgemm`,
//! any strides, so transposes cost nothing) and one pass over the gates that does all the
//! element-wise work, with an exp that the compiler vectorises. The inputs of all steps are
//! projected in one product before the loop, and the weight gradients are three products over
//! all steps after it.
//!
//! Layouts are time-major and row-major: inputs `[T, B, I]`, gates `[T, B, G*H]` (gate order
//! i, f, g, o for the LSTM and r, z, n for the GRU, as libtorch stores the weights), weights
//! `[G*H, I]` and `[G*H, H]`. The recurrent mask is `[B, H]` shared by the gates (tf.keras 2.x)
//! or `[B, G*H]`, one per gate (Keras 3.8 and later); it multiplies h(t-1) before the recurrent
//! product only.
use tch::{Device, Kind, Tensor};

use std::ops::Range;

use super::rnn::{CellKind, RecurrentConfig};
use crate::error::{Error, Result};

/// Sizes of one batch of sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    pub steps: usize,
    pub batch: usize,
    pub inputs: usize,
    pub units: usize,
}

/// A layer's weights, row-major: `w_ih [G*H, I]`, `w_hh [G*H, H]`, `b_ih`, `b_hh [G*H]`.
pub(crate) struct Weights<'a> {
    pub w_ih: &'a [f32],
    pub w_hh: &'a [f32],
    pub b_ih: &'a [f32],
    pub b_hh: &'a [f32],
}

impl<'a> Weights<'a> {
    /// The weights held as `[w_ih, w_hh, b_ih, b_hh]`.
    fn of(values: &'a [Vec<f32>; 4]) -> Self {
        let [w_ih, w_hh, b_ih, b_hh] = values;
        Weights {
            w_ih,
            w_hh,
            b_ih,
            b_hh,
        }
    }
}

/// What the forward pass keeps for the backward pass.
#[derive(Debug)]
pub(crate) struct Tape {
    cell: CellKind,
    dims: Dims,
    /// Masks per gate block (1 = shared, G = one per gate).
    mask_blocks: usize,
    /// The input after its mask, `[T, B, I]`.
    x: Vec<f32>,
    input_mask: Option<Vec<f32>>,
    recurrent_mask: Option<Vec<f32>>,
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

/// Buffers of finished batches, reused by the next: fresh multi-megabyte allocations every
/// batch cost page faults worth a tenth of the training time. Shared by the worker threads.
static POOL: std::sync::Mutex<Vec<Vec<f32>>> = std::sync::Mutex::new(Vec::new());

fn pool() -> std::sync::MutexGuard<'static, Vec<Vec<f32>>> {
    POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A zeroed buffer of `len` values, from the pool when one is large enough.
fn buffer(len: usize) -> Vec<f32> {
    let mut v = buffer_to_overwrite(len);
    v.fill(0.0);
    v
}

/// A buffer of `len` values that the caller writes in full before reading, so that a reused
/// one is not zeroed first (the memset was 4% of a profile). Its values are stale ones.
fn buffer_to_overwrite(len: usize) -> Vec<f32> {
    let reused = {
        let mut pool = pool();
        // The smallest that fits, so that small requests do not take the large buffers that
        // the next large request would then have to allocate afresh.
        let found = pool
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= len)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        found.map(|i| pool.swap_remove(i))
    };
    let mut v = reused.unwrap_or_default();
    v.truncate(len);
    v.resize(len, 0.0);
    v
}

/// Gives buffers back to the pool (a few dozen at most).
fn recycle(buffers: impl IntoIterator<Item = Vec<f32>>) {
    let mut pool = pool();
    for b in buffers {
        if pool.len() < 64 && b.capacity() > 0 {
            pool.push(b);
        }
    }
}

/// Rows `rows` of a batch-major `[B, T, W]` buffer (a tensor's layout), time-major as
/// `[T, rows, W]` (the kernels' layout).
fn time_major_rows(full: &[f32], (steps, width): (usize, usize), rows: &Range<usize>) -> Vec<f32> {
    let mut out = buffer_to_overwrite(steps * rows.len() * width);
    for (r, row) in rows.clone().enumerate() {
        let sequence = &full[row * steps * width..(row + 1) * steps * width];
        for (t, values) in sequence.chunks_exact(width).enumerate() {
            let to = (t * rows.len() + r) * width;
            out[to..to + width].copy_from_slice(values);
        }
    }
    out
}

/// Writes a time-major `[T, rows, W]` part into rows `rows` of a batch-major `[B, T, W]`
/// buffer.
fn write_batch_major_rows(
    part: &[f32],
    full: &mut [f32],
    (steps, width): (usize, usize),
    rows: &Range<usize>,
) {
    for (r, row) in rows.clone().enumerate() {
        let sequence = &mut full[row * steps * width..(row + 1) * steps * width];
        for (t, values) in sequence.chunks_exact_mut(width).enumerate() {
            let from = (t * rows.len() + r) * width;
            values.copy_from_slice(&part[from..from + width]);
        }
    }
}

/// The batch in as many row ranges as the machine has cores, each of at least 32 rows: the
/// sequences of a batch are independent, so each range runs on a core of its own.
fn row_ranges(batch: usize) -> Vec<Range<usize>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parts = cores.min(batch / 32).max(1);
    (0..parts)
        .map(|p| p * batch / parts..(p + 1) * batch / parts)
        .collect()
}

/// While native training runs, libtorch works on one thread: its OpenMP workers would
/// otherwise spin after each of its operations (the head, the loss, Adam) on the cores the
/// kernels' threads need; a profile had 39% of the samples in that spin. Restores libtorch's
/// thread count when dropped (validation and evaluation want all of them).
pub(crate) struct LibtorchOnOneThread(Option<i32>);

impl LibtorchOnOneThread {
    /// Takes effect only when `active`.
    pub(crate) fn new(active: bool) -> Self {
        let previous = tch::get_num_threads();
        if active && previous > 1 {
            tch::set_num_threads(1);
            LibtorchOnOneThread(Some(previous))
        } else {
            LibtorchOnOneThread(None)
        }
    }
}

impl Drop for LibtorchOnOneThread {
    fn drop(&mut self) {
        if let Some(threads) = self.0 {
            tch::set_num_threads(threads);
        }
    }
}

/// Runs the jobs, the first on this thread and each other one on a thread of its own (rayon's
/// persistent pool measured slower on 2 cores: its workers compete with the calling thread).
fn in_parallel<T: Send>(jobs: Vec<impl FnOnce() -> T + Send>) -> Result<Vec<T>> {
    let mut jobs = jobs.into_iter();
    let Some(first) = jobs.next() else {
        return Ok(Vec::new());
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs.map(|job| scope.spawn(job)).collect();
        let mut results = vec![first()];
        for handle in handles {
            results.push(handle.join().map_err(|_| {
                Error::invalid("native recurrent kernel", "a worker thread panicked")
            })?);
        }
        Ok(results)
    })
}

/// `c[m×n] = beta c + a[m×k] b[k×n]`, each matrix given by its row and column strides.
#[allow(clippy::too_many_arguments)]
fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    (rsa, csa): (usize, usize),
    b: &[f32],
    (rsb, csb): (usize, usize),
    beta: f32,
    c: &mut [f32],
    rsc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    // The largest index each matrix touches must be inside its slice.
    debug_assert!(k == 0 || (m - 1) * rsa + (k - 1) * csa < a.len());
    debug_assert!(k == 0 || (k - 1) * rsb + (n - 1) * csb < b.len());
    debug_assert!((m - 1) * rsc + n - 1 < c.len());
    // SAFETY: the strides and sizes stay inside the three slices (checked above in debug
    // builds; every caller derives them from `Dims`), and `c` does not alias `a` or `b`.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            rsc as isize,
            1,
        );
    }
}

/// e^x for |x| up to 88, within a few ulp, without branches, so that a loop over a slice of it
/// vectorises (Cephes' expf: 2^n times a polynomial on [-ln2/2, ln2/2]).
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // Round to nearest by adding and subtracting 1.5 * 2^23: `f32::round` is a libm call
    // without SSE4.1, which would keep the loop from vectorising.
    const ROUND: f32 = 12_582_912.0;
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5e-1;
    let e = p * r * r + r + 1.0;
    // 2^n from the bits of `shifted`, which are those of ROUND plus n (|n| < 2^22): integer
    // arithmetic that vectorises, where `n as i32` is a saturating scalar conversion.
    let two_to_n = (shifted
        .to_bits()
        .wrapping_sub(ROUND.to_bits())
        .wrapping_add(127))
        << 23;
    e * f32::from_bits(two_to_n)
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
fn tanh(x: f32) -> f32 {
    2.0 / (1.0 + exp(-2.0 * x)) - 1.0
}

/// One row of LSTM units: the activations in place (i, f, o sigmoid; g tanh), then c, tanh(c)
/// and h. `c_prev` is empty at the first step. Plain slices of one length, so that the
/// compiler drops the bounds checks and vectorises.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lstm_cell_row(
    i: &mut [f32],
    f: &mut [f32],
    g: &mut [f32],
    o: &mut [f32],
    c_prev: &[f32],
    c: &mut [f32],
    tanh_c: &mut [f32],
    h: &mut [f32],
) {
    let n = c.len();
    let (i, f, g, o) = (&mut i[..n], &mut f[..n], &mut g[..n], &mut o[..n]);
    let (tanh_c, h) = (&mut tanh_c[..n], &mut h[..n]);
    for j in 0..n {
        i[j] = sigmoid(i[j]);
        f[j] = sigmoid(f[j]);
        g[j] = tanh(g[j]);
        o[j] = sigmoid(o[j]);
    }
    if c_prev.is_empty() {
        for j in 0..n {
            c[j] = i[j] * g[j];
        }
    } else {
        let c_prev = &c_prev[..n];
        for j in 0..n {
            c[j] = f[j] * c_prev[j] + i[j] * g[j];
        }
    }
    for j in 0..n {
        tanh_c[j] = tanh(c[j]);
        h[j] = o[j] * tanh_c[j];
    }
}

/// One row of LSTM units backwards, from dh(t): `z` holds the gates (i, f, g, o after their
/// activations) on entry and their pre-activation gradients on exit; dc(t-1) replaces dc(t).
/// `c_prev` is empty at the first step.
#[inline(always)]
fn lstm_backward_row(z: &mut [f32], dh: &[f32], tanh_c: &[f32], c_prev: &[f32], dc: &mut [f32]) {
    let n = dh.len();
    let (i, rest) = z.split_at_mut(n);
    let (f, rest) = rest.split_at_mut(n);
    let (g, o) = rest.split_at_mut(n);
    let (o, tanh_c, dc) = (&mut o[..n], &tanh_c[..n], &mut dc[..n]);
    for j in 0..n {
        let (ij, fj, gj, oj) = (i[j], f[j], g[j], o[j]);
        let dc_j = dc[j] + dh[j] * oj * (1.0 - tanh_c[j] * tanh_c[j]);
        i[j] = dc_j * gj * ij * (1.0 - ij);
        g[j] = dc_j * ij * (1.0 - gj * gj);
        o[j] = dh[j] * tanh_c[j] * oj * (1.0 - oj);
        f[j] = dc_j * fj * (1.0 - fj);
        dc[j] = dc_j * fj;
    }
    // df needs c(t-1), zero at the first step.
    if c_prev.is_empty() {
        f.fill(0.0);
    } else {
        for (d, &c) in f.iter_mut().zip(&c_prev[..n]) {
            *d *= c;
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

/// `out[b, j] = h[b, j] * mask[b, block + j]` for one block of a `[B, width]` mask.
fn masked_into(out: &mut [f32], h: &[f32], mask: &[f32], width: usize, block: usize, units: usize) {
    for ((out_row, h_row), mask_row) in out
        .chunks_exact_mut(units)
        .zip(h.chunks_exact(units))
        .zip(mask.chunks_exact(width))
    {
        let m = &mask_row[block..block + units];
        for ((o, &v), &k) in out_row.iter_mut().zip(h_row).zip(m) {
            *o = v * k;
        }
    }
}

/// `out[j] = sum over i of a[i] * m[i * ld + j]`, for `j < out.len()`: one row of a small
/// product, read straight from `m` (no packing) with the sums kept in registers 32 columns at
/// a time. With one mask per gate, each step needs one such product per gate and row; four
/// `matrixmultiply` calls a step, each packing its operands, cost the per-gate mask a third of
/// its speed.
#[inline(always)]
fn row_times_matrix(out: &mut [f32], a: &[f32], m: &[f32], ld: usize) {
    #[inline(always)]
    fn columns<const N: usize>(out: &mut [f32], a: &[f32], m: &[f32], ld: usize, from: usize) {
        let mut sums = [0.0f32; N];
        for (i, &ai) in a.iter().enumerate() {
            let row = &m[i * ld + from..][..N];
            for (s, &w) in sums.iter_mut().zip(row) {
                *s += ai * w;
            }
        }
        out[from..from + N].copy_from_slice(&sums);
    }
    let n = out.len();
    let mut j = 0;
    while j + 32 <= n {
        columns::<32>(out, a, m, ld, j);
        j += 32;
    }
    while j + 8 <= n {
        columns::<8>(out, a, m, ld, j);
        j += 8;
    }
    while j < n {
        columns::<1>(out, a, m, ld, j);
        j += 1;
    }
}

/// Whether this CPU has AVX2 and FMA (checked once): the kernels' element-wise loops then run
/// as code compiled for them, 8 lanes wide instead of SSE2's 4. The build itself stays
/// portable.
fn wide_vectors() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static WIDE: once_cell::sync::Lazy<bool> = once_cell::sync::Lazy::new(|| {
            std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
        });
        *WIDE
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Forward pass over all steps. `x` is `[T, B, I]` (kept in the tape, after its mask); the
/// masks are `[B, I]` and `[B, H]` or `[B, G*H]`.
pub(crate) fn forward(
    cell: CellKind,
    dims: Dims,
    weights: &Weights<'_>,
    x: Vec<f32>,
    input_mask: Option<&[f32]>,
    recurrent_mask: Option<&[f32]>,
) -> Tape {
    #[cfg(target_arch = "x86_64")]
    if wide_vectors() {
        // SAFETY: the CPU has AVX2 and FMA (checked at run time just above).
        return unsafe { forward_avx2(cell, dims, weights, x, input_mask, recurrent_mask) };
    }
    forward_portable(cell, dims, weights, x, input_mask, recurrent_mask)
}

/// [`forward`] compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_avx2(
    cell: CellKind,
    dims: Dims,
    weights: &Weights<'_>,
    x: Vec<f32>,
    input_mask: Option<&[f32]>,
    recurrent_mask: Option<&[f32]>,
) -> Tape {
    forward_portable(cell, dims, weights, x, input_mask, recurrent_mask)
}

#[inline(always)]
fn forward_portable(
    cell: CellKind,
    dims: Dims,
    weights: &Weights<'_>,
    x: Vec<f32>,
    input_mask: Option<&[f32]>,
    recurrent_mask: Option<&[f32]>,
) -> Tape {
    let Dims {
        steps,
        batch,
        inputs,
        units,
    } = dims;
    let g = cell.gates() as usize;
    let gh = g * units;
    let mask_blocks = match recurrent_mask {
        Some(mask) if mask.len() == batch * gh && g > 1 => g,
        _ => 1,
    };
    let mut x = x;
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
                let c_all = &mut state[..];
                let (c_done, c_rest) = c_all.split_at_mut(t * step_h);
                let c_prev: &[f32] = if t == 0 {
                    &[]
                } else {
                    &c_done[(t - 1) * step_h..]
                };
                let c_now = &mut c_rest[..step_h];
                let tc_now = &mut tanh_state[t * step_h..(t + 1) * step_h];
                for b in 0..batch {
                    let zr = &mut z[b * gh..(b + 1) * gh];
                    let rr = &recurrent[b * gh..(b + 1) * gh];
                    for (v, &r) in zr.iter_mut().zip(rr) {
                        *v += r;
                    }
                    let (i, rest) = zr.split_at_mut(units);
                    let (f, rest) = rest.split_at_mut(units);
                    let (gg, o) = rest.split_at_mut(units);
                    let row = b * units..(b + 1) * units;
                    let c_row = &mut c_now[row.clone()];
                    let tc_row = &mut tc_now[row.clone()];
                    let h_row = &mut h_out[row.clone()];
                    let zeros = [0.0f32; 0];
                    let cp_row: &[f32] = if t == 0 { &zeros } else { &c_prev[row] };
                    lstm_cell_row(i, f, gg, o, cp_row, c_row, tc_row, h_row);
                }
            }
            CellKind::Gru => {
                let hn_now = &mut state[t * step_h..(t + 1) * step_h];
                for b in 0..batch {
                    let zr = &mut z[b * gh..(b + 1) * gh];
                    let rr = &recurrent[b * gh..(b + 1) * gh];
                    for j in 0..units {
                        let r = sigmoid(zr[j] + rr[j] + weights.b_hh[j]);
                        let u = sigmoid(zr[units + j] + rr[units + j] + weights.b_hh[units + j]);
                        let hn = rr[2 * units + j] + weights.b_hh[2 * units + j];
                        let n = tanh(zr[2 * units + j] + r * hn);
                        let hp = if t == 0 { 0.0 } else { h_prev[b * units + j] };
                        zr[j] = r;
                        zr[units + j] = u;
                        zr[2 * units + j] = n;
                        hn_now[b * units + j] = hn;
                        h_out[b * units + j] = (1.0 - u) * n + u * hp;
                    }
                }
            }
            CellKind::SimpleRnn => {
                for ((v, &r), h) in z.iter_mut().zip(&recurrent).zip(h_out.iter_mut()) {
                    *v = tanh(*v + r);
                    *h = *v;
                }
            }
        }
    }
    recycle([recurrent, part, w_hh_t]);
    Tape {
        cell,
        dims,
        mask_blocks,
        x,
        input_mask: input_mask.map(<[f32]>::to_vec),
        recurrent_mask: recurrent_mask.map(<[f32]>::to_vec),
        h_dropped,
        gates,
        state,
        tanh_state,
        hs,
    }
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

impl Tape {
    /// Backpropagation through time from `d_hs`, the loss gradient of every step's h
    /// (`[T, B, H]`; zeros where a step's h is not an output).
    /// The input gradient is computed only with `input_grad` (a layer fed by another layer
    /// needs it; one fed by the images does not). The pre-activation gradients overwrite the
    /// gate activations of the same step once these are used, which keeps the peak memory of
    /// training to one `[T, B, G*H]` buffer instead of two.
    pub(crate) fn backward(
        &mut self,
        weights: &Weights<'_>,
        d_hs: &[f32],
        input_grad: bool,
    ) -> Grads {
        #[cfg(target_arch = "x86_64")]
        if wide_vectors() {
            // SAFETY: the CPU has AVX2 and FMA (checked at run time just above).
            return unsafe { self.backward_avx2(weights, d_hs, input_grad) };
        }
        self.backward_portable(weights, d_hs, input_grad)
    }

    /// [`Tape::backward`] compiled for AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn backward_avx2(
        &mut self,
        weights: &Weights<'_>,
        d_hs: &[f32],
        input_grad: bool,
    ) -> Grads {
        self.backward_portable(weights, d_hs, input_grad)
    }

    #[inline(always)]
    fn backward_portable(
        &mut self,
        weights: &Weights<'_>,
        d_hs: &[f32],
        input_grad: bool,
    ) -> Grads {
        let Dims {
            steps,
            batch,
            inputs,
            units,
        } = self.dims;
        let g = self.cell.gates() as usize;
        let gh = g * units;
        let hd_width = self.mask_blocks * units;
        let step_h = batch * units;
        // Pre-activation gradients of the recurrent products (in place of the gates) and of
        // the input products (they differ only for the GRU's candidate, where r multiplies the
        // recurrent part).
        let mut d_rec = std::mem::take(&mut self.gates);
        let mut d_in = if self.cell == CellKind::Gru {
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
            let h_prev = (t > 0).then(|| &self.hs[(t - 1) * step_h..t * step_h]);
            // dh(t) = the output's gradient plus what step t+1 sent back.
            for ((d, &a), &b) in dh.iter_mut().zip(d_out).zip(&dh_next) {
                *d = a + b;
            }
            dh_direct.fill(0.0);
            match self.cell {
                CellKind::Lstm => {
                    let tc = &self.tanh_state[t * step_h..(t + 1) * step_h];
                    let c_prev = (t > 0).then(|| &self.state[(t - 1) * step_h..t * step_h]);
                    for b in 0..batch {
                        let row = b * units..(b + 1) * units;
                        lstm_backward_row(
                            &mut dz[b * gh..(b + 1) * gh],
                            &dh[row.clone()],
                            &tc[row.clone()],
                            c_prev.map_or(&[][..], |c| &c[row.clone()]),
                            &mut dc_next[row],
                        );
                    }
                }
                CellKind::Gru => {
                    let hn = &self.state[t * step_h..(t + 1) * step_h];
                    let dxi = &mut d_in[t * batch * gh..(t + 1) * batch * gh];
                    for b in 0..batch {
                        let dzr = &mut dz[b * gh..(b + 1) * gh];
                        let dxr = &mut dxi[b * gh..(b + 1) * gh];
                        for j in 0..units {
                            let k = b * units + j;
                            let (r, u, n) = (dzr[j], dzr[units + j], dzr[2 * units + j]);
                            let hp = h_prev.map_or(0.0, |h| h[k]);
                            let dhk = dh[k];
                            let dan = dhk * (1.0 - u) * (1.0 - n * n);
                            let dar = dan * hn[k] * r * (1.0 - r);
                            let dau = dhk * (hp - n) * u * (1.0 - u);
                            dzr[j] = dar;
                            dzr[units + j] = dau;
                            dzr[2 * units + j] = dan * r;
                            dxr[j] = dar;
                            dxr[units + j] = dau;
                            dxr[2 * units + j] = dan;
                            dh_direct[k] = dhk * u;
                        }
                    }
                }
                CellKind::SimpleRnn => {
                    for (d, &dhk) in dz.iter_mut().zip(&dh) {
                        // d holds h(t) = tanh(a) on entry.
                        *d = dhk * (1.0 - *d * *d);
                    }
                }
            }
            // dh(t-1): back through the recurrent product and the mask(s), plus the GRU's
            // direct path z h(t-1).
            dh_next.copy_from_slice(&dh_direct);
            if t > 0 {
                if self.mask_blocks == 1 {
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
                for block in 0..self.mask_blocks {
                    let d_rows = d_hd
                        .chunks_exact(hd_width)
                        .map(|r| &r[block * units..][..units]);
                    let dh_rows = dh_next.chunks_exact_mut(units);
                    match &self.recurrent_mask {
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
        for block in recurrent_blocks(self.mask_blocks, g, units) {
            gemm(
                block.rows,
                rows,
                units,
                &d_rec[block.gate_row..],
                (1, gh),
                &self.h_dropped[block.input..],
                (hd_width, 1),
                0.0,
                &mut w_hh[block.gate_row * units..],
                units,
            );
        }
        let d_input = if self.cell == CellKind::Gru {
            &d_in
        } else {
            &d_rec
        };
        let mut w_ih = buffer_to_overwrite(gh * inputs);
        gemm(
            gh,
            rows,
            inputs,
            d_input,
            (1, gh),
            &self.x,
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
        if let Some(mask) = self.input_mask.as_ref().filter(|_| input_grad) {
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

/// Whether CPU training with recurrent dropout runs these kernels: yes unless
/// `LSTM_SUPPORT_KERNELS=libtorch` is set (read once), which selects the libtorch step loop
/// (the hand-written LSTM tape, autograd for the others) for comparison.
pub(crate) fn enabled() -> bool {
    static ENABLED: once_cell::sync::Lazy<bool> =
        once_cell::sync::Lazy::new(|| match std::env::var("LSTM_SUPPORT_KERNELS").as_deref() {
            Err(_) | Ok("native") => true,
            Ok("libtorch") => false,
            Ok(other) => {
                eprintln!(
                    "LSTM_SUPPORT_KERNELS={other} is not known: use `native` (the default) or \
                     `libtorch`; training uses the native kernels"
                );
                true
            }
        });
    *ENABLED
}

/// Whether a recurrent layer with `config` trains through these kernels on `device`: on the
/// CPU, with recurrent dropout, unless `LSTM_SUPPORT_KERNELS=libtorch`.
pub(crate) fn trains(config: &RecurrentConfig, device: Device) -> bool {
    device == Device::Cpu && config.recurrent_dropout > 0.0 && enabled()
}

/// The values of a CPU float tensor, contiguous.
fn values(t: &Tensor) -> Result<Vec<f32>> {
    let t = t.detach().to_device(Device::Cpu).contiguous();
    let n = t.numel();
    // From the pool: these buffers go back to it, and fresh ones each batch would grow it.
    let mut v = buffer_to_overwrite(n);
    t.f_copy_data(&mut v, n)?;
    Ok(v)
}

/// A layer's parameters as tensors (for the gradients) and as values (for the kernels).
pub(crate) struct LayerParams<'a> {
    pub w_ih: &'a Tensor,
    pub w_hh: &'a Tensor,
    pub b_ih: &'a Tensor,
    pub b_hh: &'a Tensor,
}

/// One layer's native forward pass, kept for its backward pass (see [`crate::nn::lstm_bptt`]
/// for the leaf-and-surrogate scheme it shares with the libtorch tape).
#[derive(Debug)]
pub(crate) struct NativeTape {
    dims: Dims,
    /// One tape per range of batch rows, run on cores of their own.
    parts: Vec<(Range<usize>, Tape)>,
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
    cell: CellKind,
    params: LayerParams<'_>,
    xs: &Tensor,
    input_mask: Option<&Tensor>,
    recurrent_mask: Option<&Tensor>,
    return_sequences: bool,
) -> Result<(Tensor, NativeTape)> {
    let size = xs.size();
    let dims = Dims {
        batch: size[0] as usize,
        steps: size[1] as usize,
        inputs: size[2] as usize,
        units: params.w_hh.size()[1] as usize,
    };
    let x = values(xs)?;
    let weight_values = [
        values(params.w_ih)?,
        values(params.w_hh)?,
        values(params.b_ih)?,
        values(params.b_hh)?,
    ];
    let input_mask = input_mask.map(values).transpose()?;
    let recurrent_mask = recurrent_mask.map(values).transpose()?;
    let parts = {
        let weights = Weights::of(&weight_values);
        let (weights, x) = (&weights, &x);
        let (input_mask, recurrent_mask) = (input_mask.as_deref(), recurrent_mask.as_deref());
        let jobs: Vec<_> = row_ranges(dims.batch)
            .into_iter()
            .map(|rows| {
                move || {
                    let rows_of = |mask: &[f32]| {
                        let width = mask.len() / dims.batch;
                        mask[rows.start * width..rows.end * width].to_vec()
                    };
                    let part = Dims {
                        batch: rows.len(),
                        ..dims
                    };
                    let x = time_major_rows(x, (dims.steps, dims.inputs), &rows);
                    let (im, rm) = (input_mask.map(rows_of), recurrent_mask.map(rows_of));
                    let tape = forward(cell, part, weights, x, im.as_deref(), rm.as_deref());
                    (rows, tape)
                }
            })
            .collect();
        in_parallel(jobs)?
    };
    let (steps, batch, units) = (dims.steps as i64, dims.batch as i64, dims.units as i64);
    let output = if return_sequences {
        let mut all = buffer_to_overwrite(dims.steps * dims.batch * dims.units);
        for (rows, tape) in &parts {
            write_batch_major_rows(&tape.hs, &mut all, (dims.steps, dims.units), rows);
        }
        let output = Tensor::from_slice(&all).view([batch, steps, units]);
        recycle([all]);
        output
    } else {
        let mut last = buffer_to_overwrite(dims.batch * dims.units);
        for (rows, tape) in &parts {
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
            dims,
            parts,
            input: xs.shallow_clone(),
            output,
            return_sequences,
            w_ih: params.w_ih.shallow_clone(),
            w_hh: params.w_hh.shallow_clone(),
            b_ih: params.b_ih.shallow_clone(),
            b_hh: params.b_hh.shallow_clone(),
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
        let part_grads = {
            let weights = Weights::of(&self.weight_values);
            let (weights, d_output) = (&weights, &d_output);
            let jobs: Vec<_> = self
                .parts
                .iter_mut()
                .map(|(rows, tape)| {
                    move || {
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
                        let grads = tape.backward(weights, &d, input_grad);
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
    use crate::nn::rnn::{dropout_mask, Recurrent, RecurrentConfig, RecurrentMask};

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
    /// both mask modes, input dropout on and off, return_sequences on and off, an odd batch,
    /// and a batch split across threads.
    #[test]
    fn native_gradients_match_autograd_of_the_step_loop() {
        let _rng = crate::torch_rng_lock();
        assert!(row_ranges(70).len() == (tch::get_num_threads() as usize).clamp(1, 2));
        let cpu = (Kind::Float, Device::Cpu);
        for cell in CellKind::ALL {
            for recurrent_mask in [RecurrentMask::Shared, RecurrentMask::PerGate] {
                for (input_dropout, return_sequences) in [(0.0, false), (0.3, true), (0.3, false)] {
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
                    let mask = dropout_mask(batch, width, 0.4, Device::Cpu).unwrap();
                    let out_shape: &[i64] = if return_sequences {
                        &[batch, 9, 6]
                    } else {
                        &[batch, 6]
                    };
                    let readout = Tensor::randn(out_shape, cpu);

                    let reference = layer.forward_steps(&xs, input_mask.as_ref(), Some(&mask));
                    (&reference * &readout).sum(Kind::Float).backward();
                    let expected = take(&vs, &xs);

                    let (output, tape) = layer
                        .native_tape(&xs, input_mask.as_ref(), Some(&mask))
                        .unwrap();
                    let what = format!("{cell:?} {recurrent_mask:?} dropout {input_dropout} sequences {return_sequences}");
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

    /// A finite-difference spot check of the LSTM's and the GRU's weight gradients, in f64
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
            let loss = |w_hh: &[f32]| -> f64 {
                let weights = Weights {
                    w_ih: &w_ih,
                    w_hh,
                    b_ih: &b_ih,
                    b_hh: &b_hh,
                };
                let tape = forward(cell, dims, &weights, x.clone(), None, Some(&mask));
                tape.hs
                    .iter()
                    .zip(&readout)
                    .map(|(h, r)| f64::from(h * r))
                    .sum()
            };
            let weights = Weights {
                w_ih: &w_ih,
                w_hh: &w_hh,
                b_ih: &b_ih,
                b_hh: &b_hh,
            };
            let mut tape = forward(cell, dims, &weights, x.clone(), None, Some(&mask));
            let grads = tape.backward(&weights, &readout, true);
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
                let run = |portable: bool| {
                    type Forward = fn(
                        CellKind,
                        Dims,
                        &Weights<'_>,
                        Vec<f32>,
                        Option<&[f32]>,
                        Option<&[f32]>,
                    ) -> Tape;
                    let build: Forward = if portable { forward_portable } else { forward };
                    let mut tape = build(
                        cell,
                        dims,
                        &weights,
                        x.clone(),
                        Some(&input_mask),
                        Some(&mask),
                    );
                    let grads = if portable {
                        tape.backward_portable(&weights, &d_hs, true)
                    } else {
                        tape.backward(&weights, &d_hs, true)
                    };
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

    #[test]
    fn a_row_times_a_matrix_read_in_place() {
        // Widths that use the 32-, 8- and 1-column parts, and a matrix wider than the product.
        for (k, n, ld) in [
            (3, 1, 1),
            (5, 7, 9),
            (32, 32, 128),
            (6, 41, 50),
            (17, 75, 75),
        ] {
            let a: Vec<f32> = (0..k).map(|i| (i as f32 * 0.37).sin()).collect();
            let m: Vec<f32> = (0..k * ld).map(|i| (i as f32 * 0.11).cos()).collect();
            let mut out = vec![f32::NAN; n];
            row_times_matrix(&mut out, &a, &m, ld);
            for (j, &v) in out.iter().enumerate() {
                let expected: f32 = (0..k).map(|i| a[i] * m[i * ld + j]).sum();
                assert!(
                    (v - expected).abs() < 1e-5,
                    "k {k} n {n} column {j}: {v} against {expected}"
                );
            }
        }
    }

    #[test]
    fn exp_and_the_activations_are_accurate() {
        for i in -2000..=2000 {
            let x = i as f32 * 0.01;
            let (want, got) = (x.exp(), exp(x));
            assert!(
                (got - want).abs() <= 2e-7 * want.max(1e-30),
                "exp({x}): {got} vs {want}"
            );
            assert!(
                (sigmoid(x) - 1.0 / (1.0 + (-x).exp())).abs() < 1e-6,
                "sigmoid({x})"
            );
            assert!((tanh(x) - x.tanh()).abs() < 2e-6, "tanh({x})");
        }
        assert!(sigmoid(-200.0) < 1e-30);
        assert_eq!(sigmoid(200.0), 1.0);
        assert!((tanh(50.0) - 1.0).abs() < 1e-7 && (tanh(-50.0) + 1.0).abs() < 1e-7);
    }
}

#[cfg(test)]
mod speed {
    use super::*;

    /// `cargo test --release -p lstm_support --lib speed -- --ignored --nocapture`: the
    /// per-step product of a 32-unit LSTM, `matrixmultiply` against libtorch's `mm` on the
    /// same borrowed buffers.
    #[test]
    #[ignore]
    fn per_step_product() {
        tch::set_num_threads(1);
        let (b, h, gh) = (64usize, 32usize, 128usize);
        let a: Vec<f32> = (0..b * h).map(|i| (i % 7) as f32 * 0.1).collect();
        let w: Vec<f32> = (0..gh * h).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0.0f32; b * gh];
        let n = 20_000;
        let started = std::time::Instant::now();
        for _ in 0..n {
            gemm(b, h, gh, &a, (h, 1), &w, (1, h), 0.0, &mut c, gh);
        }
        let ours = started.elapsed().as_secs_f64() / n as f64;
        let at = unsafe {
            Tensor::from_blob(
                a.as_ptr() as *const u8,
                &[b as i64, h as i64],
                &[h as i64, 1],
                Kind::Float,
                Device::Cpu,
            )
        };
        let wt = unsafe {
            Tensor::from_blob(
                w.as_ptr() as *const u8,
                &[h as i64, gh as i64],
                &[1, h as i64],
                Kind::Float,
                Device::Cpu,
            )
        };
        let ct = unsafe {
            Tensor::from_blob(
                c.as_mut_ptr() as *const u8,
                &[b as i64, gh as i64],
                &[gh as i64, 1],
                Kind::Float,
                Device::Cpu,
            )
        };
        let started = std::time::Instant::now();
        for _ in 0..n {
            let _ = at.mm_out(&ct, &wt);
        }
        let torch = started.elapsed().as_secs_f64() / n as f64;
        for (m, k, nn) in [
            (128usize, 1792usize, 32usize),
            (1792, 28, 128),
            (128, 3584, 32),
        ] {
            // a^T given as [k, m] row-major (the gradient layout), b [k, n].
            let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
            let bm: Vec<f32> = (0..k * nn).map(|i| (i % 5) as f32 * 0.1).collect();
            let mut c = vec![0.0f32; m * nn];
            let reps = 300;
            let started = std::time::Instant::now();
            for _ in 0..reps {
                gemm(m, k, nn, &a, (1, m), &bm, (nn, 1), 0.0, &mut c, nn);
            }
            let mm = started.elapsed().as_secs_f64() / reps as f64;
            let at = Tensor::from_slice(&a).view([k as i64, m as i64]);
            let bt = Tensor::from_slice(&bm).view([k as i64, nn as i64]);
            let ct = Tensor::zeros([m as i64, nn as i64], (Kind::Float, Device::Cpu));
            let started = std::time::Instant::now();
            for _ in 0..reps {
                let _ = at.tr().mm_out(&ct, &bt);
            }
            let torch = started.elapsed().as_secs_f64() / reps as f64;
            println!(
                "[{m}x{k}]x[{k}x{nn}]: matrixmultiply {:.1} us, libtorch {:.1} us",
                mm * 1e6,
                torch * 1e6
            );
        }
        println!(
            "per-step [128x32]x[32x128]: matrixmultiply {:.1} us, libtorch mm_out {:.1} us",
            ours * 1e6,
            torch * 1e6
        );
    }
}
