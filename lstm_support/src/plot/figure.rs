//! The figure every plot function returns: drawn on a plotters backend, rendered to PNG or
//! SVG, shown inline by evcxr; and what every drawing shares (the bundled font, text styles,
//! colours, drawing errors).
//!
//! Text uses DejaVu Sans, bundled in the crate, so figures look the same on a fresh machine
//! with no fonts installed.
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters_bitmap::BitMapBackend;

use crate::error::{Error, Result};

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
        .map_err(|e| Error::internal("preparing a figure's text", e))
}

pub(super) type DrawResult = std::result::Result<(), String>;

pub(super) fn drawing_error<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// What each figure type implements: drawing on any plotters backend.
pub(super) trait Draw {
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
    pub(super) fn new(width: u32, height: u32, drawing: impl Draw + 'static) -> Result<Self> {
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

    /// Fills `area` white, draws on it with `draw` and presents it. A failure is the crate's:
    /// the inputs were checked when the figure was made.
    fn paint<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        draw: impl FnOnce(&DrawingArea<DB, Shift>) -> DrawResult,
        format: &str,
    ) -> Result<()> {
        let failed = |reason: String| {
            Error::internal(
                format!(
                    "drawing a {}x{} figure as {format}",
                    self.width, self.height
                ),
                reason,
            )
        };
        area.fill(&WHITE).map_err(|e| failed(drawing_error(e)))?;
        draw(area).map_err(failed)?;
        area.present().map_err(|e| failed(drawing_error(e)))
    }

    /// The figure as RGB pixels, row-major.
    pub fn to_rgb(&self) -> Result<Vec<u8>> {
        let mut buffer = vec![0u8; (self.width * self.height * 3) as usize];
        {
            let area = BitMapBackend::with_buffer(&mut buffer, (self.width, self.height))
                .into_drawing_area();
            self.paint(&area, |area| self.drawing.bitmap(area), "pixels")?;
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
            .map_err(|e| Error::internal("encoding a figure as PNG", e.to_string()))?;
        Ok(png_bytes)
    }

    /// The figure as an SVG document.
    pub fn to_svg(&self) -> Result<String> {
        let mut svg = String::new();
        {
            let area =
                SVGBackend::with_string(&mut svg, (self.width, self.height)).into_drawing_area();
            self.paint(&area, |area| self.drawing.svg(area), "SVG")?;
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

pub(super) fn text_style(size: f64) -> TextStyle<'static> {
    (FONT_FAMILY, size).into_font().into()
}

/// White to dark blue.
pub(super) fn blues(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(lerp(247.0, 8.0), lerp(251.0, 48.0), lerp(255.0, 107.0))
}

/// Matplotlib's viridis (dark purple, blue, green, yellow): perceptually uniform, so equal
/// steps in value look like equal steps in colour, and readable in grey and by colour-blind
/// readers. Linear between nine of its colours.
pub(super) fn viridis(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 9] = [
        (68.0, 1.0, 84.0),
        (72.0, 40.0, 120.0),
        (62.0, 73.0, 137.0),
        (49.0, 104.0, 142.0),
        (38.0, 130.0, 142.0),
        (31.0, 158.0, 137.0),
        (53.0, 183.0, 121.0),
        (110.0, 206.0, 88.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let s = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let lerp = |p: f64, q: f64| (p + (q - p) * s).round() as u8;
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

/// White to dark red: for errors.
pub(super) fn reds(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(lerp(255.0, 165.0), lerp(245.0, 15.0), lerp(240.0, 21.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A drawing that fails, as a plotters error would.
    struct Failing;

    impl Draw for Failing {
        fn draw<DB: DrawingBackend>(&self, _: &DrawingArea<DB, Shift>) -> DrawResult {
            Err("the backend refused a rectangle".into())
        }
    }

    #[test]
    fn a_figure_that_fails_to_draw_is_an_internal_error() {
        let figure = Figure::new(100, 80, Failing).unwrap();
        for error in [
            figure.to_png().unwrap_err(),
            figure.to_svg().map(|_| ()).unwrap_err(),
            figure.evcxr_display_text().map(|_| ()).unwrap_err(),
        ] {
            assert!(matches!(error, Error::Internal { .. }), "{error:?}");
            let text = error.to_string();
            assert!(
                text.contains("drawing a 100x80 figure as")
                    && text.contains("the backend refused a rectangle"),
                "{text}"
            );
        }
        assert!(matches!(
            Figure::new(10, 80, Failing).unwrap_err(),
            Error::Invalid { .. }
        ));
    }
}
