//! Chart geometry shared by both back ends: margins, axes, ticks, legend and marks, laid out in
//! pixels as a [`Scene`]. Text is measured with the 8x8 font's fixed advance, so each label gets
//! exactly its room in the PNG (SVG's monospace runs slightly narrower, so it fits there too).

use crate::scale::{self, Axis};
use crate::scene::{Anchor, LineKind, Rgb, Scene, Shape, Text};
use crate::style::{self, SeriesStyle};
use crate::{BarChart, LineChart, format, text};

/// Smallest canvas side laid out; smaller requests are raised to it.
pub(crate) const MIN_SIDE: u32 = 64;
/// Largest canvas side, which bounds the raster's memory; larger requests are lowered to it.
pub(crate) const MAX_SIDE: u32 = 8192;
/// Series with at most this many points also get a marker on each point.
const MARKER_LIMIT: usize = 30;
/// Share of the data span left free beyond each end of a line chart's axes.
const MARGIN: f64 = 0.04;
/// Most of the canvas width the legend may take.
const LEGEND_SHARE: f64 = 0.3;
/// Most of the canvas height rotated bar names may take.
const NAMES_SHARE: f64 = 0.3;

/// The canvas size and the unit every measure scales by, so big canvases keep proportions.
#[derive(Clone, Copy, Debug)]
struct Metrics {
    width: f64,
    height: f64,
    u: u32,
}

impl Metrics {
    fn new(width: u32, height: u32) -> Self {
        let (w, h) = (width.clamp(MIN_SIDE, MAX_SIDE), height.clamp(MIN_SIDE, MAX_SIDE));
        Metrics { width: f64::from(w), height: f64::from(h), u: (w / 800).min(h / 500).max(1) }
    }

    /// `n` pixels at unit scale.
    fn px(self, n: f64) -> f64 {
        n * f64::from(self.u)
    }

    /// Font scale of tick labels, axis labels and the legend.
    fn small(self) -> u32 {
        self.u
    }

    /// Font scale of the title.
    fn large(self) -> u32 {
        2 * self.u
    }

    /// Space between the canvas edge and anything on it.
    fn pad(self) -> f64 {
        self.px(10.0)
    }

    /// Length of a tick mark.
    fn tick(self) -> f64 {
        self.px(4.0)
    }

    /// Height taken by the title, with the space below it.
    fn title_height(self, title: &str) -> f64 {
        if text::clean(title).is_empty() { 0.0 } else { text::cell(self.large()) + self.px(10.0) }
    }

    /// Width taken by a vertical axis label, with the space beside it.
    fn label_room(self, label: &str) -> f64 {
        if text::clean(label).is_empty() { 0.0 } else { text::cell(self.small()) + self.px(8.0) }
    }
}

/// The plot area in whole pixels: data inside, axis lines just outside its left and bottom.
#[derive(Clone, Copy, Debug)]
struct Area {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Area {
    /// What is left of the canvas inside the margins (at least a pixel each way).
    fn inside(m: Metrics, left: f64, top: f64, right: f64, bottom: f64) -> Self {
        let (x, y) = (left.round(), top.round());
        Area { x, y, w: (m.width - right - x).round().max(1.0), h: (m.height - bottom - y).round().max(1.0) }
    }

    fn right(self) -> f64 {
        self.x + self.w
    }

    fn bottom(self) -> f64 {
        self.y + self.h
    }

    fn x_at(self, fraction: f64) -> f64 {
        self.x + fraction * self.w
    }

    fn y_at(self, fraction: f64) -> f64 {
        self.bottom() - fraction * self.h
    }
}

/// About how many ticks fit along `length` pixels, one per `spacing`.
fn tick_target(length: f64, spacing: f64) -> usize {
    (length / spacing).floor().clamp(2.0, 12.0) as usize
}

/// The padded axis-space range of `values`, or a unit range when there are none.
fn data_range(values: impl IntoIterator<Item = f64>, log: bool) -> (f64, f64) {
    let extent = scale::extent(values, log).unwrap_or((0.0, 1.0));
    scale::pad(extent, log, MARGIN, MARGIN)
}

/// Widest tick label of `axis` at `scale`, in pixels.
fn widest_label(axis: &Axis, scale: u32) -> f64 {
    axis.ticks.iter().map(|t| text::width(&t.label, scale)).fold(0.0, f64::max)
}

/// Whether the labels of `axis` laid along `length` pixels leave `gap` between neighbours.
fn labels_fit(axis: &Axis, length: f64, gap: f64, scale: u32) -> bool {
    let placed: Vec<(f64, f64)> = axis
        .ticks
        .iter()
        .filter_map(|t| Some((axis.fraction(t.value)? * length, text::width(&t.label, scale))))
        .collect();
    placed.windows(2).all(|w| w[1].0 - w[0].0 >= (w[0].1 + w[1].1) / 2.0 + gap)
}

/// Collects shapes with the canvas metrics at hand.
struct Builder {
    m: Metrics,
    shapes: Vec<Shape>,
}

impl Builder {
    fn new(m: Metrics) -> Self {
        Builder { m, shapes: Vec::new() }
    }

