//! A recurrent layer's settings: which cell ([`CellKind`]), how many units, its dropouts and
//! how the recurrent dropout masks are drawn ([`RecurrentMask`]), all in one
//! [`RecurrentConfig`] that model configs and run records serialise.
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which recurrent cell a [`Recurrent`](super::Recurrent) layer runs: the one place the cell
/// kinds are spelled (configs, summaries and the command line's `--model` values all come from
/// it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum CellKind {
    Lstm,
    Gru,
    #[cfg_attr(feature = "cli", value(alias = "rnn"))]
    SimpleRnn,
}

impl CellKind {
    pub const ALL: [CellKind; 3] = [CellKind::Lstm, CellKind::Gru, CellKind::SimpleRnn];

    /// Number of gate blocks in the stacked weight matrices.
    pub fn gates(self) -> i64 {
        match self {
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
            CellKind::SimpleRnn => 1,
        }
    }

    /// The gates, in the order libtorch stacks their weights.
    pub fn gate_names(self) -> &'static [&'static str] {
        match self {
            CellKind::Lstm => &["input gate", "forget gate", "cell input", "output gate"],
            CellKind::Gru => &["reset gate", "update gate", "candidate"],
            CellKind::SimpleRnn => &[],
        }
    }

    /// The Keras class name, for summaries.
    pub fn keras_name(self) -> &'static str {
        match self {
            CellKind::Lstm => "LSTM",
            CellKind::Gru => "GRU",
            CellKind::SimpleRnn => "SimpleRNN",
        }
    }
}

/// How the recurrent dropout masks of one sequence are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum RecurrentMask {
    /// One mask per sequence, shared by the gates: Keras 3.0 to 3.7. (tf.keras 2.x switches to
    /// `implementation=1`, one mask per gate, whenever `recurrent_dropout` is set.)
    #[default]
    Shared,
    /// One mask per sequence and gate (4 for the LSTM, 3 for the GRU, 1 for the simple RNN):
    /// tf.keras 2.x (`implementation=1`, which it forces with recurrent dropout) and Keras 3.8
    /// and later, what `keras.layers.LSTM(recurrent_dropout=...)` does today.
    PerGate,
}

impl RecurrentMask {
    pub fn is_shared(&self) -> bool {
        *self == RecurrentMask::Shared
    }
}

/// Hyperparameters of one recurrent layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RecurrentConfig {
    pub cell: CellKind,
    pub units: usize,
    /// Fraction of the inputs x(t) dropped during training, one mask per sequence.
    #[serde(default)]
    pub dropout: f64,
    /// Fraction of h(t-1) dropped before the recurrent matmul during training, one mask per
    /// sequence.
    #[serde(default)]
    pub recurrent_dropout: f64,
    /// Output every step's h (`[B, T, H]`, to feed another recurrent layer) or only the last
    /// (`[B, H]`).
    #[serde(default)]
    pub return_sequences: bool,
    /// How the recurrent dropout masks are drawn. Left out of the JSON when shared, so run
    /// keys from before the choice existed still hold.
    #[serde(default, skip_serializing_if = "RecurrentMask::is_shared")]
    pub recurrent_mask: RecurrentMask,
}

impl Default for RecurrentConfig {
    fn default() -> Self {
        RecurrentConfig {
            cell: CellKind::Lstm,
            units: 32,
            dropout: 0.0,
            recurrent_dropout: 0.0,
            return_sequences: false,
            recurrent_mask: RecurrentMask::Shared,
        }
    }
}

impl RecurrentConfig {
    /// `cell` with `units` units and a recurrent dropout, nothing else set.
    pub fn new(cell: CellKind, units: usize, recurrent_dropout: f64) -> Self {
        RecurrentConfig {
            cell,
            units,
            recurrent_dropout,
            ..Default::default()
        }
    }

    /// Keras-style name with the settings that matter, e.g. `LSTM(32, recurrent_dropout=0.15)`.
    pub fn describe(&self) -> String {
        let mut s = format!("{}({}", self.cell.keras_name(), self.units);
        if self.dropout > 0.0 {
            s.push_str(&format!(", dropout={}", self.dropout));
        }
        if self.recurrent_dropout > 0.0 {
            s.push_str(&format!(", recurrent_dropout={}", self.recurrent_dropout));
        }
        if self.return_sequences {
            s.push_str(", return_sequences=True");
        }
        if self.recurrent_dropout > 0.0 && self.recurrent_mask == RecurrentMask::PerGate {
            s.push_str(", masks per gate");
        }
        s + ")"
    }

    pub fn validate(&self, layer: &str) -> Result<()> {
        if self.units == 0 {
            return Err(Error::invalid(
                format!("{layer}: units"),
                "0; a recurrent layer needs at least 1 unit",
            ));
        }
        for (name, p) in [
            ("dropout", self.dropout),
            ("recurrent_dropout", self.recurrent_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(Error::invalid(
                    format!("{layer}: {name}"),
                    format!("{p}; it must be in [0, 1)"),
                ));
            }
        }
        Ok(())
    }
}
