//! The tapes of one training forward pass, and running them after `loss.backward()`.
//!
//! A taped layer ([`TrainingPath::LstmTape`](super::TrainingPath::LstmTape) or
//! [`TrainingPath::Native`](super::TrainingPath::Native)) runs its forward pass without an
//! autograd graph; its output enters autograd as a leaf. After `loss.backward()` has filled the
//! leaf's gradient, [`Backprop::run`] takes the tapes in reverse order, computes each layer's
//! gradients and hands them to autograd (parameters and, when it needs one, the layer input,
//! which may be the previous tape's leaf), so the rest of the model and the optimiser see
//! ordinary `.grad()` values.
use super::lstm_bptt::LstmTape;
use super::native::NativeTape;
use crate::error::Result;

/// One layer's record of a training forward pass.
#[derive(Debug)]
pub(crate) enum Taped {
    /// The LSTM's libtorch tape ([`super::lstm_bptt`]).
    Lstm(LstmTape),
    /// A native kernel's tape ([`super::native`]).
    Native(Box<NativeTape>),
}

/// The tapes of one training forward pass, to be run after `loss.backward()`.
#[derive(Debug, Default)]
pub(crate) struct Backprop {
    tapes: Vec<Taped>,
}

impl Backprop {
    pub(crate) fn push(&mut self, tape: Taped) {
        self.tapes.push(tape);
    }

    /// Backpropagates through the taped layers, last layer first (each one's input gradient
    /// reaches the layer before through autograd).
    pub(crate) fn run(self) -> Result<()> {
        for tape in self.tapes.into_iter().rev() {
            match tape {
                Taped::Lstm(tape) => tape.backward()?,
                Taped::Native(tape) => tape.backward()?,
            }
        }
        Ok(())
    }
}
