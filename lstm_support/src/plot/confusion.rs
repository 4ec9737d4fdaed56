//! The confusion matrix as heat maps: the counts, and the errors alone (each row as
//! percentages of its true class, the diagonal masked) so that a few confusions among
//! thousands of correct answers still show.
use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{blues, drawing_error, reds, text_style, Draw, DrawResult, Figure};
use crate::error::{Error, Result};
use crate::metrics::ConfusionMatrix;

/// One cell of a matrix view.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Cell {
    /// The value the colour shows; `None` for a masked cell (drawn grey, off the scale).
    pub(super) value: Option<f64>,
    /// What the cell says.
    pub(super) text: String,
}

/// A square matrix of cells with a colour scale from 0 to `scale_max`.
pub(super) struct MatrixView {
    pub(super) title: String,
    /// Under the title: what the cells are, when the title does not say.
    pub(super) note: Option<String>,
    pub(super) classes: Vec<String>,
    /// `cells[true][predicted]`.
    pub(super) cells: Vec<Vec<Cell>>,
    pub(super) scale_max: f64,
    pub(super) scale_decimals: usize,
    pub(super) colors: fn(f64) -> RGBColor,
    /// Zeros in light grey, so the cells that are not zero stand out.
    pub(super) dim_zeros: bool,
}

const MASKED: RGBColor = RGBColor(225, 225, 225);
const MASKED_TEXT: RGBColor = RGBColor(120, 120, 120);
const ZERO_TEXT: RGBColor = RGBColor(170, 170, 170);

impl Draw for MatrixView {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = area
            .titled(&self.title, text_style(20.0))
            .map_err(drawing_error)?;
        let area = match &self.note {
            Some(note) => area.titled(note, text_style(13.0)).map_err(drawing_error)?,
            None => area,
        };
        let width = area.dim_in_pixel().0;
        let (main, scale_area) = area.split_horizontally(width - 110);
        let n = self.classes.len() as i32;
        let max = self.scale_max.max(1e-9);
        let classes = self.classes.clone();
        let classes_y = classes.clone();
        let mut chart = ChartBuilder::on(&main)
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(90)
            .build_cartesian_2d(0..n, 0..n)
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("predicted label")
            .y_desc("true label")
            .x_labels(n as usize + 1)
            .y_labels(n as usize + 1)
            .x_label_offset((main.dim_in_pixel().0 as i32 - 100) / (2 * n))
            .y_label_offset(-(main.dim_in_pixel().1 as i32 - 55) / (2 * n))
            .x_label_formatter(&|x| classes.get(*x as usize).cloned().unwrap_or_default())
            .y_label_formatter(&|y| {
                classes_y
                    .get((n - 1 - *y) as usize)
                    .cloned()
                    .unwrap_or_default()
            })
            .label_style(text_style(13.0))
            .axis_desc_style(text_style(14.0))
            .draw()
            .map_err(drawing_error)?;
        // Row `t` (true label) is drawn from the top, as a printed matrix reads.
        let positions = (0..n).flat_map(|t| (0..n).map(move |p| (t, p)));
        let cell = |t: i32, p: i32| &self.cells[t as usize][p as usize];
        chart
            .draw_series(positions.clone().map(|(t, p)| {
                let color = match cell(t, p).value {
                    Some(v) => (self.colors)(v / max),
                    None => MASKED,
                };
                let y = n - 1 - t;
                Rectangle::new([(p, y), (p + 1, y + 1)], color.filled())
            }))
            .map_err(drawing_error)?;
        let cell_font = if n <= 12 { 13.0 } else { 9.0 };
        // Values are centred in their cells: anchored at the cell's lower-left corner and
        // shifted by half a cell in pixels.
        let (plot_w, plot_h) = chart.plotting_area().dim_in_pixel();
        let half_cell = (plot_w as i32 / (2 * n), -(plot_h as i32) / (2 * n));
        let centred = plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        );
        chart
            .draw_series(positions.map(|(t, p)| {
                let Cell { value, text } = cell(t, p);
                let color: &'static RGBColor = match *value {
                    None => &MASKED_TEXT,
                    Some(v) if v > max * 0.5 => &WHITE,
                    Some(v) if v == 0.0 && self.dim_zeros => &ZERO_TEXT,
                    Some(_) => &BLACK,
                };
                let style = text_style(cell_font).color(color).pos(centred);
                EmptyElement::at((p, n - 1 - t)) + Text::new(text.clone(), half_cell, style)
            }))
            .map_err(drawing_error)?;
        self.colour_scale(&scale_area, max)
    }
}

