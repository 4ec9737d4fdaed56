//! Conclusions computed from run records and confusion matrices, written as plain English
//! sentences (Markdown bullet lines): what a notebook's "what the numbers say" cell prints.
//! Every number behind a sentence is a pub field, so a notebook can use it too (for example
//! [`Comparison::best_by_validation`] to pick the model a figure shows).
//!
//! **Noise.** A difference between two validation accuracies has two sources of noise: the
//! images (another validation set would give other numbers) and the seed (another
//! initialisation and batch order would too). Runs validated on the same images are compared
//! image by image ([`McNemar`], [`PairedBootstrap`]); runs on different images by the standard
//! error of each accuracy, `SE = sqrt(p(1-p)/N)`. Settings trained with several seeds are
//! compared with Welch's t-test over the seeds as well ([`SeedComparison`]); single-seed runs
//! only with a seed spread measured elsewhere ([`Comparison::with_seed_noise`]). A difference
//! is a finding only when it is beyond both; otherwise "no measurable difference".
//!
//! Runs are compared by the validation accuracy of the weights they kept (the last epoch, or
//! the one early stopping restored), not the highest over epochs, which is biased upward.
//! Validation chooses; the test accuracy is reported, never used to choose.
mod comparison;
mod errors;
mod gaps;
mod noise;
mod overfitting;
mod paired;
mod remembering;
mod rows;
mod seeds;
mod setting_effect;
mod summary;
mod verdict;
mod wording;

pub use crate::metrics::Confusion;
pub use comparison::{AgainstBaseline, Comparison};
pub use errors::ErrorAnalysis;
pub use gaps::GapOverSeeds;
pub use noise::standard_error;
pub use overfitting::{
    GapVerdict, LossTrend, OverfittingCheck, OVERFITTING_EPOCHS, OVERFITTING_RISE,
};
pub use paired::{McNemar, PairedBootstrap, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, SIGNIFICANCE};
pub use remembering::{AgainstChance, RememberingExperiment, RememberingResult, RememberingRow};
pub use rows::{AnsweredClass, AnswersAfterRows, GradientReach, ReadingByRows};
pub use seeds::{AcrossSeeds, SeedComparison, SeedSpread};
pub use setting_effect::{EffectRow, SettingEffect};
pub use summary::{difference_noise, RunSummary, CONVERGED_WITHIN};
pub use verdict::{ImagesTest, SeedNoise};
