//! One setting trained with several seeds: the spread a difference between settings must beat,
//! and two settings compared over their seeds and their validation images together.
use std::fmt;

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::paired::{
    check_same_images, validation_correct, PairedBootstrap, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED,
    SIGNIFICANCE,
};
use super::wording::{p_number, p_value, points_interval, print_as_html};
use crate::error::{Error, Result};
use crate::record::RunRecord;
use crate::table::{pct, Align, Table};

/// One setting trained with several seeds: the mean and the spread of the validation accuracy
/// of its kept weights ([`RunRecord::kept_val_accuracy`]), so that a comparison can tell a difference between settings from the difference
/// between two seeds of one.
#[derive(Debug, Clone, PartialEq)]
pub struct AcrossSeeds {
    pub rows: Vec<SeedSpread>,
}

/// One setting's runs in [`AcrossSeeds`].
#[derive(Debug, Clone, PartialEq)]
pub struct SeedSpread {
    pub name: String,
    pub seeds: Vec<u64>,
    /// Validation accuracy of each seed's kept weights, in the order of `seeds`.
    pub accuracies: Vec<f64>,
    pub mean: f64,
    /// The sample standard deviation over the seeds.
    pub std: f64,
}

impl AcrossSeeds {
    /// `groups`: each setting's runs, one per seed (at least 2, seeds distinct), named by the
    /// first run's spec (as [`crate::session::Session::run_seeds`] returns them); the runs are
    /// records, references to them or the session's runs.
    pub fn new<R: AsRef<RunRecord>>(groups: &[Vec<R>]) -> Result<Self> {
        let rows = groups
            .iter()
            .map(|runs| {
                let name = runs.first().map_or("", |r| r.as_ref().spec.name.as_str());
                let records: Vec<&RunRecord> = runs.iter().map(AsRef::as_ref).collect();
                let seeds = distinct_seeds(name, &records)?;
                let accuracies: Vec<f64> = runs
                    .iter()
                    .map(|r| r.as_ref().kept_val_accuracy())
                    .collect();
                let (mean, std) = mean_and_std(&accuracies);
                Ok(SeedSpread {
                    name: name.to_owned(),
                    seeds,
                    accuracies,
                    mean,
                    std,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(AcrossSeeds { rows })
    }

    /// One row per setting: each seed's best validation accuracy, the mean and the standard
    /// deviation.
    pub fn table(&self) -> Table {
        let seeds = self.rows.iter().map(|r| r.seeds.len()).max().unwrap_or(0);
        let mut header = vec!["model".to_owned()];
        // The seeds themselves when every setting ran the same ones, else their positions.
        let same_seeds = self.rows.windows(2).all(|w| w[0].seeds == w[1].seeds);
        match self.rows.first() {
            Some(first) if same_seeds => {
                header.extend(first.seeds.iter().map(|seed| format!("seed {seed}")))
            }
            _ => header.extend((1..=seeds).map(|k| format!("run {k}"))),
        }
        header.extend(["mean".to_owned(), "std".to_owned()]);
        let mut align = vec![Align::Left];
        align.extend(vec![Align::Right; seeds + 2]);
        Table {
            caption: "Validation accuracy across seeds (final, or early-stopped, epoch)".into(),
            header,
            align,
            rows: self
                .rows
                .iter()
                .map(|r| {
                    let mut row = vec![r.name.clone()];
                    row.extend(r.accuracies.iter().map(|&a| pct(a)));
                    row.resize(seeds + 1, String::new());
                    row.push(pct(r.mean));
                    row.push(format!("{:.2}", 100.0 * r.std));
                    row
                })
                .collect(),
        }
    }

    /// The largest of the settings' standard deviations: the seed spread to assume for runs of
    /// similar settings trained with one seed ([`super::Comparison::with_seed_noise`]).
    pub fn largest_std(&self) -> f64 {
        self.rows.iter().map(|r| r.std).fold(0.0, f64::max)
    }

    pub fn evcxr_display(&self) {
        self.table().evcxr_display();
    }
}

impl fmt::Display for AcrossSeeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.rows {
            let seeds: Vec<String> = r.seeds.iter().map(u64::to_string).collect();
            writeln!(
                f,
                "{}: {} ± {:.2} points (mean ± standard deviation of the validation accuracy over seeds {})",
                r.name,
                pct(r.mean),
                100.0 * r.std,
                seeds.join(", ")
            )?;
        }
        Ok(())
    }
}

/// The two-sided p-value of a t statistic under Student's t with `df` degrees of freedom.
pub(super) fn two_sided_p(t: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).map_or(1.0, |d| 2.0 * (1.0 - d.cdf(t.abs())))
}

/// The runs' seeds, in their order; an error unless there are at least two and all differ.
pub(super) fn distinct_seeds(name: &str, runs: &[&RunRecord]) -> Result<Vec<u64>> {
    let seeds: Vec<u64> = runs.iter().map(|r| r.spec.options.seed).collect();
    let mut distinct = seeds.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 2 || distinct.len() != seeds.len() {
        return Err(Error::invalid(
            format!("runs of {name:?}"),
            format!("seeds {seeds:?}; give at least two runs with distinct seeds"),
        ));
    }
    Ok(seeds)
}

/// The mean of at least one value.
fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The mean and sample standard deviation of at least two values.
pub(super) fn mean_and_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = mean(values);
    let variance = values.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, variance.sqrt())
}

