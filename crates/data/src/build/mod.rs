//! Dataset builders.

pub mod arc;
mod csv;
pub mod dihedral;
pub mod maze;
pub mod sudoku;
pub mod sudoku_solver;

/// Lowercase hex of bytes (SHA-256 digests).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
