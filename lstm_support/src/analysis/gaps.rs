//! The generalisation gap of one setting over its seeds: a gap is a finding only when it
//! stands out from the spread between seeds as well as from the validation images' noise.
use std::fmt;

use super::noise::{noise_points, standard_error};
use super::overfitting::{GapVerdict, OverfittingCheck};
use super::paired::SIGNIFICANCE;
use super::seeds::{distinct_seeds, mean_and_std, two_sided_p};
use super::wording::{p_value, print_as_html};
use crate::error::Result;
use crate::record::RunRecord;

/// Each seed's final training accuracy minus its final validation accuracy
/// ([`OverfittingCheck::gap`]), and whether their mean differs from 0 by more than the seeds
/// allow (a one-sample t-test over the seeds) and by more than the validation images allow
/// (2 standard errors of the mean validation accuracy). Training accuracy is measured during
/// the epoch with any dropout on, so a gap says how the two measurements differ, not only how
/// the model generalises.
#[derive(Debug, Clone, PartialEq)]
pub struct GapOverSeeds {
    /// The setting's name, from its first run's spec.
    pub name: String,
    pub seeds: Vec<u64>,
    /// Each seed's gap, a fraction (0.002 is 0.2 points), in the order of `seeds`.
    pub gaps: Vec<f64>,
    /// Mean and sample standard deviation of `gaps`.
    pub mean: f64,
    pub std: f64,
    /// The one-sample t statistic of the mean gap against 0, with `seeds - 1` degrees of
    /// freedom, and its two-sided p-value.
    pub t: f64,
    pub p_value: f64,
    /// 2 standard errors of the runs' mean final validation accuracy, a fraction.
    pub images_noise: f64,
    pub validation_images: usize,
    pub verdict: GapVerdict,
}

impl GapOverSeeds {
    /// `runs`: one setting's runs, one per seed (at least 2, seeds distinct).
    pub fn new<R: AsRef<RunRecord>>(runs: &[R]) -> Result<Self> {
        let runs: Vec<&RunRecord> = runs.iter().map(AsRef::as_ref).collect();
        let name = runs.first().map_or("", |r| r.spec.name.as_str()).to_owned();
        let seeds = distinct_seeds(&name, &runs)?;
        let checks = runs
            .iter()
            .map(OverfittingCheck::new)
            .collect::<Result<Vec<_>>>()?;
        let gaps: Vec<f64> = checks.iter().map(|c| c.gap).collect();
        let (mean, std) = mean_and_std(&gaps);
        let validation_images = checks[0].validation_images;
        let mean_val = checks.iter().map(|c| c.val_accuracy).sum::<f64>() / checks.len() as f64;
        let images_noise = 2.0 * standard_error(mean_val, validation_images);
        let df = (gaps.len() - 1) as f64;
        let (t, p_value) = if std == 0.0 {
            // The same gap for every seed: any gap beats a spread of 0, none is no gap.
            (0.0, if mean == 0.0 { 1.0 } else { 0.0 })
        } else {
            let t = mean / (std / (gaps.len() as f64).sqrt());
            (t, two_sided_p(t, df))
        };
        let verdict = GapVerdict::of(mean, p_value < SIGNIFICANCE && mean.abs() > images_noise);
        Ok(GapOverSeeds {
            name,
            seeds,
            gaps,
            mean,
            std,
            t,
            p_value,
            images_noise,
            validation_images,
            verdict,
        })
    }

    pub fn evcxr_display(&self) {
        print_as_html(self);
    }
}

