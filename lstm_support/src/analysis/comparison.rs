//! Several runs side by side: each against the first, the best by validation accuracy, the
//! cheapest to train.
use std::fmt;

use super::noise::{noise_points, within_noise};
use super::summary::{difference_noise, RunSummary, CONVERGED_WITHIN};
use super::wording::{seconds, times};
use crate::error::{Error, Result};
use crate::record::RunRecord;
use crate::table::{evcxr_html, pct, text_to_html, thousands};

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
    /// `runs`: records, references to records, or the session's runs (anything that is
    /// `AsRef<RunRecord>`), e.g. `&family` or `&[&a, &b]`. An error when `runs` is empty, when
    /// two runs have the same name, or when a run has no epochs.
    pub fn new<R: AsRef<RunRecord>>(runs: &[R]) -> Result<Self> {
        let runs: Vec<&RunRecord> = runs.iter().map(AsRef::as_ref).collect();
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
                    within_noise: within_noise(val_difference, noise),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ValidationSplit;
    use crate::testutil::{run_record, RunLike};

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
    fn runs_compare_as_their_records_do() {
        let records = three_runs();
        let runs: Vec<RunLike> = three_runs().into_iter().map(RunLike::from).collect();
        let of_records = Comparison::new(&records).unwrap();
        assert_eq!(Comparison::new(&runs).unwrap(), of_records);
        assert_eq!(
            Comparison::new(&[&runs[0], &runs[1], &runs[2]]).unwrap(),
            of_records
        );
        assert_eq!(
            Comparison::new(&records.iter().collect::<Vec<_>>()).unwrap(),
            of_records
        );
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
