//! Conclusions computed from run records and confusion matrices, written as plain English
//! sentences (Markdown bullet lines): what a notebook's "what the numbers say" cell prints.
//! Every number behind a sentence is a pub field, so a notebook can use it too (for example
//! [`Comparison::best_by_validation`] to pick the model a figure shows).
//!
//! **Noise.** An accuracy `p` measured on `N` images has a standard error
//! `SE = sqrt(p(1-p)/N)`. A difference not larger than 2 SE is reported as within noise, never
//! as an effect. Runs are chosen by validation accuracy only; the test accuracy is reported,
//! never used to choose.
use std::borrow::Borrow;
use std::fmt;

use crate::data::ValidationSplit;
use crate::error::{Error, Result};
pub use crate::metrics::Confusion;
use crate::metrics::{ClassMetrics, ClassificationReport, ConfusionMatrix};
use crate::record::RunRecord;
use crate::table::{evcxr_html, pct, text_to_html, thousands};

/// `sqrt(p(1-p)/n)`, the standard error of an accuracy `p` measured on `n` images. Infinite
/// when `n` is 0: nothing was measured, so every difference is within noise.
pub fn standard_error(accuracy: f64, n: usize) -> f64 {
    if n == 0 {
        return f64::INFINITY;
    }
    (accuracy * (1.0 - accuracy) / n as f64).sqrt()
}

/// How close to its best validation accuracy a run must come to count as converged: 0.5
/// points.
pub const CONVERGED_WITHIN: f64 = 0.005;

/// `classes[i]`, or the index itself when the matrix has no name for it.
fn class_name(classes: &[String], i: usize) -> String {
    classes.get(i).cloned().unwrap_or_else(|| i.to_string())
}

/// "digit" when every class name is a digit (MNIST), else "class" (Fashion-MNIST).
fn class_noun(classes: &[String]) -> &'static str {
    let digit = |name: &String| name.len() == 1 && name.chars().all(|c| c.is_ascii_digit());
    if !classes.is_empty() && classes.iter().all(digit) {
        "digit"
    } else {
        "class"
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// The errors of one model on the test images: how many, the weakest class, the most frequent
/// confusions.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorAnalysis {
    pub name: String,
    pub classes: Vec<String>,
    pub images: u64,
    pub errors: u64,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub weakest: Option<ClassMetrics>,
    /// The [`ErrorAnalysis::CONFUSIONS`] most frequent confusions.
    pub confusions: Vec<Confusion>,
}

impl ErrorAnalysis {
    /// How many confusions the text names.
    pub const CONFUSIONS: usize = 3;

    /// The analysis of `matrix`, the test set's confusion matrix of the model called `name`.
    pub fn new(name: &str, matrix: &ConfusionMatrix) -> Self {
        let report = ClassificationReport::new(matrix);
        ErrorAnalysis {
            name: name.to_owned(),
            classes: matrix.classes.clone(),
            images: matrix.total(),
            errors: matrix.errors(),
            accuracy: report.accuracy,
            macro_f1: report.macro_avg.f1,
            weakest: report.weakest_class().cloned(),
            confusions: matrix.most_frequent_confusions(Self::CONFUSIONS),
        }
    }

    pub fn evcxr_display(&self) {
        print!("{}", evcxr_html(&text_to_html(&self.to_string())));
    }
}

impl fmt::Display for ErrorAnalysis {
    /// e.g. `CNN: 214 errors in 10,000 test images (97.86% accuracy), macro F1 0.9785; weakest
    /// digit 8 (F1 0.967: precision 0.958, recall 0.977); most frequent confusions: 6 read as 0
    /// (13 times), 2 read as 8 (11), 7 read as 9 (10).`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = match self.errors {
            0 => "no errors".to_owned(),
            n => plural(n, "error", "errors"),
        };
        write!(
            f,
            "{}: {errors} in {} test images ({} accuracy), macro F1 {:.4}",
            self.name,
            thousands(self.images),
            pct(self.accuracy),
            self.macro_f1
        )?;
        if self.errors > 0 {
            if let Some(w) = &self.weakest {
                write!(
                    f,
                    "; weakest {} {} (F1 {:.3}: precision {:.3}, recall {:.3})",
                    class_noun(&self.classes),
                    w.name,
                    w.f1,
                    w.precision,
                    w.recall
                )?;
            }
            let confusions: Vec<String> = self
                .confusions
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    // The unit is said once, on the first count.
                    let count = if i == 0 {
                        plural(c.count, "time", "times")
                    } else {
                        thousands(c.count)
                    };
                    format!(
                        "{} read as {} ({count})",
                        class_name(&self.classes, c.actual),
                        class_name(&self.classes, c.predicted)
                    )
                })
                .collect();
            let label = if confusions.len() == 1 {
                "most frequent confusion"
            } else {
                "most frequent confusions"
            };
            write!(f, "; {label}: {}", confusions.join(", "))?;
        }
        write!(f, ".")
    }
}

/// What the final epoch's train-minus-validation gap says, given the validation noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapVerdict {
    /// The gap is not larger than 2 standard errors.
    NoMeasurableOverfitting,
    /// Training accuracy above validation by more than 2 standard errors.
    Overfitting,
    /// Validation accuracy above training by more than 2 standard errors.
    ValidationAboveTraining,
}

