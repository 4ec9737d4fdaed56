//! The remembering experiment: each cell trained on [`RememberingTask`]s of growing length T,
//! its final validation accuracy and how far its gradient reaches back to step 1. The control
//! MNIST cannot give: there the last rows of a digit tell most of its class, so a cell that
//! forgets the first rows loses little; here everything is in step 1.
//!
//! The one analysis that trains models of its own (small ones, for about a minute on a CPU);
//! [`crate::session::Session::remembering`] keeps its result, so a notebook shows it again
//! without training.
//!
//! ```no_run
//! use lstm_support::analysis::RememberingExperiment;
//! let result = RememberingExperiment::default().run(tch::Device::Cpu)?;
//! println!("{}\n{result}", result.table());
//! # Ok::<(), lstm_support::Error>(())
//! ```
use std::fmt;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::Device;

use super::noise::{noise_points, standard_error, two_standard_errors_of_difference, within_noise};
use super::rows::GradientReach;
use super::wording::{print_as_html, seconds};
use crate::data::RememberingTask;
use crate::error::{Error, Result};
use crate::model::{Model, ModelConfig};
use crate::nn::CellKind;
use crate::optim::AdamConfig;
use crate::table::{pct, thousands, Align, Table};
use crate::training::{History, Progress, TrainOptions, Trainer};

/// What the result of [`RememberingExperiment::run`] depends on besides its fields; raise it
/// when the task's generator or the measurements change, so that kept results are not reused.
const VERSION: u32 = 1;

/// The experiment: every cell of `cells` (one recurrent layer of `units`, no dropout, the
/// softmax head) trained from `seed` on `task` with `task.steps` replaced by each of `steps`,
/// for `epochs` epochs of Adam at `learning_rate`, batches of `batch_size`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RememberingExperiment {
    /// The sequences (its `steps` is replaced by each of [`RememberingExperiment::steps`]).
    pub task: RememberingTask,
    /// The sequence lengths T, one training per cell and T.
    pub steps: Vec<usize>,
    pub cells: Vec<CellKind>,
    pub units: usize,
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// The models' initial weights and the shuffles.
    pub seed: u64,
    /// Validation sequences the gradient's reach is averaged over.
    pub gradient_items: usize,
    /// Whether the gated cells' gates start with the chrono initialisation (Tallec and Ollivier
    /// 2018) for the experiment's longest T instead of Keras' biases: see
    /// [`RememberingExperiment::with_chrono_init`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub chrono_init: bool,
}

impl Default for RememberingExperiment {
    /// SimpleRNN, GRU and LSTM of 32 units at T = 10, 30, 100 and 300, on the default task
    /// (2,000 training and 1,000 validation sequences of 16 features, 10 classes), 10 epochs of
    /// Adam 0.005 in batches of 64, the gated cells from the chrono initialisation; the
    /// gradient's reach on 200 validation sequences. About a minute on a 2-core CPU.
    ///
    /// Why the chrono initialisation: from Keras' biases, neither gated cell learns T = 100 or
    /// 300 in this budget (nor in a much larger one): at initialisation the gradient reaching
    /// step 1 from step 100 is 1e-10 of the one at step 100 for the LSTM, and underflows to
    /// 0 for the GRU, so training never finds out that step 1 matters.
    /// `with_chrono_init(false)` shows it.
    fn default() -> Self {
        RememberingExperiment {
            task: RememberingTask::default(),
            steps: vec![10, 30, 100, 300],
            cells: vec![CellKind::SimpleRnn, CellKind::Gru, CellKind::Lstm],
            units: 32,
            epochs: 10,
            batch_size: 64,
            learning_rate: 0.005,
            seed: 42,
            gradient_items: 200,
            chrono_init: true,
        }
    }
}

impl RememberingExperiment {
    /// The smoke-test budget of `QUICK=1`: 500 training and 200 validation sequences, 2 epochs,
    /// T = 10 and 30 only. Its numbers show that the code runs, not what the cells can do.
    pub fn quick(mut self) -> Self {
        self.task = self.task.clone().with_sizes(500, 200);
        self.steps = vec![10, 30];
        self.epochs = self.epochs.min(2);
        self.gradient_items = self.gradient_items.min(200);
        self
    }

