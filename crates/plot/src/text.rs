//! The 8x8 bitmap font: glyph lookup, text metrics and truncation. Layout measures with it and
//! the rasterizer draws with it, so text always fits the room layout gave it.

use font8x8::legacy::{BASIC_LEGACY, GREEK_LEGACY, LATIN_LEGACY};

/// Side of a glyph cell in pixels at scale 1; every glyph advances by exactly this much.
pub(crate) const CELL: u32 = 8;

/// `s` with the characters neither back end can show (controls, which also include line
/// breaks, and the two code points XML forbids) replaced by spaces, and the ends trimmed.
pub(crate) fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Width in pixels of `s` drawn at `scale`.
pub(crate) fn width(s: &str, scale: u32) -> f64 {
    s.chars().count() as f64 * cell(scale)
}

/// Side of a glyph cell at `scale`, in pixels.
pub(crate) fn cell(scale: u32) -> f64 {
    f64::from(CELL * scale)
}

/// `s` cleaned and cut to at most `max_width` pixels at `scale`, ending in ".." when cut.
pub(crate) fn fit(s: &str, max_width: f64, scale: u32) -> String {
    cut(s, max_width, scale, false)
}

/// Like [`fit`], but cutting from the middle: names of runs and configs often differ only
/// at their ends ("group/lr=3e-4,seed=1" and "...,seed=2"), so both ends are kept.
pub(crate) fn fit_middle(s: &str, max_width: f64, scale: u32) -> String {
    cut(s, max_width, scale, true)
}

fn cut(s: &str, max_width: f64, scale: u32, middle: bool) -> String {
    let s = clean(s);
    let room = (max_width / cell(scale)).floor().max(0.0) as usize;
    let len = s.chars().count();
    if len <= room {
        return s;
    }
    if room <= 2 {
        return s.chars().take(room).collect();
    }
    let tail = if middle { (room - 2) / 2 } else { 0 };
    let head = room - 2 - tail;
    s.chars().take(head).chain("..".chars()).chain(s.chars().skip(len - tail)).collect()
}

/// The bitmap of `c`: eight rows top to bottom, bit 0 the leftmost pixel. Basic Latin,
/// Latin-1 and Greek (for names like "α" or "µ") are covered; anything else shows as '?'.
pub(crate) fn glyph(c: char) -> [u8; 8] {
    let code = c as usize;
    match code {
        0x20..=0x7e => BASIC_LEGACY[code],
        0xa0..=0xff => LATIN_LEGACY[code - 0xa0],
        0x390..=0x3c9 => GREEK_LEGACY[code - 0x390],
        _ => BASIC_LEGACY[usize::from(b'?')],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_truncates_with_dots() {
        assert_eq!(fit("accuracy", 64.0, 1), "accuracy");
        assert_eq!(fit("accuracy", 63.0, 1), "accur..");
        assert_eq!(fit("accuracy", 64.0, 2), "ac..");
        assert_eq!(fit("abc", 16.0, 1), "ab");
        assert_eq!(fit("abc", -5.0, 1), "");
        assert_eq!(fit(" a\nb\t", 100.0, 1), "a b");
        assert_eq!(fit_middle("group/lr=3e-4,seed=10", 96.0, 1), "group..ed=10");
        assert_eq!(fit_middle("group/lr=3e-4,seed=10", 104.0, 1), "group/..ed=10");
        assert_eq!(fit_middle("abcdef", 40.0, 1), "ab..f");
    }

    #[test]
    fn glyphs_cover_ascii_and_fall_back() {
        assert_eq!(glyph(' '), [0; 8]);
        assert_ne!(glyph('A'), [0; 8]);
        assert_ne!(glyph('α'), [0; 8]);
        assert_ne!(glyph('µ'), [0; 8]);
        assert_eq!(glyph('漢'), glyph('?'));
        assert_eq!(width("abc", 2), 48.0);
    }
}