/// Over-fitting at the end of one run: the final epoch's training accuracy minus its
/// validation accuracy, against 2 standard errors of that validation accuracy.
#[derive(Debug, Clone, PartialEq)]
pub struct OverfittingGap {
    pub name: String,
    /// The final epoch (1-based).
    pub epoch: usize,
    pub train_accuracy: f64,
    pub val_accuracy: f64,
    /// `train_accuracy - val_accuracy`, a fraction (0.002 is 0.2 points).
    pub gap: f64,
    /// Of `val_accuracy` measured on `validation_images` images.
    pub standard_error: f64,
    pub validation_images: usize,
    pub verdict: GapVerdict,
}

impl OverfittingGap {
    /// An error when the record has no epochs.
    pub fn new(record: &RunRecord) -> Result<Self> {
        let last = record.history.last().ok_or_else(|| {
            Error::invalid(
                format!("run record {:?}", record.spec.name),
                "its history has no epochs, so there is nothing to compare",
            )
        })?;
        let validation_images = record.validation_images();
        let standard_error = standard_error(last.val_accuracy, validation_images);
        let gap = last.train_accuracy - last.val_accuracy;
        // Not larger than the noise is never called over-fitting.
        let verdict = if gap.abs() <= 2.0 * standard_error {
            GapVerdict::NoMeasurableOverfitting
        } else if gap > 0.0 {
            GapVerdict::Overfitting
        } else {
            GapVerdict::ValidationAboveTraining
        };
        Ok(OverfittingGap {
            name: record.spec.name.clone(),
            epoch: last.epoch,
            train_accuracy: last.train_accuracy,
            val_accuracy: last.val_accuracy,
            gap,
            standard_error,
            validation_images,
            verdict,
        })
    }

    /// 2 standard errors, a fraction.
    pub fn noise(&self) -> f64 {
        2.0 * self.standard_error
    }

    /// The verdict without the run's name, for the comparison's lines.
    fn sentence(&self) -> String {
        let (position, verdict) = match self.verdict {
            GapVerdict::NoMeasurableOverfitting => ("within", "no measurable over-fitting"),
            GapVerdict::Overfitting => (
                "beyond",
                "over-fitting (it fits its training images better than new ones)",
            ),
            GapVerdict::ValidationAboveTraining => (
                "beyond",
                "validation above training (training accuracy is measured during the epoch, \
                 as the weights change and with any dropout on; validation after it, without \
                 dropout)",
            ),
        };
        format!(
            "at epoch {}, training accuracy {} against validation {}: gap {:+.2} points, \
             {position} the {} noise (2 standard errors of a {}-image validation accuracy): \
             {verdict}",
            self.epoch,
            pct(self.train_accuracy),
            pct(self.val_accuracy),
            100.0 * self.gap,
            noise_points(self.noise()),
            thousands(self.validation_images as u64),
        )
    }

    pub fn evcxr_display(&self) {
        print!("{}", evcxr_html(&text_to_html(&self.to_string())));
    }
}

impl fmt::Display for OverfittingGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}.", self.name, self.sentence())
    }
}

/// e.g. `±0.19-point`.
fn noise_points(noise: f64) -> String {
    format!("±{:.2}-point", 100.0 * noise)
}

/// e.g. `115 s`, or `2.5 s` for short runs.
fn seconds(s: f64) -> String {
    if s >= 10.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// `a / b`, as `2.0x`; `?x` when `b` is not positive.
fn times(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.1}x", a / b)
    } else {
        "?x".to_owned()
    }
}

/// One run's numbers, as [`Comparison`] reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub name: String,
    /// Epochs run (fewer than `planned_epochs` when early stopping ended the run).
    pub epochs: usize,
    pub planned_epochs: usize,
    pub parameters: i64,
    pub train_seconds: f64,
    pub best_val_accuracy: f64,
    /// The epoch (1-based) of `best_val_accuracy`.
    pub best_epoch: usize,
    pub final_val_accuracy: f64,
    /// Reported only: never used to choose.
    pub test_accuracy: f64,
    /// The first epoch whose validation accuracy came within [`CONVERGED_WITHIN`] of the
    /// run's best: how fast it converged.
    pub converged_epoch: usize,
    pub validation_images: usize,
    pub gap: OverfittingGap,
    /// Which images the run validated on: runs with equal values validated on the same ones.
    validation_set: (ValidationSplit, Option<usize>),
}

impl RunSummary {
    fn new(record: &RunRecord) -> Result<Self> {
        let gap = OverfittingGap::new(record)?;
        let epochs = &record.history.epochs;
        let best = record.history.best_val_accuracy();
        let best_val_accuracy = best.map_or(0.0, |e| e.val_accuracy);
        // A small tolerance, so that an epoch exactly 0.5 points below counts despite rounding.
        let converged_epoch = epochs
            .iter()
            .find(|e| e.val_accuracy >= best_val_accuracy - CONVERGED_WITHIN - 1e-12)
            .map_or(0, |e| e.epoch);
        Ok(RunSummary {
            name: record.spec.name.clone(),
            epochs: epochs.len(),
            planned_epochs: record.spec.epochs,
            parameters: record.parameters,
            train_seconds: record.timings.train_seconds,
            best_val_accuracy,
            best_epoch: best.map_or(0, |e| e.epoch),
            final_val_accuracy: gap.val_accuracy,
            test_accuracy: record.test.accuracy,
            converged_epoch,
            validation_images: record.validation_images(),
            gap,
            validation_set: (record.spec.split.clone(), record.spec.train_limit),
        })
    }

