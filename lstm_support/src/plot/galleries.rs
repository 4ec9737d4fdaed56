//! Grids of digits with captions: the first images of a dataset, the test set's mistakes.
use plotters::coord::Shift;
use plotters::prelude::*;

use super::digit::{draw_digit, pixels_of};
use super::figure::{drawing_error, text_style, Draw, DrawResult, Figure};
use crate::data::{Dataset, TestSet};
use crate::error::{Error, Result};

/// One image of a gallery: 28x28 intensities in [0, 1] and its caption.
#[derive(Debug, Clone)]
pub struct GalleryItem {
    pub pixels: Vec<f32>,
    pub caption: String,
    /// Captions of highlighted items (e.g. mistakes) are drawn in red.
    pub highlight: bool,
}

struct Gallery {
    title: String,
    columns: usize,
    items: Vec<GalleryItem>,
}

impl Draw for Gallery {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = area
            .titled(&self.title, text_style(18.0))
            .map_err(drawing_error)?;
        let rows = self.items.len().div_ceil(self.columns);
        let cells = area.split_evenly((rows, self.columns));
        for (cell, item) in cells.iter().zip(&self.items) {
            let (w, h) = cell.dim_in_pixel();
            let caption_height = 18;
            let side = (w.min(h.saturating_sub(caption_height)) as i32 - 6).max(28);
            let scale = side / 28;
            let x0 = (w as i32 - 28 * scale) / 2;
            let y0 = 2;
            draw_digit(cell, &item.pixels, (x0, y0), scale)?;
            let color = if item.highlight {
                RGBColor(200, 30, 30)
            } else {
                BLACK
            };
            let style = text_style(12.0)
                .color(&color)
                .pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Top,
                ));
            cell.draw(&Text::new(
                item.caption.clone(),
                (w as i32 / 2, y0 + 28 * scale + 2),
                style,
            ))
            .map_err(drawing_error)?;
        }
        Ok(())
    }
}

/// A grid of digits with captions, `columns` wide; each cell is about 90 pixels.
pub fn gallery(items: Vec<GalleryItem>, columns: usize, title: &str) -> Result<Figure> {
    if items.is_empty() || columns == 0 {
        return Err(Error::invalid(
            "gallery",
            "give at least one image and one column",
        ));
    }
    if let Some(bad) = items.iter().find(|i| i.pixels.len() != 28 * 28) {
        return Err(Error::invalid(
            "gallery image",
            format!("{} pixels, expected 784 (28x28)", bad.pixels.len()),
        ));
    }
    let columns = columns.min(items.len());
    let rows = items.len().div_ceil(columns);
    let cell_width = if items.iter().any(|i| i.caption.len() > 12) {
        120
    } else {
        90
    };
    Figure::new(
        (columns * cell_width) as u32,
        (rows * 108 + 30) as u32,
        Gallery {
            title: title.to_owned(),
            columns,
            items,
        },
    )
}

/// The first `count` images of `data` with their labels.
pub fn digit_gallery(data: &Dataset, count: usize, columns: usize, title: &str) -> Result<Figure> {
    let items = (0..count.min(data.len()))
        .map(|i| {
            Ok(GalleryItem {
                pixels: pixels_of(data, i)?,
                caption: format!("label {}", data.label(i)?),
                highlight: false,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    gallery(items, columns, title)
}

/// Up to `count` misclassified test digits, with true and predicted label and the model's
/// confidence in its prediction, most confident mistakes first.
pub fn misclassified_gallery(
    test: &TestSet,
    predictions: &[i64],
    confidences: &[f32],
    count: usize,
    columns: usize,
    title: &str,
) -> Result<Figure> {
    let data = test.dataset();
    if predictions.len() != data.len() || confidences.len() != data.len() {
        return Err(Error::invalid(
            "predictions",
            format!(
                "{} predictions and {} confidences for a test set of {}",
                predictions.len(),
                confidences.len(),
                data.len()
            ),
        ));
    }
    let labels = Vec::<i64>::try_from(data.labels())?;
    let mut wrong: Vec<usize> = (0..labels.len())
        .filter(|&i| labels[i] != predictions[i])
        .collect();
    wrong.sort_by(|&a, &b| confidences[b].total_cmp(&confidences[a]));
    if wrong.is_empty() {
        return Err(Error::invalid(
            "misclassified gallery",
            "the model made no mistakes",
        ));
    }
    let items = wrong
        .iter()
        .take(count)
        .map(|&i| {
            Ok(GalleryItem {
                pixels: pixels_of(data, i)?,
                caption: format!(
                    "{} -> {} ({:.0}%)",
                    labels[i],
                    predictions[i],
                    100.0 * confidences[i]
                ),
                highlight: true,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    gallery(items, columns, title)
}
