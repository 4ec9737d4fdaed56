//! One setting switched on and off for several models: its effect told apart from the model's.
use std::fmt;

use super::noise::within_noise;
use super::summary::{difference_noise, RunSummary};
use super::wording::print_as_html;
use crate::error::{Error, Result};
use crate::record::RunRecord;
use crate::table::{pct, thousands};

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
        print_as_html(self);
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
            let verdict = if within_noise(change, r.noise) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{run_record, RunLike};

    #[test]
    fn setting_effect_separates_the_setting_from_the_model() {
        let rnn_with = run_record("SimpleRNN 32", 2282, &[(0.70, 0.73)], 0.72, 10.0);
        let rnn_without = run_record("SimpleRNN 32, no dropout", 2282, &[(0.93, 0.92)], 0.92, 9.0);
        let gru_with = run_record("GRU 32", 6282, &[(0.96, 0.96)], 0.965, 40.0);
        let gru_without = run_record("GRU 32, no dropout", 6282, &[(0.975, 0.9605)], 0.97, 30.0);
        let effect = SettingEffect::new(
            "recurrent dropout 0.15",
            &[&rnn_with, &gru_with],
            &[&rnn_without, &gru_without],
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