    /// The standard error of `best_val_accuracy`.
    pub fn standard_error(&self) -> f64 {
        standard_error(self.best_val_accuracy, self.validation_images)
    }
}

/// 2 standard errors of the difference between two runs' best validation accuracies.
///
/// When both validated on the same images (same split, same `train_limit`), the larger of the
/// two standard errors: the two measurements share their images and most of their errors, so
/// the independent-samples formula would overstate the noise of the difference. Otherwise
/// the two are independent samples, and the standard error of the difference is
/// `sqrt(SE_a² + SE_b²)`.
pub fn difference_noise(a: &RunSummary, b: &RunSummary) -> f64 {
    let (se_a, se_b) = (a.standard_error(), b.standard_error());
    if a.validation_set == b.validation_set {
        2.0 * se_a.max(se_b)
    } else {
        2.0 * (se_a * se_a + se_b * se_b).sqrt()
    }
}

/// One run against the baseline (the first run of a [`Comparison`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AgainstBaseline {
    /// The run's index in [`Comparison::runs`].
    pub run: usize,
    /// The run's best validation accuracy minus the baseline's, a fraction.
    pub val_difference: f64,
    /// [`difference_noise`] of the two, a fraction.
    pub noise: f64,
    pub within_noise: bool,
    /// The run's parameters over the baseline's.
    pub parameters_ratio: f64,
    /// The run's training seconds over the baseline's.
    pub time_ratio: f64,
}

/// Several runs side by side: each run's numbers and over-fitting verdict, every other run
/// against the first (the baseline), the best by validation accuracy and the cheapest to train.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// In the order given; `runs[0]` is the baseline.
    pub runs: Vec<RunSummary>,
    /// One entry per run after the baseline, in order.
    pub against_baseline: Vec<AgainstBaseline>,
    /// Index of the run with the highest best validation accuracy (the first of equals).
    pub best: usize,
    /// Indices of the other runs whose best validation accuracy is within noise of the best's.
    pub within_noise_of_best: Vec<usize>,
    /// Index of the run with the least training time (the first of equals).
    pub cheapest: usize,
}

impl Comparison {
    /// An error when `runs` is empty, when two runs have the same name, or when a run has no
    /// epochs.
    pub fn new<R: Borrow<RunRecord>>(runs: &[R]) -> Result<Self> {
        let runs: Vec<&RunRecord> = runs.iter().map(Borrow::borrow).collect();
        const WHAT: &str = "runs to compare";
        if runs.is_empty() {
            return Err(Error::invalid(
                WHAT,
                "none given; pass at least one run record",
            ));
        }
        for (i, a) in runs.iter().enumerate() {
            if runs[..i].iter().any(|b| b.spec.name == a.spec.name) {
                return Err(Error::invalid(
                    WHAT,
                    format!(
                        "two runs are named {:?}; give the runs distinct names (RunSpec::name), \
                         so that every row and sentence names one run",
                        a.spec.name
                    ),
                ));
            }
        }
        let summaries = runs
            .iter()
            .map(|r| RunSummary::new(r))
            .collect::<Result<Vec<_>>>()?;
        let first_extreme = |better: &dyn Fn(&RunSummary, &RunSummary) -> bool| {
            (1..summaries.len()).fold(0, |chosen, i| {
                if better(&summaries[i], &summaries[chosen]) {
                    i
                } else {
                    chosen
                }
            })
        };
        let best = first_extreme(&|a, b| a.best_val_accuracy > b.best_val_accuracy);
        let cheapest = first_extreme(&|a, b| a.train_seconds < b.train_seconds);
        let baseline = &summaries[0];
        let against_baseline = (1..summaries.len())
            .map(|i| {
                let run = &summaries[i];
                let val_difference = run.best_val_accuracy - baseline.best_val_accuracy;
                let noise = difference_noise(run, baseline);
                AgainstBaseline {
                    run: i,
                    val_difference,
                    noise,
                    within_noise: val_difference.abs() <= noise,
                    parameters_ratio: run.parameters as f64 / baseline.parameters as f64,
                    time_ratio: run.train_seconds / baseline.train_seconds,
                }
            })
            .collect();
        let within_noise_of_best = (0..summaries.len())
            .filter(|&i| {
                i != best
                    && summaries[best].best_val_accuracy - summaries[i].best_val_accuracy
                        <= difference_noise(&summaries[best], &summaries[i])
            })
            .collect();
        Ok(Comparison {
            runs: summaries,
            against_baseline,
            best,
            within_noise_of_best,
            cheapest,
        })
    }

    pub fn baseline(&self) -> &RunSummary {
        &self.runs[0]
    }