    fn finish(self, title: &str) -> Scene {
        Scene {
            width: self.m.width as u32,
            height: self.m.height as u32,
            title: text::clean(title),
            background: style::BACKGROUND,
            shapes: self.shapes,
        }
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: Rgb) {
        if w > 0.0 && h > 0.0 {
            self.shapes.push(Shape::Rect { x, y, w, h, fill });
        }
    }

    fn text(&mut self, (x, y): (f64, f64), text: String, scale: u32, anchor: Anchor, color: Rgb) {
        if !text.is_empty() {
            let vertical = false;
            self.shapes.push(Shape::Text(Text { x, y, text, scale, anchor, vertical, color }));
        }
    }

    fn vertical_text(&mut self, (x, y): (f64, f64), text: String, anchor: Anchor, color: Rgb) {
        if !text.is_empty() {
            let (scale, vertical) = (self.m.small(), true);
            self.shapes.push(Shape::Text(Text { x, y, text, scale, anchor, vertical, color }));
        }
    }

    /// The title, centred over the plot area when it fits there, else over the canvas.
    fn title(&mut self, title: &str, plot: Area) {
        let (m, scale) = (self.m, self.m.large());
        let title = text::fit(title, m.width - 2.0 * m.pad(), scale);
        let half = text::width(&title, scale) / 2.0;
        let mut x = plot.x + plot.w / 2.0;
        if x - half < m.pad() || x + half > m.width - m.pad() {
            x = m.width / 2.0;
        }
        self.text((x, m.pad() + text::cell(scale) / 2.0), title, scale, Anchor::Middle, style::INK);
    }

    /// Row (or column) of the one-unit-thick line marking `fraction` along an axis of
    /// `length` pixels starting at `start`, kept inside the plot area.
    fn grid_offset(&self, start: f64, length: f64, position: f64) -> f64 {
        position.floor().clamp(start, (start + length - self.m.px(1.0)).max(start))
    }

    /// Horizontal grid lines, tick marks and labels of a vertical axis on the left.
    fn y_axis(&mut self, axis: &Axis, plot: Area) {
        let (m, u) = (self.m, self.m.px(1.0));
        for tick in &axis.ticks {
            let Some(f) = axis.fraction(tick.value).filter(|f| (-1e-9..=1.0 + 1e-9).contains(f)) else {
                continue;
            };
            let row = self.grid_offset(plot.y, plot.h, plot.y_at(f));
            self.rect(plot.x, row, plot.w, u, style::GRID);
            self.rect(plot.x - u - m.tick(), row, m.tick(), u, style::AXIS);
            let at = (plot.x - u - m.tick() - m.px(3.0), row + u / 2.0);
            self.text(at, tick.label.clone(), m.small(), Anchor::End, style::INK);
        }
    }

    /// Vertical grid lines, tick marks and labels of a horizontal axis at the bottom.
    fn x_axis(&mut self, axis: &Axis, plot: Area) {
        let (m, u, scale) = (self.m, self.m.px(1.0), self.m.small());
        for tick in &axis.ticks {
            let Some(f) = axis.fraction(tick.value).filter(|f| (-1e-9..=1.0 + 1e-9).contains(f)) else {
                continue;
            };
            let col = self.grid_offset(plot.x, plot.w, plot.x_at(f));
            self.rect(col, plot.y, u, plot.h, style::GRID);
            self.rect(col, plot.bottom() + u, u, m.tick(), style::AXIS);
            // Keep edge labels on the canvas.
            let half = text::width(&tick.label, scale) / 2.0;
            let x = (col + u / 2.0).clamp(half.min(m.width / 2.0), (m.width - half).max(m.width / 2.0));
            let y = plot.bottom() + u + m.tick() + m.px(3.0) + text::cell(scale) / 2.0;
            self.text((x, y), tick.label.clone(), scale, Anchor::Middle, style::INK);
        }
    }

