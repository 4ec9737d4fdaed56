//! Two models validated on the same images, compared image by image: McNemar's test on their
//! per-image correctness, and a paired bootstrap of their accuracy difference.
//!
//! Two accuracies measured on the same images are not independent: both models get most
//! images right, and the images one gets wrong are often hard for the other too. Only the
//! images on which they *disagree* carry information about which is better, which is what
//! McNemar's test counts. The paired bootstrap resamples the images (the same resample for
//! both models) to show how much the difference would move with another validation set.
use std::fmt;

use statrs::distribution::{Binomial, DiscreteCDF};

use super::wording::{p_value, points_interval};
use crate::error::{Error, Result};
use crate::record::RunRecord;
use crate::rng::SplitMix64;

/// The level every test here uses: a p-value below 0.05, or a 95% interval that excludes 0.
pub const SIGNIFICANCE: f64 = 0.05;

/// McNemar's exact test on two models' per-image correctness on the same images.
#[derive(Debug, Clone, PartialEq)]
pub struct McNemar {
    /// Images both models got right.
    pub both_right: usize,
    /// Images only model A got right.
    pub only_a: usize,
    /// Images only model B got right.
    pub only_b: usize,
    /// Images both got wrong.
    pub both_wrong: usize,
    /// Two-sided exact p-value: the probability, if the two models were equally accurate,
    /// that the disagreements would split at least this unevenly. Under that hypothesis each
    /// disagreement is a fair coin flip, so `only_a ~ Binomial(only_a + only_b, 1/2)`.
    pub p_value: f64,
}

impl McNemar {
    /// From whether each image was classified right by model A and by model B (same images,
    /// same order).
    pub fn new(a_correct: &[bool], b_correct: &[bool]) -> Result<Self> {
        check_paired(a_correct.len(), b_correct.len())?;
        let count = |want_a: bool, want_b: bool| {
            a_correct
                .iter()
                .zip(b_correct)
                .filter(|&(&a, &b)| a == want_a && b == want_b)
                .count()
        };
        let (only_a, only_b) = (count(true, false), count(false, true));
        Ok(McNemar {
            both_right: count(true, true),
            only_a,
            only_b,
            both_wrong: count(false, false),
            p_value: exact_two_sided(only_a, only_b),
        })
    }

    /// Of two runs' kept models on their validation images: an error when a record has no
    /// validation predictions, or when the two validated on different images.
    pub fn of_runs<A: AsRef<RunRecord>, B: AsRef<RunRecord>>(a: &A, b: &B) -> Result<Self> {
        let (a, b) = (a.as_ref(), b.as_ref());
        let (a_correct, b_correct) = (validation_correct(a)?, validation_correct(b)?);
        check_same_images(a, b)?;
        Self::new(&a_correct, &b_correct)
    }

    /// Images the two models disagree on.
    pub fn disagreements(&self) -> usize {
        self.only_a + self.only_b
    }

    /// Whether the p-value is below [`SIGNIFICANCE`].
    pub fn significant(&self) -> bool {
        self.p_value < SIGNIFICANCE
    }
}

impl fmt::Display for McNemar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "McNemar's test: of {} images the two models disagree on, A alone is right on {} and \
             B alone on {}; {}",
            self.disagreements(),
            self.only_a,
            self.only_b,
            p_value(self.p_value)
        )
    }
}

/// `2 P(X <= min(b, c))` for `X ~ Binomial(b + c, 1/2)`, at most 1; 1 when there are no
/// disagreements.
fn exact_two_sided(b: usize, c: usize) -> f64 {
    let n = (b + c) as u64;
    if n == 0 {
        return 1.0;
    }
    let tail = Binomial::new(0.5, n).map_or(1.0, |d| d.cdf(b.min(c) as u64));
    (2.0 * tail).min(1.0)
}

/// A paired bootstrap of the difference between two models' accuracies on the same images:
/// the images are resampled with replacement, the same resample for both models, and the
/// difference recomputed each time; the middle 95% of those differences is the interval.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedBootstrap {
    /// Accuracy of A minus accuracy of B on the images as measured, a fraction.
    pub difference: f64,
    /// The 2.5th and 97.5th percentiles of the resampled differences.
    pub low: f64,
    pub high: f64,
    /// Images compared.
    pub images: usize,
    pub resamples: usize,
    pub seed: u64,
}