    /// The run with the highest best validation accuracy: the one to pick. Its test accuracy
    /// is a reported fact, not a criterion.
    pub fn best_by_validation(&self) -> &RunSummary {
        &self.runs[self.best]
    }

    /// The run with the least training time.
    pub fn cheapest_to_train(&self) -> &RunSummary {
        &self.runs[self.cheapest]
    }

    /// The text as HTML: bullets as `<ul>`, other lines as paragraphs, everything escaped.
    pub fn to_html(&self) -> String {
        text_to_html(&self.to_string())
    }

    pub fn evcxr_display(&self) {
        print!("{}", evcxr_html(&self.to_html()));
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let baseline = self.baseline();
        if self.runs.len() > 1 {
            writeln!(f, "Runs (the first, {}, is the baseline):", baseline.name)?;
        } else {
            writeln!(f, "Run:")?;
        }
        for r in &self.runs {
            let epochs = if r.epochs < r.planned_epochs {
                format!(
                    "{} of {} epochs (stopped early)",
                    r.epochs, r.planned_epochs
                )
            } else {
                format!("{} epochs", r.epochs)
            };
            writeln!(
                f,
                "- {}: {epochs}, {} parameters, {} of training; best validation accuracy {} \
                 at epoch {}, final {}, test {}; first within {:.1} points of its best \
                 validation accuracy at epoch {}; {}.",
                r.name,
                thousands(r.parameters),
                seconds(r.train_seconds),
                pct(r.best_val_accuracy),
                r.best_epoch,
                pct(r.final_val_accuracy),
                pct(r.test_accuracy),
                100.0 * CONVERGED_WITHIN,
                r.converged_epoch,
                r.gap.sentence()
            )?;
        }
        if !self.against_baseline.is_empty() {
            writeln!(f, "\nAgainst the baseline:")?;
        }
        for a in &self.against_baseline {
            let r = &self.runs[a.run];
            writeln!(
                f,
                "- {} against {}: {:+.2} points of best validation accuracy ({} the {} \
                 noise) for {} the parameters ({} vs {}) and {} the training time ({} vs {}).",
                r.name,
                baseline.name,
                100.0 * a.val_difference,
                if a.within_noise { "within" } else { "beyond" },
                noise_points(a.noise),
                times(r.parameters as f64, baseline.parameters as f64),
                thousands(r.parameters),
                thousands(baseline.parameters),
                times(r.train_seconds, baseline.train_seconds),
                seconds(r.train_seconds),
                seconds(baseline.train_seconds),
            )?;
        }
        let best = self.best_by_validation();
        write!(
            f,
            "\nBest by validation accuracy: {} ({} at epoch {}); its test accuracy, reported \
             only (the test set chooses nothing), is {}.",
            best.name,
            pct(best.best_val_accuracy),
            best.best_epoch,
            pct(best.test_accuracy)
        )?;
        if !self.within_noise_of_best.is_empty() {
            let close: Vec<String> = self
                .within_noise_of_best
                .iter()
                .map(|&i| {
                    let r = &self.runs[i];
                    format!(
                        "{} ({:+.2} points, within the {} noise)",
                        r.name,
                        100.0 * (r.best_val_accuracy - best.best_val_accuracy),
                        noise_points(difference_noise(best, r))
                    )
                })
                .collect();
            write!(
                f,
                " Within noise of it, so not measurably worse: {}.",
                close.join(", ")
            )?;
        }
        let cheapest = self.cheapest_to_train();
        writeln!(
            f,
            "\nCheapest to train: {} ({}).",
            cheapest.name,
            seconds(cheapest.train_seconds)
        )?;
        write!(
            f,
            "\nNoise is 2 standard errors, sqrt(p(1-p)/N), of a validation accuracy p measured \
             on N images. Between two runs validated on the same images it is the larger of \
             their two (they share their images and most of their errors); otherwise that of \
             the difference, sqrt(SE1² + SE2²).\n"
        )
    }
}

/// One setting (e.g. recurrent dropout) switched on and off for several models: how much it
/// changes each model's best validation accuracy, and how the models compare with it and
/// without it, so that the effect of the setting and the effect of the model are told apart.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingEffect {
    /// e.g. `recurrent dropout 0.15`.
    pub setting: String,
    pub rows: Vec<EffectRow>,
}

/// One model with the setting and without it.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectRow {
    /// The name of the run with the setting, e.g. `GRU 32`.
    pub model: String,
    /// Best validation accuracy with the setting.
    pub with: f64,
    /// Best validation accuracy without it.
    pub without: f64,
    /// [`difference_noise`] of the two runs, a fraction.
    pub noise: f64,
    pub validation_images: usize,
}

