//! Legends drawn in their own strip below a chart, so they never cover a curve. Each entry's
//! sample is drawn in its line's style (solid or dashed), so the legend explains the styles as
//! well as the colours.
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::figure::{drawing_error, text_style, DrawResult};

/// How a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LineStyle {
    Solid,
    Dashed,
}

/// The grey of legend entries that explain a line style rather than name a series.
pub(super) const STYLE_GREY: RGBColor = RGBColor(90, 90, 90);

/// One legend entry: a line sample (with a dot when the series has markers) and its label.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LegendEntry {
    pub(super) label: String,
    pub(super) color: RGBColor,
    pub(super) line: LineStyle,
    pub(super) marker: bool,
}

impl LegendEntry {
    /// An entry for a grey line that explains what a style means, e.g. "training (dashed)".
    pub(super) fn style(label: &str, line: LineStyle) -> Self {
        LegendEntry {
            label: label.to_owned(),
            color: STYLE_GREY,
            line,
            marker: false,
        }
    }
}

const SAMPLE_PX: i32 = 30;
const SAMPLE_GAP_PX: i32 = 6;
const ENTRY_GAP_PX: i32 = 22;
const ROW_PX: i32 = 20;
const PAD_PX: i32 = 6;
const FONT_SIZE: f64 = 13.0;

/// Which entries go on which row: greedily, as many as fit in `available` pixels, in order.
/// `widths` are the entries' widths, sample and label included.
pub(super) fn legend_rows(widths: &[i32], available: i32) -> Vec<Vec<usize>> {
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut used = 0;
    for (i, &w) in widths.iter().enumerate() {
        match rows.last_mut() {
            Some(row) if used + ENTRY_GAP_PX + w <= available => {
                row.push(i);
                used += ENTRY_GAP_PX + w;
            }
            _ => {
                rows.push(vec![i]);
                used = w;
            }
        }
    }
    rows
}

fn entry_widths<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> Result<Vec<i32>, String> {
    entries
        .iter()
        .map(|e| {
            let (w, _) = area
                .estimate_text_size(&e.label, &text_style(FONT_SIZE))
                .map_err(drawing_error)?;
            Ok(SAMPLE_PX + SAMPLE_GAP_PX + w as i32)
        })
        .collect()
}

/// Splits `area` into the chart's part (top) and a legend strip (bottom) tall enough for
/// `entries`, and draws the legend in the strip; returns the chart's part.
pub(super) fn with_legend_below<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> Result<DrawingArea<DB, Shift>, String> {
    let (width, height) = area.dim_in_pixel();
    let widths = entry_widths(area, entries)?;
    let rows = legend_rows(&widths, width as i32 - 2 * PAD_PX);
    let strip = rows.len() as i32 * ROW_PX + 2 * PAD_PX;
    let (chart, legend) = area.split_vertically((height as i32 - strip).max(0));
    draw_rows(&legend, entries, &widths, &rows)?;
    Ok(chart)
}

/// Each row centred across `area`.
fn draw_rows<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    widths: &[i32],
    rows: &[Vec<usize>],
) -> DrawResult {
    let width = area.dim_in_pixel().0 as i32;
    let label_pos = plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Left,
        plotters::style::text_anchor::VPos::Center,
    );
    for (r, row) in rows.iter().enumerate() {
        let row_width: i32 =
            row.iter().map(|&i| widths[i]).sum::<i32>() + ENTRY_GAP_PX * (row.len() as i32 - 1);
        let mut x = ((width - row_width) / 2).max(PAD_PX);
        let y = PAD_PX + r as i32 * ROW_PX + ROW_PX / 2;
        for &i in row {
            let entry = &entries[i];
            draw_sample(area, entry, (x, y))?;
            area.draw(&Text::new(
                entry.label.clone(),
                (x + SAMPLE_PX + SAMPLE_GAP_PX, y),
                text_style(FONT_SIZE).pos(label_pos),
            ))
            .map_err(drawing_error)?;
            x += widths[i] + ENTRY_GAP_PX;
        }
    }
    Ok(())
}

/// A line sample `SAMPLE_PX` long starting at `start`, in the entry's colour and style.
fn draw_sample<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entry: &LegendEntry,
    start: (i32, i32),
) -> DrawResult {
    let (x, y) = start;
    let style = entry.color.stroke_width(2);
    let ends = [(x, y), (x + SAMPLE_PX, y)];
    match entry.line {
        LineStyle::Solid => area.draw(&PathElement::new(ends, style)),
        LineStyle::Dashed => area.draw(&DashedPathElement::new(ends, 6, 4, style)),
    }
    .map_err(drawing_error)?;
    if entry.marker {
        area.draw(&Circle::new(
            (x + SAMPLE_PX / 2, y),
            3,
            entry.color.filled(),
        ))
        .map_err(drawing_error)?;
    }
    Ok(())
}
