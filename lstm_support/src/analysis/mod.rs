//! Conclusions computed from run records and confusion matrices, written as plain English
//! sentences (Markdown bullet lines): what a notebook's "what the numbers say" cell prints.
//! Every number behind a sentence is a pub field, so a notebook can use it too (for example
//! [`Comparison::best_by_validation`] to pick the model a figure shows).
//!
//! **Noise.** An accuracy `p` measured on `N` images has a standard error
//! `SE = sqrt(p(1-p)/N)`. A difference not larger than 2 SE is reported as within noise, never
//! as an effect. Runs are chosen by validation accuracy only; the test accuracy is reported,
//! never used to choose.
mod comparison;
mod errors;
mod noise;
mod overfitting;
mod remembering;
mod rows;
mod seeds;
mod setting_effect;
mod summary;
mod wording;

pub use crate::metrics::Confusion;
pub use comparison::{AgainstBaseline, Comparison};
pub use errors::ErrorAnalysis;
pub use noise::standard_error;
pub use overfitting::{GapVerdict, OverfittingGap};
pub use remembering::{AgainstChance, RememberingExperiment, RememberingResult, RememberingRow};
pub use rows::{GradientReach, ReadingByRows};
pub use seeds::{AcrossSeeds, SeedSpread};
pub use setting_effect::{EffectRow, SettingEffect};
pub use summary::{difference_noise, RunSummary, CONVERGED_WITHIN};