impl SettingEffect {
    /// `pairs` holds, per model, the run with the setting and the run without it; the first
    /// model is the one the others are compared with.
    pub fn new<R: Borrow<RunRecord>>(setting: &str, pairs: &[(R, R)]) -> Result<Self> {
        if pairs.is_empty() {
            return Err(Error::invalid(
                "setting effect",
                "no runs; give pairs of (with the setting, without it)",
            ));
        }
        let rows = pairs
            .iter()
            .map(|(with, without)| {
                let (with, without) = (with.borrow(), without.borrow());
                let (a, b) = (RunSummary::new(with)?, RunSummary::new(without)?);
                Ok(EffectRow {
                    model: with.spec.name.clone(),
                    with: a.best_val_accuracy,
                    without: b.best_val_accuracy,
                    noise: difference_noise(&a, &b),
                    validation_images: a.validation_images,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SettingEffect {
            setting: setting.to_owned(),
            rows,
        })
    }

    pub fn evcxr_display(&self) {
        print!("{}", evcxr_html(&text_to_html(&self.to_string())));
    }
}

impl fmt::Display for SettingEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Best validation accuracy with {} and without it:",
            self.setting
        )?;
        for r in &self.rows {
            let change = r.with - r.without;
            let verdict = if change.abs() <= r.noise {
                "no measurable difference".to_owned()
            } else if change < 0.0 {
                format!("it costs {:.2} points", -100.0 * change)
            } else {
                format!("it gains {:.2} points", 100.0 * change)
            };
            writeln!(
                f,
                "- {}: {} with, {} without: {verdict} (noise ±{:.2} points on {} validation images).",
                r.model,
                pct(r.with),
                pct(r.without),
                100.0 * r.noise,
                thousands(r.validation_images as u64)
            )?;
        }
        let baseline = &self.rows[0];
        for r in &self.rows[1..] {
            writeln!(
                f,
                "- {} against {}: {:+.2} points with {}, {:+.2} points without it.",
                r.model,
                baseline.model,
                100.0 * (r.with - baseline.with),
                self.setting,
                100.0 * (r.without - baseline.without)
            )?;
        }
        Ok(())
    }
}

/// What a recurrent model knows part-way through the image: its accuracy after reading k
/// rows ([`crate::model::Model::accuracy_by_rows`]) at the middle and at the end, and the first
/// k at which it reaches a level.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingByRows {
    pub name: String,
    /// (rows read, accuracy), k = 1 to 28.
    pub points: Vec<(usize, f64)>,
}

impl ReadingByRows {
    pub fn new(name: &str, points: &[(usize, f64)]) -> Result<Self> {
        if points.is_empty() {
            return Err(Error::invalid(
                "accuracy by rows",
                "no points; give the output of accuracy_by_rows",
            ));
        }
        Ok(ReadingByRows {
            name: name.to_owned(),
            points: points.to_vec(),
        })
    }

    /// Accuracy after reading `rows` rows, if measured.
    pub fn after(&self, rows: usize) -> Option<f64> {
        self.points
            .iter()
            .find(|(k, _)| *k == rows)
            .map(|(_, a)| *a)
    }

    /// The first number of rows after which the accuracy reaches `level`.
    pub fn rows_to_reach(&self, level: f64) -> Option<usize> {
        self.points
            .iter()
            .find(|(_, a)| *a >= level)
            .map(|(k, _)| *k)
    }

    pub fn evcxr_display(&self) {
        print!("{}", evcxr_html(&text_to_html(&self.to_string())));
    }
}

