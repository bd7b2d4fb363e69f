//! Line charts: one curve per series, with markers when the points are few.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use crate::axis::{Axis, Scale};
use crate::render::{Drawn, PALETTE, label_style, tick_style, title_style};

/// Curves drawn as lines with markers up to this many points.
const MARKERS_UP_TO: usize = 40;

/// Where the legend goes (where the curves are not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corner {
    /// Falling curves (losses).
    UpperRight,
    /// Rising curves (accuracies).
    LowerRight,
}

/// A named curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Its legend entry.
    pub name: String,
    /// `(x, y)` in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// Curves over two axes.
#[derive(Clone, Debug)]
pub struct LineChart {
    /// The title above the plot.
    pub title: String,
    /// The horizontal axis.
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
    /// The curves.
    pub series: Vec<Series>,
    /// Where the legend goes.
    pub legend: Corner,
}

impl LineChart {
    pub(crate) fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let points = || self.series.iter().flat_map(|s| s.points.iter());
        let (x0, x1) = self.x.span(points().map(|p| p.0));
        let (y0, y1) = self.y.span(points().map(|p| p.1));
        match (self.x.scale, self.y.scale) {
            (Scale::Linear, Scale::Linear) => self.draw_on(area, x0..x1, y0..y1),
            (Scale::Linear, Scale::Log) => self.draw_on(area, x0..x1, (y0..y1).log_scale()),
            (Scale::Log, Scale::Linear) => self.draw_on(area, (x0..x1).log_scale(), y0..y1),
            (Scale::Log, Scale::Log) => self.draw_on(area, (x0..x1).log_scale(), (y0..y1).log_scale()),
        }
    }

    fn draw_on<DB, X, Y>(&self, area: &DrawingArea<DB, Shift>, x: X, y: Y) -> Drawn<DB>
    where
        DB: DrawingBackend,
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, title_style())
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(x, y)?;
        let (x_tick, y_tick) = (|v: &f64| self.x.tick(*v), |v: &f64| self.y.tick(*v));
        chart
            .configure_mesh()
            .x_desc(&self.x.label)
            .y_desc(&self.y.label)
            .x_label_formatter(&x_tick)
            .y_label_formatter(&y_tick)
            .axis_desc_style(label_style())
            .label_style(tick_style())
            .max_light_lines(1)
            .light_line_style(RGBColor(242, 242, 242))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        let usable = |p: &&(f64, f64)| {
            p.0.is_finite()
                && p.1.is_finite()
                && (self.x.scale == Scale::Linear || p.0 > 0.0)
                && (self.y.scale == Scale::Linear || p.1 > 0.0)
        };
        for (i, s) in self.series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let points: Vec<(f64, f64)> = s.points.iter().filter(usable).copied().collect();
            let markers = points.len() <= MARKERS_UP_TO;
            chart
                .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))?
                .label(&s.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(2)));
            if markers {
                chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
            }
        }
        if self.series.len() > 1 || self.series.first().is_some_and(|s| !s.name.is_empty()) {
            chart
                .configure_series_labels()
                .position(match self.legend {
                    Corner::UpperRight => SeriesLabelPosition::UpperRight,
                    Corner::LowerRight => SeriesLabelPosition::LowerRight,
                })
                .label_font(label_style())
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(180, 180, 180))
                .draw()?;
        }
        Ok(())
    }
}