    /// The left and bottom axis lines, drawn over the data so the frame stays clean.
    fn frame(&mut self, plot: Area) {
        let u = self.m.px(1.0);
        self.rect(plot.x - u, plot.y, u, plot.h + u, style::AXIS);
        self.rect(plot.x - u, plot.bottom(), plot.w + u, u, style::AXIS);
    }

    /// The x-axis label centred under the plot area, on the canvas's last text line.
    fn x_label(&mut self, label: &str, plot: Area) {
        let (m, scale) = (self.m, self.m.small());
        let label = text::fit(label, m.width - 2.0 * m.pad(), scale);
        let half = text::width(&label, scale) / 2.0;
        let x = (plot.x + plot.w / 2.0).clamp(m.pad() + half, (m.width - m.pad() - half).max(m.pad() + half));
        let y = m.height - m.pad() - text::cell(scale) / 2.0;
        self.text((x, y), label, scale, Anchor::Middle, style::INK);
    }

    /// The y-axis label, reading upward along the left edge, centred on the plot area.
    fn y_label(&mut self, label: &str, plot: Area) {
        let m = self.m;
        let label = text::fit(label, plot.h.max(m.height - 2.0 * m.pad()), m.small());
        let at = (m.pad() + text::cell(m.small()) / 2.0, plot.y + plot.h / 2.0);
        self.vertical_text(at, label, Anchor::Middle, style::INK);
    }

    /// A "no data" note in the middle of an empty plot area.
    fn no_data(&mut self, plot: Area) {
        let scale = if plot.w >= text::width("no data", self.m.large()) { self.m.large() } else { 1 };
        let at = (plot.x + plot.w / 2.0, plot.y + plot.h / 2.0);
        self.text(at, "no data".to_owned(), scale, Anchor::Middle, style::MUTED);
    }

    /// A legend-key or series polyline in `style`.
    fn line(&mut self, points: Vec<(f64, f64)>, style: SeriesStyle, kind: LineKind) {
        let m = self.m;
        self.shapes.push(Shape::Line {
            points,
            width: m.px(2.0),
            color: style.color,
            dash: style.dash.iter().map(|&d| m.px(d)).collect(),
            kind,
        });
    }

    fn marker(&mut self, (x, y): (f64, f64), style: SeriesStyle) {
        let radius = self.m.px(3.0);
        self.shapes.push(Shape::Marker { x, y, radius, shape: style.marker, color: style.color });
    }
}

/// A line chart's legend, laid outside the plot area on the right so it never hides data.
struct Legend {
    names: Vec<String>,
    /// Whether each entry's series is drawn with markers, which its key then shows too.
    markers: Vec<bool>,
    width: f64,
}

impl Legend {
    fn new(chart: &LineChart, points: &[Vec<(f64, f64)>], m: Metrics) -> Option<Self> {
        let scale = m.small();
        let room = (m.width * LEGEND_SHARE - Self::key_width(m)).max(text::cell(scale) * 6.0);
        let names: Vec<String> = chart.series.iter().map(|s| text::fit_middle(&s.name, room, scale)).collect();
        if names.iter().all(String::is_empty) {
            return None;
        }
        let widest = names.iter().map(|n| text::width(n, scale)).fold(0.0, f64::max);
        let markers = points.iter().map(|p| !p.is_empty() && p.len() <= MARKER_LIMIT).collect();
        Some(Legend { names, markers, width: Self::key_width(m) + widest })
    }

    /// The gap before the legend, the key line and the gap between key and name.
    fn key_width(m: Metrics) -> f64 {
        m.px(14.0) + m.px(22.0) + m.px(6.0)
    }

