//! Dataset builders.

pub mod arc;
mod csv;
pub mod dihedral;
pub mod maze;
pub mod sudoku;
pub mod sudoku_solver;

/// The examples and host bytes a build needs, counted in f64 so that no request overflows:
/// `train_rows` puzzles of `cells` cells each made into `copies` examples (an original and its
/// augmentations), `test_rows` test puzzles of one example each; the puzzles, the splits' token
/// arrays (inputs and labels, u8) and the writer's copy of them, and an identifier and an index
/// (i32) per example.
pub fn build_size(cells: usize, train_rows: usize, copies: f64, test_rows: usize) -> (f64, f64) {
    let cells = cells as f64;
    let examples = train_rows as f64 * copies + test_rows as f64;
    let puzzles = (train_rows as f64 + test_rows as f64) * (2.0 * cells + 64.0);
    (examples, puzzles + examples * (4.0 * cells + 8.0))
}

/// Lowercase hex of bytes (SHA-256 digests).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