/// Two settings, each trained with several seeds and validated on the same images, compared
/// against both sources of noise: another seed (Welch's t-test on the runs' accuracies) and
/// another validation set (a paired bootstrap over the images of each image's share of right
/// answers across a setting's seeds). The difference is a finding only when it is beyond both.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedComparison {
    /// The settings' names, from their first runs' specs.
    pub a: String,
    pub b: String,
    /// Each seed's validation accuracy (kept weights), setting A, then setting B.
    pub a_accuracies: Vec<f64>,
    pub b_accuracies: Vec<f64>,
    /// Mean accuracy of A minus mean accuracy of B, a fraction.
    pub difference: f64,
    /// Welch's t statistic and its degrees of freedom (Welch–Satterthwaite).
    pub welch_t: f64,
    pub degrees_of_freedom: f64,
    /// Two-sided p-value of Welch's t-test: how likely so large a difference of means is
    /// between two settings that differ only by seed.
    pub seeds_p_value: f64,
    /// The same difference, resampled over the validation images.
    pub over_images: PairedBootstrap,
    /// `seeds_p_value` below [`SIGNIFICANCE`] and the bootstrap interval excludes 0.
    pub beyond_noise: bool,
}

impl SeedComparison {
    /// `a` and `b`: each setting's runs, one per seed (at least 2 distinct seeds each, 3 or
    /// more for a useful test), all validated on the same images, with validation
    /// predictions in their records.
    pub fn new<A: AsRef<RunRecord>, B: AsRef<RunRecord>>(a: &[A], b: &[B]) -> Result<Self> {
        let a: Vec<&RunRecord> = a.iter().map(AsRef::as_ref).collect();
        let b: Vec<&RunRecord> = b.iter().map(AsRef::as_ref).collect();
        let spreads = AcrossSeeds::new(&[a.clone(), b.clone()])?;
        let (sa, sb) = (&spreads.rows[0], &spreads.rows[1]);
        let (a_share, b_share) = (share_right(&a)?, share_right(&b)?);
        for run in a.iter().chain(&b) {
            check_same_images(a[0], run)?;
        }
        let (na, nb) = (sa.accuracies.len() as f64, sb.accuracies.len() as f64);
        let (va, vb) = (sa.std.powi(2) / na, sb.std.powi(2) / nb);
        let difference = sa.mean - sb.mean;
        let (welch_t, degrees_of_freedom, seeds_p_value) = if va + vb == 0.0 {
            // No spread at all over seeds: any difference beats it, none is no difference.
            let p = if difference == 0.0 { 1.0 } else { 0.0 };
            (0.0, na + nb - 2.0, p)
        } else {
            let t = difference / (va + vb).sqrt();
            let df = (va + vb).powi(2) / (va.powi(2) / (na - 1.0) + vb.powi(2) / (nb - 1.0));
            (t, df, two_sided_p(t, df))
        };
        let over_images =
            PairedBootstrap::new(&a_share, &b_share, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED)?;
        let beyond_noise = seeds_p_value < SIGNIFICANCE && over_images.excludes_zero();
        Ok(SeedComparison {
            a: sa.name.clone(),
            b: sb.name.clone(),
            a_accuracies: sa.accuracies.clone(),
            b_accuracies: sb.accuracies.clone(),
            difference,
            welch_t,
            degrees_of_freedom,
            seeds_p_value,
            over_images,
            beyond_noise,
        })
    }

