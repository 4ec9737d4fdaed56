//! A line chart with a legend: the curves of a history, of runs compared, of accuracy by rows.
use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{drawing_error, text_style, DrawResult, PALETTE};

/// Fits a y range around the values with a little margin.
fn y_range(
    values: impl Iterator<Item = f64>,
    floor: Option<f64>,
    ceiling: Option<f64>,
) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(1e-3);
    lo -= pad;
    hi += pad;
    if let Some(f) = floor {
        lo = lo.max(f);
    }
    if let Some(c) = ceiling {
        hi = hi.min(c);
    }
    lo..hi
}

/// A series of (x, y) points with a legend label and colour.
pub(super) struct Series {
    pub(super) label: String,
    pub(super) color: RGBColor,
    pub(super) dashed: bool,
    pub(super) points: Vec<(f64, f64)>,
}

impl Series {
    /// The `index`-th of several solid lines, in the palette's colour for it.
    pub(super) fn nth(index: usize, label: &str, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.to_owned(),
            color: PALETTE[index % PALETTE.len()],
            dashed: false,
            points,
        }
    }
}

/// A line chart in `area`.
pub(super) fn line_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    y_bounds: (Option<f64>, Option<f64>),
    legend: SeriesLabelPosition,
) -> DrawResult {
    let x_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(1.0f64, f64::max);
    let x_min = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(x_max, f64::min)
        .min(x_max - 1e-9);
    let y = y_range(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
        y_bounds.0,
        y_bounds.1,
    );
    let mut chart = ChartBuilder::on(area)
        .caption(caption, text_style(18.0))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x_min..x_max, y)
        .map_err(drawing_error)?;
    let whole_numbers = x_max - x_min >= 4.0;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x| {
            if whole_numbers {
                format!("{x:.0}")
            } else {
                format!("{x:.1}")
            }
        })
        .label_style(text_style(13.0))
        .axis_desc_style(text_style(14.0))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(drawing_error)?;
    for s in series {
        let style = ShapeStyle::from(&s.color).stroke_width(2);
        let drawn = if s.dashed {
            chart.draw_series(DashedLineSeries::new(s.points.iter().copied(), 6, 4, style))
        } else {
            chart.draw_series(LineSeries::new(s.points.iter().copied(), style))
        }
        .map_err(drawing_error)?;
        let color = s.color;
        drawn.label(s.label.clone()).legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
        });
        if s.points.len() <= 40 {
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|&p| Circle::new(p, 3, s.color.filled())),
                )
                .map_err(drawing_error)?;
        }
    }
    chart
        .configure_series_labels()
        .label_font(text_style(13.0))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .position(legend)
        .draw()
        .map_err(drawing_error)?;
    Ok(())
}
