//! Figures of what happens inside a recurrent layer: its gates and state over the 28 rows of
//! a digit, and how far the loss's gradient reaches back through the steps.
use plotters::coord::Shift;
use plotters::prelude::*;
use tch::{Kind, Tensor};

use super::digit::{draw_digit, pixels_of};
use super::figure::{blues, drawing_error, text_style, Draw, DrawResult, Figure, PALETTE};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::nn::CellKind;

/// Red (negative) to white (0) to blue (positive), for `t` in [-1, 1].
fn diverging(t: f64) -> RGBColor {
    let t = t.clamp(-1.0, 1.0);
    let lerp = |a: f64, b: f64, s: f64| (a + (b - a) * s).round() as u8;
    if t < 0.0 {
        let s = -t;
        RGBColor(
            lerp(255.0, 178.0, s),
            lerp(255.0, 24.0, s),
            lerp(255.0, 43.0, s),
        )
    } else {
        RGBColor(
            lerp(255.0, 33.0, t),
            lerp(255.0, 102.0, t),
            lerp(255.0, 172.0, t),
        )
    }
}

/// One heat map of a panel: `[28][units]` values and how to colour them.
struct Panel {
    name: String,
    /// `values[digit][row][unit]`, units already sorted.
    values: Vec<Vec<Vec<f32>>>,
    /// Gates run from 0 to 1 (white to blue); states from -limit to limit (red, white, blue).
    range: (f64, f64),
    diverging: bool,
}

impl Panel {
    fn color(&self, v: f64) -> RGBColor {
        let (lo, hi) = self.range;
        if self.diverging {
            diverging(v / hi.max(1e-9))
        } else {
            blues((v - lo) / (hi - lo).max(1e-9))
        }
    }
}

struct GateTraces {
    title: String,
    digits: Vec<(Vec<f32>, i64)>,
    panels: Vec<Panel>,
    units: usize,
    /// Under the first row's heat maps: how the units are ordered.
    order_note: String,
}

/// Pixel sizes of the gate figure.
const ROW_PX: i32 = 4;
const DIGIT_PX: i32 = 28 * ROW_PX;
const BAR_PX: i32 = 10;
const PANEL_GAP: i32 = 58;
const DIGIT_ROW_PX: i32 = DIGIT_PX + 34;
const TOP_PX: i32 = 70;

impl GateTraces {
    fn unit_px(&self) -> i32 {
        (128 / self.units.max(1) as i32).max(1)
    }
}

impl Draw for GateTraces {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let text = |s: &str, at: (i32, i32), size: f64| {
            area.draw(&Text::new(s.to_owned(), at, text_style(size)))
                .map_err(drawing_error)
        };
        text(&self.title, (12, 8), 18.0)?;
        let unit_px = self.unit_px();
        let panel_px = unit_px * self.units as i32;
        let left = 20 + DIGIT_PX + 30;
        for (p, panel) in self.panels.iter().enumerate() {
            let x0 = left + p as i32 * (panel_px + BAR_PX + PANEL_GAP);
            text(&panel.name, (x0, TOP_PX - 22), 14.0)?;
        }
        text("digit", (20, TOP_PX - 22), 14.0)?;
        for (d, (pixels, label)) in self.digits.iter().enumerate() {
            let y0 = TOP_PX + d as i32 * DIGIT_ROW_PX;
            draw_digit(area, pixels, (20, y0), ROW_PX)?;
            text(&format!("label {label}"), (20, y0 + DIGIT_PX + 4), 12.0)?;
            for (p, panel) in self.panels.iter().enumerate() {
                let x0 = left + p as i32 * (panel_px + BAR_PX + PANEL_GAP);
                // Row t of the digit is step t: the heat map's rows line up with the image's.
                for (row, values) in panel.values[d].iter().enumerate() {
                    for (unit, &v) in values.iter().enumerate() {
                        let top_left = (x0 + unit as i32 * unit_px, y0 + row as i32 * ROW_PX);
                        let bottom_right = (top_left.0 + unit_px, top_left.1 + ROW_PX);
                        area.draw(&Rectangle::new(
                            [top_left, bottom_right],
                            panel.color(v as f64).filled(),
                        ))
                        .map_err(drawing_error)?;
                    }
                }
                area.draw(&Rectangle::new(
                    [(x0, y0), (x0 + panel_px, y0 + DIGIT_PX)],
                    RGBColor(150, 150, 150),
                ))
                .map_err(drawing_error)?;
                self.colour_bar(area, panel, (x0 + panel_px + 4, y0))?;
            }
            if d == 0 {
                text(&self.order_note, (left, y0 + DIGIT_PX + 4), 12.0)?;
            }
        }
        Ok(())
    }
}

