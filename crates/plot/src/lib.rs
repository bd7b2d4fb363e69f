//! Line and bar charts for experiment reports, written as SVG or PNG.
//!
//! A chart is laid out once, in pixels, into a list of shapes; the SVG writer and the PNG
//! rasterizer both draw that list, so the two files of a chart agree. The PNG path needs no
//! system fonts or native libraries: text comes from the 8x8 bitmap font of `font8x8`, and the
//! file is encoded here with `flate2` and `crc32fast`.
//!
//! ```
//! use ouro_plot::{Chart, LineChart, Series};
//!
//! let chart = LineChart {
//!     title: "loss".into(),
//!     x_label: "step".into(),
//!     y_label: "loss".into(),
//!     y_log: true,
//!     series: vec![Series { name: "lr=3e-4".into(), points: vec![(0.0, 2.3), (100.0, 0.4)] }],
//!     ..LineChart::default()
//! };
//! let svg: String = chart.to_svg(800, 500);
//! let png: Vec<u8> = chart.to_png(800, 500);
//! assert!(svg.starts_with("<?xml"));
//! assert!(png.starts_with(b"\x89PNG"));
//! ```

#![warn(missing_docs)]

mod format;
mod layout;
mod png;
mod raster;
mod scale;
mod scene;
mod style;
mod svg;
mod text;

/// A line chart: one polyline per series, with a marker on each point when a series has at
/// most 30; a legend outside the plot area on the right (so it never hides data); axes with
/// ticks at 1, 2 or 5 × 10^k, or at powers of ten on a log10 axis.
///
/// Points with a non-finite coordinate, or a non-positive one on a log axis, are skipped and
/// the line joins their neighbours. Series after the tenth reuse the palette's colors with a
/// dash pattern and square markers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineChart {
    /// Title above the plot; empty for none.
    pub title: String,
    /// Label under the x axis; empty for none.
    pub x_label: String,
    /// Label along the y axis; empty for none.
    pub y_label: String,
    /// Whether the x axis is log10.
    pub x_log: bool,
    /// Whether the y axis is log10.
    pub y_log: bool,
    /// The data, drawn in order (later series on top) and listed in the legend.
    pub series: Vec<Series>,
}

/// One named line of a [`LineChart`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Name shown in the legend; the legend is left out when every name is empty.
    pub name: String,
    /// `(x, y)` points, joined in the given order.
    pub points: Vec<(f64, f64)>,
}

/// A bar chart of one value per named category, such as examples/s per config.
///
/// Bars grow from zero (downward for negative values), each with its value printed beyond
/// its end; category names go under the bars, rotated to read upward when they would not
/// fit side by side. A non-finite value leaves its slot empty, marked "n/a".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BarChart {
    /// Title above the plot; empty for none.
    pub title: String,
    /// Label along the y axis; empty for none.
    pub y_label: String,
    /// `(category, value)` pairs, drawn left to right.
    pub bars: Vec<(String, f64)>,
}

/// A chart that can be written as SVG or PNG.
///
/// Sizes are in pixels and clamped to 64..=8192 on each side. Canvases at least 1600 × 1000
/// draw text, lines and margins at an integer multiple of the base size, so they read the
/// same when scaled down.
pub trait Chart {
    /// The chart as a standalone SVG document.
    fn to_svg(&self, width: u32, height: u32) -> String;
    /// The chart as a PNG file (8-bit RGB).
    fn to_png(&self, width: u32, height: u32) -> Vec<u8>;
}

impl Chart for LineChart {
    fn to_svg(&self, width: u32, height: u32) -> String {
        svg::render(&layout::line_chart(self, width, height))
    }

    fn to_png(&self, width: u32, height: u32) -> Vec<u8> {
        png::encode(&raster::render(&layout::line_chart(self, width, height)))
    }
}

impl Chart for BarChart {
    fn to_svg(&self, width: u32, height: u32) -> String {
        svg::render(&layout::bar_chart(self, width, height))
    }

