//! `lstm_support`: recurrent networks on MNIST with tch (libtorch), for notebooks run by the
//! evcxr Jupyter kernel and for headless runs.
//!
//! - [`data`]: the verified MNIST loader and the train/validation split; the test split is a
//!   separate [`data::TestSet`] that training code cannot take.
//! - [`device`]: choosing CPU or CUDA once.
pub mod data;
pub mod device;
pub mod error;
mod rng;

pub use error::{DataError, Error, Result};