/// Resamples of [`PairedBootstrap::of_runs`] and of the seed comparisons.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;
/// Their seed: the interval is the same on every run of a notebook.
pub const BOOTSTRAP_SEED: u64 = 20_240_601;

impl PairedBootstrap {
    /// `a` and `b`: each image's score under model A and model B, same images in the same
    /// order: 1.0 right, 0.0 wrong, or the fraction of a setting's seeds that got it right.
    pub fn new(a: &[f64], b: &[f64], resamples: usize, seed: u64) -> Result<Self> {
        check_paired(a.len(), b.len())?;
        if resamples < 100 {
            return Err(Error::invalid(
                "bootstrap resamples",
                format!("{resamples}; use at least 100 (2,000 is usual for a 95% interval)"),
            ));
        }
        let differences: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
        let n = differences.len();
        let difference = differences.iter().sum::<f64>() / n as f64;
        let mut rng = SplitMix64::new(seed);
        let mut means: Vec<f64> = (0..resamples)
            .map(|_| (0..n).map(|_| differences[rng.below(n)]).sum::<f64>() / n as f64)
            .collect();
        means.sort_by(f64::total_cmp);
        Ok(PairedBootstrap {
            difference,
            low: percentile(&means, SIGNIFICANCE / 2.0),
            high: percentile(&means, 1.0 - SIGNIFICANCE / 2.0),
            images: n,
            resamples,
            seed,
        })
    }

    /// Of two runs' kept models on their validation images, with [`BOOTSTRAP_RESAMPLES`] and
    /// [`BOOTSTRAP_SEED`].
    pub fn of_runs<A: AsRef<RunRecord>, B: AsRef<RunRecord>>(a: &A, b: &B) -> Result<Self> {
        let (a, b) = (a.as_ref(), b.as_ref());
        let score = |c: Vec<bool>| -> Vec<f64> { c.into_iter().map(f64::from).collect() };
        let (a_score, b_score) = (score(validation_correct(a)?), score(validation_correct(b)?));
        check_same_images(a, b)?;
        Self::new(&a_score, &b_score, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED)
    }

    /// Whether the 95% interval excludes 0.
    pub fn excludes_zero(&self) -> bool {
        self.low > 0.0 || self.high < 0.0
    }
}

impl fmt::Display for PairedBootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:+.2} points, 95% paired-bootstrap interval {}",
            100.0 * self.difference,
            points_interval(self.low, self.high)
        )
    }
}

/// The value below which a fraction `q` of the sorted `values` lie (nearest rank).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn check_paired(a: usize, b: usize) -> Result<()> {
    if a != b || a == 0 {
        return Err(Error::invalid(
            "paired comparison",
            format!(
                "{a} and {b} images; give both models' results on the same, non-empty set of \
                 images, in the same order"
            ),
        ));
    }
    Ok(())
}

/// Each validation image's correctness under the run's kept model.
pub(super) fn validation_correct(record: &RunRecord) -> Result<Vec<bool>> {
    record
        .validation
        .as_ref()
        .map(|v| v.correct())
        .ok_or_else(|| {
            Error::invalid(
                format!("run {:?}", record.spec.name),
                "its record has no validation predictions (it was recorded before they were \
                 kept); retrain it (RETRAIN=1, or delete its directory under runs/) to compare \
                 it image by image",
            )
        })
}

