//! A digit drawn as its 28x28 pixels: what galleries, the row-by-row view, gate traces and the
//! prediction figure show beside their charts.
use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{drawing_error, DrawResult};
use crate::data::Dataset;
use crate::error::Result;

/// Draws a 28x28 image (intensities in [0, 1], ink dark on white) with its top-left corner at
/// `origin`, each pixel a `scale` x `scale` square.
pub(super) fn draw_digit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    pixels: &[f32],
    origin: (i32, i32),
    scale: i32,
) -> DrawResult {
    for (i, &p) in pixels.iter().enumerate() {
        let (row, col) = ((i / 28) as i32, (i % 28) as i32);
        let v = (255.0 * (1.0 - p.clamp(0.0, 1.0))).round() as u8;
        let top_left = (origin.0 + col * scale, origin.1 + row * scale);
        let bottom_right = (top_left.0 + scale, top_left.1 + scale);
        area.draw(&Rectangle::new(
            [top_left, bottom_right],
            RGBColor(v, v, v).filled(),
        ))
        .map_err(drawing_error)?;
    }
    Ok(())
}

/// The pixels of the item of `data` at `index`, row-major.
pub(super) fn pixels_of(data: &Dataset, index: usize) -> Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(data.image(index)?.flatten(0, -1))?)
}