    pub fn with_task(mut self, task: RememberingTask) -> Self {
        self.task = task;
        self
    }

    pub fn with_steps(mut self, steps: &[usize]) -> Self {
        self.steps = steps.to_vec();
        self
    }

    pub fn with_cells(mut self, cells: &[CellKind]) -> Self {
        self.cells = cells.to_vec();
        self
    }

    pub fn with_units(mut self, units: usize) -> Self {
        self.units = units;
        self
    }

    /// `epochs` epochs in batches of `batch_size` at Adam's `learning_rate`.
    pub fn with_budget(mut self, epochs: usize, batch_size: usize, learning_rate: f64) -> Self {
        self.epochs = epochs;
        self.batch_size = batch_size;
        self.learning_rate = learning_rate;
        self
    }

    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// With `chrono`, the gated cells start with gates that keep their state for a time drawn
    /// per unit between 1 and the longest T (the chrono initialisation, Tallec and Ollivier
    /// 2018): the LSTM's forget-gate bias log(u) and input-gate bias -log(u), the GRU's
    /// update-gate bias log(u), u uniform in [1, T - 1]. Keras' biases (forget gate 1, the
    /// others 0) keep the state about 0.73 and 0.5 of the way each step, so that nothing of
    /// step 1 reaches step 100. The simple RNN has no gate to start this way.
    pub fn with_chrono_init(mut self, chrono: bool) -> Self {
        self.chrono_init = chrono;
        self
    }

    pub fn with_gradient_items(mut self, items: usize) -> Self {
        self.gradient_items = items;
        self
    }

    /// Checks every value before anything trains: the task at every T, at least one T and
    /// one cell, each once, and a model that can be built.
    pub fn validate(&self) -> Result<()> {
        let nonempty = [
            ("steps", self.steps.is_empty(), "give at least one T"),
            ("cells", self.cells.is_empty(), "give at least one cell"),
        ];
        for (what, empty, reason) in nonempty {
            if empty {
                return Err(Error::invalid(
                    format!("remembering experiment: {what}"),
                    format!("none; {reason}"),
                ));
            }
        }
        let mut distinct_steps = self.steps.clone();
        distinct_steps.sort_unstable();
        distinct_steps.dedup();
        let distinct_cells =
            (0..self.cells.len()).all(|i| !self.cells[..i].contains(&self.cells[i]));
        if distinct_steps.len() != self.steps.len() || !distinct_cells {
            return Err(Error::invalid(
                "remembering experiment",
                format!(
                    "steps {:?} and cells {:?}: give each T and each cell once",
                    self.steps, self.cells
                ),
            ));
        }
        for &steps in &self.steps {
            self.task.clone().with_steps(steps).validate()?;
        }
        for (what, value) in [
            ("epochs", self.epochs),
            ("batch_size", self.batch_size),
            ("gradient_items", self.gradient_items),
        ] {
            if value == 0 {
                return Err(Error::invalid(
                    format!("remembering experiment: {what}"),
                    "0; it must be at least 1",
                ));
            }
        }
        self.adam().validate()?;
        self.model_config(self.cells[0], self.steps[0]).validate()?;
        Ok(())
    }

    /// The model of `cell` for sequences of `steps` steps.
    pub fn model_config(&self, cell: CellKind, steps: usize) -> ModelConfig {
        ModelConfig::recurrent(cell, self.units, 0.0)
            .with_input(steps, self.task.features)
            .with_classes(self.task.classes)
    }

