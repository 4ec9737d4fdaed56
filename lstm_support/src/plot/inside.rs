//! Figures of what happens inside a recurrent layer: its gates and state over the 28 rows of
//! a digit, and how far the loss's gradient reaches back through the steps.
use plotters::coord::Shift;
use plotters::prelude::*;
use tch::{Kind, Tensor};

use super::digit::{draw_digit, pixels_of};
use super::figure::{drawing_error, text_style, viridis, Draw, DrawResult, Figure, PALETTE};
use super::legend::{with_legend_below, LegendEntry, LineStyle};
use super::line_chart::{whole_ticks, TickedAxis, MAX_X_LABELS};
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

/// How a panel's values become colours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Scale {
    /// Gates: viridis from the panel's smallest value to its largest, so a gate that only
    /// moves between 0.45 and 0.55 still shows its structure (the colour bar gives the range).
    Sequential { lo: f64, hi: f64 },
    /// States: red (negative), white (0), blue (positive), up to the largest |value|.
    Diverging { limit: f64 },
}

impl Scale {
    /// The smallest and largest finite values of a panel: its sequential scale.
    pub(super) fn spanning(values: &[Vec<Vec<f32>>]) -> Scale {
        let (lo, hi) = values
            .iter()
            .flatten()
            .flatten()
            .map(|&v| v as f64)
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if lo.is_finite() {
            Scale::Sequential { lo, hi }
        } else {
            Scale::Sequential { lo: 0.0, hi: 1.0 }
        }
    }

    /// The range the colour bar shows, low to high.
    pub(super) fn range(&self) -> (f64, f64) {
        match *self {
            Scale::Sequential { lo, hi } => (lo, hi),
            Scale::Diverging { limit } => (-limit, limit),
        }
    }

    pub(super) fn color(&self, v: f64) -> RGBColor {
        match *self {
            Scale::Sequential { lo, hi } if hi - lo > 1e-9 => viridis((v - lo) / (hi - lo)),
            Scale::Sequential { .. } => viridis(0.5),
            Scale::Diverging { limit } => diverging(v / limit.max(1e-9)),
        }
    }
}

/// A colour bar's label for `v` on a scale `span` wide: enough decimals to tell its three
/// labels apart.
pub(super) fn scale_label(v: f64, span: f64) -> String {
    let decimals = match span.abs() {
        s if s >= 10.0 => 0,
        s if s >= 1.0 => 1,
        s if s >= 0.1 => 2,
        _ => 3,
    };
    format!("{v:.decimals$}")
}

/// One column of heat maps: one gate or state, `[28][units]` values per digit.
struct Panel {
    name: String,
    /// `values[digit][row][unit]`, units already sorted.
    values: Vec<Vec<Vec<f32>>>,
    scale: Scale,
}

struct GateTraces {
    title: String,
    digits: Vec<(Vec<f32>, i64)>,
    panels: Vec<Panel>,
    units: usize,
    /// Under the first row's heat maps: how the units are ordered.
    order_note: String,
}

/// Pixels of one image row, in the digit and in every heat map alike.
const ROW_PX: i32 = 8;
/// The digit and the heat maps are 28 rows, `MAP_H` pixels, tall.
const MAP_H: i32 = 28 * ROW_PX;
const MAP_W: i32 = 192;
const BAR_GAP: i32 = 6;
const BAR_W: i32 = 12;
const BAR_LABELS_W: i32 = 46;
const PANEL_GAP: i32 = 18;
const PANEL_STEP: i32 = MAP_W + BAR_GAP + BAR_W + BAR_LABELS_W + PANEL_GAP;
/// Left of the digit: the row axis's labels.
const DIGIT_X: i32 = 52;
const FIRST_PANEL_X: i32 = DIGIT_X + MAP_H + 26;
const TOP_PX: i32 = 76;
const DIGIT_ROW_PX: i32 = MAP_H + 40;

/// Where the gate figure's parts go, in pixels.
pub(super) struct GateLayout {
    pub(super) panels: usize,
}

/// A rectangle as (left, top, width, height).
pub(super) type Rect = (i32, i32, i32, i32);

impl GateLayout {
    pub(super) fn digit(&self, digit: usize) -> Rect {
        (DIGIT_X, self.top(digit), MAP_H, MAP_H)
    }

    pub(super) fn heat_map(&self, digit: usize, panel: usize) -> Rect {
        let x = FIRST_PANEL_X + panel as i32 * PANEL_STEP;
        (x, self.top(digit), MAP_W, MAP_H)
    }

