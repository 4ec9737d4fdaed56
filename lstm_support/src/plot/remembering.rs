//! The remembering task's figure: each cell's validation accuracy against the sequence length T,
//! with chance beneath.
use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{drawing_error, text_style, Draw, DrawResult, Figure, PALETTE};
use crate::analysis::RememberingResult;
use crate::error::{Error, Result};

/// One line of the legend, drawn beside the chart so that it never covers a curve.
struct Entry {
    label: String,
    color: RGBColor,
    dashed: bool,
}

/// A point of a cell's line: (T, accuracy, 2 standard errors of the accuracy).
type Point = (f64, f64, f64);

struct Remembering {
    title: String,
    /// Per cell: its name and its points.
    cells: Vec<(String, Vec<Point>)>,
    chance: f64,
}

const CHANCE_COLOR: RGBColor = RGBColor(120, 120, 120);

impl Draw for Remembering {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = area
            .titled(&self.title, text_style(18.0))
            .map_err(drawing_error)?;
        let (width, _) = area.dim_in_pixel();
        let (chart_area, legend_area) = area.split_horizontally(width.saturating_sub(170));
        let steps = self
            .cells
            .iter()
            .flat_map(|(_, points)| points.iter().map(|p| p.0));
        let (lo, hi) = steps.fold((f64::INFINITY, 0.0f64), |(lo, hi), t| {
            (lo.min(t), hi.max(t))
        });
        // A little room either side on the log axis, and a decade at least.
        let (x_lo, x_hi) = ((lo / 1.25).max(0.5), (hi * 1.25).max(lo * 10.0));
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((x_lo..x_hi).log_scale(), 0.0..1.02)
            .map_err(drawing_error)?;
        // Labels and guide lines at the measured lengths only: a log axis's own crowd its right
        // end (20, 30, ..., 90 before 100).
        let measured: Vec<f64> = self
            .cells
            .iter()
            .flat_map(|(_, points)| points.iter().map(|p| p.0))
            .collect();
        let is_measured = |x: f64| measured.iter().any(|&t| (t - x).abs() <= 1e-6 * t);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("sequence length T (steps; log scale)")
            .y_desc("validation accuracy")
            .x_labels(30)
            .x_label_formatter(&|&x| {
                if is_measured(x) {
                    format!("{x:.0}")
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("{:.0}%", 100.0 * y))
            .label_style(text_style(13.0))
            .axis_desc_style(text_style(14.0))
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(drawing_error)?;
        let guide = ShapeStyle::from(&RGBColor(225, 225, 225)).stroke_width(1);
        for &t in &measured {
            chart
                .draw_series(LineSeries::new([(t, 0.0), (t, 1.02)], guide))
                .map_err(drawing_error)?;
        }
        let chance_style = ShapeStyle::from(&CHANCE_COLOR).stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                [(x_lo, self.chance), (x_hi, self.chance)],
                6,
                4,
                chance_style,
            ))
            .map_err(drawing_error)?;
        let mut entries = Vec::with_capacity(self.cells.len() + 1);
        for (k, (name, points)) in self.cells.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let style = ShapeStyle::from(&color).stroke_width(2);
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|&(t, a, _)| (t, a)),
                    style,
                ))
                .map_err(drawing_error)?;
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|&(t, a, _)| Circle::new((t, a), 4, color.filled())),
                )
                .map_err(drawing_error)?;
            // ±2 standard errors: differences within them are not measurable.
            chart
                .draw_series(points.iter().map(|&(t, a, noise)| {
                    PathElement::new(
                        vec![(t, (a - noise).max(0.0)), (t, (a + noise).min(1.0))],
                        color.stroke_width(1),
                    )
                }))
                .map_err(drawing_error)?;
            entries.push(Entry {
                label: name.clone(),
                color,
                dashed: false,
            });
        }
        entries.push(Entry {
            label: format!("chance ({:.0}%)", 100.0 * self.chance),
            color: CHANCE_COLOR,
            dashed: true,
        });
        draw_legend(&legend_area, &entries)
    }
}

/// The legend as a column at the top of `area`, with a note on the whiskers below it.
fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, entries: &[Entry]) -> DrawResult {
    let top = 24;
    for (i, entry) in entries.iter().enumerate() {
        let y = top + 24 * i as i32;
        let style = entry.color.stroke_width(2);
        if entry.dashed {
            for x in [4, 14, 24] {
                area.draw(&PathElement::new(vec![(x, y), (x + 6, y)], style))
                    .map_err(drawing_error)?;
            }
        } else {
            area.draw(&PathElement::new(vec![(4, y), (30, y)], style))
                .map_err(drawing_error)?;
            area.draw(&Circle::new((17, y), 4, entry.color.filled()))
                .map_err(drawing_error)?;
        }
        area.draw(&Text::new(
            entry.label.clone(),
            (38, y - 8),
            text_style(13.0),
        ))
        .map_err(drawing_error)?;
    }
    let note_y = top + 24 * entries.len() as i32 + 8;
    for (i, line) in ["bars: ±2 standard", "errors of each", "accuracy"]
        .iter()
        .enumerate()
    {
        area.draw(&Text::new(
            line.to_string(),
            (4, note_y + 16 * i as i32),
            text_style(11.0).color(&RGBColor(90, 90, 90)),
        ))
        .map_err(drawing_error)?;
    }
    Ok(())
}

/// The remembering experiment's validation accuracy against T on a log axis, one line per cell
/// with bars of ±2 standard errors, and chance as a dashed line; the legend beside the chart.
pub fn remembering(result: &RememberingResult, title: &str) -> Result<Figure> {
    let cells: Vec<(String, Vec<Point>)> = result
        .experiment
        .cells
        .iter()
        .map(|&cell| {
            let points = result
                .rows
                .iter()
                .filter(|r| r.cell == cell)
                .map(|r| {
                    let noise = 2.0 * result.standard_error(r.accuracy);
                    (r.steps as f64, r.accuracy, noise)
                })
                .collect();
            (result.name(cell), points)
        })
        .collect();
    if cells
        .iter()
        .all(|(_, points): &(String, Vec<_>)| points.is_empty())
    {
        return Err(Error::invalid(
            "remembering figure",
            "the result has no measurements; give the result of RememberingExperiment::run",
        ));
    }
    Figure::new(
        860,
        460,
        Remembering {
            title: title.to_owned(),
            cells,
            chance: result.chance(),
        },
    )
}
