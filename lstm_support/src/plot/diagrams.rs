//! Diagrams of the recurrent computations, drawn as figures like the others so that they look
//! the same in JupyterLab, in the HTML exports and on GitHub: an RNN unrolled over the rows of
//! a digit, the LSTM cell and the GRU cell.
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::figure::{drawing_error, text_style, Draw, DrawResult, Figure, PALETTE};
use crate::error::{Error, Result};

type Point = (i32, i32);

/// What a diagram is made of, in pixels from the top left.
enum Shape {
    /// A box with a centred label: a layer, or a gate with its activation.
    Block {
        center: Point,
        size: (i32, i32),
        label: String,
        fill: RGBColor,
    },
    /// A small circle for an element-wise operation (×, +, 1 − z).
    Op { center: Point, label: String },
    /// A line along the points with an arrow head at the last one.
    Arrow(Vec<Point>),
    /// Text centred on a point.
    Label {
        at: Point,
        text: String,
        size: f64,
        color: RGBColor,
    },
}

struct Diagram {
    title: String,
    shapes: Vec<Shape>,
}

const OP_RADIUS: i32 = 12;
/// The height of the gated cells' input row: h(t-1) through the mask, and x(t).
const INPUTS_Y: i32 = 350;
const GREY: RGBColor = RGBColor(90, 90, 90);

fn block(center: Point, size: (i32, i32), label: &str, fill: RGBColor) -> Shape {
    Shape::Block {
        center,
        size,
        label: label.to_owned(),
        fill,
    }
}

fn op(center: Point, label: &str) -> Shape {
    Shape::Op {
        center,
        label: label.to_owned(),
    }
}

fn arrow(points: &[Point]) -> Shape {
    Shape::Arrow(points.to_vec())
}

fn label(at: Point, text: &str, size: f64) -> Shape {
    Shape::Label {
        at,
        text: text.to_owned(),
        size,
        color: BLACK,
    }
}

fn note(at: Point, text: &str) -> Shape {
    Shape::Label {
        at,
        text: text.to_owned(),
        size: 14.0,
        color: GREY,
    }
}

/// A light tint of a palette colour, for the boxes' fill.
fn tint(color: RGBColor) -> RGBColor {
    let mix = |c: u8| (f64::from(c) * 0.25 + 255.0 * 0.75).round() as u8;
    RGBColor(mix(color.0), mix(color.1), mix(color.2))
}

impl Draw for Diagram {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let centred = |size: f64| text_style(size).pos(Pos::new(HPos::Center, VPos::Center));
        let width = area.dim_in_pixel().0 as i32;
        area.draw(&Text::new(
            self.title.as_str(),
            (width / 2, 22),
            centred(18.0),
        ))
        .map_err(drawing_error)?;
        for shape in &self.shapes {
            match shape {
                Shape::Block {
                    center: (x, y),
                    size: (w, h),
                    label,
                    fill,
                } => {
                    let corners = [(x - w / 2, y - h / 2), (x + w / 2, y + h / 2)];
                    area.draw(&Rectangle::new(corners, fill.filled()))
                        .map_err(drawing_error)?;
                    area.draw(&Rectangle::new(corners, BLACK.stroke_width(2)))
                        .map_err(drawing_error)?;
                    area.draw(&Text::new(label.as_str(), (*x, *y), centred(16.0)))
                        .map_err(drawing_error)?;
                }
                Shape::Op { center, label } => {
                    area.draw(&Circle::new(*center, OP_RADIUS, WHITE.filled()))
                        .map_err(drawing_error)?;
                    area.draw(&Circle::new(*center, OP_RADIUS, BLACK.stroke_width(2)))
                        .map_err(drawing_error)?;
                    area.draw(&Text::new(label.as_str(), *center, centred(16.0)))
                        .map_err(drawing_error)?;
                }
                Shape::Arrow(points) => draw_arrow(area, points)?,
                Shape::Label {
                    at,
                    text,
                    size,
                    color,
                } => {
                    let style = centred(*size).color(color);
                    area.draw(&Text::new(text.as_str(), *at, style))
                        .map_err(drawing_error)?;
                }
            }
        }
        Ok(())
    }
}

/// A polyline with a filled head at its last point, pointing along its last segment.
fn draw_arrow<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, points: &[Point]) -> DrawResult {
    area.draw(&PathElement::new(points.to_vec(), BLACK.stroke_width(2)))
        .map_err(drawing_error)?;
    let (Some(&(x1, y1)), Some(&(x0, y0))) = (points.last(), points.iter().rev().nth(1)) else {
        return Ok(());
    };
    let (dx, dy) = (f64::from(x1 - x0), f64::from(y1 - y0));
    let length = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / length, dy / length);
    let (back, half) = (11.0, 5.0);
    let corner = |side: f64| {
        (
            (f64::from(x1) - back * ux - side * half * uy).round() as i32,
            (f64::from(y1) - back * uy + side * half * ux).round() as i32,
        )
    };
    area.draw(&Polygon::new(
        vec![(x1, y1), corner(1.0), corner(-1.0)],
        BLACK.filled(),
    ))
    .map_err(drawing_error)
}