    fn top(&self, digit: usize) -> i32 {
        TOP_PX + digit as i32 * DIGIT_ROW_PX
    }

    /// The y of the middle of row `row` (counted from 1) of the digit and its heat maps.
    pub(super) fn row_middle(&self, digit: usize, row: usize) -> i32 {
        self.top(digit) + (row as i32 - 1) * ROW_PX + ROW_PX / 2
    }

    /// The labelled rows of the row axis, counted from 1 as a reader counts them.
    pub(super) fn row_ticks() -> Vec<i64> {
        whole_ticks(1, 28, 8)
    }

    pub(super) fn size(&self, digits: usize) -> (u32, u32) {
        let width = FIRST_PANEL_X + self.panels as i32 * PANEL_STEP;
        let height = TOP_PX + digits as i32 * DIGIT_ROW_PX + 10;
        (width.max(560) as u32, height as u32)
    }
}

impl Draw for GateTraces {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let text = |s: &str, at: (i32, i32), style: TextStyle<'_>| {
            area.draw(&Text::new(s.to_owned(), at, style))
                .map_err(drawing_error)
        };
        let layout = GateLayout {
            panels: self.panels.len(),
        };
        text(&self.title, (12, 8), text_style(18.0))?;
        let heading = TOP_PX - 24;
        text("row t", (8, heading), text_style(14.0))?;
        text("digit", (DIGIT_X, heading), text_style(14.0))?;
        for (p, panel) in self.panels.iter().enumerate() {
            text(
                &panel.name,
                (layout.heat_map(0, p).0, heading),
                text_style(14.0),
            )?;
        }
        for (d, (pixels, label)) in self.digits.iter().enumerate() {
            let (dx, dy, _, _) = layout.digit(d);
            draw_digit(area, pixels, (dx, dy), ROW_PX)?;
            self.row_axis(area, &layout, d)?;
            text(
                &format!("label {label}"),
                (dx, dy + MAP_H + 4),
                text_style(12.0),
            )?;
            for (p, panel) in self.panels.iter().enumerate() {
                let (x0, y0, w, h) = layout.heat_map(d, p);
                // Row t of the digit is step t: the heat map's rows line up with the image's.
                for (row, values) in panel.values[d].iter().enumerate() {
                    for (unit, &v) in values.iter().enumerate() {
                        let x = |u: usize| x0 + (u as i32 * w) / self.units.max(1) as i32;
                        let top = y0 + row as i32 * ROW_PX;
                        area.draw(&Rectangle::new(
                            [(x(unit), top), (x(unit + 1), top + ROW_PX)],
                            panel.scale.color(v as f64).filled(),
                        ))
                        .map_err(drawing_error)?;
                    }
                }
                area.draw(&Rectangle::new(
                    [(x0, y0), (x0 + w, y0 + h)],
                    RGBColor(150, 150, 150),
                ))
                .map_err(drawing_error)?;
                colour_bar(area, &panel.scale, (x0 + w + BAR_GAP, y0))?;
            }
            if d == 0 {
                let x0 = layout.heat_map(0, 0).0;
                text(&self.order_note, (x0, dy + MAP_H + 4), text_style(12.0))?;
            }
        }
        Ok(())
    }
}

impl GateTraces {
    /// Row numbers left of digit `d`, with ticks, at the middle of their rows.
    fn row_axis<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        layout: &GateLayout,
        d: usize,
    ) -> DrawResult {
        let right = plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Right,
            plotters::style::text_anchor::VPos::Center,
        );
        for row in GateLayout::row_ticks() {
            let y = layout.row_middle(d, row as usize);
            area.draw(&PathElement::new(
                [(DIGIT_X - 5, y), (DIGIT_X - 1, y)],
                RGBColor(90, 90, 90),
            ))
            .map_err(drawing_error)?;
            area.draw(&Text::new(
                row.to_string(),
                (DIGIT_X - 8, y),
                text_style(11.0).pos(right),
            ))
            .map_err(drawing_error)?;
        }
        Ok(())
    }
}

