//! One step of each cell, forward and backward, over all rows of a batch: the element-wise
//! work between the recurrent products of [`kernels`](super::kernels). Each row holds `units`
//! values per gate, gates in libtorch's order (LSTM i, f, g, o; GRU r, z, n). A slice given as
//! the previous step's (`c_prev`, `h_prev`) is empty at the first step. Everything here is
//! `#[inline(always)]`, so that it compiles into the kernels' AVX2 build.
use super::maths::{sigmoid, tanh};

/// LSTM, step t forward: adds the recurrent product `recurrent` to the input projections in
/// `z` (both `[B, 4H]`), applies the activations in place, and writes c(t), tanh(c(t)) and
/// h(t) (`[B, H]`).
#[inline(always)]
pub(super) fn lstm_forward(
    z: &mut [f32],
    recurrent: &[f32],
    c_prev: &[f32],
    c: &mut [f32],
    tanh_c: &mut [f32],
    h: &mut [f32],
    units: usize,
) {
    let gh = 4 * units;
    for b in 0..h.len() / units {
        let zr = &mut z[b * gh..(b + 1) * gh];
        let rr = &recurrent[b * gh..(b + 1) * gh];
        for (v, &r) in zr.iter_mut().zip(rr) {
            *v += r;
        }
        let (i, rest) = zr.split_at_mut(units);
        let (f, rest) = rest.split_at_mut(units);
        let (gg, o) = rest.split_at_mut(units);
        let row = b * units..(b + 1) * units;
        let c_row = &mut c[row.clone()];
        let tc_row = &mut tanh_c[row.clone()];
        let h_row = &mut h[row.clone()];
        let cp_row: &[f32] = if c_prev.is_empty() { &[] } else { &c_prev[row] };
        lstm_cell_row(i, f, gg, o, cp_row, c_row, tc_row, h_row);
    }
}

/// LSTM, step t backward from dh(t) (`[B, H]`): `dz` holds the gate activations on entry and
/// their pre-activation gradients on exit; dc(t-1) replaces dc(t) in `dc`.
#[inline(always)]
pub(super) fn lstm_backward(
    dz: &mut [f32],
    dh: &[f32],
    tanh_c: &[f32],
    c_prev: &[f32],
    dc: &mut [f32],
    units: usize,
) {
    let gh = 4 * units;
    for b in 0..dh.len() / units {
        let row = b * units..(b + 1) * units;
        let cp_row: &[f32] = if c_prev.is_empty() {
            &[]
        } else {
            &c_prev[row.clone()]
        };
        lstm_backward_row(
            &mut dz[b * gh..(b + 1) * gh],
            &dh[row.clone()],
            &tanh_c[row.clone()],
            cp_row,
            &mut dc[row],
        );
    }
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

/// GRU (`reset_after`), step t forward: the activations r, z, n in place of the input
/// projections in `z` (`[B, 3H]`; `recurrent` is the recurrent product, without its bias
/// `b_hh`); writes the recurrent part of the candidate U_n h + b_hn to `hn` and h(t) to `h`
/// (`[B, H]`).
#[inline(always)]
pub(super) fn gru_forward(
    z: &mut [f32],
    recurrent: &[f32],
    b_hh: &[f32],
    h_prev: &[f32],
    hn: &mut [f32],
    h: &mut [f32],
    units: usize,
) {
    let gh = 3 * units;
    for b in 0..h.len() / units {
        let zr = &mut z[b * gh..(b + 1) * gh];
        let rr = &recurrent[b * gh..(b + 1) * gh];
        for j in 0..units {
            let r = sigmoid(zr[j] + rr[j] + b_hh[j]);
            let u = sigmoid(zr[units + j] + rr[units + j] + b_hh[units + j]);
            let hn_j = rr[2 * units + j] + b_hh[2 * units + j];
            let n = tanh(zr[2 * units + j] + r * hn_j);
            let hp = if h_prev.is_empty() {
                0.0
            } else {
                h_prev[b * units + j]
            };
            zr[j] = r;
            zr[units + j] = u;
            zr[2 * units + j] = n;
            hn[b * units + j] = hn_j;
            h[b * units + j] = (1.0 - u) * n + u * hp;
        }
    }
}

/// GRU, step t backward from dh(t) (`[B, H]`): `dz` holds r, z, n on entry and the gradients
/// of the recurrent products' pre-activations on exit; `d_in` receives those of the input
/// products (they differ for the candidate, where r multiplies the recurrent part), and
/// `dh_direct` the gradient of h(t-1) through z h(t-1).
#[inline(always)]
pub(super) fn gru_backward(
    dz: &mut [f32],
    d_in: &mut [f32],
    dh: &[f32],
    h_prev: &[f32],
    hn: &[f32],
    dh_direct: &mut [f32],
    units: usize,
) {
    let gh = 3 * units;
    for b in 0..dh.len() / units {
        let dzr = &mut dz[b * gh..(b + 1) * gh];
        let dxr = &mut d_in[b * gh..(b + 1) * gh];
        for j in 0..units {
            let k = b * units + j;
            let (r, u, n) = (dzr[j], dzr[units + j], dzr[2 * units + j]);
            let hp = if h_prev.is_empty() { 0.0 } else { h_prev[k] };
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

/// Simple RNN, step t forward: h(t) = tanh(input projection + recurrent product), kept in `z`
/// too (`[B, H]`).
#[inline(always)]
pub(super) fn simple_rnn_forward(z: &mut [f32], recurrent: &[f32], h: &mut [f32]) {
    for ((v, &r), h) in z.iter_mut().zip(recurrent).zip(h.iter_mut()) {
        *v = tanh(*v + r);
        *h = *v;
    }
}

/// Simple RNN, step t backward: `dz` holds h(t) on entry and the pre-activation gradient on
/// exit.
#[inline(always)]
pub(super) fn simple_rnn_backward(dz: &mut [f32], dh: &[f32]) {
    for (d, &dhk) in dz.iter_mut().zip(dh) {
        // d holds h(t) = tanh(a) on entry.
        *d = dhk * (1.0 - *d * *d);
    }
}
