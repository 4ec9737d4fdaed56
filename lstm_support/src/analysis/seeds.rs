//! One setting trained with several seeds: the spread a difference between settings must beat.
use std::fmt;

use crate::error::{Error, Result};
use crate::record::RunRecord;
use crate::table::{pct, Align, Table};

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
    /// first run's spec (as [`crate::session::Session::run_seeds`] returns them); the runs are
    /// records, references to them or the session's runs.
    pub fn new<R: AsRef<RunRecord>>(groups: &[Vec<R>]) -> Result<Self> {
        let rows = groups
            .iter()
            .map(|runs| {
                let name = runs.first().map_or("", |r| r.as_ref().spec.name.as_str());
                let seeds: Vec<u64> = runs.iter().map(|r| r.as_ref().spec.options.seed).collect();
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
                    .map(|r| r.as_ref().best_val_accuracy())
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
    pub fn table(&self) -> Table {
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
        let same_seed = [record(42, 0.96), record(42, 0.97)];
        assert!(AcrossSeeds::new(&[same_seed.to_vec()]).is_err());
        assert!(AcrossSeeds::new(&[runs[..1].to_vec()]).is_err());
        assert!(AcrossSeeds::new::<RunRecord>(&[vec![]]).is_err());
        let held: Vec<RunLike> = runs.iter().cloned().map(RunLike::from).collect();
        assert_eq!(AcrossSeeds::new(&[held]).unwrap(), spread);
        let borrowed: Vec<&RunRecord> = runs.iter().collect();
        assert_eq!(AcrossSeeds::new(&[borrowed]).unwrap(), spread);
    }
}
