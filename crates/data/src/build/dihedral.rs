//! The 8 symmetries of a rectangular grid, numbered as the official `dihedral_transform`.

/// The transform undoing transform `t` (`DIHEDRAL_INVERSE`).
pub const INVERSE: [usize; 8] = [0, 3, 2, 1, 4, 5, 6, 7];

/// Applies transform `t` to a row-major `h × w` grid; returns the grid and its new `(h, w)`.
/// 0 identity, 1 `rot90` (counter-clockwise), 2 `rot180`, 3 `rot270`, 4 `fliplr`, 5 `flipud`,
/// 6 transpose, 7 anti-diagonal (`fliplr(rot90)`).
pub fn transform(grid: &[u8], h: usize, w: usize, t: usize) -> (Vec<u8>, usize, usize) {
    let (oh, ow) = if matches!(t, 1 | 3 | 6 | 7) { (w, h) } else { (h, w) };
    let mut out = vec![0; h * w];
    for i in 0..oh {
        for j in 0..ow {
            let (r, c) = match t {
                1 => (j, w - 1 - i),
                2 => (h - 1 - i, w - 1 - j),
                3 => (h - 1 - j, i),
                4 => (i, w - 1 - j),
                5 => (h - 1 - i, j),
                6 => (j, i),
                7 => (h - 1 - j, w - 1 - i),
                _ => (i, j),
            };
            out[i * ow + j] = grid[r * w + c];
        }
    }
    (out, oh, ow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_match_numpy_and_invert() {
        // [[1, 2, 3], [4, 5, 6]] under each numpy transform.
        let g = [1, 2, 3, 4, 5, 6];
        let expect: [&[u8]; 8] = [
            &[1, 2, 3, 4, 5, 6],
            &[3, 6, 2, 5, 1, 4],
            &[6, 5, 4, 3, 2, 1],
            &[4, 1, 5, 2, 6, 3],
            &[3, 2, 1, 6, 5, 4],
            &[4, 5, 6, 1, 2, 3],
            &[1, 4, 2, 5, 3, 6],
            &[6, 3, 5, 2, 4, 1],
        ];
        for t in 0..8 {
            let (out, h, w) = transform(&g, 2, 3, t);
            assert_eq!(out, expect[t], "transform {t}");
            let (back, bh, bw) = transform(&out, h, w, INVERSE[t]);
            assert_eq!((back.as_slice(), bh, bw), (&g[..], 2, 3), "inverse of {t}");
        }
    }
}
