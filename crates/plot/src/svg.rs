//! SVG back end: writes a scene as a standalone SVG 1.1 document. Text uses a monospace font
//! at a size whose advance stays under the 8x8 cell layout measured with, so labels fit.

use std::fmt::{self, Display, Write};

use crate::scene::{Anchor, LineKind, MarkerShape, Scene, Shape, Text};

/// CSS font size per unit of font scale: monospace fonts advance about 0.6 em, so 12 px
/// glyphs take 7.2 px, inside the 8 px cell; their cap height matches the bitmap font's.
const FONT_SIZE: f64 = 12.0;

/// Offset from the middle of a text line down to its baseline, in em.
const BASELINE: f64 = 0.35;

/// A coordinate written compactly: at most two decimals, no trailing zeros.
struct Num(f64);

impl Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Layout never produces non-finite coordinates; zero keeps the document valid if it did.
        let v = if self.0.is_finite() { (self.0 * 100.0).round() / 100.0 } else { 0.0 };
        let s = format!("{v:.2}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        f.write_str(if s == "-0" { "0" } else { s })
    }
}

/// Text with the characters XML reserves escaped, safe in content and in quoted attributes.
struct Escaped<'a>(&'a str);

impl Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&apos;")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// The SVG document for `scene`.
pub(crate) fn render(scene: &Scene) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_scene(&mut out, scene);
    out
}

fn write_scene(out: &mut String, scene: &Scene) -> fmt::Result {
    let (w, h) = (scene.width, scene.height);
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">"#
    )?;
    if !scene.title.is_empty() {
        writeln!(out, "<title>{}</title>", Escaped(&scene.title))?;
    }
    writeln!(out, r#"<rect width="{w}" height="{h}" fill="{}"/>"#, scene.background.hex())?;
    for shape in &scene.shapes {
        write_shape(out, shape)?;
    }
    writeln!(out, "</svg>")
}

fn write_shape(out: &mut String, shape: &Shape) -> fmt::Result {
    match shape {
        Shape::Rect { x, y, w, h, fill } => writeln!(
            out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>"#,
            Num(*x),
            Num(*y),
            Num(*w),
            Num(*h),
            fill.hex()
        ),
        Shape::Line { points, width, color, dash, kind } => {
            let class = match kind {
                LineKind::Series => "series",
                LineKind::Key => "key",
            };
            write!(out, r#"<path class="{class}" d=""#)?;
            for (i, &(x, y)) in points.iter().enumerate() {
                let command = if i == 0 { "M" } else { " L" };
                write!(out, "{command}{} {}", Num(x), Num(y))?;
            }
            write!(
                out,
                r#"" fill="none" stroke="{}" stroke-width="{}" stroke-linejoin="round""#,
                color.hex(),
                Num(*width)
            )?;
            if dash.is_empty() {
                write!(out, r#" stroke-linecap="round""#)?;
            } else {
                // Butt caps keep dashes the length the raster draws them.
                let pattern: Vec<String> = dash.iter().map(|&d| Num(d).to_string()).collect();
                write!(out, r#" stroke-dasharray="{}""#, pattern.join(" "))?;
            }
            writeln!(out, "/>")
        }
        Shape::Marker { x, y, radius, shape: MarkerShape::Circle, color } => {
            writeln!(out, r#"<circle cx="{}" cy="{}" r="{}" fill="{}"/>"#, Num(*x), Num(*y), Num(*radius), color.hex())
        }
        Shape::Marker { x, y, radius, shape: MarkerShape::Square, color } => writeln!(
            out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>"#,
            Num(x - radius),
            Num(y - radius),
            Num(2.0 * radius),
            Num(2.0 * radius),
            color.hex()
        ),
        Shape::Text(text) => write_text(out, text),
    }
}

fn write_text(out: &mut String, t: &Text) -> fmt::Result {
    let size = FONT_SIZE * f64::from(t.scale);
    let anchor = match t.anchor {
        Anchor::Start => "start",
        Anchor::Middle => "middle",
        Anchor::End => "end",
    };
    // The baseline sits below the anchor point in the text's own frame, which for vertical
    // text is rotated about that point.
    write!(
        out,
        r#"<text x="{}" y="{}" font-size="{}" text-anchor="{anchor}" fill="{}""#,
        Num(t.x),
        Num(t.y + BASELINE * size),
        Num(size),
        t.color.hex()
    )?;
    if t.vertical {
        write!(out, r#" transform="rotate(-90 {} {})""#, Num(t.x), Num(t.y))?;
    }
    writeln!(out, ">{}</text>", Escaped(&t.text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::Rgb;

    #[test]
    fn numbers_are_compact() {
        let cases = [(1.0, "1"), (1.5, "1.5"), (1.234, "1.23"), (-0.001, "0"), (f64::NAN, "0"), (100.0, "100")];
        for (v, expected) in cases {
            assert_eq!(Num(v).to_string(), expected);
        }
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(Escaped(r#"a<b & "c" 'd'>"#).to_string(), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
        let scene = Scene {
            width: 10,
            height: 10,
            title: "x < y".into(),
            background: Rgb(255, 255, 255),
            shapes: vec![Shape::Text(Text {
                x: 1.0,
                y: 2.0,
                text: "Q&A".into(),
                scale: 1,
                anchor: Anchor::Start,
                vertical: true,
                color: Rgb(0, 0, 0),
            })],
        };
        let svg = render(&scene);
        assert!(svg.contains("<title>x &lt; y</title>"));
        assert!(svg.contains(">Q&amp;A</text>"));
        assert!(svg.contains(r#"transform="rotate(-90 1 2)""#));
    }
}
