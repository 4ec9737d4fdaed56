//! Figures drawn with `plotters`: training curves, run comparisons, the confusion matrix,
//! digit galleries and the "reading row by row" view. Each is a [`Figure`]: the last
//! expression of a notebook cell shows it inline (PNG), and it can be saved as PNG or SVG.
//!
//! Text uses DejaVu Sans, bundled in the crate, so figures look the same on a fresh machine
//! with no fonts installed.
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters_bitmap::BitMapBackend;

use crate::data::{Dataset, TestSet};
use crate::error::{Error, Result};
use crate::metrics::ConfusionMatrix;
use crate::model::Model;
use crate::record::RunRecord;
use crate::training::History;

mod inside;
mod prediction;
pub use inside::{gate_traces, gradient_norms};
pub use prediction::prediction;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FONT_FAMILY: &str = "sans-serif";

/// Tableau-like colours, distinct for up to 10 series.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn register_font() -> Result<()> {
    static REGISTERED: once_cell::sync::OnceCell<std::result::Result<(), String>> =
        once_cell::sync::OnceCell::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT)
                .map_err(|_| "the bundled DejaVu Sans font could not be loaded".to_owned())
        })
        .clone()
        .map_err(|e| Error::invalid("font", e))
}

type DrawResult = std::result::Result<(), String>;

fn drawing_error<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// What each figure type implements: drawing on any plotters backend.
trait Draw {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult;
}

/// The two backends a figure is rendered to, as an object-safe trait.
trait Render {
    fn bitmap(&self, area: &DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult;
    fn svg(&self, area: &DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult;
}

impl<T: Draw> Render for T {
    fn bitmap(&self, area: &DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult {
        self.draw(area)
    }
    fn svg(&self, area: &DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult {
        self.draw(area)
    }
}

/// A drawn figure: shown inline by evcxr, or saved with [`Figure::save_png`] /
/// [`Figure::save_svg`].
pub struct Figure {
    width: u32,
    height: u32,
    drawing: Box<dyn Render>,
}

impl std::fmt::Debug for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Figure({}x{})", self.width, self.height)
    }
}

impl Figure {
    fn new(width: u32, height: u32, drawing: impl Draw + 'static) -> Result<Self> {
        if width < 50 || height < 50 || width > 8000 || height > 8000 {
            return Err(Error::invalid(
                "figure size",
                format!("{width}x{height}; use 50 to 8000 pixels a side"),
            ));
        }
        register_font()?;
        Ok(Figure {
            width,
            height,
            drawing: Box::new(drawing),
        })
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The figure as RGB pixels, row-major.
    pub fn to_rgb(&self) -> Result<Vec<u8>> {
        let mut buffer = vec![0u8; (self.width * self.height * 3) as usize];
        {
            let area = BitMapBackend::with_buffer(&mut buffer, (self.width, self.height))
                .into_drawing_area();
            area.fill(&WHITE)
                .map_err(|e| Error::invalid("figure", drawing_error(e)))?;
            self.drawing
                .bitmap(&area)
                .map_err(|e| Error::invalid("figure", e))?;
            area.present()
                .map_err(|e| Error::invalid("figure", drawing_error(e)))?;
        }
        Ok(buffer)
    }

    /// The figure as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let rgb = self.to_rgb()?;
        let mut png_bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut png_bytes, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .write_header()
            .and_then(|mut writer| writer.write_image_data(&rgb))
            .map_err(|e| Error::invalid("PNG encoding", e.to_string()))?;
        Ok(png_bytes)
    }

    /// The figure as an SVG document.
    pub fn to_svg(&self) -> Result<String> {
        let mut svg = String::new();
        {
            let area =
                SVGBackend::with_string(&mut svg, (self.width, self.height)).into_drawing_area();
            area.fill(&WHITE)
                .map_err(|e| Error::invalid("figure", drawing_error(e)))?;
            self.drawing
                .svg(&area)
                .map_err(|e| Error::invalid("figure", e))?;
            area.present()
                .map_err(|e| Error::invalid("figure", drawing_error(e)))?;
        }
        Ok(svg)
    }

    /// Writes a PNG file (atomically).
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::fsutil::write_bytes_atomically(path.as_ref(), &self.to_png()?)
    }

    /// Writes an SVG file (atomically).
    pub fn save_svg(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::fsutil::write_bytes_atomically(path.as_ref(), self.to_svg()?.as_bytes())
    }

    /// The text evcxr reads to show the figure inline: a PNG. PNG rather than SVG because
    /// JupyterLab, nbconvert's HTML and GitHub all render it the same way, it keeps the text
    /// as drawn with the bundled font (an SVG names a font the viewer may not have), and a
    /// digit gallery is thousands of small squares, far smaller as PNG.
    pub fn evcxr_display_text(&self) -> Result<String> {
        use base64::Engine;
        let png = self.to_png()?;
        Ok(format!(
            "EVCXR_BEGIN_CONTENT image/png\n{}\nEVCXR_END_CONTENT\n",
            base64::engine::general_purpose::STANDARD.encode(png)
        ))
    }

    /// Called by evcxr when a `Figure` is the value of a cell.
    pub fn evcxr_display(&self) {
        match self.evcxr_display_text() {
            Ok(text) => print!("{text}"),
            Err(e) => println!("(figure could not be drawn: {e})"),
        }
    }
}

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

fn text_style(size: f64) -> TextStyle<'static> {
    (FONT_FAMILY, size).into_font().into()
}

