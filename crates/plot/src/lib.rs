//! The charts of an experiment report, drawn with `plotters`: line charts (curves over steps,
//! a metric against a varied variable) and bar charts (one bar per config), each as SVG (text
//! kept as text, for a browser or a paper) and PNG (DejaVu Sans, embedded, so no system font
//! is needed). Axes carry their units; accuracies read as percentages on a fixed 0–100 % axis.

mod axis;
mod bars;
mod lines;
mod render;

pub use axis::{Axis, Scale, Unit};
pub use bars::BarChart;
pub use lines::{Corner, LineChart, Series};
pub use render::{Error, Figure};
