//! One setting switched on and off for several models: its effect told apart from the model's.
use std::fmt;

use super::summary::RunSummary;
use super::verdict::{is_finding, verdict, ImagesTest, SeedNoise};
use super::wording::print_as_html;
use crate::error::{Error, Result};
use crate::record::RunRecord;
use crate::table::pct;

/// One setting (e.g. recurrent dropout) switched on and off for several models: how much it
/// changes each model's validation accuracy (kept weights), and how the models compare with it and
/// without it, so that the effect of the setting and the effect of the model are told apart.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingEffect {
    /// e.g. `recurrent dropout 0.15`.
    pub setting: String,
    pub rows: Vec<EffectRow>,
    /// The seed-to-seed spread the verdicts take into account, when given.
    pub seed_noise: Option<SeedNoise>,
}

/// One model with the setting and without it.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectRow {
    /// The name of the run with the setting, e.g. `GRU 32`.
    pub model: String,
    /// Validation accuracy with the setting.
    pub with: f64,
    /// Validation accuracy without it.
    pub without: f64,
    /// The two runs against the validation images' noise.
    pub images: ImagesTest,
    pub validation_images: usize,
}

impl SettingEffect {
    /// `with` holds each model's run with the setting, `without` its run without it, in the
    /// same order (the two are paired by index): records, references to them or the
    /// session's runs. The first model is the one the others are compared with.
    pub fn new<W: AsRef<RunRecord>, O: AsRef<RunRecord>>(
        setting: &str,
        with: &[W],
        without: &[O],
    ) -> Result<Self> {
        const WHAT: &str = "setting effect";
        if with.len() != without.len() {
            return Err(Error::invalid(
                WHAT,
                format!(
                    "{} runs with {setting} but {} without it; give one run without the setting \
                     for each run with it, in the same order",
                    with.len(),
                    without.len()
                ),
            ));
        }
        if with.is_empty() {
            return Err(Error::invalid(
                WHAT,
                "no runs; give the runs with the setting and, in the same order, the runs \
                 without it",
            ));
        }
        let rows = with
            .iter()
            .zip(without)
            .map(|(with, without)| {
                let (with, without) = (with.as_ref(), without.as_ref());
                let (a, b) = (RunSummary::new(with)?, RunSummary::new(without)?);
                Ok(EffectRow {
                    model: with.spec.name.clone(),
                    with: a.val_accuracy,
                    without: b.val_accuracy,
                    images: ImagesTest::between(with, without, &a, &b),
                    validation_images: a.validation_images,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SettingEffect {
            setting: setting.to_owned(),
            rows,
            seed_noise: None,
        })
    }

    /// The same, its verdicts taking into account the spread over seeds measured elsewhere
    /// (`std` of one run's validation accuracy, a fraction; `source` says where).
    pub fn with_seed_noise(mut self, std: f64, source: impl Into<String>) -> Self {
        self.seed_noise = Some(SeedNoise {
            std,
            source: source.into(),
        });
        self
    }

    /// Whether the setting's effect on row `i`'s model is a finding.
    pub fn finding(&self, i: usize) -> bool {
        let r = &self.rows[i];
        is_finding(r.with - r.without, &r.images, self.seed_noise.as_ref())
    }

    pub fn evcxr_display(&self) {
        print_as_html(self);
    }
}

impl fmt::Display for SettingEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Validation accuracy with {} and without it:",
            self.setting
        )?;
        for r in &self.rows {
            let change = r.with - r.without;
            writeln!(
                f,
                "- {}: {} with, {} without, {:+.2} points with it ({}).",
                r.model,
                pct(r.with),
                pct(r.without),
                100.0 * change,
                verdict(change, &r.images, self.seed_noise.as_ref()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{first_right, run_record, with_validation, RunLike};

    #[test]
    fn setting_effect_separates_the_setting_from_the_model() {
        let run = |name, accuracy: f64, test| {
            let right = (accuracy * 12_000.0).round() as usize;
            with_validation(
                run_record(name, 2282, &[(accuracy, accuracy)], test, 10.0),
                &first_right(12_000, right),
            )
        };
        let rnn_with = run("SimpleRNN 32", 0.73, 0.72);
        let rnn_without = run("SimpleRNN 32, no dropout", 0.92, 0.92);
        let gru_with = run("GRU 32", 0.96, 0.965);
        let gru_without = run("GRU 32, no dropout", 0.9605, 0.97);
        let effect = SettingEffect::new(
            "recurrent dropout 0.15",
            &[&rnn_with, &gru_with],
            &[&rnn_without, &gru_without],
        )
        .unwrap();
        let text = effect.to_string();
        assert!(
            text.contains("- SimpleRNN 32: 73.00% with, 92.00% without, -19.00 points with it (beyond the validation images' noise: McNemar's test on the 2,280 images they disagree on, p < 0.001; one seed each"),
            "{text}"
        );
        // 6 images apart, all one way: p = 2 / 2^6 = 0.031, beyond the images' noise; a seed
        // spread of 0.1 points (noise 0.28) makes it no measurable difference.
        assert!(
            text.contains("- GRU 32: 96.00% with, 96.05% without, -0.05 points with it (beyond the validation images' noise: McNemar's test on the 6 images they disagree on, p = 0.031;"),
            "{text}"
        );
        let seeded = effect.clone().with_seed_noise(0.001, "3 seeds");
        assert!(seeded.finding(0) && !seeded.finding(1));
        assert!(seeded.to_string().contains("within the seeds' ±0.28-point noise (2 sqrt(2) x the 0.10-point spread of 3 seeds): no measurable difference"), "{seeded}");
        assert!(text.contains("GRU 32 against SimpleRNN 32: +23.00 points with recurrent dropout 0.15, +4.05 points without it."), "{text}");
        let none: [&RunRecord; 0] = [];
        assert!(SettingEffect::new("x", &none, &none).is_err());
        let unpaired = SettingEffect::new("x", &[&rnn_with, &gru_with], &[&rnn_without])
            .unwrap_err()
            .to_string();
        assert!(
            unpaired.contains("2 runs with x but 1 without it"),
            "{unpaired}"
        );
        let runs = |records: [&RunRecord; 2]| records.map(|r| RunLike::from(r.clone()));
        assert_eq!(
            SettingEffect::new(
                "recurrent dropout 0.15",
                &runs([&rnn_with, &gru_with]),
                &runs([&rnn_without, &gru_without])
            )
            .unwrap(),
            effect
        );
    }
}
