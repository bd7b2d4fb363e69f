//! PNG back end, first half: paints a scene onto an RGB canvas. Pixel `(i, j)` covers the
//! square from `(i, j)` to `(i + 1, j + 1)` in scene coordinates; edges of lines and markers
//! are anti-aliased by each pixel centre's distance to the shape.

use crate::scene::{MarkerShape, Rgb, Scene, Shape, Text};
use crate::text;

/// An 8-bit RGB image, rows top to bottom.
#[derive(Clone, Debug)]
pub(crate) struct Canvas {
    width: usize,
    height: usize,
    data: Vec<u8>,
}

/// Paints `scene` onto a fresh canvas of its size.
pub(crate) fn render(scene: &Scene) -> Canvas {
    let mut canvas = Canvas::new(scene.width, scene.height, scene.background);
    for shape in &scene.shapes {
        match shape {
            Shape::Rect { x, y, w, h, fill } => canvas.fill_rect(*x, *y, *w, *h, *fill),
            Shape::Line { points, width, color, dash, .. } => canvas.stroke(points, *width, *color, dash),
            Shape::Marker { x, y, radius, shape, color } => canvas.marker(*x, *y, *radius, *shape, *color),
            Shape::Text(t) => canvas.text(t),
        }
    }
    canvas
}

/// Pixel index range `[lo, hi)` of the pixels whose centres may lie in `[a, b]`, clipped to
/// `[0, limit)`; bounds come from scene coordinates, which may be far off the canvas.
fn span(a: f64, b: f64, limit: usize) -> std::ops::Range<usize> {
    let clip = |v: f64| v.clamp(0.0, limit as f64) as usize;
    clip((a - 0.5).floor())..clip((b + 0.5).ceil())
}

/// Centre of pixel `i`.
fn centre(i: usize) -> f64 {
    i as f64 + 0.5
}

/// Whether arc length `s` along a dashed line falls on a dash (`pattern` alternates on, off).
fn on_dash(s: f64, pattern: &[f64]) -> bool {
    let period: f64 = pattern.iter().sum();
    if pattern.is_empty() || period.is_nan() || period <= 0.0 {
        return true;
    }
    let mut at = s.rem_euclid(period);
    for (i, &len) in pattern.iter().cycle().take(2 * pattern.len()).enumerate() {
        if at < len {
            return i % 2 == 0;
        }
        at -= len;
    }
    true
}

impl Canvas {
    /// A `width` × `height` canvas filled with `background`.
    pub(crate) fn new(width: u32, height: u32, background: Rgb) -> Self {
        let (width, height) = (width as usize, height as usize);
        let data = [background.0, background.1, background.2].repeat(width * height);
        Canvas { width, height, data }
    }

    pub(crate) fn width(&self) -> usize {
        self.width
    }

    pub(crate) fn height(&self) -> usize {
        self.height
    }

    /// The pixels, three bytes (R, G, B) each, row by row.
    pub(crate) fn data(&self) -> &[u8] {
        &self.data
    }

    /// Mixes `color` into pixel `(x, y)` with opacity `alpha` (0 to 1); off-canvas is ignored.
    fn blend(&mut self, x: usize, y: usize, color: Rgb, alpha: f64) {
        if x >= self.width || y >= self.height || alpha.is_nan() || alpha <= 0.0 {
            return;
        }
        let a = alpha.min(1.0);
        let i = 3 * (y * self.width + x);
        if let Some(px) = self.data.get_mut(i..i + 3) {
            for (channel, c) in px.iter_mut().zip([color.0, color.1, color.2]) {
                *channel = (f64::from(c) * a + f64::from(*channel) * (1.0 - a)).round() as u8;
            }
        }
    }

    /// Fills the pixels whose centres lie inside the rectangle.
    fn fill_rect(&mut self, x: f64, y: f64, w: f64, h: f64, color: Rgb) {
        let inside = |a: f64, b: f64, limit: usize| {
            let clip = |v: f64| v.round().clamp(0.0, limit as f64) as usize;
            clip(a)..clip(b)
        };
        for j in inside(y, y + h, self.height) {
            for i in inside(x, x + w, self.width) {
                self.blend(i, j, color, 1.0);
            }
        }
    }