impl GateTraces {
    /// A vertical colour bar `DIGIT_PX` tall at `origin`, high values at the top, with the
    /// range's ends and middle as labels.
    fn colour_bar<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &Panel,
        origin: (i32, i32),
    ) -> DrawResult {
        let (lo, hi) = panel.range;
        for k in 0..DIGIT_PX {
            let v = hi - (hi - lo) * (k as f64 + 0.5) / DIGIT_PX as f64;
            area.draw(&Rectangle::new(
                [
                    (origin.0, origin.1 + k),
                    (origin.0 + BAR_PX, origin.1 + k + 1),
                ],
                panel.color(v).filled(),
            ))
            .map_err(drawing_error)?;
        }
        for (v, y) in [
            (hi, 0),
            ((lo + hi) / 2.0, DIGIT_PX / 2 - 6),
            (lo, DIGIT_PX - 12),
        ] {
            let label = if v.abs() >= 10.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            };
            area.draw(&Text::new(
                label,
                (origin.0 + BAR_PX + 3, origin.1 + y),
                text_style(11.0),
            ))
            .map_err(drawing_error)?;
        }
        Ok(())
    }
}

/// `[items, T, H]` as `values[item][t][unit]`, units in `order`.
fn per_item(t: &Tensor, order: &[usize]) -> Result<Vec<Vec<Vec<f32>>>> {
    let size = t.size();
    let flat = Vec::<f32>::try_from(t.contiguous().flatten(0, -1))?;
    let (steps, units) = (size[1] as usize, size[2] as usize);
    Ok(flat
        .chunks_exact(steps * units)
        .map(|item| {
            item.chunks_exact(units)
                .map(|row| order.iter().map(|&u| row[u]).collect())
                .collect()
        })
        .collect())
}

/// For the digits of `data` at `indices` (at most 6), what `model`'s recurrent layer does on
/// each of the 28 rows, beside the digit: for an LSTM its input, forget and output gates and
/// its cell state c(t); for a GRU its reset and update gates and h(t); for a SimpleRNN h(t).
/// The heat maps' rows are the digit's rows; their columns are the units, sorted by their mean
/// forget (GRU: update) gate over the digits shown, the same order in every panel; each has a
/// colour bar.
pub fn gate_traces(
    model: &Model,
    data: &Dataset,
    indices: &[usize],
    title: &str,
) -> Result<Figure> {
    if indices.is_empty() || indices.len() > 6 {
        return Err(Error::invalid(
            "gate traces",
            "give 1 to 6 indices of digits to show",
        ));
    }
    let trace = model.step_trace(data, indices)?;
    let units = trace.hidden.size()[2] as usize;
    let keeper = match trace.cell {
        CellKind::Lstm => Some("forget gate"),
        CellKind::Gru => Some("update gate"),
        CellKind::SimpleRnn => None,
    };
    let mut order: Vec<usize> = (0..units).collect();
    if let Some(keeper) = keeper {
        let means = trace
            .gate(keeper)?
            .mean_dim([0i64, 1].as_slice(), false, Kind::Float);
        let means = Vec::<f32>::try_from(means)?;
        order.sort_by(|&a, &b| means[b].total_cmp(&means[a]));
    }
    let gate = |name: &str| -> Result<Panel> {
        Ok(Panel {
            name: name.to_owned(),
            values: per_item(trace.gate(name)?, &order)?,
            range: (0.0, 1.0),
            diverging: false,
        })
    };
    let state = |name: &str, t: &Tensor| -> Result<Panel> {
        let limit = t.abs().max().double_value(&[]).max(1e-3);
        Ok(Panel {
            name: name.to_owned(),
            values: per_item(t, &order)?,
            range: (-limit, limit),
            diverging: true,
        })
    };
    let panels = match trace.cell {
        CellKind::Lstm => {
            let c = trace.cell_state.as_ref().ok_or_else(|| {
                Error::internal(
                    "drawing gate traces",
                    "the LSTM's step trace has no cell state",
                )
            })?;
            vec![
                gate("input gate")?,
                gate("forget gate")?,
                gate("output gate")?,
                state("cell state c(t)", c)?,
            ]
        }
        CellKind::Gru => vec![
            gate("reset gate")?,
            gate("update gate")?,
            state("hidden state h(t)", &trace.hidden)?,
        ],
        CellKind::SimpleRnn => vec![state("hidden state h(t)", &trace.hidden)?],
    };
    let digits = indices
        .iter()
        .map(|&i| Ok((pixels_of(data, i)?, data.label(i)?)))
        .collect::<Result<Vec<_>>>()?;
    let figure = GateTraces {
        title: title.to_owned(),
        digits,
        panels,
        units,
        order_note: match keeper {
            Some(gate) => format!("units, sorted by their mean {gate}"),
            None => "units".to_owned(),
        },
    };
    let width = 20
        + DIGIT_PX
        + 30
        + figure.panels.len() as i32 * (figure.unit_px() * units as i32 + BAR_PX + PANEL_GAP)
        + 10;
    let height = TOP_PX + indices.len() as i32 * DIGIT_ROW_PX + 10;
    Figure::new(width.max(520) as u32, height as u32, figure)
}

