//! `lstm_support`: recurrent networks on MNIST with tch (libtorch), for notebooks run by the
//! evcxr Jupyter kernel and for headless runs.
//!
//! - [`prelude`]: `use lstm_support::prelude::*;`, what a notebook's cells name.
//! - [`session`]: what a notebook starts with: `Session::from_env()?` chooses the device once,
//!   knows the runs directory and the quick and retrain modes; `session.run(&spec)?` trains a
//!   run or loads it.
//! - [`data`]: the verified MNIST loader and the train/validation split; the test split is a
//!   separate [`data::TestSet`] that only [`model::Model::evaluate`] takes.
//! - [`nn`]: layers with Keras semantics (LSTM with recurrent dropout, GRU, simple RNN).
//! - [`model`]: the [`model::Model`] you hold (config, weights, device): summary, prediction,
//!   reading row by row, one training step, save and load (PyTorch reads the file too).
//! - [`training`]: the [`training::Trainer`], which only trains: `fit`, history, early
//!   stopping, the learning-rate schedule, checkpoints and resume.
//! - [`record`]: run specs and records (a versioned key per spec); the [`record::RunStore`] of a
//!   runs directory, which finds finished runs or trains and records them; the runs table.
//! - [`metrics`]: confusion matrix and classification report.
//! - [`analysis`]: conclusions in sentences (errors, over-fitting, runs compared), with noise.
//! - [`plot`]: figures (curves, comparisons, confusion matrix, galleries) shown inline.
//! - [`table`]: tables as HTML for notebooks, aligned text and Markdown, and number formats.
//! - [`device`]: choosing CPU or CUDA once.
//! - [`interop`]: the model file loaded in PyTorch, checked against our probabilities.
//! - [`exercise`]: the handouts' unfinished-exercise stub and check cells, as errors.
// A panic inside an evcxr cell restarts the kernel and loses every variable: errors are values.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)
)]
pub mod analysis;
pub mod data;
pub mod device;
pub mod error;
pub mod exercise;
mod fsutil;
pub mod interop;
pub mod metrics;
pub mod model;
pub mod nn;
pub mod optim;
mod pause;
pub mod plot;
pub mod record;
mod rng;
pub mod session;
pub mod table;
#[cfg(test)]
mod testutil;
pub mod training;

pub use error::{DataError, Error, Result};
/// What a notebook's cells name, in one import: the session and its runs, specs and records,
/// models and their layers, the split and early stopping, the metrics, the analyses, the
/// `plot`, `exercise` and `interop` modules with `check`, and `Result`, `Error` and
/// `thousands`.
///
/// ```no_run
/// use lstm_support::prelude::*;
///
/// let session = Session::from_env()?;
/// let mnist = session.mnist()?;
/// let lstm32 = ModelConfig::lstm(32, 0.15);
/// let parameters = Model::new(&lstm32, 42, session.device())?.parameter_count();
/// check(parameters == 4_554, "four gates, then the head")?;
/// let main_spec = RunSpec::new("LSTM 32 (30 epochs)", lstm32.clone())
///     .epochs(30)
///     .cosine_decay(2e-3);
/// let main_run: Run = session.run(&main_spec)?;
/// let early_spec = RunSpec::new("LSTM 32, early stopping", lstm32)
///     .epochs(30)
///     .learning_rate(5e-3)
///     .early_stopping(EarlyStopping::default());
/// let early_run = session.run(&early_spec)?;
/// let (train, validation) = session.split(&main_spec)?;
/// println!("{} training images", thousands(train.len() as u64));
///
/// let test = &main_run.record.test;
/// let matrix = ConfusionMatrix::new(&test.labels, &test.predictions, &mnist.classes)?;
/// let _report = ClassificationReport::new(&matrix).table();
/// let _errors = ErrorAnalysis::new(main_run.name(), &matrix);
/// let _compared = Comparison::new(&[&main_run.record, &early_run.record])?;
/// let points = main_run.model.accuracy_by_rows(&validation)?;
/// let _by_rows = ReadingByRows::new(main_run.name(), &points)?;
/// let records: Vec<RunRecord> = vec![main_run.record.clone(), early_run.record.clone()];
/// let _runs = runs_table(&records);
/// let _predictions = predictions_table(test, 10);
/// let _curves = plot::history_curves(main_run.history(), "LSTM 32")?;
/// let remembering = session.remembering(&RememberingExperiment::default())?;
/// let _remembering = plot::remembering(&remembering, "Remembering the first step")?;
///
/// let gru = ModelConfig::recurrent(CellKind::Gru, 32, 0.15);
/// let cnn = ModelConfig {
///     input: InputLayout::mnist_image(),
///     layers: vec![Layer::Conv2d { filters: 32, kernel_size: 3 }, Layer::Flatten],
///     num_classes: 10,
/// };
/// let cnn_spec = RunSpec::new("CNN", cnn).epochs(5).split(ValidationSplit {
///     validation_fraction: 0.1,
///     ..Default::default()
/// });
/// let _more = session.run_seeds(&RunSpec::new("GRU 32", gru), &[1, 2])?;
/// let _cnn_run = session.run(&cnn_spec)?;
/// exercise::unfinished("a handout's task")?;
///
/// // Named too, for the analyses across seeds and settings and the PyTorch check:
/// type Also = (AcrossSeeds, GradientReach, SettingEffect, interop::PyTorchCheck, Error);
/// type Remembering = (RememberingTask, RememberingResult);
/// # Ok::<(), lstm_support::Error>(())
/// ```
pub mod prelude {
    pub use crate::analysis::{
        AcrossSeeds, AnswersAfterRows, Comparison, ErrorAnalysis, GapOverSeeds, GradientReach,
        McNemar, OverfittingCheck, PairedBootstrap, ReadingByRows, RememberingExperiment,
        RememberingResult, SeedComparison, SettingEffect,
    };
    pub use crate::data::{RememberingTask, ValidationSplit};
    pub use crate::error::{Error, Result};
    pub use crate::exercise::{self, check};
    pub use crate::interop;
    pub use crate::metrics::{ClassificationReport, ConfusionMatrix};
    pub use crate::model::{InputLayout, Layer, Model, ModelConfig};
    pub use crate::nn::CellKind;
    pub use crate::plot;
    pub use crate::record::{
        gradient_sizes_table, predictions_table, runs_table, RunRecord, RunSpec,
    };
    pub use crate::session::{Run, Session};
    pub use crate::table::thousands;
    pub use crate::training::EarlyStopping;
}

/// Re-exported so that notebooks, which depend on `lstm_support` only, can name tch types
/// (`lstm_support::tch::Device`).
pub use tch;

/// libtorch's random generator is global: tests that seed it and expect a given sequence hold
/// this lock so that tests running in parallel threads do not draw from it in between.
#[cfg(test)]
pub(crate) fn torch_rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
