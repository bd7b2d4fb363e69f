//! Drawing a chart to SVG text or a PNG file, and what every chart shares: the font, the
//! palette, the sizes.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::bars::BarChart;
use crate::lines::LineChart;

/// The font every chart is drawn in (registered for the bitmap backend from embedded bytes;
/// an SVG names it, with `sans-serif` as the fallback a browser has).
pub(crate) const FONT: &str = "sans-serif";

/// A colour-blind-safe palette (Okabe and Ito), black left out for the axes.
pub(crate) const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
];

/// A drawing failed (plotters' error, as text).
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "drawing a chart: {}", self.0)
    }
}

impl std::error::Error for Error {}

/// What a chart's drawing returns.
pub(crate) type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A chart to draw.
#[derive(Clone, Debug)]
pub enum Figure {
    /// Curves.
    Line(LineChart),
    /// One bar per name.
    Bar(BarChart),
}

impl Figure {
    /// The chart as an SVG document `width` × `height` pixels.
    pub fn to_svg(&self, width: u32, height: u32) -> Result<String, Error> {
        // The SVG backend measures text with the same font, to place labels.
        register_font();
        let mut svg = String::new();
        {
            let area = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
            self.draw(&area).map_err(|e| Error(e.to_string()))?;
            area.present().map_err(|e| Error(e.to_string()))?;
        }
        Ok(svg)
    }

    /// The chart as a PNG file at `path`, `width` × `height` pixels.
    pub fn write_png(&self, path: &Path, width: u32, height: u32) -> Result<(), Error> {
        register_font();
        let area = BitMapBackend::new(path, (width, height)).into_drawing_area();
        self.draw(&area).map_err(|e| Error(format!("{}: {e}", path.display())))?;
        area.present().map_err(|e| Error(format!("{}: {e}", path.display())))
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        area.fill(&WHITE)?;
        match self {
            Figure::Line(chart) => chart.draw(area),
            Figure::Bar(chart) => chart.draw(area),
        }
    }
}

/// Registers DejaVu Sans as the bitmap backend's font (once per process).
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (style, bytes) in [(FontStyle::Normal, dejavu::sans::regular()), (FontStyle::Bold, dejavu::sans::bold())] {
            // The bytes are a valid TrueType font, embedded at build time.
            let _ = plotters::style::register_font(FONT, style, bytes);
        }
    });
}

/// The title's style.
pub(crate) fn title_style() -> TextStyle<'static> {
    (FONT, 22).into_font().style(FontStyle::Bold).color(&BLACK)
}

/// The axis labels' and legends' style.
pub(crate) fn label_style() -> TextStyle<'static> {
    (FONT, 15).into_font().color(&BLACK)
}

/// The ticks' style.
pub(crate) fn tick_style() -> TextStyle<'static> {
    (FONT, 13).into_font().color(&BLACK)
}
