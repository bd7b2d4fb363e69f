//! Bar charts: one bar per named value, its value written above it.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::axis::Axis;
use crate::render::{Drawn, PALETTE, label_style, tick_style, title_style};

/// One bar per name.
#[derive(Clone, Debug)]
pub struct BarChart {
    /// The title above the plot.
    pub title: String,
    /// What the bars are (the varied variable, or `config`).
    pub x_label: String,
    /// The values' axis (linear).
    pub y: Axis,
    /// `(name, value)` in drawing order; a value that is not finite draws no bar.
    pub bars: Vec<(String, f64)>,
}

impl BarChart {
    pub(crate) fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let values = || self.bars.iter().map(|b| b.1).filter(|v| v.is_finite());
        let (lo, hi) = self.y.span(values().chain([0.0]));
        let n = self.bars.len().max(1);
        // Bar i is centred on x = i; ticks fall on the integers (named) and between (blank).
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, title_style())
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, lo.min(0.0)..hi)?;
        let x_tick = |v: &f64| {
            let i = v.round();
            let name = (i >= 0.0 && (v - i).abs() < 1e-6).then(|| self.bars.get(i as usize)).flatten();
            name.map_or_else(String::new, |b| b.0.clone())
        };
        let y_tick = |v: &f64| self.y.tick(*v);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2 * n + 1)
            .x_desc(&self.x_label)
            .y_desc(&self.y.label)
            .x_label_formatter(&x_tick)
            .y_label_formatter(&y_tick)
            .axis_desc_style(label_style())
            .label_style(tick_style())
            .max_light_lines(1)
            .light_line_style(RGBColor(242, 242, 242))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        for (i, (_, v)) in self.bars.iter().enumerate().filter(|(_, b)| b.1.is_finite()) {
            let (color, x) = (PALETTE[i % PALETTE.len()], i as f64);
            let bar = Rectangle::new([(x - 0.4, 0.0), (x + 0.4, *v)], color.mix(0.85).filled());
            chart.draw_series(std::iter::once(bar))?;
            let above = tick_style().pos(Pos::new(HPos::Center, VPos::Bottom));
            chart.draw_series(std::iter::once(Text::new(self.y.tick(*v), (x, *v), above)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{Axis, BarChart, Corner, Figure, LineChart, Series};

    fn curves() -> Figure {
        Figure::Line(LineChart {
            title: "tiny: test exact accuracy".into(),
            x: Axis::linear("step"),
            y: Axis::percent("test exact accuracy"),
            series: vec![
                Series { name: "hidden 16".into(), points: vec![(0.0, 0.0), (100.0, 0.2), (200.0, 0.4)] },
                Series { name: "hidden 64".into(), points: vec![(0.0, 0.0), (100.0, 0.6), (200.0, 0.9)] },
            ],
            legend: Corner::LowerRight,
        })
    }

    #[test]
    fn a_line_chart_names_its_axes_ticks_and_series_in_svg() {
        let svg = curves().to_svg(900, 520).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{}", &svg[..100]);
        for text in ["tiny: test exact accuracy", "step", "test exact accuracy", "hidden 16", "hidden 64", "100 %"] {
            assert!(svg.contains(text), "no {text:?} in the SVG");
        }
    }

    #[test]
    fn charts_draw_to_png_with_the_embedded_font() {
        let dir = std::env::temp_dir().join(format!("ouro-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bars = Figure::Bar(BarChart {
            title: "throughput".into(),
            x_label: "arch.hidden_size".into(),
            y: Axis::linear("examples/s"),
            bars: vec![("16".into(), 900.0), ("32".into(), f64::NAN), ("64".into(), 400.0)],
        });
        for (name, figure) in [("curves", curves()), ("bars", bars)] {
            let path = dir.join(format!("{name}.png"));
            figure.write_png(&path, 640, 400).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name}");
            assert!(bytes.len() > 4000, "{name}: {} bytes is no drawn chart", bytes.len());
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