/// A series of (x, y) points with a legend label and colour.
struct Series {
    label: String,
    color: RGBColor,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

/// A line chart in `area`.
fn line_chart<DB: DrawingBackend>(
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

struct HistoryCurves {
    title: String,
    history: History,
}

impl Draw for HistoryCurves {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = area
            .titled(&self.title, text_style(20.0))
            .map_err(drawing_error)?;
        let (left, right) = area.split_horizontally(area.dim_in_pixel().0 / 2);
        let epochs = &self.history.epochs;
        let series =
            |label: &str, color, dashed, f: fn(&crate::training::EpochMetrics) -> f64| Series {
                label: label.to_owned(),
                color,
                dashed,
                points: epochs.iter().map(|e| (e.epoch as f64, f(e))).collect(),
            };
        line_chart(
            &left,
            "Accuracy",
            "epoch",
            "accuracy",
            &[
                series("training", PALETTE[0], true, |e| e.train_accuracy),
                series("validation", PALETTE[1], false, |e| e.val_accuracy),
            ],
            (None, Some(1.0)),
            SeriesLabelPosition::LowerRight,
        )?;
        line_chart(
            &right,
            "Loss (categorical cross-entropy)",
            "epoch",
            "loss",
            &[
                series("training", PALETTE[0], true, |e| e.train_loss),
                series("validation", PALETTE[1], false, |e| e.val_loss),
            ],
            (Some(0.0), None),
            SeriesLabelPosition::UpperRight,
        )
    }
}

/// Training and validation accuracy (left) and loss (right) against epoch, titled `title`
/// (e.g. the model's description).
pub fn history_curves(history: &History, title: &str) -> Result<Figure> {
    if history.is_empty() {
        return Err(Error::invalid("history", "it has no epochs to plot"));
    }
    Figure::new(
        1000,
        400,
        HistoryCurves {
            title: title.to_owned(),
            history: history.clone(),
        },
    )
}

struct RunComparison {
    title: String,
    runs: Vec<(String, History)>,
}

impl Draw for RunComparison {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = area
            .titled(&self.title, text_style(20.0))
            .map_err(drawing_error)?;
        let (left, right) = area.split_horizontally(area.dim_in_pixel().0 / 2);
        let by_epoch: Vec<Series> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, (name, h))| Series {
                label: name.clone(),
                color: PALETTE[i % PALETTE.len()],
                dashed: false,
                points: h
                    .epochs
                    .iter()
                    .map(|e| (e.epoch as f64, e.val_accuracy))
                    .collect(),
            })
            .collect();
        let by_time: Vec<Series> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, (name, h))| {
                let mut elapsed = 0.0;
                Series {
                    label: name.clone(),
                    color: PALETTE[i % PALETTE.len()],
                    dashed: false,
                    points: h
                        .epochs
                        .iter()
                        .map(|e| {
                            elapsed += e.seconds;
                            (elapsed, e.val_accuracy)
                        })
                        .collect(),
                }
            })
            .collect();
        line_chart(
            &left,
            "Validation accuracy by epoch",
            "epoch",
            "validation accuracy",
            &by_epoch,
            (None, Some(1.0)),
            SeriesLabelPosition::LowerRight,
        )?;
        line_chart(
            &right,
            "Validation accuracy by training time",
            "seconds of training",
            "validation accuracy",
            &by_time,
            (None, Some(1.0)),
            SeriesLabelPosition::LowerRight,
        )
    }
}

/// Validation accuracy of several runs against epoch (left) and wall-clock seconds (right),
/// one colour and legend entry per run.
pub fn compare_runs(runs: &[(&str, &History)], title: &str) -> Result<Figure> {
    if runs.is_empty() || runs.iter().any(|(_, h)| h.is_empty()) {
        return Err(Error::invalid(
            "runs",
            "give at least one run, each with at least one epoch",
        ));
    }
    Figure::new(
        1100,
        430,
        RunComparison {
            title: title.to_owned(),
            runs: runs
                .iter()
                .map(|(n, h)| (n.to_string(), (*h).clone()))
                .collect(),
        },
    )
}