    fn to_png(&self, width: u32, height: u32) -> Vec<u8> {
        png::encode(&raster::render(&layout::bar_chart(self, width, height)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::png::decode::decode;
    use crate::style::PALETTE;

    const WHITE: [u8; 3] = [255, 255, 255];

    fn rgb(i: usize) -> [u8; 3] {
        let c = PALETTE[i % PALETTE.len()];
        [c.0, c.1, c.2]
    }

    fn curve(name: &str, n: usize, f: impl Fn(f64) -> f64) -> Series {
        let points = (0..n).map(|i| (i as f64 * 10.0, f(i as f64 / n as f64))).collect();
        Series { name: name.into(), points }
    }

    fn losses(count: usize) -> LineChart {
        LineChart {
            title: "training loss".into(),
            x_label: "step".into(),
            y_label: "loss".into(),
            series: (0..count)
                .map(|i| curve(&format!("run {i}"), 200, |t| 2.0 / (1.0 + 5.0 * t) + 0.1 * i as f64))
                .collect(),
            ..LineChart::default()
        }
    }

    fn throughput() -> BarChart {
        BarChart {
            title: "throughput".into(),
            y_label: "examples/s".into(),
            bars: vec![("depth=2".into(), 15234.7), ("depth=4".into(), 9876.0), ("depth=8".into(), 5021.3)],
        }
    }

    #[test]
    fn png_decodes_with_series_colors_on_white() {
        let chart = losses(4);
        let image = decode(&chart.to_png(640, 400));
        assert_eq!((image.width, image.height), (640, 400));
        assert_eq!(image.pixel(0, 0), WHITE);
        assert_eq!(image.pixel(639, 399), WHITE);
        for i in 0..4 {
            assert!(image.contains(rgb(i)), "series {i} color missing");
        }
        assert!(!image.contains(rgb(4)), "an unused color appears");
    }

    #[test]
    fn png_draws_series_inside_the_plot_not_only_in_the_legend() {
        let chart = LineChart { series: vec![curve("", 50, |t| t)], ..LineChart::default() };
        let image = decode(&chart.to_png(400, 300));
        let count = image.rgb.chunks_exact(3).filter(|p| *p == rgb(0)).count();
        assert!(count > 300, "only {count} pixels of the series color");
    }

    #[test]
    fn svg_is_a_standalone_document_with_one_path_per_series() {
        let chart = losses(12);
        let svg = chart.to_svg(800, 500);
        assert!(svg.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?>"#));
        assert!(svg.contains(r#"xmlns="http://www.w3.org/2000/svg""#));
        assert!(svg.contains(r#"width="800" height="500" viewBox="0 0 800 500""#));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches(r#"<path class="series""#).count(), 12);
        assert_eq!(svg.matches(r#"<path class="key""#).count(), 12);
        // The palette repeats after ten series, with dashes.
        assert_eq!(svg.matches("stroke-dasharray").count(), 2 * 2);
        for (i, color) in PALETTE.iter().enumerate() {
            let color = color.hex();
            assert!(svg.contains(&format!(r#"stroke="{color}""#)), "series {i}");
        }
    }

    #[test]
    fn svg_escapes_text() {
        let chart = LineChart {
            title: r#"loss <train> & "eval""#.into(),
            series: vec![Series { name: "a'b".into(), points: vec![(1.0, 2.0), (2.0, 3.0)] }],
            ..LineChart::default()
        };
        let svg = chart.to_svg(400, 300);
        assert!(svg.contains("loss &lt;train&gt; &amp; &quot;eval&quot;"));
        assert!(svg.contains("a&apos;b"));
        assert!(!svg.contains("<train>"));
    }

    #[test]
    fn non_finite_points_are_skipped() {
        let points =
            vec![(0.0, 1.0), (1.0, f64::NAN), (f64::INFINITY, 2.0), (2.0, 3.0), (3.0, f64::NEG_INFINITY), (4.0, 5.0)];
        let chart = LineChart { series: vec![Series { name: "s".into(), points }], ..LineChart::default() };
        let svg = chart.to_svg(400, 300);
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        let path = svg.lines().find(|l| l.contains(r#"class="series""#)).unwrap_or_default();
        assert_eq!(path.matches('M').count() + path.matches(" L").count(), 3, "{path}");
        assert_eq!(svg.matches("<circle").count(), 3 + 1, "a marker per finite point, plus the key");
        decode(&chart.to_png(400, 300));
    }

    #[test]
    fn log_axes_skip_non_positive_values() {
        let chart = LineChart {
            x_log: true,
            y_log: true,
            series: vec![Series {
                name: "lr".into(),
                points: vec![(1e-4, 0.5), (0.0, 0.6), (1e-3, -1.0), (1e-2, 0.9), (1e-1, 0.7)],
            }],
            ..LineChart::default()
        };
        let svg = chart.to_svg(600, 400);
        let path = svg.lines().find(|l| l.contains(r#"class="series""#)).unwrap_or_default();
        assert_eq!(path.matches(" L").count(), 2, "{path}");
        for label in [">1e-4<", ">1e-3<", ">1e-2<", ">1e-1<"] {
            assert!(svg.contains(label), "tick {label}");
        }
    }

    #[test]
    fn empty_charts_render_axes_and_a_note() {
        let all_nan = LineChart {
            series: vec![Series { name: "nan".into(), points: vec![(f64::NAN, 1.0)] }],
            ..LineChart::default()
        };
        let no_bars = BarChart::default();
        let nan_bars = BarChart { bars: vec![("x".into(), f64::NAN)], ..BarChart::default() };
        let charts: [&dyn Chart; 4] = [&LineChart::default(), &all_nan, &no_bars, &nan_bars];
        for chart in charts {
            let svg = chart.to_svg(500, 300);
            assert!(svg.contains(">no data</text>"));
            assert!(svg.contains(">0</text>") || svg.contains(">1</text>"), "axis ticks");
            let image = decode(&chart.to_png(500, 300));
            assert_eq!((image.width, image.height), (500, 300));
            assert!(image.contains([0x88; 3]), "the note in the muted color");
        }
        assert!(nan_bars.to_svg(500, 300).contains(">n/a</text>"));
    }

    #[test]
    fn degenerate_ranges_get_padded() {
        let single =
            LineChart { series: vec![Series { name: "one".into(), points: vec![(3.0, 0.5)] }], ..LineChart::default() };
        let flat = LineChart { series: vec![curve("flat", 10, |_| 2.0)], ..LineChart::default() };
        let flat_log = LineChart { y_log: true, ..flat.clone() };
        let zero = LineChart { series: vec![curve("zero", 10, |_| 0.0)], ..LineChart::default() };
        for chart in [single, flat, flat_log, zero] {
            let svg = chart.to_svg(500, 300);
            let scene = layout::line_chart(&chart, 500, 300);
            let labels = scene
                .shapes
                .iter()
                .filter(|s| matches!(s, scene::Shape::Text(t) if t.anchor == scene::Anchor::End))
                .count();
            assert!(labels >= 2, "y ticks of {svg}");
            assert!(!svg.contains("no data"));
            decode(&chart.to_png(500, 300));
        }
    }

    #[test]
    fn extreme_inputs_do_not_panic() {
        let wild = LineChart {
            title: "\u{0}\n\u{ffff}漢字 title".into(),
            series: vec![Series {
                name: "x".repeat(500),
                points: vec![(0.0, f64::MAX), (1.0, -f64::MAX), (2.0, f64::MIN_POSITIVE), (1e-320, 1e300)],
            }],
            y_log: false,
            ..LineChart::default()
        };
        let wild_log = LineChart { x_log: true, y_log: true, ..wild.clone() };
        let bars = BarChart {
            title: String::new(),
            y_label: "y".repeat(300),
            bars: (0..300).map(|i| (format!("category number {i}"), f64::from(i) * 1e12 - 1e13)).collect(),
        };
        let charts: [&dyn Chart; 3] = [&wild, &wild_log, &bars];
        for chart in charts {
            for (w, h) in [(0, 0), (1, 1), (64, 64), (100, 3000), (2000, 1200)] {
                let svg = chart.to_svg(w, h);
                assert!(!svg.contains("NaN") && !svg.contains("inf"));
                let image = decode(&chart.to_png(w, h));
                assert_eq!((image.width, image.height), (w.clamp(64, 8192) as usize, h.clamp(64, 8192) as usize));
            }
        }
    }

    #[test]
    fn bar_chart_prints_values_and_names() {
        let chart = throughput();
        let svg = chart.to_svg(600, 400);
        for label in [">15235<", ">9876<", ">5021<", ">depth=2<", ">depth=8<"] {
            assert!(svg.contains(label), "{label}");
        }
        let image = decode(&chart.to_png(600, 400));
        for i in 0..3 {
            assert!(image.contains(rgb(i)));
        }
        let mixed = BarChart { bars: vec![("up".into(), 2.0), ("down".into(), -1.0)], ..BarChart::default() };
        let svg = mixed.to_svg(400, 300);
        assert!(svg.contains(">-1<") && svg.contains(">2<"));
    }

    /// Writes one sample of each kind to /tmp/ouro-plot-samples for looking at:
    /// `cargo test -p ouro-plot -- --ignored`.
    #[test]
    #[ignore = "writes sample images to /tmp"]
    fn write_samples() {
        let dir = std::path::Path::new("/tmp/ouro-plot-samples");
        std::fs::create_dir_all(dir).expect("create sample dir");
        let accuracy = LineChart {
            title: "final accuracy vs learning rate".into(),
            x_label: "learning rate".into(),
            y_label: "eval accuracy".into(),
            x_log: true,
            series: (0..3)
                .map(|d| Series {
                    name: format!("depth={}", 2 << d),
                    points: [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
                        .iter()
                        .map(|&lr: &f64| (lr, 0.9 - 0.05 * f64::from(d) - 0.04 * (lr.log10() + 2.7).powi(2)))
                        .collect(),
                })
                .collect(),
            ..LineChart::default()
        };
        let mut loss = losses(5);
        loss.y_log = true;
        loss.title = "training loss (log y)".into();
        let noisy = LineChart {
            title: "12 runs, noisy loss".into(),
            x_label: "step".into(),
            y_label: "loss".into(),
            series: (0..12)
                .map(|i| {
                    let mut state = 12345u64 + i as u64;
                    let points = (0..2000)
                        .map(|s| {
                            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                            let noise = (state >> 33) as f64 / f64::from(1u32 << 31) - 0.5;
                            let t = f64::from(s) / 2000.0;
                            (f64::from(s) * 50.0, 2.5 * (-3.0 * t).exp() + 0.05 * i as f64 + 0.15 * noise)
                        })
                        .collect();
                    Series { name: format!("group/lr=3e-4,seed={i}"), points }
                })
                .collect(),
            ..LineChart::default()
        };
        let wall = BarChart {
            title: "wall time per config".into(),
            y_label: "seconds".into(),
            bars: (0..9)
                .map(|i| {
                    (format!("depth={},width={}", 2 << (i % 3), 64 << (i / 3)), 120.0 * f64::from(i + 1).powf(1.3))
                })
                .collect(),
        };
        let many = LineChart {
            title: "12 series, 20 points each".into(),
            x_label: "recursion depth".into(),
            y_label: "accuracy".into(),
            series: (0..12)
                .map(|i| {
                    let points = (0..20)
                        .map(|d| (f64::from(d), 1.0 - (-(f64::from(d) + 1.0) / (2.0 + f64::from(i))).exp()))
                        .collect();
                    Series { name: format!("config {i}"), points }
                })
                .collect(),
            ..LineChart::default()
        };
        let deltas = BarChart {
            title: "accuracy change vs baseline".into(),
            y_label: "delta (points)".into(),
            bars: (0..24)
                .map(|i| {
                    let v = if i == 5 { f64::NAN } else { (f64::from(i) * 0.7).sin() * 3.2 };
                    (format!("cfg{i}"), v)
                })
                .collect(),
        };
        let samples: [(&str, &dyn Chart); 8] = [
            ("many", &many),
            ("deltas", &deltas),
            ("loss", &loss),
            ("accuracy", &accuracy),
            ("noisy", &noisy),
            ("throughput", &throughput()),
            ("wall", &wall),
            ("empty", &LineChart { title: "nothing yet".into(), ..LineChart::default() }),
        ];
        for (name, chart) in samples {
            std::fs::write(dir.join(format!("{name}.svg")), chart.to_svg(800, 500)).expect("write svg");
            std::fs::write(dir.join(format!("{name}.png")), chart.to_png(800, 500)).expect("write png");
        }
        std::fs::write(dir.join("loss-2x.png"), loss.to_png(1600, 1000)).expect("write png");
    }
}