    /// The numbers the verdict rests on, in one row, and no verdict: what a reader judges
    /// from (a notebook shows it above a question that asks for the verdict). The difference
    /// of the means over seeds, Welch's t, its degrees of freedom and p-value (the seeds'
    /// noise) and the paired bootstrap's 95% interval (the images').
    pub fn table(&self) -> Table {
        let header = [
            "A against B",
            "seeds",
            "means (A, B)",
            "A minus B",
            "Welch's t",
            "degrees of freedom",
            "seeds: Welch's p",
            "images: 95% bootstrap interval",
        ];
        let mut align = vec![Align::Left];
        align.extend(vec![Align::Right; header.len() - 1]);
        Table {
            caption: format!(
                "{} against {}: validation accuracy of the weights kept, over seeds and over \
                 the {} validation images",
                self.a,
                self.b,
                crate::table::thousands(self.over_images.images as u64)
            ),
            header: header.map(str::to_owned).to_vec(),
            align,
            rows: vec![vec![
                format!("{} against {}", self.a, self.b),
                format!(
                    "{} and {}",
                    self.a_accuracies.len(),
                    self.b_accuracies.len()
                ),
                format!(
                    "{}, {}",
                    pct(mean(&self.a_accuracies)),
                    pct(mean(&self.b_accuracies))
                ),
                format!("{:+.2} points", 100.0 * self.difference),
                format!("{:.2}", self.welch_t),
                format!("{:.1}", self.degrees_of_freedom),
                p_number(self.seeds_p_value),
                points_interval(self.over_images.low, self.over_images.high),
            ]],
        }
    }

    /// Whether seeds alone would call the difference a finding (Welch's test).
    pub fn beyond_seed_noise(&self) -> bool {
        self.seeds_p_value < SIGNIFICANCE
    }

    pub fn evcxr_display(&self) {
        print_as_html(self);
    }
}

/// Each validation image's share of right answers over the runs (one per seed).
fn share_right(runs: &[&RunRecord]) -> Result<Vec<f64>> {
    let mut share: Vec<f64> = Vec::new();
    for run in runs {
        let correct = validation_correct(run)?;
        share.resize(correct.len(), 0.0);
        for (s, c) in share.iter_mut().zip(correct) {
            *s += f64::from(c) / runs.len() as f64;
        }
    }
    Ok(share)
}