/// [`compare_runs`] for run records (or runs' records), each labelled with its name.
pub fn compare_records<R: std::borrow::Borrow<RunRecord>>(
    records: &[R],
    title: &str,
) -> Result<Figure> {
    let runs: Vec<(&str, &History)> = records
        .iter()
        .map(|r| (r.borrow().spec.name.as_str(), &r.borrow().history))
        .collect();
    compare_runs(&runs, title)
}

/// White to dark blue.
fn blues(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(lerp(247.0, 8.0), lerp(251.0, 48.0), lerp(255.0, 107.0))
}

struct ConfusionHeatmap {
    title: String,
    matrix: ConfusionMatrix,
}

impl Draw for ConfusionHeatmap {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = area
            .titled(&self.title, text_style(20.0))
            .map_err(drawing_error)?;
        let width = area.dim_in_pixel().0;
        let (main, scale_area) = area.split_horizontally(width - 110);
        let n = self.matrix.classes.len() as i32;
        let max = self
            .matrix
            .counts
            .iter()
            .flatten()
            .copied()
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let classes = self.matrix.classes.clone();
        let classes_y = classes.clone();
        let mut chart = ChartBuilder::on(&main)
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(90)
            .build_cartesian_2d(0..n, 0..n)
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("predicted label")
            .y_desc("true label")
            .x_labels(n as usize + 1)
            .y_labels(n as usize + 1)
            .x_label_offset((main.dim_in_pixel().0 as i32 - 100) / (2 * n))
            .y_label_offset(-(main.dim_in_pixel().1 as i32 - 55) / (2 * n))
            .x_label_formatter(&|x| classes.get(*x as usize).cloned().unwrap_or_default())
            .y_label_formatter(&|y| {
                classes_y
                    .get((n - 1 - *y) as usize)
                    .cloned()
                    .unwrap_or_default()
            })
            .label_style(text_style(13.0))
            .axis_desc_style(text_style(14.0))
            .draw()
            .map_err(drawing_error)?;
        // Row `t` (true label) is drawn from the top, as a printed matrix reads.
        let cells = (0..n).flat_map(|t| (0..n).map(move |p| (t, p)));
        let counts = &self.matrix.counts;
        chart
            .draw_series(cells.clone().map(|(t, p)| {
                let value = counts[t as usize][p as usize] as f64;
                let y = n - 1 - t;
                Rectangle::new([(p, y), (p + 1, y + 1)], blues(value / max).filled())
            }))
            .map_err(drawing_error)?;
        let cell_font = if n <= 12 { 13.0 } else { 9.0 };
        // Counts are centred in their cells: anchored at the cell's lower-left corner and
        // shifted by half a cell in pixels.
        let (plot_w, plot_h) = chart.plotting_area().dim_in_pixel();
        let half_cell = (plot_w as i32 / (2 * n), -(plot_h as i32) / (2 * n));
        let centred = plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        );
        chart
            .draw_series(cells.map(|(t, p)| {
                let value = counts[t as usize][p as usize];
                let color: &'static RGBColor = if value as f64 > max * 0.5 {
                    &WHITE
                } else {
                    &BLACK
                };
                let style = text_style(cell_font).color(color).pos(centred);
                EmptyElement::at((p, n - 1 - t)) + Text::new(value.to_string(), half_cell, style)
            }))
            .map_err(drawing_error)?;
        // Colour scale.
        let mut scale = ChartBuilder::on(&scale_area)
            .margin_top(10)
            .margin_bottom(55)
            .margin_right(20)
            .y_label_area_size(0)
            .right_y_label_area_size(60)
            .build_cartesian_2d(0..1, 0.0..max)
            .map_err(drawing_error)?;
        scale
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(6)
            .label_style(text_style(12.0))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(drawing_error)?;
        let steps = 100;
        scale
            .draw_series((0..steps).map(|i| {
                let lo = max * i as f64 / steps as f64;
                let hi = max * (i + 1) as f64 / steps as f64;
                Rectangle::new([(0, lo), (1, hi)], blues(lo / max).filled())
            }))
            .map_err(drawing_error)?;
        Ok(())
    }
}

/// Heatmap of the confusion matrix: true label down, predicted label across, the count in
/// each cell, and a colour scale.
pub fn confusion_heatmap(matrix: &ConfusionMatrix, title: &str) -> Result<Figure> {
    if matrix.classes.is_empty() {
        return Err(Error::invalid("confusion matrix", "it has no classes"));
    }
    Figure::new(
        720,
        640,
        ConfusionHeatmap {
            title: title.to_owned(),
            matrix: matrix.clone(),
        },
    )
}

/// Draws a 28x28 image (intensities in [0, 1], ink dark on white) with its top-left corner at
/// `origin`, each pixel a `scale` x `scale` square.
fn draw_digit<DB: DrawingBackend>(
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

fn pixels_of(data: &Dataset, index: usize) -> Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(data.image(index)?.flatten(0, -1))?)
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