    /// Sets the gate biases of `model`'s recurrent layer (of `cell`) to the chrono
    /// initialisation ([`RememberingExperiment::with_chrono_init`]).
    fn chrono(&self, model: &Model, cell: CellKind) -> Result<()> {
        let gates: &[(i64, f64)] = match cell {
            // PyTorch's order: input, forget, cell, output gates.
            CellKind::Lstm => &[(1, 1.0), (0, -1.0)],
            // Reset, update, new: the update gate z keeps h (h = (1 - z) n + z h).
            CellKind::Gru => &[(1, 1.0)],
            CellKind::SimpleRnn => return Ok(()),
        };
        let longest = self.steps.iter().copied().max().unwrap_or(2).max(3) as f64;
        let mut rng = crate::rng::SplitMix64::new(self.seed ^ 0x00c4_7020);
        let units = self.units;
        let log_u: Vec<f32> = (0..units)
            .map(|_| {
                let uniform = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                (1.0 + uniform * (longest - 2.0)).ln() as f32
            })
            .collect();
        let log_u = tch::Tensor::from_slice(&log_u).to_device(model.device());
        let variables = model.variables();
        let bias = variables.get("layer0.bias_ih").ok_or_else(|| {
            Error::internal(
                "the chrono initialisation",
                "the model has no layer0.bias_ih",
            )
        })?;
        let h = units as i64;
        tch::no_grad(|| {
            for &(gate, sign) in gates {
                bias.narrow(0, gate * h, h).f_copy_(&(&log_u * sign))?;
            }
            Ok::<(), tch::TchError>(())
        })?;
        Ok(())
    }

    fn adam(&self) -> AdamConfig {
        AdamConfig {
            learning_rate: self.learning_rate,
            ..AdamConfig::default()
        }
    }

    /// What the result depends on, as 16 hex digits: every field and the version of the
    /// experiment's code. A kept result is found by it.
    pub fn key(&self) -> Result<String> {
        let json = serde_json::to_string(self).map_err(|e| {
            Error::invalid(
                "remembering experiment",
                format!("cannot be written as JSON ({e})"),
            )
        })?;
        let description = format!("lstm_support remembering v{VERSION} {json}");
        Ok(crate::data::source::sha256_hex(description.as_bytes())[..16].to_owned())
    }

    /// Trains every cell at every T on `device` (silently) and measures each: the final
    /// validation accuracy, and the gradient's reach at initialisation and after training.
    pub fn run(&self, device: Device) -> Result<RememberingResult> {
        self.validate()?;
        let _threads = OneThread::new(device);
        let started = Instant::now();
        let mut rows = Vec::with_capacity(self.steps.len() * self.cells.len());
        for &steps in &self.steps {
            let (train, validation) = self.task.clone().with_steps(steps).generate()?;
            for &cell in &self.cells {
                let cell_started = Instant::now();
                let config = self.model_config(cell, steps);
                let model = Model::new(&config, self.seed, device)?;
                if self.chrono_init {
                    self.chrono(&model, cell)?;
                }
                let initial = model.hidden_gradient_norms(&validation, self.gradient_items)?;
                let options = TrainOptions {
                    seed: self.seed,
                    adam: self.adam(),
                    progress: Progress::Silent,
                    ..TrainOptions::default()
                };
                let mut trainer = Trainer::new(model, options)?;
                let history = trainer.fit(&train, &validation, self.epochs, self.batch_size)?;
                let model = trainer.into_model();
                let trained = model.hidden_gradient_norms(&validation, self.gradient_items)?;
                let accuracy = history.last().map_or(0.0, |e| e.val_accuracy);
                rows.push(RememberingRow {
                    cell,
                    steps,
                    accuracy,
                    reach: GradientReach::new(&config.short_name(), &trained, &initial)?,
                    history,
                    seconds: cell_started.elapsed().as_secs_f64(),
                });
            }
        }
        Ok(RememberingResult {
            experiment: self.clone(),
            validation_items: self.task.validation,
            rows,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// libtorch on one thread while the experiment runs on the CPU, restored when dropped: its
/// products are small (a batch of 64 by 32 units), and its OpenMP workers spin after each one
/// on the cores the others need. On the 2-core machine this was tuned on (other jobs running),
/// the same experiment took 16 s on one thread and 385 s on two, with the same numbers.
struct OneThread(Option<i32>);

impl OneThread {
    fn new(device: Device) -> Self {
        let previous = tch::get_num_threads();
        if device == Device::Cpu && previous > 1 {
            tch::set_num_threads(1);
            OneThread(Some(previous))
        } else {
            OneThread(None)
        }
    }
}

impl Drop for OneThread {
    fn drop(&mut self) {
        if let Some(previous) = self.0 {
            tch::set_num_threads(previous);
        }
    }
}

/// One cell at one T.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RememberingRow {
    pub cell: CellKind,
    /// T.
    pub steps: usize,
    /// Validation accuracy after the last epoch.
    pub accuracy: f64,
    /// Mean |dL/dh(1)| / mean |dL/dh(T)| after training and at initialisation.
    pub reach: GradientReach,
    pub history: History,
    /// Wall-clock seconds: training, validation and both gradient measurements.
    pub seconds: f64,
}

/// What [`RememberingExperiment::run`] measured, one row per cell and T.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RememberingResult {
    pub experiment: RememberingExperiment,
    /// Sequences each accuracy was measured on.
    pub validation_items: usize,
    /// By T, then by cell, in the experiment's orders.
    pub rows: Vec<RememberingRow>,
    /// Wall-clock seconds of the whole experiment when it ran.
    pub seconds: f64,
}

/// Where an accuracy stands against chance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgainstChance {
    Above,
    /// Within 2 standard errors of chance: no measurable difference.
    AtChance,
    Below,
}

impl RememberingResult {
    /// The row of `cell` at T = `steps`, if measured.
    pub fn row(&self, cell: CellKind, steps: usize) -> Option<&RememberingRow> {
        self.rows
            .iter()
            .find(|r| r.cell == cell && r.steps == steps)
    }

