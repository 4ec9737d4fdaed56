//! `lstm_support`: recurrent networks on MNIST with tch (libtorch), for notebooks run by the
//! evcxr Jupyter kernel and for headless runs.
//!
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
//! - [`record`]: run specs and records (a versioned key per spec), so finished runs are reused;
//!   the runs table.
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
