//! Dataset builders.

pub mod arc;
mod csv;
pub mod dihedral;
pub mod held_out;
pub mod maze;
pub mod recipe;
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

/// The seed of a build's generated test puzzles: another random stream than its training ones.
pub fn test_seed(seed: u64) -> u64 {
    seed ^ 0x7e57
}

/// Refuses a build of `examples` examples needing `bytes` of host memory (see [`build_size`])
/// that the format cannot index (int32 offsets) or that needs more than `memory_available`;
/// `what` names the build in the message.
pub fn check_fits(what: &str, examples: f64, bytes: f64, memory_available: Option<f64>) -> crate::Result<()> {
    if examples > i32::MAX as f64 {
        return Err(crate::Error::Config(format!(
            "{what} make {examples:.3e} examples, more than the {} the dataset format's int32 indices number",
            i32::MAX
        )));
    }
    if let Some(limit) = memory_available.filter(|&limit| bytes > limit) {
        return Err(crate::Error::Config(format!(
            "{what} need about {} of memory to build, more than the {} this machine has available",
            size_text(bytes),
            size_text(limit)
        )));
    }
    Ok(())
}

/// Bytes as GiB, or TiB past a thousand of them.
fn size_text(bytes: f64) -> String {
    let gib = bytes / (1u64 << 30) as f64;
    if gib >= 1000.0 { format!("{:.1} TiB", gib / 1024.0) } else { format!("{gib:.2} GiB") }
}

/// Lowercase hex of bytes (SHA-256 digests).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
