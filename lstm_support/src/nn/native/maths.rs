//! The arithmetic under the kernels: the matrix product (libtorch's BLAS where it exports it,
//! else `matrixmultiply`; any strides), a small row-times-matrix product read in place, masking
//! a block of h, and exp, sigmoid and tanh written so that the loops over them vectorise; and
//! whether the CPU runs the kernels' element-wise loops as AVX2 code ([`wide_vectors`]).

/// `c[m×n] = beta c + a[m×k] b[k×n]`, each matrix given by its row and column strides.
///
/// Where libtorch exports the Fortran BLAS `sgemm_` (its x86-64 Linux builds, with MKL), the
/// product runs there: on this project's AVX-512 machines MKL is 1.3-2x faster than
/// `matrixmultiply` at every size the kernels use (docs/benchmarks.md). Strides without a unit
/// stride on either side, and other platforms, take `matrixmultiply`.
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm(
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
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    if blas::sgemm(m, k, n, a, (rsa, csa), b, (rsb, csb), beta, c, rsc) {
        return;
    }
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

/// libtorch's BLAS through its Fortran interface, which is column-major: the row-major
/// `c = a b` is the column-major `c^T = b^T a^T`, so the operands swap places.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod blas {
    extern "C" {
        // Exported by libtorch_cpu.so (MKL's LP64 interface), which every build here links.
        fn sgemm_(
            transa: *const u8,
            transb: *const u8,
            m: *const i32,
            n: *const i32,
            k: *const i32,
            alpha: *const f32,
            a: *const f32,
            lda: *const i32,
            b: *const f32,
            ldb: *const i32,
            beta: *const f32,
            c: *mut f32,
            ldc: *const i32,
        );
        // MKL's threads for the calling thread only (C's `mkl_set_num_threads_local` is a macro
        // for it); returns the previous setting (0: the global one).
        #[link_name = "MKL_Set_Num_Threads_Local"]
        fn mkl_set_num_threads_local(threads: i32) -> i32;
    }

    /// A row-major `rows × cols` matrix with strides `(rs, cs)` as the column-major operand that
    /// stands for its transpose: `N` with leading dimension `rs` when its rows are contiguous,
    /// `T` with `cs` when its columns are; `None` when neither is.
    fn transposed_operand(rows: usize, cols: usize, (rs, cs): (usize, usize)) -> Option<(u8, i32)> {
        let ld = |stride: usize, least: usize| i32::try_from(stride.max(least).max(1)).ok();
        if cs == 1 || cols == 1 {
            Some((b'N', ld(rs, cols)?))
        } else if rs == 1 || rows == 1 {
            Some((b'T', ld(cs, rows)?))
        } else {
            None
        }
    }

    /// What [`super::gemm`] computes, or `false` (nothing written) when the strides do not fit
    /// BLAS.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn sgemm(
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        a_strides: (usize, usize),
        b: &[f32],
        b_strides: (usize, usize),
        beta: f32,
        c: &mut [f32],
        rsc: usize,
    ) -> bool {
        let (Some((op_b, ldb)), Some((op_a, lda))) = (
            transposed_operand(k, n, b_strides),
            transposed_operand(m, k, a_strides),
        ) else {
            return false;
        };
        let (Ok(m), Ok(n), Ok(k), Ok(ldc)) = (
            i32::try_from(m),
            i32::try_from(n),
            i32::try_from(k),
            i32::try_from(rsc.max(n)),
        ) else {
            return false;
        };
        // SAFETY: the operands' sizes and leading dimensions describe the same elements as the
        // strides `super::gemm` checked; `c` does not alias `a` or `b`; with beta 0 BLAS does
        // not read `c`. One MKL thread: the kernels already run one thread per core, and MKL's
        // own team on top of each measured 2-3x slower at 32 units.
        unsafe {
            let previous = mkl_set_num_threads_local(1);
            sgemm_(
                &op_b,
                &op_a,
                &n,
                &m,
                &k,
                &1.0,
                b.as_ptr(),
                &ldb,
                a.as_ptr(),
                &lda,
                &beta,
                c.as_mut_ptr(),
                &ldc,
            );
            mkl_set_num_threads_local(previous);
        }
        true
    }
}

