//! The display list both back ends draw: shapes in pixel coordinates (origin top left, y down),
//! so the SVG and the PNG of a chart come from one geometry and cannot disagree.

/// An opaque sRGB color.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// The `#rrggbb` form SVG expects.
    pub(crate) fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// Which end of a text run its anchor point is, along the reading direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    /// The share of the run's length that lies before the anchor point.
    pub(crate) fn fraction(self) -> f64 {
        match self {
            Anchor::Start => 0.0,
            Anchor::Middle => 0.5,
            Anchor::End => 1.0,
        }
    }
}

/// The shape of a point marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MarkerShape {
    Circle,
    Square,
}

/// What a stroked line stands for; SVG tags it so series can be told apart (and styled) there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineKind {
    /// The polyline of a data series.
    Series,
    /// The sample line of a legend entry.
    Key,
}

/// A run of text. `(x, y)` is the anchor point: along the reading direction it sits at
/// `anchor`, across it at the middle of the 8-pixel glyph cell.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Text {
    pub x: f64,
    pub y: f64,
    pub text: String,
    /// Integer magnification of the 8x8 font (the PNG cannot scale bitmaps by fractions).
    pub scale: u32,
    pub anchor: Anchor,
    /// Rotated a quarter turn counterclockwise, reading bottom to top (a y-axis label).
    pub vertical: bool,
    pub color: Rgb,
}

/// One drawing instruction.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Shape {
    /// An axis-aligned filled rectangle (bars, grid lines, ticks: layout keeps them on whole pixels).
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        fill: Rgb,
    },
    /// A stroked polyline with round joins; `dash` alternates on and off lengths (empty: solid).
    Line {
        points: Vec<(f64, f64)>,
        width: f64,
        color: Rgb,
        dash: Vec<f64>,
        kind: LineKind,
    },
    /// A filled point marker; `radius` is half its width.
    Marker {
        x: f64,
        y: f64,
        radius: f64,
        shape: MarkerShape,
        color: Rgb,
    },
    Text(Text),
}

/// A whole chart, ready for a back end.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Scene {
    pub width: u32,
    pub height: u32,
    /// The chart title, for the SVG `<title>` element.
    pub title: String,
    pub background: Rgb,
    /// Painted in order, later shapes on top.
    pub shapes: Vec<Shape>,
}
