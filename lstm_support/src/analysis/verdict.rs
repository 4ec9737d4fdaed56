//! How a difference between two runs' validation accuracies is judged: against the noise of
//! the validation images (McNemar's test when both validated on the same images) and against
//! the spread between seeds, measured elsewhere when the runs have one seed each.
use super::noise::{noise_points, within_noise};
use super::paired::McNemar;
use super::summary::{difference_noise, RunSummary};
use super::wording::p_value;
use crate::record::RunRecord;
use crate::table::thousands;

/// How the difference between two single runs is judged against the validation images' noise.
#[derive(Debug, Clone, PartialEq)]
pub enum ImagesTest {
    /// Same validation images, image by image: McNemar's exact test.
    McNemar(McNemar),
    /// Different validation images, or records without validation predictions
    /// (`same_images`): 2 standard errors of the difference of independent samples, a
    /// fraction.
    Independent { noise: f64, same_images: bool },
}

impl ImagesTest {
    pub(super) fn between(a: &RunRecord, b: &RunRecord, sa: &RunSummary, sb: &RunSummary) -> Self {
        if sa.same_validation_images(sb) {
            if let Ok(test) = McNemar::of_runs(&a, &b) {
                return ImagesTest::McNemar(test);
            }
        }
        ImagesTest::Independent {
            noise: difference_noise(sa, sb),
            same_images: sa.same_validation_images(sb),
        }
    }

    /// Whether `difference` is beyond the images' noise.
    pub fn beyond(&self, difference: f64) -> bool {
        match self {
            ImagesTest::McNemar(test) => test.significant(),
            ImagesTest::Independent { noise, .. } => !within_noise(difference, *noise),
        }
    }

    /// The test's numbers without a verdict, e.g. `156 disagree, p = 0.30`, or
    /// `±0.24-point noise (different images)`.
    pub(super) fn numbers(&self) -> String {
        match self {
            ImagesTest::McNemar(test) => format!(
                "{} disagree, {}",
                thousands(test.disagreements() as u64),
                p_value(test.p_value)
            ),
            ImagesTest::Independent { noise, same_images } => format!(
                "{} noise ({})",
                noise_points(*noise),
                if *same_images {
                    "independent samples: no predictions kept"
                } else {
                    "different images"
                }
            ),
        }
    }

    pub(super) fn describe(&self, difference: f64) -> String {
        let position = if self.beyond(difference) {
            "beyond"
        } else {
            "within"
        };
        match self {
            ImagesTest::McNemar(test) => format!(
                "{position} the validation images' noise: McNemar's test on the {} images they \
                 disagree on, {}",
                thousands(test.disagreements() as u64),
                p_value(test.p_value)
            ),
            ImagesTest::Independent {
                noise,
                same_images: false,
            } => format!(
                "{position} the {} noise of two different validation sets",
                noise_points(*noise)
            ),
            ImagesTest::Independent {
                noise,
                same_images: true,
            } => format!(
                "{position} the {} noise of independent samples: the records keep no \
                 validation predictions for an image-by-image test",
                noise_points(*noise)
            ),
        }
    }
}

/// The spread of one setting's validation accuracy over seeds, measured elsewhere (e.g. with
/// [`super::AcrossSeeds`]), which single-seed runs cannot show by themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedNoise {
    /// Standard deviation of one run's validation accuracy over seeds, a fraction.
    pub std: f64,
    /// Where it was measured, e.g. `3 seeds of LSTM 32 and LSTM 48, 30 epochs`.
    pub source: String,
}

impl SeedNoise {
    /// 2 standard deviations of the difference between two single runs: `2 sqrt(2) std`.
    pub fn of_difference(&self) -> f64 {
        2.0 * std::f64::consts::SQRT_2 * self.std
    }
}

/// Whether a difference is a finding: beyond the images' noise, and beyond the seeds' noise,
/// which must be known (one seed per run cannot tell a setting from a lucky seed).
pub(super) fn is_finding(difference: f64, images: &ImagesTest, seeds: Option<&SeedNoise>) -> bool {
    images.beyond(difference)
        && seeds.is_some_and(|seeds| !within_noise(difference, seeds.of_difference()))
}

/// The verdict on a difference, in words.
pub(super) fn verdict(difference: f64, images: &ImagesTest, seeds: Option<&SeedNoise>) -> String {
    let images_part = images.describe(difference);
    match seeds {
        None if images.beyond(difference) => format!(
            "{images_part}; one seed each, so the seeds' noise is not measured here: not a \
             finding on its own"
        ),
        None => format!("{images_part}: no measurable difference"),
        Some(noise) => {
            let position = if within_noise(difference, noise.of_difference()) {
                "within"
            } else {
                "beyond"
            };
            let conclusion = if is_finding(difference, images, seeds) {
                "a finding"
            } else {
                "no measurable difference"
            };
            format!(
                "{images_part}; {position} the seeds' {} noise (2 sqrt(2) x the {:.2}-point \
                 spread of {}): {conclusion}",
                noise_points(noise.of_difference()),
                100.0 * noise.std,
                noise.source
            )
        }
    }
}