/// A recurrent layer unrolled over the rows of a digit: the same cell (the same weights) at
/// every step, reading row t and its own state from step t - 1; the head reads the state after
/// the last row. `cell` names it (`"LSTM"`, `"GRU"`, `"SimpleRNN"`); `steps` is the number of
/// rows (at least 4; the middle ones are elided).
pub fn unrolled(cell: &str, steps: usize) -> Result<Figure> {
    if steps < 4 {
        return Err(Error::invalid(
            "steps",
            format!("{steps}; draw at least 4 (the middle steps are elided)"),
        ));
    }
    let fill = tint(PALETTE[0]);
    let columns = [(110, "1"), (270, "2"), (430, "3")];
    let last = (680, steps.to_string());
    let mut shapes = Vec::new();
    for (x, t) in columns
        .iter()
        .map(|(x, t)| (*x, t.to_string()))
        .chain([last])
    {
        shapes.push(block((x, 150), (100, 60), cell, fill));
        shapes.push(arrow(&[(x, 250), (x, 182)]));
        shapes.push(label((x, 268), &format!("x({t}): row {t}"), 15.0));
    }
    shapes.push(note((20 + 10, 150), "0"));
    shapes.push(arrow(&[(40, 150), (58, 150)]));
    for x in [110, 270] {
        shapes.push(arrow(&[(x + 50, 150), (x + 108, 150)]));
        shapes.push(note((x + 80, 135), "state"));
    }
    shapes.push(arrow(&[(480, 150), (520, 150)]));
    shapes.push(label((555, 150), "...", 22.0));
    shapes.push(arrow(&[(590, 150), (628, 150)]));
    shapes.push(block(
        (860, 150),
        (130, 60),
        "Dense softmax",
        tint(PALETTE[1]),
    ));
    shapes.push(arrow(&[(730, 150), (793, 150)]));
    shapes.push(note((762, 135), "h(T)"));
    shapes.push(arrow(&[(860, 120), (860, 72)]));
    shapes.push(label((860, 58), "p(0), ..., p(9)", 15.0));
    shapes.push(note(
        (470, 318),
        &format!(
            "one {cell} cell, the same weights at every step; its state after step t is what it knows of rows 1 to t"
        ),
    ));
    shapes.push(note(
        (470, 340),
        &format!("T = {steps} steps; training back-propagates through all of them (through time)"),
    ));
    Figure::new(
        960,
        360,
        Diagram {
            title: format!("{cell} unrolled over the {steps} rows of a digit"),
            shapes,
        },
    )
}

/// The LSTM cell: the cell state c runs along the top, changed only by the forget gate (×) and
/// the input gate's share of the candidate (+); the output gate shows tanh(c) as h. The
/// recurrent dropout mask m multiplies h(t - 1) before the gates' recurrent products.
pub fn lstm_cell() -> Result<Figure> {
    let fill = |i: usize| tint(PALETTE[i]);
    let (top, bottom) = (100, INPUTS_Y);
    let gate_y = 270;
    let shapes = vec![
        // The cell state's path (the gates' inputs along the bottom: cell_figure).
        label((55, top), "c(t-1)", 16.0),
        arrow(&[(90, top), (288, top)]),
        op((300, top), "×"),
        arrow(&[(312, top), (488, top)]),
        op((500, top), "+"),
        arrow(&[(512, top), (850, top)]),
        label((880, top), "c(t)", 16.0),
        // The gates, each sigma or tanh of W x(t) + U (m h(t-1)) + b.
        block((300, gate_y), (90, 40), "f: σ", fill(0)),
        block((420, gate_y), (90, 40), "i: σ", fill(2)),
        block((540, gate_y), (90, 40), "g: tanh", fill(1)),
        block((660, gate_y), (90, 40), "o: σ", fill(4)),
        arrow(&[(300, gate_y - 20), (300, top + OP_RADIUS)]),
        op((500, 180), "×"),
        arrow(&[(420, gate_y - 20), (420, 180), (488, 180)]),
        arrow(&[(540, gate_y - 20), (540, 180), (512, 180)]),
        arrow(&[(500, 168), (500, top + OP_RADIUS)]),
        // The output: o × tanh(c).
        arrow(&[(740, top), (740, 133)]),
        block((740, 150), (70, 30), "tanh", fill(7)),
        arrow(&[(740, 165), (740, 198)]),
        op((740, 210), "×"),
        arrow(&[(660, gate_y - 20), (660, 210), (728, 210)]),
        arrow(&[(752, 210), (850, 210)]),
        label((880, 210), "h(t)", 16.0),
        arrow(&[(300, bottom), (300, gate_y + 20)]),
        arrow(&[(420, bottom), (420, gate_y + 20)]),
        arrow(&[(540, bottom), (540, gate_y + 20)]),
        arrow(&[(660, bottom), (660, gate_y + 20)]),
    ];
    cell_figure(
        "The LSTM cell at step t",
        shapes,
        660,
        [
            "each gate: its activation of W x(t) + U (m ⊙ h(t-1)) + b, 32 values; × and + act element by element",
            "c(t) = f ⊙ c(t-1) + i ⊙ g,  h(t) = o ⊙ tanh(c(t));  m: recurrent dropout, training only (1 at evaluation)",
        ],
    )
}

