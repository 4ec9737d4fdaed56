//! The noise of an accuracy measured on a sample of images: an accuracy `p` measured on `N`
//! images has a standard error `SE = sqrt(p(1-p)/N)`, and a difference not larger than 2 SE is
//! reported as within noise, never as an effect. (Runs validated on the same images are
//! compared image by image instead: [`super::McNemar`].)

/// `sqrt(p(1-p)/n)`, the standard error of an accuracy `p` measured on `n` images. Infinite
/// when `n` is 0: nothing was measured, so every difference is within noise.
pub fn standard_error(accuracy: f64, n: usize) -> f64 {
    if n == 0 {
        return f64::INFINITY;
    }
    (accuracy * (1.0 - accuracy) / n as f64).sqrt()
}

/// 2 standard errors of the difference between two accuracies measured on independent samples
/// of images, whose standard errors are `se_a` and `se_b`: `2 sqrt(SE_a² + SE_b²)`.
pub(super) fn two_standard_errors_of_difference(se_a: f64, se_b: f64) -> f64 {
    2.0 * (se_a * se_a + se_b * se_b).sqrt()
}

/// A difference not larger than the noise is no measurable effect.
pub(super) fn within_noise(difference: f64, noise: f64) -> bool {
    difference.abs() <= noise
}

/// e.g. `±0.19-point`.
pub(super) fn noise_points(noise: f64) -> String {
    format!("±{:.2}-point", 100.0 * noise)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_measured_is_all_noise() {
        assert_eq!(standard_error(0.9, 0), f64::INFINITY);
        assert!(within_noise(0.5, 2.0 * standard_error(0.9, 0)));
        assert!((standard_error(0.9, 100) - 0.03).abs() < 1e-12);
    }

    #[test]
    fn independent_samples_add_their_errors() {
        assert!((two_standard_errors_of_difference(0.3, 0.4) - 1.0).abs() < 1e-12);
        assert!(within_noise(-0.2, 0.2) && !within_noise(0.21, 0.2));
        assert_eq!(noise_points(0.0019), "±0.19-point");
    }
}
