//! A line chart: the curves of a history, of runs compared, of accuracy by rows. Its x axis
//! has ticks chosen here (whole numbers for epochs and rows, so no tick repeats or falls
//! between two epochs); its legend is drawn by the caller, outside the chart
//! ([`super::legend`]).
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{drawing_error, text_style, DrawResult, PALETTE};
use super::legend::{LegendEntry, LineStyle};

/// At most this many labels on an x axis: enough to read off a value, few enough to read.
pub(super) const MAX_X_LABELS: usize = 10;

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

/// 1, 2, 5, 10, 20, 50, ...: the steps a reader counts in.
fn nice_steps(smallest: f64) -> impl Iterator<Item = f64> {
    let start = smallest.max(1e-12).log10().floor() as i32;
    (start..start + 40).flat_map(|p| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(p)))
}

/// Ticks on whole numbers from `lo` to `hi`: every one when there are at most `max_labels`,
/// otherwise the multiples of the smallest step of 1, 2, 5, 10, 20, ... that keeps to
/// `max_labels`; an end (the last first) is added when it lies more than half a step from the
/// nearest tick and there is room (so 1..28 is 1, 5, 10, 15, 20, 25, 28). Each tick appears once.
pub(super) fn whole_ticks(lo: i64, hi: i64, max_labels: usize) -> Vec<i64> {
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    let max_labels = max_labels.max(2);
    for step in nice_steps(1.0).map(|s| s.round() as i64) {
        let first = lo + (step - lo.rem_euclid(step)) % step;
        let mut ticks: Vec<i64> = (0..)
            .map(|k| first + k * step)
            .take_while(|&t| t <= hi)
            .collect();
        if ticks.len() > max_labels {
            continue;
        }
        // The last epoch first: where training ended matters more than where it began.
        if ticks.len() < max_labels && ticks.last().is_none_or(|&t| 2 * (hi - t) > step) {
            ticks.push(hi);
        }
        if ticks.len() < max_labels && ticks.first().is_none_or(|&t| 2 * (t - lo) > step) {
            ticks.insert(0, lo);
        }
        ticks.dedup();
        return ticks;
    }
    vec![lo, hi]
}

/// Ticks on the multiples of a 1-2-5 step from `lo` to `hi`, at most `max_labels`, and how
/// many decimals their labels need.
pub(super) fn continuous_ticks(lo: f64, hi: f64, max_labels: usize) -> (Vec<f64>, usize) {
    let span = (hi - lo).abs().max(1e-9);
    let max_labels = max_labels.max(2);
    for step in nice_steps(span / max_labels as f64 / 10.0) {
        let first = (lo / step).ceil() as i64;
        let last = (hi / step).floor() as i64;
        if last - first < max_labels as i64 {
            let ticks = (first..=last).map(|k| k as f64 * step).collect();
            let decimals = (-step.log10().floor()).max(0.0) as usize;
            return (ticks, decimals);
        }
    }
    (vec![lo, hi], 1)
}

/// An f64 axis labelled at given ticks only (plotters' `with_key_points` would do, but it
/// keeps f64's own formatting, which refuses a label formatter of ours).
pub(super) struct TickedAxis {
    range: RangedCoordf64,
    ticks: Vec<f64>,
}

impl TickedAxis {
    pub(super) fn new(range: std::ops::Range<f64>, ticks: Vec<f64>) -> Self {
        TickedAxis {
            range: range.into(),
            ticks,
        }
    }
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.range.map(value, limit)
    }

    /// The ticks for labels and grid lines; no light grid lines between them.
    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.range()
    }
}

/// How the x axis is ticked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum XTicks {
    /// Epochs, rows, steps: whole numbers only.
    Whole,
    /// Seconds and the like.
    Continuous,
}

/// The x range and its ticks (as positions and labels) for points from `lo` to `hi`.
fn x_axis(lo: f64, hi: f64, ticks: XTicks) -> (std::ops::Range<f64>, Vec<f64>, usize) {
    match ticks {
        XTicks::Whole => {
            let (lo, hi) = (lo.round() as i64, hi.round() as i64);
            let values = whole_ticks(lo, hi, MAX_X_LABELS);
            // A little room either side so the first and last markers are whole.
            let pad = ((hi - lo) as f64 * 0.03).max(0.25);
            let range = lo as f64 - pad..hi as f64 + pad;
            (range, values.into_iter().map(|t| t as f64).collect(), 0)
        }
        XTicks::Continuous => {
            let pad = ((hi - lo) * 0.03).max(1e-6);
            let (lo, hi) = (lo - pad, hi + pad);
            let (values, decimals) = continuous_ticks(lo, hi, MAX_X_LABELS - 2);
            (lo..hi, values, decimals)
        }
    }
}

