//! Colors and stroke styles: a colorblind-friendly palette (Tableau 10) and the dash patterns
//! that keep series apart once the palette repeats.

use crate::scene::{MarkerShape, Rgb};

pub(crate) const BACKGROUND: Rgb = Rgb(0xff, 0xff, 0xff);
/// Titles, labels and tick labels.
pub(crate) const INK: Rgb = Rgb(0x22, 0x22, 0x22);
/// Axis lines and tick marks.
pub(crate) const AXIS: Rgb = Rgb(0x55, 0x55, 0x55);
/// Grid lines: light enough to stay behind the data.
pub(crate) const GRID: Rgb = Rgb(0xe3, 0xe3, 0xe3);
/// Notes such as "no data".
pub(crate) const MUTED: Rgb = Rgb(0x88, 0x88, 0x88);

/// Tableau 10, designed to stay distinguishable under the common color-vision deficiencies.
pub(crate) const PALETTE: [Rgb; 10] = [
    Rgb(0x4e, 0x79, 0xa7),
    Rgb(0xf2, 0x8e, 0x2b),
    Rgb(0xe1, 0x57, 0x59),
    Rgb(0x76, 0xb7, 0xb2),
    Rgb(0x59, 0xa1, 0x4f),
    Rgb(0xed, 0xc9, 0x48),
    Rgb(0xb0, 0x7a, 0xa1),
    Rgb(0xff, 0x9d, 0xa7),
    Rgb(0x9c, 0x75, 0x5f),
    Rgb(0xba, 0xb0, 0xac),
];

/// Dash patterns (on, off, ... in pixels at unit scale), one per pass through the palette.
const DASHES: [&[f64]; 4] = [&[], &[8.0, 4.0], &[2.0, 3.0], &[10.0, 3.0, 2.0, 3.0]];

/// How the `i`-th series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct SeriesStyle {
    pub color: Rgb,
    pub dash: &'static [f64],
    pub marker: MarkerShape,
}

/// The style of series `i`: palette color, then a new dash and marker on each repeat.
pub(crate) fn series(i: usize) -> SeriesStyle {
    let round = i / PALETTE.len();
    SeriesStyle {
        color: PALETTE[i % PALETTE.len()],
        dash: DASHES[round % DASHES.len()],
        marker: if round.is_multiple_of(2) { MarkerShape::Circle } else { MarkerShape::Square },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_series_are_distinct() {
        let styles: Vec<_> = (0..12).map(series).collect();
        for (i, a) in styles.iter().enumerate() {
            for b in &styles[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert!(styles[..10].iter().all(|s| s.dash.is_empty()));
        assert!(styles[10..].iter().all(|s| !s.dash.is_empty()));
    }
}