    /// The accuracy of `cell` at T = `steps`, if measured.
    pub fn accuracy(&self, cell: CellKind, steps: usize) -> Option<f64> {
        self.row(cell, steps).map(|r| r.accuracy)
    }

    /// `1 / classes`: the accuracy of guessing (the classes are balanced).
    pub fn chance(&self) -> f64 {
        1.0 / self.experiment.task.classes as f64
    }

    /// The standard error of an accuracy of this experiment, `sqrt(p(1-p)/n)`.
    pub fn standard_error(&self, accuracy: f64) -> f64 {
        standard_error(accuracy, self.validation_items)
    }

    /// `accuracy` against chance, judged against 2 of its standard errors.
    pub fn against_chance(&self, accuracy: f64) -> AgainstChance {
        let difference = accuracy - self.chance();
        if within_noise(difference, 2.0 * self.standard_error(accuracy)) {
            AgainstChance::AtChance
        } else if difference > 0.0 {
            AgainstChance::Above
        } else {
            AgainstChance::Below
        }
    }

    /// 2 standard errors of the difference between two accuracies, as if measured on
    /// independent samples: conservative for two cells validated on the same sequences
    /// (which a paired test would compare more tightly), and ample for the differences of
    /// tens of points this experiment is about.
    pub fn difference_noise(&self, a: f64, b: f64) -> f64 {
        two_standard_errors_of_difference(self.standard_error(a), self.standard_error(b))
    }

    /// The name of a cell's model in tables, e.g. `GRU 32`.
    pub fn name(&self, cell: CellKind) -> String {
        format!("{} {}", cell.keras_name(), self.experiment.units)
    }

    /// One row per T: each cell's validation accuracy, then each cell's gradient reach after
    /// training and at initialisation.
    pub fn table(&self) -> Table {
        let cells = &self.experiment.cells;
        let mut header = vec!["T".to_owned()];
        header.extend(cells.iter().map(|&c| format!("{} accuracy", self.name(c))));
        header.extend(
            cells
                .iter()
                .map(|&c| format!("{} reach, trained", self.name(c))),
        );
        header.extend(
            cells
                .iter()
                .map(|&c| format!("{} reach, initial", self.name(c))),
        );
        let rows = self
            .experiment
            .steps
            .iter()
            .map(|&steps| {
                let mut row = vec![steps.to_string()];
                let of = |f: &dyn Fn(&RememberingRow) -> String| {
                    cells
                        .iter()
                        .map(|&c| self.row(c, steps).map_or("-".to_owned(), f))
                        .collect::<Vec<_>>()
                };
                row.extend(of(&|r| pct(r.accuracy)));
                row.extend(of(&|r| format!("{:.1e}", r.reach.trained)));
                row.extend(of(&|r| format!("{:.1e}", r.reach.initial)));
                row
            })
            .collect();
        Table {
            caption: format!(
                "The remembering task: validation accuracy on {} sequences (chance {}) and the \
                 gradient's reach, mean |dL/dh(1)| / mean |dL/dh(T)|",
                thousands(self.validation_items as u64),
                pct(self.chance())
            ),
            header,
            align: vec![Align::Right; 1 + 3 * cells.len()],
            rows,
        }
    }

