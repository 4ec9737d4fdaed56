//! Keras' default initialisers, so that models start as their Keras twins do.
use tch::{nn, Kind, Tensor};

/// Glorot (Xavier) uniform: U(-l, l) with l = sqrt(6 / (fan_in + fan_out)). Keras' default
/// for Dense, Conv2D and recurrent input kernels.
pub fn glorot_uniform(fan_in: i64, fan_out: i64) -> nn::Init {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
    nn::Init::Uniform {
        lo: -limit,
        up: limit,
    }
}

/// Keras' `Orthogonal` for a recurrent kernel stored as tch does, `[gates * units, units]`:
/// the QR factor of a normal matrix with the signs of R's diagonal folded in, so the columns
/// are orthonormal (Keras' `(units, gates * units)` kernel has orthonormal rows: the same
/// matrix transposed).
pub fn orthogonal(rows: i64, cols: i64) -> Tensor {
    let normal = Tensor::randn(
        [rows.max(cols), rows.min(cols)],
        (Kind::Float, tch::Device::Cpu),
    );
    let (q, r) = Tensor::linalg_qr(&normal, "reduced");
    let q = q * r.diagonal(0, 0, 1).sign().unsqueeze(0);
    if rows >= cols { q } else { q.transpose(0, 1) }.contiguous()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthogonal_columns_are_orthonormal() {
        let w = orthogonal(4 * 8, 8);
        assert_eq!(w.size(), [32, 8]);
        let gram = w.transpose(0, 1).matmul(&w);
        let eye = Tensor::eye(8, (Kind::Float, tch::Device::Cpu));
        assert!(gram.allclose(&eye, 1e-5, 1e-5, false));
        let wide = orthogonal(3, 6);
        let gram = wide.matmul(&wide.transpose(0, 1));
        assert!(gram.allclose(
            &Tensor::eye(3, (Kind::Float, tch::Device::Cpu)),
            1e-5,
            1e-5,
            false
        ));
    }
}