    fn draw(&self, b: &mut Builder, plot: Area) {
        let m = b.m;
        let scale = m.small();
        let row = text::cell(scale) + m.px(7.0);
        let x = plot.right() + m.px(14.0);
        let rows = ((plot.h / row).floor() as usize).max(1);
        let total = self.names.len();
        // Past the rows that fit, one line says how many entries are left out.
        let shown = if total <= rows { total } else { rows - 1 };
        let y_of = |i: usize| (plot.y + row * (i as f64 + 0.5)).round();
        for (i, name) in self.names.iter().enumerate().take(shown) {
            let (y, style) = (y_of(i), style::series(i));
            b.line(vec![(x, y), (x + m.px(22.0), y)], style, LineKind::Key);
            if self.markers.get(i).copied().unwrap_or(false) {
                b.marker((x + m.px(11.0), y), style);
            }
            b.text((x + m.px(28.0), y), name.clone(), scale, Anchor::Start, style::INK);
        }
        if shown < total {
            let more = format!("+{} more", total - shown);
            b.text((x, y_of(shown)), more, scale, Anchor::Start, style::MUTED);
        }
    }
}

/// Lays out a line chart on a `width` × `height` canvas.
pub(crate) fn line_chart(chart: &LineChart, width: u32, height: u32) -> Scene {
    let m = Metrics::new(width, height);
    let mut b = Builder::new(m);
    let (u, scale) = (m.px(1.0), m.small());
    let cell = text::cell(scale);

    let (x_log, y_log) = (chart.x_log, chart.y_log);
    let points: Vec<Vec<(f64, f64)>> = chart
        .series
        .iter()
        .map(|s| {
            let plottable = |&(x, y): &(f64, f64)| scale::plottable(x, x_log) && scale::plottable(y, y_log);
            s.points.iter().copied().filter(plottable).collect()
        })
        .collect();
    let has_data = points.iter().any(|p| !p.is_empty());
    let x_range = data_range(points.iter().flatten().map(|p| p.0), x_log);
    let y_range = data_range(points.iter().flatten().map(|p| p.1), y_log);

    let legend = Legend::new(chart, &points, m);
    // The top keeps half a text line for the highest tick label.
    let top = m.pad() + m.title_height(&chart.title) + cell / 2.0;
    let x_label_room = if text::clean(&chart.x_label).is_empty() { 0.0 } else { cell + m.px(6.0) };
    let bottom = m.pad() + x_label_room + cell + m.px(3.0) + m.tick() + u;
    let right = m.pad() + legend.as_ref().map_or(0.0, |l| l.width);

    // The y axis comes first: its labels' width sets the left margin, hence the x axis length.
    let plot_h = (m.height - top - bottom).max(u);
    let y_axis = Axis::new(y_range, y_log, tick_target(plot_h, m.px(45.0)));
    let left = m.pad() + m.label_room(&chart.y_label) + widest_label(&y_axis, scale) + m.px(3.0) + m.tick() + u;
    let plot = Area::inside(m, left, top, right, bottom);
    let mut target = tick_target(plot.w, m.px(80.0));
    let x_axis = loop {
        let axis = Axis::new(x_range, x_log, target);
        if target <= 2 || labels_fit(&axis, plot.w, m.px(12.0), scale) {
            break axis;
        }
        target -= 1;
    };

    b.y_axis(&y_axis, plot);
    b.x_axis(&x_axis, plot);
    for (i, series) in points.iter().enumerate() {
        if series.is_empty() {
            continue;
        }
        let style = style::series(i);
        let placed: Vec<(f64, f64)> = series
            .iter()
            .filter_map(|&(x, y)| Some((plot.x_at(x_axis.fraction(x)?), plot.y_at(y_axis.fraction(y)?))))
            .collect();
        let mut line: Vec<(f64, f64)> = Vec::with_capacity(placed.len());
        for &p in &placed {
            // Points within a quarter pixel of the last one add bytes, not detail.
            let near = |&(x, y): &(f64, f64)| (p.0 - x).abs() < 0.25 && (p.1 - y).abs() < 0.25;
            if !line.last().is_some_and(near) {
                line.push(p);
            }
        }
        b.line(line, style, LineKind::Series);
        if series.len() <= MARKER_LIMIT {
            for &p in &placed {
                b.marker(p, style);
            }
        }
    }
    b.frame(plot);
    if let Some(legend) = &legend {
        legend.draw(&mut b, plot);
    }
    if !has_data {
        b.no_data(plot);
    }
    b.title(&chart.title, plot);
    b.x_label(&chart.x_label, plot);
    b.y_label(&chart.y_label, plot);
    b.finish(&chart.title)
}

/// Lays out a bar chart on a `width` × `height` canvas.
pub(crate) fn bar_chart(chart: &BarChart, width: u32, height: u32) -> Scene {
    let m = Metrics::new(width, height);
    let mut b = Builder::new(m);
    let (u, scale) = (m.px(1.0), m.small());
    let cell = text::cell(scale);
    let count = chart.bars.len().max(1) as f64;

    let values: Vec<f64> = chart.bars.iter().map(|&(_, v)| v).collect();
    let has_data = values.iter().any(|v| v.is_finite());
    // Bars grow from zero, so zero is always in range.
    let (lo, hi) = scale::extent(values.iter().copied(), false)
        .map(|(lo, hi)| (lo.min(0.0), hi.max(0.0)))
        .filter(|(lo, hi)| hi > lo)
        .unwrap_or((0.0, 1.0));

    // Orientation of names and values is settled on an estimate of the slot width: the real
    // one depends on the y labels, which depend on the plot height, which depends on this.
    let top = m.pad() + m.title_height(&chart.title) + cell / 2.0;
    let left_estimate = m.pad() + m.label_room(&chart.y_label) + 6.0 * cell + m.px(3.0) + m.tick() + u;
    let slot_estimate = (m.width - left_estimate - m.pad()) / count;
    let names: Vec<String> = chart.bars.iter().map(|(name, _)| text::clean(name)).collect();
    let names_room = (m.height * NAMES_SHARE).max(cell);
    // Names lie flat when they fit, or when rotating them would not show more of them.
    let longest_name = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) as f64;
    let flat_chars = ((slot_estimate - m.px(6.0)) / cell).floor();
    let names_flat = longest_name <= flat_chars || flat_chars >= (names_room / cell).floor();
    let names_height = if names_flat {
        cell
    } else {
        names.iter().map(|n| text::width(&text::fit_middle(n, names_room, scale), scale)).fold(0.0, f64::max)
    };
    let labels: Vec<String> = values.iter().map(|&v| format::value(v)).collect();
    let widest_value = labels.iter().map(|l| text::width(l, scale)).fold(0.0, f64::max);
    let values_flat = widest_value <= slot_estimate - m.px(2.0);
    let bottom = m.pad() + names_height + m.px(6.0) + u;

