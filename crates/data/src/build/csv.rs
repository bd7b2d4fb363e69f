//! The `source,question,answer,rating` CSV of the sudoku-extreme and maze-hard datasets.

use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::error::{Error, Result};

/// One data line of the CSV.
pub(crate) struct Record<'a> {
    /// 1-based line number.
    pub line: usize,
    /// Where the puzzle came from.
    pub source: &'a str,
    /// The question grid as text.
    pub question: &'a str,
    /// The answer grid as text.
    pub answer: &'a str,
    rating: &'a str,
}

impl Record<'_> {
    /// An error about this line of `path`.
    pub fn error(&self, path: &Path, message: String) -> Error {
        Error::Source { path: path.to_path_buf(), line: self.line, message }
    }

    /// The rating (written as a number, possibly with a fraction), truncated to an integer.
    pub fn rating(&self, path: &Path) -> Result<i64> {
        let value = self.rating.trim().parse::<f64>();
        value.map(|r| r as i64).map_err(|_| self.error(path, format!("the rating '{}' is not a number", self.rating)))
    }
}

/// Reads `path`, checking the header and that every line has four fields (grids hold no commas),
/// and calls `each` for every non-empty data line.
pub(crate) fn read(path: &Path, mut each: impl FnMut(&Record<'_>) -> Result<()>) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        let err = |message: String| Error::Source { path: path.to_path_buf(), line: i + 1, message };
        if i == 0 {
            if !line.starts_with("source") {
                return Err(err(format!("expected the header 'source,question,answer,rating', got '{line}'")));
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.trim_end_matches('\r').split(',').collect();
        let [source, question, answer, rating] = fields[..] else {
            return Err(err(format!("expected 4 fields (source,question,answer,rating), got {}", fields.len())));
        };
        each(&Record { line: i + 1, source, question, answer, rating })?;
    }
    Ok(())
}
