//! One prediction: a digit beside the model's probability for each class (Keras' examples
//! show `model.predict(x[:1])`).
use plotters::coord::Shift;
use plotters::prelude::*;
use tch::Kind;

use super::digit::{draw_digit, pixels_of};
use super::figure::{drawing_error, text_style, Draw, DrawResult, Figure, PALETTE};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::Model;

struct Prediction {
    title: String,
    pixels: Vec<f32>,
    label: i64,
    probabilities: Vec<f32>,
}

impl Draw for Prediction {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = area
            .titled(&self.title, text_style(18.0))
            .map_err(drawing_error)?;
        let (left, right) = area.split_horizontally(200);
        draw_digit(&left, &self.pixels, (20, 30), 6)?;
        left.draw(&Text::new(
            format!("label {}", self.label),
            (20, 30 + 28 * 6 + 6),
            text_style(14.0),
        ))
        .map_err(drawing_error)?;
        let classes = self.probabilities.len() as i32;
        let predicted = (0..self.probabilities.len())
            .max_by(|&a, &b| self.probabilities[a].total_cmp(&self.probabilities[b]))
            .unwrap_or(0) as i32;
        let confidence = self.probabilities.get(predicted as usize).copied();
        left.draw(&Text::new(
            format!(
                "predicted {predicted} ({:.0}%)",
                100.0 * confidence.unwrap_or(0.0)
            ),
            (20, 30 + 28 * 6 + 26),
            text_style(14.0),
        ))
        .map_err(drawing_error)?;
        let mut chart = ChartBuilder::on(&right)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(0..classes, 0.0..1.0)
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("class")
            .y_desc("probability")
            .x_labels(classes as usize + 1)
            .x_label_offset((right.dim_in_pixel().0 as i32 - 80) / (2 * classes))
            .x_label_formatter(&|x| {
                if *x < classes {
                    x.to_string()
                } else {
                    String::new()
                }
            })
            .label_style(text_style(13.0))
            .axis_desc_style(text_style(14.0))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(drawing_error)?;
        chart
            .draw_series(self.probabilities.iter().enumerate().map(|(c, &p)| {
                let c = c as i32;
                let color = if c == predicted {
                    PALETTE[1]
                } else {
                    PALETTE[0]
                };
                let mut bar = Rectangle::new([(c, 0.0), (c + 1, p as f64)], color.filled());
                bar.set_margin(0, 0, 6, 6);
                bar
            }))
            .map_err(drawing_error)?;
        Ok(())
    }
}

/// The item of `data` at `index` beside `model`'s probability for each class (evaluation
/// mode), the predicted class in its own colour.
pub fn prediction(model: &Model, data: &Dataset, index: usize, title: &str) -> Result<Figure> {
    let image = data.image(index)?;
    let probabilities = model
        .probabilities(&image.unsqueeze(0))?
        .to_kind(Kind::Float);
    let probabilities = Vec::<f32>::try_from(probabilities.flatten(0, -1))?;
    Figure::new(
        760,
        300,
        Prediction {
            title: title.to_owned(),
            pixels: pixels_of(data, index)?,
            label: data.label(index)?,
            probabilities,
        },
    )
}

/// The index, among the first `count_scanned` items of `data` (all of them when there are
/// fewer), of the one `model` is least sure about: the lowest probability for its predicted
/// class (evaluation mode). Show it with
/// `plot::prediction(&model, &data, plot::least_confident(&model, &data, 1000)?, title)`.
pub fn least_confident(model: &Model, data: &Dataset, count_scanned: usize) -> Result<usize> {
    if count_scanned == 0 || data.is_empty() {
        return Err(Error::invalid(
            "count scanned",
            format!(
                "{count_scanned} items of a dataset of {}; scan at least 1 item",
                data.len()
            ),
        ));
    }
    let confidences = model.predict(&data.take(count_scanned))?.confidences;
    confidences
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(index, _)| index)
        .ok_or_else(|| Error::internal("finding the least confident prediction", "no predictions"))
}
