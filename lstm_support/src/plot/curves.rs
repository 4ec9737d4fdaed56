//! Curves against epochs: one run's history, and several runs compared.
use std::borrow::Borrow;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{drawing_error, text_style, Draw, DrawResult, Figure, PALETTE};
use super::line_chart::{line_chart, Series};
use crate::error::{Error, Result};
use crate::record::RunRecord;
use crate::training::{EpochMetrics, History};

struct HistoryCurves {
    title: String,
    history: History,
}

impl Draw for HistoryCurves {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = area
            .titled(&self.title, text_style(20.0))
            .map_err(drawing_error)?;
        let (left, right) = area.split_horizontally(area.dim_in_pixel().0 / 2);
        let epochs = &self.history.epochs;
        let series = |label: &str, color, dashed, f: fn(&EpochMetrics) -> f64| Series {
            label: label.to_owned(),
            color,
            dashed,
            points: epochs.iter().map(|e| (e.epoch as f64, f(e))).collect(),
        };
        line_chart(
            &left,
            "Accuracy",
            "epoch",
            "accuracy",
            &[
                series("training", PALETTE[0], true, |e| e.train_accuracy),
                series("validation", PALETTE[1], false, |e| e.val_accuracy),
            ],
            (None, Some(1.0)),
            SeriesLabelPosition::LowerRight,
        )?;
        line_chart(
            &right,
            "Loss (categorical cross-entropy)",
            "epoch",
            "loss",
            &[
                series("training", PALETTE[0], true, |e| e.train_loss),
                series("validation", PALETTE[1], false, |e| e.val_loss),
            ],
            (Some(0.0), None),
            SeriesLabelPosition::UpperRight,
        )
    }
}

/// Training and validation accuracy (left) and loss (right) against epoch, titled `title`
/// (e.g. the model's description).
pub fn history_curves(history: &History, title: &str) -> Result<Figure> {
    if history.is_empty() {
        return Err(Error::invalid("history", "it has no epochs to plot"));
    }
    Figure::new(
        1000,
        400,
        HistoryCurves {
            title: title.to_owned(),
            history: history.clone(),
        },
    )
}

struct RunComparison {
    title: String,
    runs: Vec<(String, History)>,
}

impl Draw for RunComparison {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = area
            .titled(&self.title, text_style(20.0))
            .map_err(drawing_error)?;
        let (left, right) = area.split_horizontally(area.dim_in_pixel().0 / 2);
        let by_epoch: Vec<Series> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, (name, h))| {
                let points = h.epochs.iter().map(|e| (e.epoch as f64, e.val_accuracy));
                Series::nth(i, name, points.collect())
            })
            .collect();
        let by_time: Vec<Series> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, (name, h))| {
                let mut elapsed = 0.0;
                let points = h.epochs.iter().map(|e| {
                    elapsed += e.seconds;
                    (elapsed, e.val_accuracy)
                });
                Series::nth(i, name, points.collect())
            })
            .collect();
        line_chart(
            &left,
            "Validation accuracy by epoch",
            "epoch",
            "validation accuracy",
            &by_epoch,
            (None, Some(1.0)),
            SeriesLabelPosition::LowerRight,
        )?;
        line_chart(
            &right,
            "Validation accuracy by training time",
            "seconds of training",
            "validation accuracy",
            &by_time,
            (None, Some(1.0)),
            SeriesLabelPosition::LowerRight,
        )
    }
}

/// Validation accuracy of several runs against epoch (left) and wall-clock seconds (right),
/// one colour and legend entry per run. Each run is a (name, history) pair: `&str` or
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
        430,
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
