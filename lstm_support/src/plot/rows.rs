//! Reading row by row: what a model believes after each row of a digit, and its accuracy when
//! it stops reading after k rows.
use plotters::coord::Shift;
use plotters::prelude::*;

use super::digit::{draw_digit, pixels_of};
use super::figure::{blues, drawing_error, text_style, Draw, DrawResult, Figure};
use super::legend::{with_legend_below, LegendEntry, LineStyle, STYLE_GREY};
use super::line_chart::{line_chart, Axes, Guide, Series, XTicks};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::Model;

struct RowByRow {
    title: String,
    class_names: Vec<String>,
    /// Per digit: its pixels, true label, and `[rows][classes]` probabilities.
    digits: Vec<(Vec<f32>, i64, Vec<Vec<f32>>)>,
}

impl Draw for RowByRow {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = area
            .titled(&self.title, text_style(18.0))
            .map_err(drawing_error)?;
        let panels = area.split_evenly((self.digits.len(), 1));
        for (panel, (pixels, label, probs)) in panels.iter().zip(&self.digits) {
            let (w, h) = panel.dim_in_pixel();
            let (image_area, chart_area) = panel.split_horizontally(h.min(w / 4));
            let scale = ((h as i32 - 10) / 28).max(1);
            draw_digit(&image_area, pixels, (5, 5), scale)?;
            let rows = probs.len() as i32;
            let classes = self.class_names.len() as i32;
            let names = self.class_names.clone();
            let mut chart = ChartBuilder::on(&chart_area)
                .caption(
                    format!("true label {label}: P(class) after reading k rows"),
                    text_style(13.0),
                )
                .margin(4)
                .x_label_area_size(28)
                .y_label_area_size(40)
                .build_cartesian_2d(0..rows, 0..classes)
                .map_err(drawing_error)?;
            let plot_h = chart.plotting_area().dim_in_pixel().1 as i32;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("rows read")
                .x_labels(8)
                .x_label_formatter(&|x| (x + 1).to_string())
                .y_labels(classes as usize + 1)
                .y_label_offset(-plot_h / (2 * classes))
                .y_label_formatter(&|y| names.get(*y as usize).cloned().unwrap_or_default())
                .label_style(text_style(11.0))
                .axis_desc_style(text_style(12.0))
                .draw()
                .map_err(drawing_error)?;
            chart
                .draw_series((0..rows).flat_map(|k| {
                    (0..classes).map(move |c| {
                        let p = probs[k as usize][c as usize] as f64;
                        Rectangle::new([(k, c), (k + 1, c + 1)], blues(p).filled())
                    })
                }))
                .map_err(drawing_error)?;
        }
        Ok(())
    }
}

/// For the items of `data` at `indices`, what `model` believes after reading 1, 2, ..., 28
/// rows: the probability of every class (dark = likely) beside the digit. The model was trained
/// to answer after the last row only, so its early answers are not what it was taught to give.
pub fn reading_row_by_row(
    model: &Model,
    data: &Dataset,
    indices: &[usize],
    title: &str,
) -> Result<Figure> {
    if indices.is_empty() {
        return Err(Error::invalid(
            "reading row by row",
            "give at least one index of a digit to show",
        ));
    }
    let probabilities = model.probabilities_by_rows(data, indices)?;
    let class_names: Vec<String> = (0..model.config().num_classes)
        .map(|c| c.to_string())
        .collect();
    let digits = indices
        .iter()
        .zip(probabilities)
        .map(|(&i, p)| Ok((pixels_of(data, i)?, data.label(i)?, p)))
        .collect::<Result<Vec<_>>>()?;
    Figure::new(
        900,
        (digits.len() * 170 + 30) as u32,
        RowByRow {
            title: title.to_owned(),
            class_names,
            digits,
        },
    )
}

/// Chance accuracy: a guess among 10 digits is right one time in ten.
const CHANCE: f64 = 0.1;

pub(super) struct AccuracyByRows {
    pub(super) title: String,
    pub(super) series: Vec<Series>,
}

impl AccuracyByRows {
    fn chance() -> Guide {
        Guide {
            y: CHANCE,
            color: STYLE_GREY,
            line: LineStyle::Dashed,
        }
    }

    /// One entry per model, then the chance line's.
    pub(super) fn legend(&self) -> Vec<LegendEntry> {
        let mut entries: Vec<LegendEntry> = self.series.iter().map(Series::legend_entry).collect();
        entries.push(LegendEntry::style("chance (10%)", LineStyle::Dashed));
        entries
    }
}

impl Draw for AccuracyByRows {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = with_legend_below(area, &self.legend())?;
        line_chart(
            &area,
            &Axes {
                caption: &self.title,
                x_desc: "rows read k (the answer after row k)",
                y_desc: "validation accuracy",
                x_ticks: XTicks::Whole,
                y_bounds: (Some(0.0), Some(1.0)),
                guides: &[Self::chance()],
            },
            &self.series,
        )
    }
}

/// Validation accuracy when the model stops reading after k rows (k = 1 to 28), one line per
/// model, with chance (10%) dashed and the legend below: (name, points) pairs, the points as
/// `Model::accuracy_by_rows` returns them (a `Vec` or a slice).
pub fn accuracy_by_rows<S: AsRef<str>, P: AsRef<[(usize, f64)]>>(
    models: &[(S, P)],
    title: &str,
) -> Result<Figure> {
    if models.is_empty() || models.iter().any(|(_, points)| points.as_ref().is_empty()) {
        return Err(Error::invalid(
            "accuracy by rows",
            "give at least one model with points",
        ));
    }
    let series = models
        .iter()
        .enumerate()
        .map(|(i, (name, points))| {
            Series::nth(
                i,
                name.as_ref(),
                LineStyle::Solid,
                points
                    .as_ref()
                    .iter()
                    .map(|&(k, a)| (k as f64, a))
                    .collect(),
            )
        })
        .collect();
    Figure::new(
        800,
        460,
        AccuracyByRows {
            title: title.to_owned(),
            series,
        },
    )
}