/// The GRU cell (`reset_after`, as Keras and PyTorch): h runs along the top, kept in the share
/// z and replaced in the share 1 - z by the candidate n, whose recurrent part the reset gate r
/// scales.
pub fn gru_cell() -> Result<Figure> {
    let fill = |i: usize| tint(PALETTE[i]);
    let (top, bottom) = (100, INPUTS_Y);
    let gate_y = 270;
    let shapes = vec![
        label((55, top), "h(t-1)", 16.0),
        arrow(&[(90, top), (388, top)]),
        op((400, top), "×"),
        arrow(&[(412, top), (588, top)]),
        op((600, top), "+"),
        arrow(&[(612, top), (850, top)]),
        label((880, top), "h(t)", 16.0),
        block((300, gate_y), (90, 40), "r: σ", fill(0)),
        block((400, gate_y), (90, 40), "z: σ", fill(2)),
        block((600, gate_y), (110, 40), "n: tanh", fill(1)),
        // z keeps its share of h(t-1); 1 - z lets the candidate in.
        arrow(&[(400, gate_y - 20), (400, top + OP_RADIUS)]),
        block((500, 190), (44, 24), "1 - z", WHITE),
        arrow(&[(445, gate_y), (500, gate_y), (500, 202)]),
        op((600, 190), "×"),
        arrow(&[(522, 190), (588, 190)]),
        arrow(&[(600, gate_y - 20), (600, 202)]),
        arrow(&[(600, 178), (600, top + OP_RADIUS)]),
        // The reset gate scales the candidate's recurrent part.
        arrow(&[(300, gate_y + 20), (300, 312), (522, 312)]),
        note((480, 302), "r"),
        arrow(&[(534, bottom), (534, 324)]),
        arrow(&[(546, 312), (570, 312), (570, gate_y + 20)]),
        op((534, 312), "×"),
        arrow(&[(270, bottom), (270, gate_y + 20)]),
        arrow(&[(400, bottom), (400, gate_y + 20)]),
        arrow(&[(640, bottom), (640, gate_y + 20)]),
    ];
    cell_figure(
        "The GRU cell at step t",
        shapes,
        640,
        [
            "r, z: σ of W x(t) + b + U (m ⊙ h(t-1)) + b';  n = tanh(W_n x(t) + b_n + r ⊙ (U_n (m ⊙ h(t-1)) + b'_n))",
            "h(t) = z ⊙ h(t-1) + (1 - z) ⊙ n: with z near 1 a unit keeps its value, and the kept share bypasses the mask",
        ],
    )
}

/// The bottom row every gated cell's diagram shares: h(t-1) through the recurrent dropout mask
/// m and x(t), running to `inputs_end` (the last gate's x), then two lines of equations; the
/// cell's own `shapes` draw the gates and the state between.
fn cell_figure(
    title: &str,
    mut shapes: Vec<Shape>,
    inputs_end: i32,
    equations: [&str; 2],
) -> Result<Figure> {
    shapes.extend([
        label((55, INPUTS_Y), "h(t-1)", 16.0),
        arrow(&[(90, INPUTS_Y), (168, INPUTS_Y)]),
        op((180, INPUTS_Y), "×"),
        note((180, INPUTS_Y + 26), "mask m"),
        arrow(&[(192, INPUTS_Y), (inputs_end, INPUTS_Y)]),
        label((240, 415), "x(t): row t", 16.0),
        arrow(&[(240, 400), (240, INPUTS_Y)]),
        note((480, 455), equations[0]),
        note((480, 477), equations[1]),
    ]);
    Figure::new(
        960,
        495,
        Diagram {
            title: title.into(),
            shapes,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each diagram draws, and draws something: ink on most of its rows of pixels.
    #[test]
    fn the_diagrams_draw() {
        for figure in [unrolled("LSTM", 28), lstm_cell(), gru_cell()] {
            let figure = figure.unwrap();
            let (w, h) = figure.size();
            let rgb = figure.to_rgb().unwrap();
            let inked_rows = (0..h as usize)
                .filter(|y| {
                    let row = &rgb[y * w as usize * 3..(y + 1) * w as usize * 3];
                    row.iter().any(|&v| v < 128)
                })
                .count();
            assert!(
                inked_rows > h as usize / 3,
                "{inked_rows} of {h} rows inked"
            );
            assert!(figure.to_svg().unwrap().contains("<svg"));
        }
        let message = unrolled("LSTM", 3).unwrap_err().to_string();
        assert!(message.contains("at least 4"), "{message}");
    }
}
