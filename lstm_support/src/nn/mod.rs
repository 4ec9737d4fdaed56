//! Layers with Keras semantics, one file per family.
pub mod init;
pub(crate) mod lstm_bptt;
pub(crate) mod native;
pub mod rnn;

pub use rnn::{
    dropout_mask, gru, lstm, simple_rnn, CellKind, Recurrent, RecurrentConfig, RecurrentWeights,
    StepTrace,
};