/// An error unless the two runs validated on the same images (same split, same labels).
pub(super) fn check_same_images(a: &RunRecord, b: &RunRecord) -> Result<()> {
    let same_split = a.spec.split == b.spec.split && a.spec.train_limit == b.spec.train_limit;
    // Compared in place, without copying the label vectors.
    let same_labels =
        a.validation.as_ref().map(|v| &v.labels) == b.validation.as_ref().map(|v| &v.labels);
    if same_split && same_labels {
        return Ok(());
    }
    Err(Error::invalid(
        "paired comparison",
        format!(
            "{:?} and {:?} validated on different images; a paired test needs the same \
             validation images (same split and train_limit)",
            a.spec.name, b.spec.name
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn correctness(pairs: &[(bool, bool, usize)]) -> (Vec<bool>, Vec<bool>) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for &(x, y, n) in pairs {
            a.extend(std::iter::repeat_n(x, n));
            b.extend(std::iter::repeat_n(y, n));
        }
        (a, b)
    }

    #[test]
    fn mcnemar_counts_the_disagreements_and_gives_the_exact_p_value() {
        // 80 both right, 10 only A, 2 only B, 8 both wrong. By hand: n = 12 disagreements,
        // P(X <= 2) = (1 + 12 + 66) / 4096 = 79/4096, p = 158/4096 = 0.038574...
        let (a, b) = correctness(&[
            (true, true, 80),
            (true, false, 10),
            (false, true, 2),
            (false, false, 8),
        ]);
        let test = McNemar::new(&a, &b).unwrap();
        assert_eq!(
            (test.both_right, test.only_a, test.only_b, test.both_wrong),
            (80, 10, 2, 8)
        );
        assert!(
            (test.p_value - 158.0 / 4096.0).abs() < 1e-12,
            "{}",
            test.p_value
        );
        assert!(test.significant());
        // 6 against 6: as even as it gets, p = 1 (capped); none at all: p = 1.
        let (a, b) = correctness(&[(true, false, 6), (false, true, 6)]);
        assert_eq!(McNemar::new(&a, &b).unwrap().p_value, 1.0);
        let (a, b) = correctness(&[(true, true, 5)]);
        assert_eq!(McNemar::new(&a, &b).unwrap().p_value, 1.0);
        // 5 against 1: P(X <= 1 | n = 6) = 7/64, p = 14/64 = 0.21875: not significant.
        let (a, b) = correctness(&[(true, false, 5), (false, true, 1)]);
        let test = McNemar::new(&a, &b).unwrap();
        assert!((test.p_value - 0.21875).abs() < 1e-12 && !test.significant());
        assert!(test.to_string().contains("of 6 images the two models disagree on, A alone is right on 5 and B alone on 1; p = 0.22"), "{test}");
        assert!(McNemar::new(&[true], &[true, false]).is_err());
        assert!(McNemar::new(&[], &[]).is_err());
    }

    #[test]
    fn bootstrap_interval_is_fixed_by_its_seed_and_brackets_the_difference() {
        // 100 images: A right on 60, B right on 50 of them (B's ten extra errors among A's hits).
        let a: Vec<f64> = (0..100).map(|i| f64::from(i < 60)).collect();
        let b: Vec<f64> = (0..100).map(|i| f64::from(i < 50)).collect();
        let boot = PairedBootstrap::new(&a, &b, 2000, 7).unwrap();
        assert!((boot.difference - 0.10).abs() < 1e-12);
        // The differences are 1 on 10 images and 0 elsewhere: a resampled mean is k/100 with
        // k ~ Binomial(100, 0.1), so the interval's ends are that distribution's percentiles.
        assert!(boot.excludes_zero());
        assert_eq!(
            PairedBootstrap::new(&a, &b, 2000, 7).unwrap(),
            boot,
            "same seed, same interval"
        );
        // Those of Binomial(100, 0.1), by hand: P(X <= 4) = 0.024 < 0.025 <= P(X <= 5) = 0.058,
        // and P(X <= 15) = 0.960 < 0.975 <= P(X <= 16) = 0.979: 5 and 16 in 100.
        assert_eq!(
            ((100.0 * boot.low).round(), (100.0 * boot.high).round()),
            (5.0, 16.0)
        );
        // Identical models: every resampled difference is 0.
        let same = PairedBootstrap::new(&a, &a, 500, 1).unwrap();
        assert_eq!((same.difference, same.low, same.high), (0.0, 0.0, 0.0));
        assert!(!same.excludes_zero());
        assert!(
            same.to_string()
                .starts_with("+0.00 points, 95% paired-bootstrap interval"),
            "{same}"
        );
        assert!(PairedBootstrap::new(&a, &b, 10, 7).is_err());
        assert!(PairedBootstrap::new(&a, &b[..5], 2000, 7).is_err());
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let sorted: Vec<f64> = (1..=40).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 0.025), 1.0);
        assert_eq!(percentile(&sorted, 0.975), 39.0);
        assert_eq!(percentile(&sorted, 1.0), 40.0);
    }

    #[test]
    #[ignore = "timing: cargo test --release -- --ignored bootstrap_speed"]
    fn bootstrap_speed() {
        let a: Vec<f64> = (0..12_000).map(|i| f64::from(i % 50 != 0)).collect();
        let b: Vec<f64> = (0..12_000).map(|i| f64::from(i % 40 != 0)).collect();
        let started = std::time::Instant::now();
        let boot = PairedBootstrap::new(&a, &b, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED).unwrap();
        println!("{boot} in {:.3} s", started.elapsed().as_secs_f64());
    }
}