struct GradientNorms {
    title: String,
    /// (cell name, after training, at initialisation).
    cells: Vec<(String, Vec<f64>, Vec<f64>)>,
}

impl Draw for GradientNorms {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let all = self
            .cells
            .iter()
            .flat_map(|(_, a, b)| a.iter().chain(b))
            .copied();
        let positive: Vec<f64> = all.filter(|v| *v > 0.0 && v.is_finite()).collect();
        let lo = positive
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .max(1e-30);
        let hi = positive.iter().copied().fold(0.0, f64::max).max(lo * 10.0);
        let steps = self
            .cells
            .iter()
            .map(|(_, a, _)| a.len())
            .max()
            .unwrap_or(1) as f64;
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, text_style(18.0))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(1.0..steps, (lo / 2.0..hi * 2.0).log_scale())
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .x_desc("time step t (image row)")
            .y_desc("mean |dL/dh(t)| (log scale)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0e}"))
            .label_style(text_style(13.0))
            .axis_desc_style(text_style(14.0))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(drawing_error)?;
        for (k, (name, trained, initial)) in self.cells.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            for (values, dashed, when) in [
                (trained, false, "trained"),
                (initial, true, "at initialisation"),
            ] {
                let points: Vec<(f64, f64)> = values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v > 0.0)
                    .map(|(t, &v)| ((t + 1) as f64, v))
                    .collect();
                let style = ShapeStyle::from(&color).stroke_width(2);
                let drawn = if dashed {
                    chart.draw_series(DashedLineSeries::new(points, 6, 4, style))
                } else {
                    chart.draw_series(LineSeries::new(points, style))
                }
                .map_err(drawing_error)?;
                drawn
                    .label(format!("{name}, {when}"))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
            }
        }
        chart
            .configure_series_labels()
            .label_font(text_style(13.0))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(drawing_error)?;
        Ok(())
    }
}

/// How far back the loss's gradient reaches: mean |dL/dh(t)| against the step t on a log axis,
/// one colour per cell, solid after training and dashed at initialisation. `cells` holds each
/// cell's name and its two curves ([`Model::hidden_gradient_norms`]).
pub fn gradient_norms<S: AsRef<str>, V: AsRef<[f64]>>(
    cells: &[(S, V, V)],
    title: &str,
) -> Result<Figure> {
    let cells: Vec<(String, Vec<f64>, Vec<f64>)> = cells
        .iter()
        .map(|(n, a, b)| {
            (
                n.as_ref().to_owned(),
                a.as_ref().to_vec(),
                b.as_ref().to_vec(),
            )
        })
        .collect();
    if cells.is_empty() || cells.iter().any(|(_, a, b)| a.is_empty() || b.is_empty()) {
        return Err(Error::invalid(
            "gradient norms",
            "give at least one cell with both curves",
        ));
    }
    Figure::new(
        900,
        520,
        GradientNorms {
            title: title.to_owned(),
            cells,
        },
    )
}
