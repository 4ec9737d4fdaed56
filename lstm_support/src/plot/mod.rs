//! Figures drawn with `plotters`: training curves, run comparisons, the confusion matrix,
//! digit galleries, the "reading row by row" view, what happens inside a recurrent layer and
//! the remembering task's accuracy against the sequence length; and diagrams of the cells and
//! of a recurrent layer unrolled over the rows.
//! Each is a [`Figure`]: the last expression of a notebook cell shows it inline (PNG), and it
//! can be saved as PNG or SVG.
mod confusion;
mod curves;
mod diagrams;
mod digit;
mod figure;
mod galleries;
mod inside;
mod legend;
mod line_chart;
mod prediction;
mod remembering;
mod rows;

pub use confusion::{confusion_errors_heatmap, confusion_heatmap};
pub use curves::{compare_records, compare_runs, history_curves};
pub use diagrams::{gru_cell, lstm_cell, unrolled};
pub use figure::{Figure, PALETTE};
pub use galleries::{digit_gallery, gallery, misclassified_gallery, GalleryItem};
pub use inside::{gate_traces, gradient_norms};
pub use prediction::{least_confident, prediction};
pub use remembering::remembering;
pub use rows::{accuracy_by_rows, reading_row_by_row};

#[cfg(test)]
mod tests;