impl MatrixView {
    fn colour_scale<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        max: f64,
    ) -> DrawResult {
        let decimals = self.scale_decimals;
        let mut scale = ChartBuilder::on(area)
            .margin_top(10)
            .margin_bottom(55)
            .margin_right(20)
            .y_label_area_size(0)
            .right_y_label_area_size(60)
            .build_cartesian_2d(0..1, 0.0..max)
            .map_err(drawing_error)?;
        scale
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(6)
            .label_style(text_style(12.0))
            .y_label_formatter(&|v| format!("{v:.decimals$}"))
            .draw()
            .map_err(drawing_error)?;
        let steps = 100;
        scale
            .draw_series((0..steps).map(|i| {
                let lo = max * i as f64 / steps as f64;
                let hi = max * (i + 1) as f64 / steps as f64;
                Rectangle::new([(0, lo), (1, hi)], (self.colors)(lo / max).filled())
            }))
            .map_err(drawing_error)?;
        Ok(())
    }
}

fn check(matrix: &ConfusionMatrix) -> Result<()> {
    let n = matrix.classes.len();
    if n == 0 {
        return Err(Error::invalid("confusion matrix", "it has no classes"));
    }
    if matrix.counts.len() != n || matrix.counts.iter().any(|row| row.len() != n) {
        return Err(Error::invalid(
            "confusion matrix",
            format!("its counts are not {n} x {n}, one row and column per class"),
        ));
    }
    Ok(())
}

/// The count view: every cell coloured by its count, from 0 to the largest.
pub(super) fn counts_view(matrix: &ConfusionMatrix, title: &str) -> MatrixView {
    let max = matrix.counts.iter().flatten().copied().max().unwrap_or(1);
    MatrixView {
        title: title.to_owned(),
        note: None,
        classes: matrix.classes.clone(),
        cells: matrix
            .counts
            .iter()
            .map(|row| {
                row.iter()
                    .map(|&c| Cell {
                        value: Some(c as f64),
                        text: c.to_string(),
                    })
                    .collect()
            })
            .collect(),
        scale_max: max.max(1) as f64,
        scale_decimals: 0,
        colors: blues,
        dim_zeros: false,
    }
}

/// Each row as percentages of its true class (a row with no items is all 0).
pub(super) fn row_percentages(matrix: &ConfusionMatrix) -> Vec<Vec<f64>> {
    matrix
        .counts
        .iter()
        .map(|row| {
            let total: u64 = row.iter().sum();
            row.iter()
                .map(|&c| {
                    if total == 0 {
                        0.0
                    } else {
                        100.0 * c as f64 / total as f64
                    }
                })
                .collect()
        })
        .collect()
}

/// The error view: row percentages, the diagonal (correct answers) masked, the colour scale
/// from 0 to the largest off-diagonal percentage.
pub(super) fn errors_view(matrix: &ConfusionMatrix, title: &str) -> MatrixView {
    let percentages = row_percentages(matrix);
    let largest_error = percentages
        .iter()
        .enumerate()
        .flat_map(|(t, row)| row.iter().enumerate().filter(move |(p, _)| *p != t))
        .map(|(_, &v)| v)
        .fold(0.0, f64::max);
    MatrixView {
        title: title.to_owned(),
        note: Some(
            "% of each true class given each predicted label; the diagonal (correct, grey) \
             is off the colour scale"
                .to_owned(),
        ),
        classes: matrix.classes.clone(),
        cells: percentages
            .iter()
            .enumerate()
            .map(|(t, row)| {
                row.iter()
                    .enumerate()
                    .map(|(p, &v)| Cell {
                        value: (p != t).then_some(v),
                        text: if v == 0.0 {
                            "0".to_owned()
                        } else {
                            format!("{v:.1}")
                        },
                    })
                    .collect()
            })
            .collect(),
        scale_max: if largest_error > 0.0 {
            largest_error
        } else {
            1.0
        },
        scale_decimals: 1,
        colors: reds,
        dim_zeros: true,
    }
}

/// Heatmap of the confusion matrix: true label down, predicted label across, the count in
/// each cell, and a colour scale.
pub fn confusion_heatmap(matrix: &ConfusionMatrix, title: &str) -> Result<Figure> {
    check(matrix)?;
    Figure::new(720, 640, counts_view(matrix, title))
}

/// Where the model goes wrong: each row of the confusion matrix as percentages of its true
/// class, the diagonal (correct answers) masked grey, the colour scale spanning only the
/// off-diagonal percentages, every cell labelled. A confusion of 0.5% is as visible here as
/// the largest one, where in [`confusion_heatmap`] the diagonal's counts wash it out.
pub fn confusion_errors_heatmap(matrix: &ConfusionMatrix, title: &str) -> Result<Figure> {
    check(matrix)?;
    Figure::new(720, 660, errors_view(matrix, title))
}