impl fmt::Display for SeedComparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.beyond_noise {
            "beyond the noise of both seeds and images"
        } else if self.beyond_seed_noise() {
            "no measurable difference (beyond the seeds' noise, within the images')"
        } else if self.over_images.excludes_zero() {
            "no measurable difference (within the seeds' noise)"
        } else {
            "no measurable difference (within the noise of seeds and images)"
        };
        writeln!(
            f,
            "- {} against {}, {} and {} seeds: {:+.2} points of validation accuracy ({} against \
             {}, means over seeds); {verdict}.",
            self.a,
            self.b,
            self.a_accuracies.len(),
            self.b_accuracies.len(),
            100.0 * self.difference,
            pct(mean(&self.a_accuracies)),
            pct(mean(&self.b_accuracies)),
        )?;
        writeln!(
            f,
            "- Seeds: Welch's t-test on the runs' accuracies, t = {:.2} with {:.1} degrees of \
             freedom, {}.",
            self.welch_t,
            self.degrees_of_freedom,
            p_value(self.seeds_p_value)
        )?;
        writeln!(
            f,
            "- Images: {} over the {} validation images.",
            self.over_images,
            crate::table::thousands(self.over_images.images as u64)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::RunLike;

    #[test]
    fn across_seeds_gives_mean_and_sample_spread() {
        let record = |seed: u64, accuracy: f64| {
            let mut r: RunRecord = crate::testutil::run_record(
                "LSTM 32",
                8138,
                &[(accuracy, accuracy)],
                accuracy,
                10.0,
            );
            r.spec.options.seed = seed;
            r
        };
        let runs = [record(42, 0.96), record(43, 0.97), record(44, 0.98)];
        let spread = AcrossSeeds::new(&[runs.to_vec()]).unwrap();
        let row = &spread.rows[0];
        assert!(
            (row.mean - 0.97).abs() < 1e-12 && (row.std - 0.01).abs() < 1e-12,
            "{row:?}"
        );
        assert!(
            spread.to_string().contains("97.00% ± 1.00 points"),
            "{spread}"
        );
        assert_eq!(spread.table().rows[0].len(), 6);
        // Columns named by the seeds every setting shares; by position when they differ.
        assert_eq!(
            spread.table().header[1..4],
            ["seed 42", "seed 43", "seed 44"]
        );
        let other = [record(1, 0.96), record(2, 0.97), record(3, 0.98)];
        let mixed = AcrossSeeds::new(&[runs.to_vec(), other.to_vec()]).unwrap();
        assert_eq!(mixed.table().header[1..4], ["run 1", "run 2", "run 3"]);
        assert!((spread.largest_std() - 0.01).abs() < 1e-12);
        let same_seed = [record(42, 0.96), record(42, 0.97)];
        assert!(AcrossSeeds::new(&[same_seed.to_vec()]).is_err());
        assert!(AcrossSeeds::new(&[runs[..1].to_vec()]).is_err());
        assert!(AcrossSeeds::new::<RunRecord>(&[vec![]]).is_err());
        let held: Vec<RunLike> = runs.iter().cloned().map(RunLike::from).collect();
        assert_eq!(AcrossSeeds::new(&[held]).unwrap(), spread);
        let borrowed: Vec<&RunRecord> = runs.iter().collect();
        assert_eq!(AcrossSeeds::new(&[borrowed]).unwrap(), spread);
    }

    /// Runs of one setting on the same 100 validation images: seed 42 + k right on the first
    /// `right[k]` images, its kept accuracy the same.
    fn setting(name: &str, right: &[usize]) -> Vec<RunRecord> {
        right
            .iter()
            .enumerate()
            .map(|(k, &r)| {
                let accuracy = r as f64 / 100.0;
                let mut record = crate::testutil::with_validation(
                    crate::testutil::run_record(
                        name,
                        8138,
                        &[(accuracy, accuracy)],
                        accuracy,
                        10.0,
                    ),
                    &crate::testutil::first_right(100, r),
                );
                record.spec.options.seed = 42 + k as u64;
                record
            })
            .collect()
    }

    #[test]
    fn seed_comparison_takes_both_the_seeds_and_the_images_noise() {
        // Means 98% and 96%, each with a 1-point standard deviation over 3 seeds: by hand,
        // t = 0.02 / sqrt(2 x 0.0001 / 3) = sqrt(6) = 2.449 with 4 degrees of freedom, and
        // for 4 degrees of freedom the two-sided p = 1 - sin(a)(1 + cos(a)^2 / 2) where
        // tan(a) = t / 2: sin(a) = 0.774597, cos(a)^2 = 0.4, p = 0.070484.
        let a = setting("LSTM 48", &[97, 98, 99]);
        let b = setting("LSTM 32", &[95, 96, 97]);
        let c = SeedComparison::new(&a, &b).unwrap();
        assert!((c.difference - 0.02).abs() < 1e-12);
        assert!((c.welch_t - 6f64.sqrt()).abs() < 1e-9, "{c:?}");
        assert!((c.degrees_of_freedom - 4.0).abs() < 1e-9, "{c:?}");
        assert!((c.seeds_p_value - 0.070484).abs() < 1e-5, "{c:?}");
        // Only 4 images ever differ, all one way: the images' interval excludes 0, but the
        // seeds' test does not: no measurable difference.
        assert!(c.over_images.excludes_zero() && !c.beyond_seed_noise() && !c.beyond_noise);
        let text = c.to_string();
        assert!(
            text.contains(
                "- LSTM 48 against LSTM 32, 3 and 3 seeds: +2.00 points of validation accuracy \
                 (98.00% against 96.00%, means over seeds); no measurable difference (within \
                 the seeds' noise)."
            ),
            "{text}"
        );
        assert!(
            text.contains("t = 2.45 with 4.0 degrees of freedom, p = 0.070."),
            "{text}"
        );
        assert!(
            text.contains("- Images: +2.00 points, 95% paired-bootstrap interval"),
            "{text}"
        );
        assert!(text.contains("over the 100 validation images."), "{text}");
        let table = c.table();
        assert_eq!(
            table.rows[0][1..],
            [
                "3 and 3",
                "98.00%, 96.00%",
                "+2.00 points",
                "2.45",
                "4.0",
                "0.070",
                &points_interval(c.over_images.low, c.over_images.high)
            ]
        );
        assert!(table.caption.contains("the 100 validation images"));
        let text = table.to_text();
        for word in ["finding", "beyond", "within", "measurable"] {
            assert!(!text.contains(word), "{word} in {text}");
        }
        // 7 points apart: t = 8.57, p = 0.001, and the images agree: beyond both.
        let far = SeedComparison::new(&a, &setting("LSTM 16", &[90, 91, 92])).unwrap();
        assert!(far.beyond_noise, "{far:?}");
        assert!(
            far.to_string()
                .contains("beyond the noise of both seeds and images"),
            "{far}"
        );
    }

    #[test]
    fn seed_comparison_needs_seeds_predictions_and_the_same_images() {
        let a = setting("LSTM 48", &[97, 98, 99]);
        let b = setting("LSTM 32", &[95, 96, 97]);
        assert!(SeedComparison::new(&a[..1], &b).is_err());
        let mut no_predictions = b.clone();
        no_predictions[1].validation = None;
        let message = SeedComparison::new(&a, &no_predictions)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("no validation predictions") && message.contains("retrain"),
            "{message}"
        );
        let mut elsewhere = b.clone();
        elsewhere
            .iter_mut()
            .for_each(|r| r.spec.split = crate::data::ValidationSplit::keras_tail(0.2));
        let message = SeedComparison::new(&a, &elsewhere).unwrap_err().to_string();
        assert!(
            message.contains("validated on different images"),
            "{message}"
        );
        // No spread at all over seeds: any difference beats it.
        let flat = SeedComparison::new(&setting("A", &[98, 98]), &setting("B", &[97, 97])).unwrap();
        assert_eq!(flat.seeds_p_value, 0.0);
    }
}