    // Room beyond the longest bars for their value labels.
    let plot_h = (m.height - top - bottom).max(u);
    let value_room = if values_flat { cell } else { widest_value } + m.px(6.0);
    let share = (value_room / plot_h).min(0.3);
    let sides = f64::from(u8::from(lo < 0.0) + u8::from(hi > 0.0));
    let grow = share / (1.0 - sides * share);
    let range = scale::pad((lo, hi), false, if lo < 0.0 { grow } else { 0.0 }, if hi > 0.0 { grow } else { 0.0 });
    let y_axis = Axis::new(range, false, tick_target(plot_h, m.px(45.0)));
    let left = m.pad() + m.label_room(&chart.y_label) + widest_label(&y_axis, scale) + m.px(3.0) + m.tick() + u;
    let plot = Area::inside(m, left, top, m.pad(), bottom);
    let slot = plot.w / count;
    // Label every k-th bar when even rotated text would collide (flat text fits by choice).
    let every = ((cell + m.px(2.0)) / slot).ceil().max(1.0) as usize;

    b.y_axis(&y_axis, plot);
    let zero = y_axis.fraction(0.0).map_or(plot.bottom(), |f| plot.y_at(f)).round();
    for (i, ((name, label), &value)) in names.iter().zip(&labels).zip(&values).enumerate() {
        let x0 = (plot.x + slot * (i as f64 + 0.15)).round();
        let x1 = (plot.x + slot * (i as f64 + 0.85)).round().max(x0 + u);
        let center = (x0 + x1) / 2.0;
        let end = y_axis.fraction(value).map(|f| plot.y_at(f).round());
        let (y0, y1) = match end {
            Some(end) => (end.min(zero), end.max(zero)),
            None => (zero, zero),
        };
        b.rect(x0, y0, x1 - x0, y1 - y0, style::PALETTE[i % style::PALETTE.len()]);
        if i % every != 0 {
            continue;
        }
        let (color, below) = match end {
            Some(_) => (style::INK, value < 0.0),
            None => (style::MUTED, false),
        };
        let gap = m.px(4.0);
        match (values_flat, below) {
            (true, false) => b.text((center, y0 - gap - cell / 2.0), label.clone(), scale, Anchor::Middle, color),
            (true, true) => b.text((center, y1 + gap + cell / 2.0), label.clone(), scale, Anchor::Middle, color),
            (false, false) => b.vertical_text((center, y0 - gap), label.clone(), Anchor::Start, color),
            (false, true) => b.vertical_text((center, y1 + gap), label.clone(), Anchor::End, color),
        }
        let names_top = plot.bottom() + u + m.px(5.0);
        if names_flat {
            let name = text::fit_middle(name, (slot - m.px(6.0)).max(cell), scale);
            b.text((center, names_top + cell / 2.0), name, scale, Anchor::Middle, style::INK);
        } else {
            let name = text::fit_middle(name, names_room, scale);
            b.vertical_text((center, names_top), name, Anchor::End, style::INK);
        }
    }
    if y_axis.fraction(0.0).is_some_and(|f| f > 1e-9) {
        // A baseline where bars of both signs meet.
        b.rect(plot.x, zero, plot.w, u, style::AXIS);
    }
    b.frame(plot);
    if !has_data {
        b.no_data(plot);
    }
    b.title(&chart.title, plot);
    b.y_label(&chart.y_label, plot);
    b.finish(&chart.title)
}