/// e^x for |x| up to 88, within a few ulp, without branches, so that a loop over a slice of it
/// vectorises (Cephes' expf: 2^n times a polynomial on [-ln2/2, ln2/2]).
#[inline(always)]
pub(super) fn exp(x: f32) -> f32 {
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
pub(super) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
pub(super) fn tanh(x: f32) -> f32 {
    2.0 / (1.0 + exp(-2.0 * x)) - 1.0
}

/// `out[b, j] = h[b, j] * mask[b, block + j]` for one block of a `[B, width]` mask.
pub(super) fn masked_into(
    out: &mut [f32],
    h: &[f32],
    mask: &[f32],
    width: usize,
    block: usize,
    units: usize,
) {
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
pub(super) fn row_times_matrix(out: &mut [f32], a: &[f32], m: &[f32], ld: usize) {
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
pub(super) fn wide_vectors() -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every stride layout the kernels use (plain, either operand transposed, a wider `c`, an
    /// accumulating beta), against the sums written out.
    #[test]
    fn the_product_matches_its_sums_for_every_layout() {
        for (m, k, n) in [(1, 1, 1), (3, 5, 4), (7, 1, 9), (64, 32, 128), (33, 70, 17)] {
            for (a_t, b_t, extra, beta) in [
                (false, false, 0, 0.0),
                (true, false, 0, 0.0),
                (false, true, 0, 0.0),
                (true, true, 3, 1.0),
                (false, false, 5, 1.0),
            ] {
                let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
                let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
                let a_strides = if a_t { (1, m) } else { (k, 1) };
                let b_strides = if b_t { (1, k) } else { (n, 1) };
                let rsc = n + extra;
                let start: Vec<f32> = (0..m * rsc).map(|i| i as f32 * 0.01).collect();
                let mut c = start.clone();
                gemm(m, k, n, &a, a_strides, &b, b_strides, beta, &mut c, rsc);
                // Where libtorch exports BLAS, every one of these layouts must go there.
                #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
                {
                    let mut through_blas = start.clone();
                    let taken = blas::sgemm(
                        m,
                        k,
                        n,
                        &a,
                        a_strides,
                        &b,
                        b_strides,
                        beta,
                        &mut through_blas,
                        rsc,
                    );
                    assert!(taken && through_blas == c, "{m}x{k}x{n}: BLAS not taken");
                }
                for i in 0..m {
                    for j in 0..rsc {
                        let expected = if j < n {
                            let sum: f32 = (0..k)
                                .map(|l| {
                                    a[i * a_strides.0 + l * a_strides.1]
                                        * b[l * b_strides.0 + j * b_strides.1]
                                })
                                .sum();
                            beta * start[i * rsc + j] + sum
                        } else {
                            start[i * rsc + j]
                        };
                        let got = c[i * rsc + j];
                        assert!(
                            (got - expected).abs() < 1e-4,
                            "{m}x{k}x{n} transposed a {a_t} b {b_t}, ({i}, {j}): {got} against {expected}"
                        );
                    }
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
    use tch::{Device, Kind, Tensor};

    use super::*;

    /// `cargo test --release -p lstm_support --lib speed -- --ignored --nocapture`: the
    /// per-step product of a 32-unit LSTM, our `gemm` (MKL where libtorch exports it, else
    /// `matrixmultiply`) against libtorch's `mm` on the same borrowed buffers.
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
                "[{m}x{k}]x[{k}x{nn}]: gemm {:.1} us, libtorch {:.1} us",
                mm * 1e6,
                torch * 1e6
            );
        }
        println!(
            "per-step [128x32]x[32x128]: gemm {:.1} us, libtorch mm_out {:.1} us",
            ours * 1e6,
            torch * 1e6
        );
    }
}
