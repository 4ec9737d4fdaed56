//! The confusion matrix as a heat map.
use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{blues, drawing_error, text_style, Draw, DrawResult, Figure};
use crate::error::{Error, Result};
use crate::metrics::ConfusionMatrix;

struct ConfusionHeatmap {
    title: String,
    matrix: ConfusionMatrix,
}

impl Draw for ConfusionHeatmap {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = area
            .titled(&self.title, text_style(20.0))
            .map_err(drawing_error)?;
        let width = area.dim_in_pixel().0;
        let (main, scale_area) = area.split_horizontally(width - 110);
        let n = self.matrix.classes.len() as i32;
        let max = self
            .matrix
            .counts
            .iter()
            .flatten()
            .copied()
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let classes = self.matrix.classes.clone();
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
        let cells = (0..n).flat_map(|t| (0..n).map(move |p| (t, p)));
        let counts = &self.matrix.counts;
        chart
            .draw_series(cells.clone().map(|(t, p)| {
                let value = counts[t as usize][p as usize] as f64;
                let y = n - 1 - t;
                Rectangle::new([(p, y), (p + 1, y + 1)], blues(value / max).filled())
            }))
            .map_err(drawing_error)?;
        let cell_font = if n <= 12 { 13.0 } else { 9.0 };
        // Counts are centred in their cells: anchored at the cell's lower-left corner and
        // shifted by half a cell in pixels.
        let (plot_w, plot_h) = chart.plotting_area().dim_in_pixel();
        let half_cell = (plot_w as i32 / (2 * n), -(plot_h as i32) / (2 * n));
        let centred = plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        );
        chart
            .draw_series(cells.map(|(t, p)| {
                let value = counts[t as usize][p as usize];
                let color: &'static RGBColor = if value as f64 > max * 0.5 {
                    &WHITE
                } else {
                    &BLACK
                };
                let style = text_style(cell_font).color(color).pos(centred);
                EmptyElement::at((p, n - 1 - t)) + Text::new(value.to_string(), half_cell, style)
            }))
            .map_err(drawing_error)?;
        // Colour scale.
        let mut scale = ChartBuilder::on(&scale_area)
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
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(drawing_error)?;
        let steps = 100;
        scale
            .draw_series((0..steps).map(|i| {
                let lo = max * i as f64 / steps as f64;
                let hi = max * (i + 1) as f64 / steps as f64;
                Rectangle::new([(0, lo), (1, hi)], blues(lo / max).filled())
            }))
            .map_err(drawing_error)?;
        Ok(())
    }
}

/// Heatmap of the confusion matrix: true label down, predicted label across, the count in
/// each cell, and a colour scale.
pub fn confusion_heatmap(matrix: &ConfusionMatrix, title: &str) -> Result<Figure> {
    if matrix.classes.is_empty() {
        return Err(Error::invalid("confusion matrix", "it has no classes"));
    }
    Figure::new(
        720,
        640,
        ConfusionHeatmap {
            title: title.to_owned(),
            matrix: matrix.clone(),
        },
    )
}
