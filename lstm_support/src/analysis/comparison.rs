//! Several runs side by side: each against the first, the best by validation accuracy, the
//! cheapest to train.
use std::fmt;

use super::summary::{RunSummary, CONVERGED_WITHIN};
use super::verdict::{is_finding, verdict, ImagesTest, SeedNoise};
use super::wording::{seconds, times};
use crate::error::{Error, Result};
use crate::record::RunRecord;
use crate::table::{evcxr_html, pct, text_to_html, thousands, Align, Table};

/// One run against the baseline (the first run of a [`Comparison`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AgainstBaseline {
    /// The run's index in [`Comparison::runs`].
    pub run: usize,
    /// The run's validation accuracy minus the baseline's (kept weights), a fraction.
    pub val_difference: f64,
    pub images: ImagesTest,
    /// Beyond the images' noise, and beyond the seeds' when a [`SeedNoise`] is given. Without
    /// one, never: one seed per run cannot tell a setting from a lucky seed.
    pub finding: bool,
    /// The run's parameters over the baseline's.
    pub parameters_ratio: f64,
    /// The run's training seconds over the baseline's.
    pub time_ratio: f64,
}

/// Several runs side by side: each run's numbers and end-of-training verdicts, every other run
/// against the first (the baseline), the best by validation accuracy and the cheapest to train.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// In the order given; `runs[0]` is the baseline.
    pub runs: Vec<RunSummary>,
    /// One entry per run after the baseline, in order.
    pub against_baseline: Vec<AgainstBaseline>,
    /// Index of the run with the highest validation accuracy (the first of equals).
    pub best: usize,
    /// The other runs, each against the best: (index, test), in order.
    pub against_best: Vec<(usize, ImagesTest)>,
    /// Indices of the other runs whose difference from the best is not a finding.
    pub within_noise_of_best: Vec<usize>,
    /// Index of the run with the least training time (the first of equals).
    pub cheapest: usize,
    /// The seed-to-seed spread the verdicts take into account, when given.
    pub seed_noise: Option<SeedNoise>,
}