impl fmt::Display for ReadingByRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = self.points[self.points.len() - 1];
        let middle = self.points[(self.points.len() - 1) / 2];
        let reach = |level: f64| match self.rows_to_reach(level) {
            Some(k) => format!("after {k} rows"),
            None => "never".to_owned(),
        };
        write!(
            f,
            "{}: {} after {} of {} rows, {} after all {}; 50% is first reached {}, 90% {}.",
            self.name,
            pct(middle.1),
            middle.0,
            last.0,
            pct(last.1),
            last.0,
            reach(0.5),
            reach(0.9)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::run_record;

    #[test]
    fn setting_effect_separates_the_setting_from_the_model() {
        let rnn_with = run_record("SimpleRNN 32", 2282, &[(0.70, 0.73)], 0.72, 10.0);
        let rnn_without = run_record("SimpleRNN 32, no dropout", 2282, &[(0.93, 0.92)], 0.92, 9.0);
        let gru_with = run_record("GRU 32", 6282, &[(0.96, 0.96)], 0.965, 40.0);
        let gru_without = run_record("GRU 32, no dropout", 6282, &[(0.975, 0.9605)], 0.97, 30.0);
        let effect = SettingEffect::new(
            "recurrent dropout 0.15",
            &[(&rnn_with, &rnn_without), (&gru_with, &gru_without)],
        )
        .unwrap();
        let text = effect.to_string();
        assert!(
            text.contains("SimpleRNN 32: 73.00% with, 92.00% without: it costs 19.00 points"),
            "{text}"
        );
        assert!(
            text.contains("GRU 32: 96.00% with, 96.05% without: no measurable difference"),
            "{text}"
        );
        assert!(text.contains("GRU 32 against SimpleRNN 32: +23.00 points with recurrent dropout 0.15, +4.05 points without it."), "{text}");
        let none: [(&RunRecord, &RunRecord); 0] = [];
        assert!(SettingEffect::new("x", &none).is_err());
    }

    #[test]
    fn reading_by_rows_names_the_middle_the_end_and_the_levels() {
        let points: Vec<(usize, f64)> = (1..=28).map(|k| (k, k as f64 / 28.0)).collect();
        let reading = ReadingByRows::new("LSTM 32", &points).unwrap();
        assert_eq!(reading.rows_to_reach(0.9), Some(26));
        assert_eq!(reading.after(14), Some(0.5));
        let text = reading.to_string();
        assert!(text.contains("50.00% after 14 of 28 rows"), "{text}");
        assert!(text.contains("100.00% after all 28"), "{text}");
        assert!(text.contains("90% after 26 rows"), "{text}");
        assert!(ReadingByRows::new("x", &[]).is_err());
    }

    fn digits(n: usize) -> Vec<String> {
        (0..n).map(|i| i.to_string()).collect()
    }

    /// A matrix from its counts.
    fn matrix(counts: Vec<Vec<u64>>) -> ConfusionMatrix {
        ConfusionMatrix {
            classes: digits(counts.len()),
            counts,
        }
    }

    #[test]
    fn error_analysis_names_errors_weakest_class_and_confusions() {
        let m = matrix(vec![vec![50, 3, 0], vec![5, 40, 3], vec![5, 0, 60]]);
        let text = ErrorAnalysis::new("CNN", &m).to_string();
        let report = ClassificationReport::new(&m);
        let w = &report.classes[1];
        assert_eq!(
            text,
            format!(
                "CNN: 16 errors in 166 test images (90.36% accuracy), macro F1 {:.4}; weakest \
                 digit 1 (F1 {:.3}: precision {:.3}, recall {:.3}); most frequent confusions: \
                 1 read as 0 (5 times), 2 read as 0 (5), 0 read as 1 (3).",
                report.macro_avg.f1, w.f1, w.precision, w.recall
            )
        );
        let mut big = matrix(vec![vec![9_000, 1], vec![0, 999]]);
        big.classes = vec!["shirt".into(), "coat".into()];
        assert_eq!(
            ErrorAnalysis::new("MLP", &big).to_string(),
            format!(
                "MLP: 1 error in 10,000 test images (99.99% accuracy), macro F1 {:.4}; weakest \
                 class coat (F1 0.999: precision 0.999, recall 1.000); most frequent confusion: \
                 shirt read as coat (1 time).",
                ClassificationReport::new(&big).macro_avg.f1
            )
        );
        let perfect = ErrorAnalysis::new("X", &matrix(vec![vec![4, 0], vec![0, 2]]));
        assert_eq!(
            perfect.to_string(),
            "X: no errors in 6 test images (100.00% accuracy), macro F1 1.0000."
        );
    }

    #[test]
    fn a_gap_within_two_standard_errors_is_not_over_fitting() {
        // 2 SE of 98.9% on 12,000 images: 2 * sqrt(0.989 * 0.011 / 12000) = 0.001905.
        let val = 0.989;
        let two_se = 2.0 * (val * (1.0 - val) / 12_000.0f64).sqrt();
        assert!((two_se - 0.001905).abs() < 1e-6);
        let gap = |train: f64| {
            OverfittingGap::new(&run_record("LSTM 32", 8138, &[(train, val)], 0.98, 60.0)).unwrap()
        };
        let inside = gap(val + 0.0018);
        assert_eq!(inside.verdict, GapVerdict::NoMeasurableOverfitting);
        assert_eq!(inside.validation_images, 12_000);
        assert!((inside.noise() - two_se).abs() < 1e-12);
        let text = inside.to_string();
        assert!(
            text.contains(
                "gap +0.18 points, within the ±0.19-point noise (2 standard errors of a \
                 12,000-image validation accuracy): no measurable over-fitting"
            ),
            "{text}"
        );
        assert!(!text.contains("over-fitting (it fits"), "{text}");
        let inside_negative = gap(val - 0.0018);
        assert_eq!(inside_negative.verdict, GapVerdict::NoMeasurableOverfitting);
        let above = gap(val + 0.0020);
        assert_eq!(above.verdict, GapVerdict::Overfitting);
        assert!(
            above
                .to_string()
                .contains("gap +0.20 points, beyond the ±0.19-point noise"),
            "{above}"
        );
        assert!(above
            .to_string()
            .ends_with("over-fitting (it fits its training images better than new ones)."));
        let below = gap(val - 0.0020);
        assert_eq!(below.verdict, GapVerdict::ValidationAboveTraining);
        let text = below.to_string();
        assert!(
            text.contains("gap -0.20 points, beyond") && text.contains("validation above training"),
            "{text}"
        );
        assert!(text.contains("dropout"), "{text}");
        let mut empty = run_record("empty", 1, &[], 0.5, 1.0);
        empty.history.epochs.clear();
        assert!(OverfittingGap::new(&empty).is_err());
    }

    fn three_runs() -> Vec<RunRecord> {
        vec![
            run_record(
                "LSTM 32",
                8138,
                &[(0.95, 0.96), (0.975, 0.9805), (0.985, 0.984)],
                0.982,
                63.0,
            ),
            run_record(
                "LSTM 2x32",
                16_458,
                &[(0.96, 0.97), (0.985, 0.988), (0.99, 0.991)],
                0.985,
                115.0,
            ),
            // The highest test accuracy, but not the highest validation accuracy.
            run_record(
                "LSTM 96",
                40_000,
                &[(0.97, 0.98), (0.99, 0.990)],
                0.995,
                90.0,
            ),
        ]
    }

    #[test]
    fn against_the_baseline_with_costs_and_noise() {
        let runs = three_runs();
        let comparison = Comparison::new(&runs.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(comparison.baseline().name, "LSTM 32");
        let a = &comparison.against_baseline[0];
        assert_eq!(a.run, 1);
        assert!((a.val_difference - 0.007).abs() < 1e-12);
        // Same images: the larger SE, that of 98.4%: 2 * sqrt(0.984 * 0.016 / 12000) = 0.00229.
        assert!((a.noise - 2.0 * (0.984 * 0.016 / 12_000.0f64).sqrt()).abs() < 1e-12);
        assert!(!a.within_noise);
        assert!((a.parameters_ratio - 16_458.0 / 8138.0).abs() < 1e-12);
        let text = comparison.to_string();
        assert!(
            text.contains(
                "- LSTM 2x32 against LSTM 32: +0.70 points of best validation accuracy (beyond \
                 the ±0.23-point noise) for 2.0x the parameters (16,458 vs 8,138) and 1.8x the \
                 training time (115 s vs 63 s)."
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "- LSTM 32: 3 epochs, 8,138 parameters, 63 s of training; best validation \
                 accuracy 98.40% at epoch 3, final 98.40%, test 98.20%; first within 0.5 points \
                 of its best validation accuracy at epoch 2; at epoch 3, training accuracy \
                 98.50% against validation 98.40%: gap +0.10 points, within"
            ),
            "{text}"
        );
        assert_eq!(comparison.runs[1].converged_epoch, 2);
        assert_eq!(comparison.runs[2].converged_epoch, 2);
        assert_eq!(comparison.cheapest_to_train().name, "LSTM 32");
        assert!(
            text.contains("Cheapest to train: LSTM 32 (63 s)."),
            "{text}"
        );
    }

    #[test]
    fn the_best_run_is_chosen_by_validation_not_by_test_accuracy() {
        let runs = three_runs();
        let comparison = Comparison::new(&runs.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(comparison.best, 1);
        assert_eq!(comparison.best_by_validation().name, "LSTM 2x32");
        // LSTM 96 is 0.10 points below: within noise of the best, and said so.
        assert_eq!(comparison.within_noise_of_best, vec![2]);
        let text = comparison.to_string();
        assert!(
            text.contains(
                "Best by validation accuracy: LSTM 2x32 (99.10% at epoch 3); its test \
                 accuracy, reported only (the test set chooses nothing), is 98.50%. Within \
                 noise of it, so not measurably worse: LSTM 96 (-0.10 points"
            ),
            "{text}"
        );
    }

    #[test]
    fn runs_on_different_validation_images_add_their_noise() {
        let runs = three_runs();
        let mut other = runs[1].clone();
        other.spec.split = ValidationSplit::keras_tail(0.2);
        let comparison = Comparison::new(&[&runs[0], &other]).unwrap();
        let se = |p: f64| (p * (1.0 - p) / 12_000.0f64).sqrt();
        let expected = 2.0 * (se(0.984).powi(2) + se(0.991).powi(2)).sqrt();
        assert!((comparison.against_baseline[0].noise - expected).abs() < 1e-12);
    }

    #[test]
    fn duplicate_names_and_empty_lists_are_errors() {
        let runs = three_runs();
        let twice = Comparison::new(&[&runs[0], &runs[1], &runs[0]])
            .unwrap_err()
            .to_string();
        assert!(
            twice.contains("\"LSTM 32\"") && twice.contains("distinct names"),
            "{twice}"
        );
        assert!(Comparison::new::<RunRecord>(&[]).is_err());
        let single = Comparison::new(&[&runs[2]]).unwrap();
        assert!(single.against_baseline.is_empty());
        assert_eq!(single.best_by_validation().name, "LSTM 96");
    }

    #[test]
    fn html_has_escaped_bullets_and_text_stays_plain() {
        let mut runs = three_runs();
        runs[0].spec.name = "a<b".into();
        let comparison = Comparison::new(&runs.iter().collect::<Vec<_>>()).unwrap();
        let text = comparison.to_string();
        assert!(!text.contains("<li>") && text.contains("- a<b: 3 epochs"));
        let html = comparison.to_html();
        assert!(html.contains("<ul>\n<li>a&lt;b: 3 epochs"), "{html}");
        assert!(html.contains("<p>Against the baseline:</p>"), "{html}");
        assert_eq!(html.matches("<ul>").count(), 2);
        assert_eq!(html.matches("<li>").count(), 5);
    }
}

/// One setting trained with several seeds: the mean and the spread of its best validation
/// accuracy, so that a comparison can tell a difference between settings from the difference
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
    /// Best validation accuracy of each seed's run, in the order of `seeds`.
    pub accuracies: Vec<f64>,
    pub mean: f64,
    /// The sample standard deviation over the seeds.
    pub std: f64,
}

impl AcrossSeeds {
    /// `groups`: each setting's runs, one per seed (at least 2, seeds distinct), named by the
    /// first run's spec (as [`crate::session::Session::run_seeds`] returns them).
    pub fn new<R: Borrow<RunRecord>>(groups: &[Vec<R>]) -> Result<Self> {
        let rows = groups
            .iter()
            .map(|runs| {
                let name = runs.first().map_or("", |r| r.borrow().spec.name.as_str());
                let seeds: Vec<u64> = runs.iter().map(|r| r.borrow().spec.options.seed).collect();
                let mut distinct = seeds.clone();
                distinct.sort_unstable();
                distinct.dedup();
                if distinct.len() < 2 || distinct.len() != seeds.len() {
                    return Err(Error::invalid(
                        format!("runs of {name:?}"),
                        format!("seeds {seeds:?}; give at least two runs with distinct seeds"),
                    ));
                }
                let accuracies: Vec<f64> = runs
                    .iter()
                    .map(|r| r.borrow().best_val_accuracy())
                    .collect();
                let n = accuracies.len() as f64;
                let mean = accuracies.iter().sum::<f64>() / n;
                let variance =
                    accuracies.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0);
                Ok(SeedSpread {
                    name: name.to_owned(),
                    seeds,
                    accuracies,
                    mean,
                    std: variance.sqrt(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(AcrossSeeds { rows })
    }

    /// One row per setting: each seed's best validation accuracy, the mean and the standard
    /// deviation.
    pub fn table(&self) -> crate::table::Table {
        use crate::table::{Align, Table};
        let seeds = self.rows.iter().map(|r| r.seeds.len()).max().unwrap_or(0);
        let mut header = vec!["model".to_owned()];
        header.extend((1..=seeds).map(|k| format!("seed {k}")));
        header.extend(["mean".to_owned(), "std".to_owned()]);
        let mut align = vec![Align::Left];
        align.extend(vec![Align::Right; seeds + 2]);
        Table {
            caption: "Best validation accuracy across seeds".into(),
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
                "{}: {} ± {:.2} points (mean ± standard deviation of the best validation accuracy over seeds {})",
                r.name,
                pct(r.mean),
                100.0 * r.std,
                seeds.join(", ")
            )?;
        }
        Ok(())
    }
}

/// How far back in time the loss's gradient reaches in one recurrent model: |dL/dh(t)| at the
/// first step against the last, after training and at initialisation
/// ([`crate::model::Model::hidden_gradient_norms`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GradientReach {
    pub name: String,
    /// |dL/dh(1)| / |dL/dh(T)| of the trained model.
    pub trained: f64,
    /// The same at initialisation.
    pub initial: f64,
    pub steps: usize,
}

impl GradientReach {
    /// From the two curves of mean |dL/dh(t)|, t = 1..T; an error when either is empty or they
    /// differ in length.
    pub fn new(name: &str, trained: &[f64], initial: &[f64]) -> Result<Self> {
        let ratio = |norms: &[f64]| match (norms.first(), norms.last()) {
            (Some(first), Some(last)) if *last > 0.0 => Ok(first / last),
            _ => Err(Error::invalid(
                format!("gradient norms of {name:?}"),
                "give one positive value per step",
            )),
        };
        if trained.len() != initial.len() {
            return Err(Error::invalid(
                format!("gradient norms of {name:?}"),
                format!(
                    "{} steps after training, {} at initialisation",
                    trained.len(),
                    initial.len()
                ),
            ));
        }
        Ok(GradientReach {
            name: name.to_owned(),
            trained: ratio(trained)?,
            initial: ratio(initial)?,
            steps: trained.len(),
        })
    }

    pub fn evcxr_display(&self) {
        print!("{}", evcxr_html(&text_to_html(&self.to_string())));
    }
}

impl fmt::Display for GradientReach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: the gradient reaching row 1 is {:.1e} times the one at row {} after training ({:.1e} at initialisation)",
            self.name, self.trained, self.steps, self.initial
        )
    }
}

#[cfg(test)]
mod spread_and_reach_tests {
    use super::{AcrossSeeds, GradientReach};
    use crate::record::RunRecord;

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
        let same_seed = [record(42, 0.96), record(42, 0.97)];
        assert!(AcrossSeeds::new(&[same_seed.to_vec()]).is_err());
        assert!(AcrossSeeds::new(&[runs[..1].to_vec()]).is_err());
        assert!(AcrossSeeds::new::<RunRecord>(&[vec![]]).is_err());
    }

    #[test]
    fn the_reach_is_the_first_step_against_the_last() {
        let trained = [1e-4, 1e-3, 1e-2];
        let initial = [1e-2, 1e-2, 1e-2];
        let reach = GradientReach::new("SimpleRNN 32", &trained, &initial).unwrap();
        assert!((reach.trained - 1e-2).abs() < 1e-12 && (reach.initial - 1.0).abs() < 1e-12);
        let text = reach.to_string();
        assert!(
            text.contains("row 1 is 1.0e-2 times the one at row 3"),
            "{text}"
        );
        assert!(GradientReach::new("x", &[], &[]).is_err());
        assert!(GradientReach::new("x", &trained, &initial[..2]).is_err());
    }
}