    /// Strokes a polyline `width` pixels wide with round joins (and round caps when solid).
    /// Coverage is collected per pixel as the maximum over segments before blending, so
    /// joins and dense, jagged series are not darkened by overdraw.
    fn stroke(&mut self, points: &[(f64, f64)], width: f64, color: Rgb, dash: &[f64]) {
        let radius = width / 2.0;
        let reach = radius + 1.0;
        let finite: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
        let Some(&first) = finite.first() else {
            return;
        };
        let bounds = finite.iter().fold((first.0, first.1, first.0, first.1), |(x0, y0, x1, y1), &(x, y)| {
            (x0.min(x), y0.min(y), x1.max(x), y1.max(y))
        });
        let (cols, rows) = (
            span(bounds.0 - reach, bounds.2 + reach, self.width),
            span(bounds.1 - reach, bounds.3 + reach, self.height),
        );
        if cols.is_empty() || rows.is_empty() {
            return;
        }
        let mask_width = cols.len();
        let mut mask = vec![0f32; cols.len() * rows.len()];
        // A lone point is a zero-length segment: a dot.
        let segments: Vec<((f64, f64), (f64, f64))> =
            if finite.len() == 1 { vec![(first, first)] } else { finite.windows(2).map(|w| (w[0], w[1])).collect() };
        let mut travelled = 0.0;
        for (a, b) in segments {
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let length_sq = dx * dx + dy * dy;
            let length = length_sq.sqrt();
            let seg_cols = span(a.0.min(b.0) - reach, a.0.max(b.0) + reach, self.width);
            let seg_rows = span(a.1.min(b.1) - reach, a.1.max(b.1) + reach, self.height);
            for j in seg_rows {
                for i in seg_cols.clone() {
                    let (px, py) = (centre(i), centre(j));
                    let t = if length_sq > 0.0 {
                        (((px - a.0) * dx + (py - a.1) * dy) / length_sq).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    let distance = (px - a.0 - t * dx).hypot(py - a.1 - t * dy);
                    let mut coverage = (radius + 0.5 - distance).clamp(0.0, 1.0);
                    if coverage > 0.0 && !dash.is_empty() && !on_dash(travelled + t * length, dash) {
                        coverage = 0.0;
                    }
                    let k = (j - rows.start) * mask_width + (i - cols.start);
                    if let Some(m) = mask.get_mut(k) {
                        *m = m.max(coverage as f32);
                    }
                }
            }
            travelled += length;
        }
        for (k, &coverage) in mask.iter().enumerate() {
            if coverage > 0.0 {
                let (i, j) = (cols.start + k % mask_width, rows.start + k / mask_width);
                self.blend(i, j, color, f64::from(coverage));
            }
        }
    }

    /// A filled circle or square of half-width `radius` centred on `(x, y)`.
    fn marker(&mut self, x: f64, y: f64, radius: f64, shape: MarkerShape, color: Rgb) {
        if !(x.is_finite() && y.is_finite()) {
            return;
        }
        for j in span(y - radius - 1.0, y + radius + 1.0, self.height) {
            for i in span(x - radius - 1.0, x + radius + 1.0, self.width) {
                let (dx, dy) = (centre(i) - x, centre(j) - y);
                let inside = match shape {
                    MarkerShape::Circle => radius - dx.hypot(dy),
                    MarkerShape::Square => radius - dx.abs().max(dy.abs()),
                };
                self.blend(i, j, color, (inside + 0.5).clamp(0.0, 1.0));
            }
        }
    }

    /// Draws text with the 8x8 font at its integer scale, snapped to whole pixels.
    fn text(&mut self, t: &Text) {
        let s = t.scale.max(1) as usize;
        let cell = text::cell(t.scale.max(1));
        let length = text::width(&t.text, t.scale.max(1));
        let before = length * t.anchor.fraction();
        // Top-left corner of the first glyph (horizontal) or bottom-left (vertical).
        let (x0, y0) = if t.vertical {
            ((t.x - cell / 2.0).round(), (t.y + before).round())
        } else {
            ((t.x - before).round(), (t.y - cell / 2.0).round())
        };
        // Far off the canvas (or not finite) draws nothing, and keeps the sums below in range.
        if !(x0.abs() < 1e9 && y0.abs() < 1e9) {
            return;
        }
        let advance = 8 * s as i64;
        for (n, c) in t.text.chars().enumerate() {
            let glyph = text::glyph(c);
            let n = n as i64;
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits >> col & 1 == 0 {
                        continue;
                    }
                    // Rotated a quarter turn counterclockwise: rows run left to right and
                    // columns bottom to top, glyphs following each other upward.
                    let (gx, gy) = if t.vertical {
                        (x0 as i64 + (row * s) as i64, y0 as i64 - (n + 1) * advance + ((7 - col) * s) as i64)
                    } else {
                        (x0 as i64 + n * advance + (col * s) as i64, y0 as i64 + (row * s) as i64)
                    };
                    for dy in 0..s as i64 {
                        for dx in 0..s as i64 {
                            let (x, y) = (gx + dx, gy + dy);
                            if x >= 0 && y >= 0 {
                                self.blend(x as usize, y as usize, t.color, 1.0);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::Anchor;

    const WHITE: Rgb = Rgb(255, 255, 255);
    const RED: Rgb = Rgb(255, 0, 0);

    fn pixel(c: &Canvas, x: usize, y: usize) -> Rgb {
        let i = 3 * (y * c.width + x);
        Rgb(c.data[i], c.data[i + 1], c.data[i + 2])
    }

    #[test]
    fn rects_fill_whole_pixels_and_clip() {
        let mut c = Canvas::new(10, 10, WHITE);
        c.fill_rect(2.0, 3.0, 2.0, 1.0, RED);
        c.fill_rect(-100.0, 8.0, 1e9, 1e9, RED);
        assert_eq!(pixel(&c, 2, 3), RED);
        assert_eq!(pixel(&c, 3, 3), RED);
        assert_eq!(pixel(&c, 4, 3), WHITE);
        assert_eq!(pixel(&c, 2, 4), WHITE);
        assert_eq!(pixel(&c, 0, 9), RED);
    }

    #[test]
    fn lines_are_two_pixels_with_soft_edges() {
        let mut c = Canvas::new(20, 20, WHITE);
        c.stroke(&[(2.0, 10.0), (18.0, 10.0)], 2.0, RED, &[]);
        assert_eq!(pixel(&c, 10, 9), RED);
        assert_eq!(pixel(&c, 10, 10), RED);
        assert_eq!(pixel(&c, 10, 8), WHITE);
        assert_eq!(pixel(&c, 10, 11), WHITE);
        // Off-canvas and non-finite points neither panic nor loop for long.
        c.stroke(&[(-1e12, -1e12), (f64::NAN, 3.0), (1e12, 1e12)], 2.0, RED, &[4.0, 2.0]);
    }

    #[test]
    fn dashes_leave_gaps() {
        let mut c = Canvas::new(40, 10, WHITE);
        c.stroke(&[(0.0, 5.0), (40.0, 5.0)], 2.0, RED, &[4.0, 4.0]);
        assert_eq!(pixel(&c, 1, 5), RED);
        assert_eq!(pixel(&c, 5, 5), WHITE);
        assert_eq!(pixel(&c, 9, 5), RED);
    }

    #[test]
    fn text_draws_glyph_bits() {
        let mut c = Canvas::new(20, 20, WHITE);
        let t =
            |vertical| Text { x: 0.0, y: 4.0, text: "|".into(), scale: 1, anchor: Anchor::Start, vertical, color: RED };
        c.text(&t(false));
        // '|' is the two middle columns of rows 0..7.
        assert_eq!(pixel(&c, 3, 0), RED);
        assert_eq!(pixel(&c, 0, 0), WHITE);
        let mut v = Canvas::new(20, 20, WHITE);
        v.text(&Text { x: 4.0, y: 16.0, ..t(true) });
        // Rotated: a horizontal bar rising from y = 16 across x = 0..7.
        assert_eq!(pixel(&v, 0, 12), RED);
        assert_eq!(pixel(&v, 0, 4), WHITE);
    }
}