/// A series of (x, y) points with a legend label, colour and line style.
pub(super) struct Series {
    pub(super) label: String,
    pub(super) color: RGBColor,
    pub(super) line: LineStyle,
    pub(super) points: Vec<(f64, f64)>,
}

/// Series with this many points or fewer get a dot on each point.
const MAX_MARKED_POINTS: usize = 40;

impl Series {
    /// The `index`-th of several lines, in the palette's colour for it.
    pub(super) fn nth(index: usize, label: &str, line: LineStyle, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.to_owned(),
            color: PALETTE[index % PALETTE.len()],
            line,
            points,
        }
    }

    fn marked(&self) -> bool {
        self.points.len() <= MAX_MARKED_POINTS
    }

    /// Its legend entry: its label, drawn in its colour and style.
    pub(super) fn legend_entry(&self) -> LegendEntry {
        LegendEntry {
            label: self.label.clone(),
            color: self.color,
            line: self.line,
            marker: self.marked(),
        }
    }
}

/// A horizontal reference line across the chart, e.g. chance accuracy.
pub(super) struct Guide {
    pub(super) y: f64,
    pub(super) color: RGBColor,
    pub(super) line: LineStyle,
}

/// What a line chart shows besides its series.
pub(super) struct Axes<'a> {
    pub(super) caption: &'a str,
    pub(super) x_desc: &'a str,
    pub(super) y_desc: &'a str,
    pub(super) x_ticks: XTicks,
    /// Limits the y range may not pass (e.g. accuracy stays at or below 1).
    pub(super) y_bounds: (Option<f64>, Option<f64>),
    pub(super) guides: &'a [Guide],
}

/// A line chart of `series` in `area`, without a legend.
pub(super) fn line_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    axes: &Axes<'_>,
    series: &[Series],
) -> DrawResult {
    let xs = || series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let x_hi = xs().fold(f64::NEG_INFINITY, f64::max);
    let x_lo = xs().fold(f64::INFINITY, f64::min);
    let (x_lo, x_hi) = if x_lo.is_finite() {
        (x_lo, x_hi)
    } else {
        (0.0, 1.0)
    };
    let (x_range, x_ticks, decimals) = x_axis(x_lo, x_hi, axes.x_ticks);
    let y = y_range(
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .chain(axes.guides.iter().map(|g| g.y)),
        axes.y_bounds.0,
        axes.y_bounds.1,
    );
    let mut chart = ChartBuilder::on(area)
        .caption(axes.caption, text_style(18.0))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(TickedAxis::new(x_range.clone(), x_ticks), y)
        .map_err(drawing_error)?;
    chart
        .configure_mesh()
        .x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .x_label_formatter(&|x| format!("{x:.decimals$}"))
        .label_style(text_style(13.0))
        .axis_desc_style(text_style(14.0))
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(drawing_error)?;
    for guide in axes.guides {
        let ends = [(x_range.start, guide.y), (x_range.end, guide.y)];
        draw_line(&mut chart, &ends, guide.color, guide.line)?;
    }
    for s in series {
        draw_line(&mut chart, &s.points, s.color, s.line)?;
        if s.marked() {
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|&p| Circle::new(p, 3, s.color.filled())),
                )
                .map_err(drawing_error)?;
        }
    }
    Ok(())
}

fn draw_line<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<TickedAxis, RangedCoordf64>>,
    points: &[(f64, f64)],
    color: RGBColor,
    line: LineStyle,
) -> DrawResult {
    let style = ShapeStyle::from(&color).stroke_width(2);
    let points = points.iter().copied();
    match line {
        LineStyle::Solid => chart
            .draw_series(LineSeries::new(points, style))
            .map(|_| ()),
        LineStyle::Dashed => chart
            .draw_series(DashedLineSeries::new(points, 6, 4, style))
            .map(|_| ()),
    }
    .map_err(drawing_error)
}
