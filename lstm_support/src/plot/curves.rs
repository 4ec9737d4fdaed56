//! Curves against epochs: one run's history, and several runs compared.
use std::borrow::Borrow;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{drawing_error, text_style, Draw, DrawResult, Figure, PALETTE};
use super::legend::{with_legend_below, LegendEntry, LineStyle};
use super::line_chart::{line_chart, Axes, Series, XTicks};
use crate::error::{Error, Result};
use crate::record::RunRecord;
use crate::training::{EpochMetrics, History};

struct HistoryCurves {
    title: String,
    history: History,
}

/// Training dashed, validation solid, in the two panels of [`history_curves`].
fn history_series(history: &History, metric: Metric) -> Vec<Series> {
    let series = |label: &str, color, line, f: fn(&EpochMetrics) -> f64| Series {
        label: label.to_owned(),
        color,
        line,
        points: history
            .epochs
            .iter()
            .map(|e| (e.epoch as f64, f(e)))
            .collect(),
    };
    match metric {
        Metric::Accuracy => vec![
            series(TRAINING, PALETTE[0], LineStyle::Dashed, |e| {
                e.train_accuracy
            }),
            series(VALIDATION, PALETTE[1], LineStyle::Solid, |e| e.val_accuracy),
        ],
        Metric::Loss => vec![
            series(TRAINING, PALETTE[0], LineStyle::Dashed, |e| e.train_loss),
            series(VALIDATION, PALETTE[1], LineStyle::Solid, |e| e.val_loss),
        ],
    }
}

const TRAINING: &str = "training (dashed)";
const VALIDATION: &str = "validation (solid)";

#[derive(Clone, Copy)]
enum Metric {
    Accuracy,
    Loss,
}

/// The legend of [`history_curves`]: its two curves, each sample in its style.
pub(super) fn history_legend(history: &History) -> Vec<LegendEntry> {
    history_series(history, Metric::Accuracy)
        .iter()
        .map(Series::legend_entry)
        .collect()
}

fn by_epoch<'a>(
    caption: &'a str,
    y_desc: &'a str,
    y_bounds: (Option<f64>, Option<f64>),
) -> Axes<'a> {
    Axes {
        caption,
        x_desc: "epoch",
        y_desc,
        x_ticks: XTicks::Whole,
        y_bounds,
        guides: &[],
    }
}

impl Draw for HistoryCurves {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = area
            .titled(&self.title, text_style(20.0))
            .map_err(drawing_error)?;
        let area = with_legend_below(&area, &history_legend(&self.history))?;
        let (left, right) = area.split_horizontally(area.dim_in_pixel().0 / 2);
        line_chart(
            &left,
            &by_epoch("Accuracy", "accuracy", (None, Some(1.0))),
            &history_series(&self.history, Metric::Accuracy),
        )?;
        line_chart(
            &right,
            &by_epoch(
                "Loss (categorical cross-entropy)",
                "loss",
                (Some(0.0), None),
            ),
            &history_series(&self.history, Metric::Loss),
        )
    }
}

/// Training (dashed) and validation (solid) accuracy (left) and loss (right) against epoch,
/// titled `title` (e.g. the model's description), with the legend below the panels.
pub fn history_curves(history: &History, title: &str) -> Result<Figure> {
    if history.is_empty() {
        return Err(Error::invalid("history", "it has no epochs to plot"));
    }
    Figure::new(
        1000,
        430,
        HistoryCurves {
            title: title.to_owned(),
            history: history.clone(),
        },
    )
}

pub(super) struct RunComparison {
    pub(super) title: String,
    pub(super) runs: Vec<(String, History)>,
}

impl RunComparison {
    /// Per run, training accuracy (dashed) and validation accuracy (solid) in the run's
    /// colour, against epoch or, with `by_time`, against seconds of training.
    pub(super) fn series(&self, by_time: bool) -> Vec<Series> {
        let mut series = Vec::new();
        for (i, (name, h)) in self.runs.iter().enumerate() {
            let mut elapsed = 0.0;
            let x: Vec<f64> = h
                .epochs
                .iter()
                .map(|e| {
                    elapsed += e.seconds;
                    if by_time {
                        elapsed
                    } else {
                        e.epoch as f64
                    }
                })
                .collect();
            let points = |f: fn(&EpochMetrics) -> f64| -> Vec<(f64, f64)> {
                x.iter().copied().zip(h.epochs.iter().map(f)).collect()
            };
            series.push(Series::nth(
                i,
                &format!("{name}, training"),
                LineStyle::Dashed,
                points(|e| e.train_accuracy),
            ));
            series.push(Series::nth(
                i,
                name,
                LineStyle::Solid,
                points(|e| e.val_accuracy),
            ));
        }
        series
    }

    /// One entry per run in its colour, then what the two styles mean.
    pub(super) fn legend(&self) -> Vec<LegendEntry> {
        let mut entries: Vec<LegendEntry> = self
            .series(false)
            .iter()
            .filter(|s| s.line == LineStyle::Solid)
            .map(Series::legend_entry)
            .collect();
        entries.push(LegendEntry::style(
            "training accuracy (dashed)",
            LineStyle::Dashed,
        ));
        entries.push(LegendEntry::style(
            "validation accuracy (solid)",
            LineStyle::Solid,
        ));
        entries
    }
}

impl Draw for RunComparison {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = area
            .titled(&self.title, text_style(20.0))
            .map_err(drawing_error)?;
        let area = with_legend_below(&area, &self.legend())?;
        let (left, right) = area.split_horizontally(area.dim_in_pixel().0 / 2);
        line_chart(
            &left,
            &by_epoch("Accuracy by epoch", "accuracy", (None, Some(1.0))),
            &self.series(false),
        )?;
        line_chart(
            &right,
            &Axes {
                caption: "Accuracy by training time",
                x_desc: "seconds of training",
                y_desc: "accuracy",
                x_ticks: XTicks::Continuous,
                y_bounds: (None, Some(1.0)),
                guides: &[],
            },
            &self.series(true),
        )
    }
}

/// Training (dashed) and validation (solid) accuracy of several runs against epoch (left) and
/// wall-clock seconds (right), one colour and legend entry per run, the legend below. Each run is a (name, history) pair: `&str` or
/// `String` names, histories or references to them (`&looks` of `[(&str, History); 4]`).
pub fn compare_runs<S: AsRef<str>, H: Borrow<History>>(
    runs: &[(S, H)],
    title: &str,
) -> Result<Figure> {
    if runs.is_empty() || runs.iter().any(|(_, h)| h.borrow().is_empty()) {
        return Err(Error::invalid(
            "runs",
            "give at least one run, each with at least one epoch",
        ));
    }
    Figure::new(
        1100,
        470,
        RunComparison {
            title: title.to_owned(),
            runs: runs
                .iter()
                .map(|(n, h)| (n.as_ref().to_owned(), h.borrow().clone()))
                .collect(),
        },
    )
}

/// [`compare_runs`] for records, references to them or the session's runs (anything that is
/// `AsRef<RunRecord>`, e.g. `&family`), each labelled with its name.
pub fn compare_records<R: AsRef<RunRecord>>(records: &[R], title: &str) -> Result<Figure> {
    let runs: Vec<(&str, &History)> = records
        .iter()
        .map(AsRef::as_ref)
        .map(|record| (record.spec.name.as_str(), &record.history))
        .collect();
    compare_runs(&runs, title)
}