impl Comparison {
    /// `runs`: records, references to records, or the session's runs (anything that is
    /// `AsRef<RunRecord>`), e.g. `&family` or `&[&a, &b]`. An error when `runs` is empty, when
    /// two runs have the same name, or when a run has no epochs.
    pub fn new<R: AsRef<RunRecord>>(runs: &[R]) -> Result<Self> {
        let records: Vec<&RunRecord> = runs.iter().map(AsRef::as_ref).collect();
        const WHAT: &str = "runs to compare";
        if records.is_empty() {
            return Err(Error::invalid(
                WHAT,
                "none given; pass at least one run record",
            ));
        }
        for (i, a) in records.iter().enumerate() {
            if records[..i].iter().any(|b| b.spec.name == a.spec.name) {
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
        let summaries = records
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
        let best = first_extreme(&|a, b| a.val_accuracy > b.val_accuracy);
        let cheapest = first_extreme(&|a, b| a.train_seconds < b.train_seconds);
        let test = |i: usize, j: usize| {
            ImagesTest::between(records[i], records[j], &summaries[i], &summaries[j])
        };
        let against_baseline = (1..summaries.len())
            .map(|i| {
                let (run, baseline) = (&summaries[i], &summaries[0]);
                AgainstBaseline {
                    run: i,
                    val_difference: run.val_accuracy - baseline.val_accuracy,
                    images: test(i, 0),
                    finding: false,
                    parameters_ratio: run.parameters as f64 / baseline.parameters as f64,
                    time_ratio: run.train_seconds / baseline.train_seconds,
                }
            })
            .collect();
        let against_best = (0..summaries.len())
            .filter(|&i| i != best)
            .map(|i| (i, test(i, best)))
            .collect();
        let mut comparison = Comparison {
            runs: summaries,
            against_baseline,
            best,
            against_best,
            within_noise_of_best: Vec::new(),
            cheapest,
            seed_noise: None,
        };
        comparison.judge();
        Ok(comparison)
    }

    /// The same comparison, its verdicts taking into account the spread over seeds measured
    /// elsewhere (`std` of one run's validation accuracy, a fraction; `source` says where).
    pub fn with_seed_noise(mut self, std: f64, source: impl Into<String>) -> Self {
        self.seed_noise = Some(SeedNoise {
            std,
            source: source.into(),
        });
        self.judge();
        self
    }

    fn judge(&mut self) {
        for i in 0..self.against_baseline.len() {
            let a = &self.against_baseline[i];
            self.against_baseline[i].finding =
                is_finding(a.val_difference, &a.images, self.seed_noise.as_ref());
        }
        let best = self.runs[self.best].val_accuracy;
        self.within_noise_of_best = self
            .against_best
            .iter()
            .filter(|(i, test)| {
                !is_finding(
                    self.runs[*i].val_accuracy - best,
                    test,
                    self.seed_noise.as_ref(),
                )
            })
            .map(|(i, _)| *i)
            .collect();
    }

    pub fn baseline(&self) -> &RunSummary {
        &self.runs[0]
    }

    /// The run with the highest validation accuracy: the one to pick. Its test accuracy is a
    /// reported fact, not a criterion.
    pub fn best_by_validation(&self) -> &RunSummary {
        &self.runs[self.best]
    }

    /// The run with the least training time.
    pub fn cheapest_to_train(&self) -> &RunSummary {
        &self.runs[self.cheapest]
    }

    /// The numbers the verdicts rest on, one row per run, and no verdict: what a reader
    /// judges from (a notebook shows it above a question that asks for the verdict). Each
    /// run's cost, its validation accuracy (kept weights), its difference from the baseline
    /// with the images' test (McNemar's, or the noise of independent samples) and, when a
    /// seed spread is given, the seeds' noise of a difference; then its last and lowest
    /// validation loss, for over-fitting.
    pub fn table(&self) -> Table {
        let none = || "—".to_owned();
        let mut header: Vec<String> = [
            "model",
            "parameters",
            "epochs",
            "training",
            "val accuracy (epoch)",
            "minus baseline",
            "cost against baseline",
            "images: McNemar's test",
        ]
        .map(str::to_owned)
        .to_vec();
        if self.seed_noise.is_some() {
            header.push("seeds: noise of a difference".to_owned());
        }
        header.push("training minus validation accuracy (images' noise)".to_owned());
        header.push("val loss: last (lowest, epoch)".to_owned());
        let mut align = vec![Align::Left];
        align.extend(vec![Align::Right; header.len() - 1]);
        let rows = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let epochs = if r.epochs < r.planned_epochs {
                    format!("{} of {}", r.epochs, r.planned_epochs)
                } else {
                    r.epochs.to_string()
                };
                let mut row = vec![
                    r.name.clone(),
                    thousands(r.parameters),
                    epochs,
                    seconds(r.train_seconds),
                    format!("{} ({})", pct(r.val_accuracy), r.kept_epoch),
                ];
                match self.against_baseline.iter().find(|a| a.run == i) {
                    Some(a) => {
                        row.push(format!("{:+.2} points", 100.0 * a.val_difference));
                        row.push(format!(
                            "{:.1}x parameters, {:.1}x time",
                            a.parameters_ratio, a.time_ratio
                        ));
                        row.push(a.images.numbers());
                    }
                    None => row.extend([none(), none(), none()]),
                }
                if let Some(noise) = &self.seed_noise {
                    row.push(if i == 0 {
                        none()
                    } else {
                        format!("±{:.2} points", 100.0 * noise.of_difference())
                    });
                }
                row.push(format!(
                    "{:+.2} points (±{:.2})",
                    100.0 * r.gap.gap,
                    100.0 * r.gap.noise()
                ));
                let loss = &r.gap.loss_trend;
                row.push(format!(
                    "{:.4} ({:.4}, {})",
                    loss.final_val_loss, loss.lowest_val_loss, loss.lowest_epoch
                ));
                row
            })
            .collect();
        let seeds = match &self.seed_noise {
            Some(noise) => format!(
                "; seeds: 2 sqrt(2) x the {:.2}-point spread of {}",
                100.0 * noise.std,
                noise.source
            ),
            None => "; one seed each, the seeds' noise not measured here".to_owned(),
        };
        Table {
            caption: format!(
                "Against the first run, {}: validation accuracy of the weights kept{seeds}",
                self.baseline().name
            ),
            header,
            align,
            rows,
        }
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
            let kept = if r.epochs < r.planned_epochs {
                format!(
                    "{} of {} epochs (stopped early; kept epoch {})",
                    r.epochs, r.planned_epochs, r.kept_epoch
                )
            } else {
                format!("{} epochs", r.epochs)
            };
            writeln!(
                f,
                "- {}: {kept}, {} parameters, {} of training; validation accuracy {} at epoch \
                 {} (highest of any epoch {}); first within {:.1} points of it at epoch {}; {}.",
                r.name,
                thousands(r.parameters),
                seconds(r.train_seconds),
                pct(r.val_accuracy),
                r.kept_epoch,
                pct(r.best_val_accuracy),
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
                "- {} against {}: {:+.2} points of validation accuracy ({}) for {} the \
                 parameters ({} vs {}) and {} the training time ({} vs {}).",
                r.name,
                baseline.name,
                100.0 * a.val_difference,
                verdict(a.val_difference, &a.images, self.seed_noise.as_ref()),
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
            "\nHighest validation accuracy: {} ({} at epoch {}); its test accuracy, reported \
             only (the test set chooses nothing), is {}.",
            best.name,
            pct(best.val_accuracy),
            best.kept_epoch,
            pct(best.test_accuracy)
        )?;
        if !self.within_noise_of_best.is_empty() {
            let close: Vec<String> = self
                .against_best
                .iter()
                .filter(|(i, _)| self.within_noise_of_best.contains(i))
                .map(|(i, test)| {
                    let difference = self.runs[*i].val_accuracy - best.val_accuracy;
                    format!("{} ({:+.2} points)", self.runs[*i].name, 100.0 * difference)
                        + &format!(": {}", verdict(difference, test, self.seed_noise.as_ref()))
                })
                .collect();
            write!(f, " Not shown to differ from it: {}.", close.join("; "))?;
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
            "\nValidation accuracies are those of the weights each run kept (its last epoch, or \
             the epoch early stopping restored), not the highest of any epoch, which picks the \
             luckiest of many noisy measurements. Runs validated on the same images are \
             compared image by image (McNemar's test: only the images they disagree on tell \
             them apart); a difference is a finding only when it is beyond that noise and \
             beyond the spread between seeds.\n"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ValidationSplit;
    use crate::testutil::{first_right, run_record, with_validation, RunLike};

    /// Three runs on the same 12,000 validation images, their predictions consistent with
    /// their last epoch's accuracy.
    fn three_runs() -> Vec<RunRecord> {
        let run = |name, parameters, epochs: &[(f64, f64)], test, seconds| {
            let right = (epochs.last().unwrap().1 * 12_000.0).round() as usize;
            with_validation(
                run_record(name, parameters, epochs, test, seconds),
                &first_right(12_000, right),
            )
        };
        vec![
            run(
                "LSTM 32",
                8138,
                &[(0.95, 0.96), (0.975, 0.9805), (0.985, 0.984)],
                0.982,
                63.0,
            ),
            run(
                "LSTM 2x32",
                16_458,
                &[(0.96, 0.97), (0.985, 0.988), (0.99, 0.991)],
                0.985,
                115.0,
            ),
            // The highest test accuracy, but not the highest validation accuracy.
            run(
                "LSTM 96",
                40_000,
                &[(0.97, 0.98), (0.99, 0.990)],
                0.995,
                90.0,
            ),
        ]
    }

    #[test]
    fn against_the_baseline_image_by_image_with_costs() {
        let runs = three_runs();
        let comparison = Comparison::new(&runs.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(comparison.baseline().name, "LSTM 32");
        let a = &comparison.against_baseline[0];
        assert_eq!(a.run, 1);
        assert!((a.val_difference - 0.007).abs() < 1e-12);
        // 11,808 and 11,892 of 12,000 right, nested: 84 disagreements, all for LSTM 2x32.
        let ImagesTest::McNemar(test) = &a.images else {
            panic!("{:?}", a.images)
        };
        assert_eq!((test.only_a, test.only_b), (84, 0));
        assert!(test.p_value < 1e-20);
        // One seed each and no seed spread given: never a finding.
        assert!(!a.finding);
        assert!((a.parameters_ratio - 16_458.0 / 8138.0).abs() < 1e-12);
        let text = comparison.to_string();
        assert!(
            text.contains(
                "- LSTM 2x32 against LSTM 32: +0.70 points of validation accuracy (beyond the \
                 validation images' noise: McNemar's test on the 84 images they disagree on, \
                 p < 0.001; one seed each, so the seeds' noise is not measured here: not a \
                 finding on its own) for 2.0x the parameters (16,458 vs 8,138) and 1.8x the \
                 training time (115 s vs 63 s)."
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "- LSTM 32: 3 epochs, 8,138 parameters, 63 s of training; validation accuracy \
                 98.40% at epoch 3 (highest of any epoch 98.40%); first within 0.5 \
                 points of it at epoch 2; at epoch 3, training accuracy 98.50%"
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
    fn a_seed_spread_turns_a_difference_into_a_finding_only_beyond_it() {
        let runs = three_runs();
        // 2 sqrt(2) x 0.2 points = 0.57 points: the +0.70 difference is beyond it.
        let comparison = Comparison::new(&runs)
            .unwrap()
            .with_seed_noise(0.002, "3 seeds of LSTM 32");
        assert!(comparison.against_baseline[0].finding);
        let text = comparison.to_string();
        assert!(
            text.contains(
                "p < 0.001; beyond the seeds' ±0.57-point noise (2 sqrt(2) x the 0.20-point \
                 spread of 3 seeds of LSTM 32): a finding)"
            ),
            "{text}"
        );
        // A spread of 0.3 points makes the same difference within the seeds' noise (0.85).
        let wider = Comparison::new(&runs)
            .unwrap()
            .with_seed_noise(0.003, "elsewhere");
        assert!(!wider.against_baseline[0].finding);
        assert!(
            wider
                .to_string()
                .contains("within the seeds' ±0.85-point noise"),
            "{wider}"
        );
    }

    #[test]
    fn the_best_run_is_chosen_by_validation_not_by_test_accuracy() {
        let runs = three_runs();
        let comparison = Comparison::new(&runs.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(comparison.best, 1);
        assert_eq!(comparison.best_by_validation().name, "LSTM 2x32");
        // LSTM 96 is 0.10 points below: 12 disagreements, p = 2^-11: beyond the images'
        // noise, but one seed each, so not measurably worse.
        assert_eq!(comparison.within_noise_of_best, vec![0, 2]);
        let text = comparison.to_string();
        assert!(
            text.contains(
                "Highest validation accuracy: LSTM 2x32 (99.10% at epoch 3); its test \
                 accuracy, reported only (the test set chooses nothing), is 98.50%. Not \
                 shown to differ from it: LSTM 32 (-0.70 points)"
            ),
            "{text}"
        );
        let seeded = Comparison::new(&runs).unwrap().with_seed_noise(0.0001, "x");
        assert_eq!(seeded.within_noise_of_best, Vec::<usize>::new());
    }

    /// The loss column of a run, from its own history: last validation loss (lowest, epoch).
    fn comparison_loss(run: &RunRecord) -> String {
        let epochs = &run.history.epochs;
        let (lowest, at) =
            epochs
                .iter()
                .enumerate()
                .fold((f64::INFINITY, 0), |(low, at), (i, e)| {
                    if e.val_loss < low {
                        (e.val_loss, i + 1)
                    } else {
                        (low, at)
                    }
                });
        let last = epochs.last().map_or(0.0, |e| e.val_loss);
        format!("{last:.4} ({lowest:.4}, {at})")
    }

    #[test]
    fn the_table_gives_the_numbers_and_no_verdict() {
        let runs = three_runs();
        let table = Comparison::new(&runs).unwrap().table();
        assert_eq!(table.header.len(), 10);
        assert_eq!(
            table.rows[0][..7],
            ["LSTM 32", "8,138", "3", "63 s", "98.40% (3)", "—", "—"]
        );
        assert_eq!(table.rows[1][5], "+0.70 points");
        assert_eq!(table.rows[1][6], "2.0x parameters, 1.8x time");
        assert_eq!(table.rows[1][7], "84 disagree, p < 0.001");
        // 98.50% training against 98.40% validation; 2 standard errors of 98.40% on 12,000.
        let noise = 200.0 * (0.984f64 * 0.016 / 12_000.0).sqrt();
        assert_eq!(table.rows[0][8], format!("+0.10 points (±{noise:.2})"));
        let loss = &comparison_loss(&runs[0]);
        assert_eq!(table.rows[0][9], *loss);
        assert!(table.caption.contains("one seed each"), "{}", table.caption);
        let seeded = Comparison::new(&runs)
            .unwrap()
            .with_seed_noise(0.002, "3 seeds of LSTM 32")
            .table();
        assert_eq!(seeded.header[8], "seeds: noise of a difference");
        assert_eq!(seeded.rows[1][8], "±0.57 points");
        assert_eq!(seeded.rows[0][8], "—");
        assert!(seeded
            .caption
            .contains("the 0.20-point spread of 3 seeds of LSTM 32"));
        // Numbers only: no verdict a reader could copy.
        let text = seeded.to_text();
        for word in ["finding", "beyond", "within", "measurable", "over-fit"] {
            assert!(!text.contains(word), "{word} in {text}");
        }
        let mut other = runs[1].clone();
        other.spec.split = ValidationSplit::keras_tail(0.2);
        let apart = Comparison::new(&[&runs[0], &other]).unwrap().table();
        assert!(
            apart.rows[1][7].ends_with("noise (different images)"),
            "{:?}",
            apart.rows[1]
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
        let ImagesTest::Independent { noise, same_images } = comparison.against_baseline[0].images
        else {
            panic!()
        };
        assert!((noise - expected).abs() < 1e-12 && !same_images);
        assert!(comparison
            .to_string()
            .contains("noise of two different validation sets"));
        // Same images, but records without predictions: independent samples, said so.
        let mut old = runs.clone();
        old.iter_mut().for_each(|r| r.validation = None);
        let text = Comparison::new(&old).unwrap().to_string();
        assert!(
            text.contains(
                "noise of independent samples: the records keep no validation predictions"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_kept_epoch_is_compared_not_the_best_one() {
        let mut runs = three_runs();
        // Highest at epoch 2, lower at the end: compared by the end.
        runs[0].history.epochs[1].val_accuracy = 0.995;
        let comparison = Comparison::new(&runs).unwrap();
        assert_eq!(comparison.runs[0].val_accuracy, 0.984);
        assert_eq!(comparison.runs[0].best_val_accuracy, 0.995);
        assert_eq!(comparison.best, 1);
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