/// A vertical colour bar `MAP_H` tall at `origin`, high values at the top, with the range's
/// ends and middle as labels.
fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scale: &Scale,
    origin: (i32, i32),
) -> DrawResult {
    let (lo, hi) = scale.range();
    for k in 0..MAP_H {
        let v = hi - (hi - lo) * (k as f64 + 0.5) / MAP_H as f64;
        area.draw(&Rectangle::new(
            [
                (origin.0, origin.1 + k),
                (origin.0 + BAR_W, origin.1 + k + 1),
            ],
            scale.color(v).filled(),
        ))
        .map_err(drawing_error)?;
    }
    area.draw(&Rectangle::new(
        [origin, (origin.0 + BAR_W, origin.1 + MAP_H)],
        RGBColor(150, 150, 150),
    ))
    .map_err(drawing_error)?;
    for (v, y) in [(hi, 0), ((lo + hi) / 2.0, MAP_H / 2 - 6), (lo, MAP_H - 12)] {
        area.draw(&Text::new(
            scale_label(v, hi - lo),
            (origin.0 + BAR_W + 3, origin.1 + y),
            text_style(11.0),
        ))
        .map_err(drawing_error)?;
    }
    Ok(())
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
/// The heat maps' rows are the digit's rows (numbered 1 to 28 on the left, the digit drawn at
/// the same scale); their columns are the units, sorted by their mean forget (GRU: update) gate
/// over the digits shown, the same order in every panel. A gate's colours (viridis) span its
/// smallest to largest value over the digits shown; a state's run red (negative) to blue
/// (positive); each heat map has its colour bar.
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
        let values = per_item(trace.gate(name)?, &order)?;
        Ok(Panel {
            name: name.to_owned(),
            scale: Scale::spanning(&values),
            values,
        })
    };
    let state = |name: &str, t: &Tensor| -> Result<Panel> {
        let limit = t.abs().max().double_value(&[]).max(1e-3);
        Ok(Panel {
            name: name.to_owned(),
            values: per_item(t, &order)?,
            scale: Scale::Diverging { limit },
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
    let (width, height) = GateLayout {
        panels: figure.panels.len(),
    }
    .size(indices.len());
    Figure::new(width, height, figure)
}

pub(super) struct GradientNorms {
    pub(super) title: String,
    /// (cell name, after training, at initialisation).
    pub(super) cells: Vec<(String, Vec<f64>, Vec<f64>)>,
}

impl GradientNorms {
    /// One entry per cell in its colour, then what the two styles mean.
    pub(super) fn legend(&self) -> Vec<LegendEntry> {
        let mut entries: Vec<LegendEntry> = self
            .cells
            .iter()
            .enumerate()
            .map(|(k, (name, _, _))| LegendEntry {
                label: name.clone(),
                color: PALETTE[k % PALETTE.len()],
                line: LineStyle::Solid,
                marker: false,
            })
            .collect();
        entries.push(LegendEntry::style("trained (solid)", LineStyle::Solid));
        entries.push(LegendEntry::style(
            "at initialisation (dashed)",
            LineStyle::Dashed,
        ));
        entries
    }
}

impl Draw for GradientNorms {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = with_legend_below(area, &self.legend())?;
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
            .map(|(_, a, b)| a.len().max(b.len()))
            .max()
            .unwrap_or(1) as i64;
        let ticks = whole_ticks(1, steps, MAX_X_LABELS)
            .into_iter()
            .map(|t| t as f64)
            .collect();
        let x_range = TickedAxis::new(0.5..steps as f64 + 0.5, ticks);
        let mut chart = ChartBuilder::on(&area)
            .caption(&self.title, text_style(18.0))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x_range, (lo / 2.0..hi * 2.0).log_scale())
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .x_desc("time step t (image row)")
            .y_desc("mean |dL/dh(t)| (log scale)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0e}"))
            .label_style(text_style(13.0))
            .axis_desc_style(text_style(14.0))
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(drawing_error)?;
        for (k, (_, trained, initial)) in self.cells.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            for (values, dashed) in [(trained, false), (initial, true)] {
                let points: Vec<(f64, f64)> = values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v > 0.0)
                    .map(|(t, &v)| ((t + 1) as f64, v))
                    .collect();
                let style = ShapeStyle::from(&color).stroke_width(2);
                if dashed {
                    chart.draw_series(DashedLineSeries::new(points, 6, 4, style))
                } else {
                    chart.draw_series(LineSeries::new(points, style))
                }
                .map_err(drawing_error)?;
            }
        }
        Ok(())
    }
}

/// How far back the loss's gradient reaches: mean |dL/dh(t)| against the step t on a log axis,
/// one colour per cell, solid after training and dashed at initialisation, the legend (below
/// the chart) saying so. `cells` holds each
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
        560,
        GradientNorms {
            title: title.to_owned(),
            cells,
        },
    )
}