struct RowByRow {
    title: String,
    class_names: Vec<String>,
    /// Per digit: its pixels, true label, and `[rows][classes]` probabilities.
    digits: Vec<(Vec<f32>, i64, Vec<Vec<f32>>)>,
}

impl Draw for RowByRow {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let area = area
            .titled(&self.title, text_style(18.0))
            .map_err(drawing_error)?;
        let panels = area.split_evenly((self.digits.len(), 1));
        for (panel, (pixels, label, probs)) in panels.iter().zip(&self.digits) {
            let (w, h) = panel.dim_in_pixel();
            let (image_area, chart_area) = panel.split_horizontally(h.min(w / 4));
            let scale = ((h as i32 - 10) / 28).max(1);
            draw_digit(&image_area, pixels, (5, 5), scale)?;
            let rows = probs.len() as i32;
            let classes = self.class_names.len() as i32;
            let names = self.class_names.clone();
            let mut chart = ChartBuilder::on(&chart_area)
                .caption(
                    format!("true label {label}: P(class) after reading k rows"),
                    text_style(13.0),
                )
                .margin(4)
                .x_label_area_size(28)
                .y_label_area_size(40)
                .build_cartesian_2d(0..rows, 0..classes)
                .map_err(drawing_error)?;
            let plot_h = chart.plotting_area().dim_in_pixel().1 as i32;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("rows read")
                .x_labels(8)
                .x_label_formatter(&|x| (x + 1).to_string())
                .y_labels(classes as usize + 1)
                .y_label_offset(-plot_h / (2 * classes))
                .y_label_formatter(&|y| names.get(*y as usize).cloned().unwrap_or_default())
                .label_style(text_style(11.0))
                .axis_desc_style(text_style(12.0))
                .draw()
                .map_err(drawing_error)?;
            chart
                .draw_series((0..rows).flat_map(|k| {
                    (0..classes).map(move |c| {
                        let p = probs[k as usize][c as usize] as f64;
                        Rectangle::new([(k, c), (k + 1, c + 1)], blues(p).filled())
                    })
                }))
                .map_err(drawing_error)?;
        }
        Ok(())
    }
}

/// For the items of `data` at `indices`, what `model` believes after reading 1, 2, ..., 28
/// rows: the probability of every class (dark = likely) beside the digit. The model was trained
/// to answer after the last row only, so its early answers are not what it was taught to give.
pub fn reading_row_by_row(
    model: &Model,
    data: &Dataset,
    indices: &[usize],
    title: &str,
) -> Result<Figure> {
    if indices.is_empty() {
        return Err(Error::invalid(
            "reading row by row",
            "give at least one index of a digit to show",
        ));
    }
    let probabilities = model.probabilities_by_rows(data, indices)?;
    let class_names: Vec<String> = (0..model.config().num_classes)
        .map(|c| c.to_string())
        .collect();
    let digits = indices
        .iter()
        .zip(probabilities)
        .map(|(&i, p)| {
            let pixels = Vec::<f32>::try_from(data.image(i)?.flatten(0, -1))?;
            Ok((pixels, data.label(i)?, p))
        })
        .collect::<Result<Vec<_>>>()?;
    Figure::new(
        900,
        (digits.len() * 170 + 30) as u32,
        RowByRow {
            title: title.to_owned(),
            class_names,
            digits,
        },
    )
}

struct LinePlot {
    title: String,
    x_desc: String,
    y_desc: String,
    series: Vec<Series>,
}

impl Draw for LinePlot {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        line_chart(
            area,
            &self.title,
            &self.x_desc,
            &self.y_desc,
            &self.series,
            (Some(0.0), Some(1.0)),
            SeriesLabelPosition::LowerRight,
        )
    }
}

/// Validation accuracy when the model stops reading after k rows, one line per model.
pub fn accuracy_by_rows(models: &[(&str, &[(usize, f64)])], title: &str) -> Result<Figure> {
    if models.is_empty() || models.iter().any(|(_, points)| points.is_empty()) {
        return Err(Error::invalid(
            "accuracy by rows",
            "give at least one model with points",
        ));
    }
    let series = models
        .iter()
        .enumerate()
        .map(|(i, (name, points))| Series {
            label: name.to_string(),
            color: PALETTE[i % PALETTE.len()],
            dashed: false,
            points: points.iter().map(|&(k, a)| (k as f64, a)).collect(),
        })
        .collect();
    Figure::new(
        800,
        420,
        LinePlot {
            title: title.to_owned(),
            x_desc: "rows read".into(),
            y_desc: "validation accuracy".into(),
            series,
        },
    )
}

#[cfg(test)]
mod tests;