    pub fn evcxr_display(&self) {
        print_as_html(self);
    }
}

impl fmt::Display for RememberingResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let experiment = &self.experiment;
        let largest_error = self
            .rows
            .iter()
            .map(|r| self.standard_error(r.accuracy))
            .fold(0.0, f64::max);
        writeln!(
            f,
            "- Chance is {} ({} balanced classes). Each accuracy was measured once, on {} \
             validation sequences: its standard error sqrt(p(1-p)/n) is at most {:.2} points, \
             and a difference within 2 standard errors is no measurable difference. Each cell \
             and T was trained with one seed, so the spread between seeds is not measured \
             here: read only differences far beyond these errors (tens of points) as findings.",
            pct(self.chance()),
            experiment.task.classes,
            thousands(self.validation_items as u64),
            100.0 * largest_error
        )?;
        for &cell in &experiment.cells {
            let measured: Vec<&RememberingRow> =
                self.rows.iter().filter(|r| r.cell == cell).collect();
            let points: Vec<String> = measured
                .iter()
                .map(|r| {
                    let verdict = match self.against_chance(r.accuracy) {
                        AgainstChance::Above => "",
                        AgainstChance::AtChance => " (no measurable difference from chance)",
                        AgainstChance::Below => " (below chance)",
                    };
                    format!("{} at T = {}{verdict}", pct(r.accuracy), r.steps)
                })
                .collect();
            writeln!(f, "- {}: {}.", self.name(cell), points.join(", "))?;
        }
        if let Some((&baseline, others)) = experiment.cells.split_first() {
            for &steps in &experiment.steps {
                let Some(base) = self.accuracy(baseline, steps) else {
                    continue;
                };
                let against: Vec<String> = others
                    .iter()
                    .filter_map(|&cell| {
                        let accuracy = self.accuracy(cell, steps)?;
                        let difference = accuracy - base;
                        let noise = self.difference_noise(accuracy, base);
                        let verdict = if within_noise(difference, noise) {
                            "no measurable difference".to_owned()
                        } else {
                            format!("{:+.2} points", 100.0 * difference)
                        };
                        Some(format!(
                            "{} {verdict} ({} noise)",
                            self.name(cell),
                            noise_points(noise)
                        ))
                    })
                    .collect();
                if !against.is_empty() {
                    writeln!(
                        f,
                        "- At T = {steps}, against {}: {}.",
                        self.name(baseline),
                        against.join(", ")
                    )?;
                }
            }
        }
        let reaches: Vec<String> = experiment
            .cells
            .iter()
            .map(|&cell| {
                let by_steps: Vec<String> = self
                    .rows
                    .iter()
                    .filter(|r| r.cell == cell)
                    .map(|r| {
                        format!(
                            "{:.1e} at T = {} ({:.1e} at initialisation)",
                            r.reach.trained, r.steps, r.reach.initial
                        )
                    })
                    .collect();
                format!("{} {}", self.name(cell), by_steps.join(", "))
            })
            .collect();
        writeln!(
            f,
            "- The gradient's reach after training, mean |dL/dh(1)| / mean |dL/dh(T)| on {} \
             validation sequences (1 means step 1 receives as much as step T): {}.",
            thousands(experiment.gradient_items.min(self.validation_items) as u64),
            reaches.join("; ")
        )?;
        let start = if experiment.chrono_init {
            format!(
                "the gated cells from the chrono initialisation of their gate biases (state \
                 kept for 1 to {} steps, drawn per unit), the simple RNN, which has no gate, \
                 from Keras' initialisation",
                experiment.steps.iter().max().copied().unwrap_or(0)
            )
        } else {
            "every cell from Keras' initialisation".to_owned()
        };
        writeln!(
            f,
            "- One model per cell and T, from one seed, trained on {} sequences (steps of {} \
             numbers) for {} epochs each ({} in all), {start}: the spread between seeds is not \
             measured here.",
            thousands(experiment.task.train as u64),
            experiment.task.features,
            experiment.epochs,
            seconds(self.seconds)
        )
    }
}

#[cfg(test)]
mod tests;