impl fmt::Display for GapOverSeeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seeds: Vec<String> = self.seeds.iter().map(u64::to_string).collect();
        let gaps: Vec<String> = self
            .gaps
            .iter()
            .map(|g| format!("{:+.2}", 100.0 * g))
            .collect();
        let verdict = match self.verdict {
            GapVerdict::NoMeasurableGap => "no measurable generalisation gap",
            GapVerdict::GeneralisationGap => {
                "a generalisation gap, beyond the noise of seeds and images"
            }
            GapVerdict::ValidationAboveTraining => {
                "validation above training, beyond the noise of seeds and images"
            }
        };
        write!(
            f,
            "- {}, seeds {}: training minus validation accuracy at the last epoch {} points \
             (mean {:+.2} ± {:.2}; training accuracy measured during the epoch, any dropout \
             on). Seeds: one-sample t-test of the mean against 0, t = {:.2} with {} degrees of \
             freedom, {}. Images: the {} noise of a {}-image validation accuracy. {}.",
            self.name,
            seeds.join(", "),
            gaps.join(", "),
            100.0 * self.mean,
            100.0 * self.std,
            self.t,
            self.gaps.len() - 1,
            p_value(self.p_value),
            noise_points(self.images_noise),
            crate::table::thousands(self.validation_images as u64),
            capitalised(verdict),
        )
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::run_record;

    fn seeds_with_gaps(gaps_points: &[f64]) -> Vec<RunRecord> {
        gaps_points
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let mut r = run_record("LSTM 32", 8138, &[(0.98 + g / 100.0, 0.98)], 0.98, 60.0);
                r.spec.options.seed = 42 + i as u64;
                r
            })
            .collect()
    }

    #[test]
    fn a_gap_over_seeds_is_judged_by_a_one_sample_t_test_and_the_images() {
        // Gaps 0.5, 0.6, 0.7 points: mean 0.6, std 0.1, t = 0.6 / (0.1 / sqrt 3) = sqrt(108);
        // with 2 degrees of freedom the two-sided p is 1 - t / sqrt(2 + t^2) = 1 - sqrt(108/110).
        let gap = GapOverSeeds::new(&seeds_with_gaps(&[0.5, 0.6, 0.7])).unwrap();
        assert!((gap.mean - 0.006).abs() < 1e-12);
        assert!((gap.std - 0.001).abs() < 1e-9);
        assert!((gap.t - 108f64.sqrt()).abs() < 1e-6, "{}", gap.t);
        let p = 1.0 - (108.0f64 / 110.0).sqrt();
        assert!((gap.p_value - p).abs() < 1e-6, "{} vs {p}", gap.p_value);
        // 2 SE of 98% on 12,000 images: 0.256 points, below the 0.6-point mean.
        assert!((gap.images_noise - 2.0 * (0.98f64 * 0.02 / 12_000.0).sqrt()).abs() < 1e-12);
        assert_eq!(gap.verdict, GapVerdict::GeneralisationGap);
        let text = gap.to_string();
        assert!(text.contains("seeds 42, 43, 44"), "{text}");
        assert!(
            text.contains("+0.50, +0.60, +0.70 points (mean +0.60 ± 0.10"),
            "{text}"
        );
        assert!(
            text.contains("A generalisation gap, beyond the noise of seeds and images"),
            "{text}"
        );

        // Seeds that disagree on the sign: within the seeds' noise, whatever the images say.
        let mixed = GapOverSeeds::new(&seeds_with_gaps(&[0.5, -0.3, 0.4])).unwrap();
        assert!(mixed.p_value > SIGNIFICANCE);
        assert_eq!(mixed.verdict, GapVerdict::NoMeasurableGap);
        assert!(mixed
            .to_string()
            .contains("No measurable generalisation gap"));

        // Steady across seeds but smaller than the images' noise: not a finding either.
        let small = GapOverSeeds::new(&seeds_with_gaps(&[0.10, 0.11, 0.12])).unwrap();
        assert!(small.p_value < SIGNIFICANCE);
        assert_eq!(small.verdict, GapVerdict::NoMeasurableGap);

        let below = GapOverSeeds::new(&seeds_with_gaps(&[-0.5, -0.6, -0.7])).unwrap();
        assert_eq!(below.verdict, GapVerdict::ValidationAboveTraining);
    }

    #[test]
    fn a_gap_over_seeds_needs_two_distinct_seeds() {
        let one = seeds_with_gaps(&[0.5]);
        let message = GapOverSeeds::new(&one).unwrap_err().to_string();
        assert!(
            message.contains("at least two runs with distinct seeds"),
            "{message}"
        );
        let mut same = seeds_with_gaps(&[0.5, 0.6]);
        same[1].spec.options.seed = 42;
        assert!(GapOverSeeds::new(&same).is_err());
    }
}
