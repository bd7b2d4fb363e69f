//! `dataset.json`: the metadata of one split (`PuzzleDatasetMetadata` of the official code).

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The metadata of a split, field for field as the official builders write it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Metadata {
    /// Token id of padding (0).
    pub pad_id: i64,
    /// Label id rewritten to -100 (ignored) at load, if any (0: PAD labels are unsupervised).
    pub ignore_label_id: Option<i64>,
    /// Puzzle identifier of padding rows (0).
    pub blank_identifier_id: i64,
    /// Token vocabulary size.
    pub vocab_size: usize,
    /// Tokens per example.
    pub seq_len: usize,
    /// Rows of the puzzle-embedding table.
    pub num_puzzle_identifiers: usize,
    /// Groups (original puzzles).
    pub total_groups: usize,
    /// Examples per puzzle on average.
    pub mean_puzzle_examples: f64,
    /// Puzzles (the Sudoku and Maze builders write the group count here, as the official ones do).
    pub total_puzzles: usize,
    /// Set names (`["all"]`).
    pub sets: Vec<String>,
}

/// Python's `repr` of a float, which `json.dump` writes (shortest round-trip form).
fn python_float(v: f64) -> String {
    let s = format!("{v:?}");
    if s.contains('e') {
        // Python writes 1e+16 where Rust writes 1e16.
        let (m, e) = s.split_once('e').expect("has e");
        let e = if e.starts_with('-') { e.to_string() } else { format!("+{e}") };
        format!("{m}e{e}")
    } else {
        s
    }
}

impl Metadata {
    /// Reads `dataset.json`.
    pub fn read(path: &Path) -> Result<Metadata> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Metadata::parse(path, &text)
    }

    /// Parses metadata text (for remote files already fetched).
    pub fn parse(path: &Path, text: &str) -> Result<Metadata> {
        serde_json::from_str(text)
            .map_err(|e| Error::Format { path: path.to_path_buf(), message: format!("invalid dataset.json: {e}") })
    }

    /// The JSON text `json.dump(metadata.model_dump(), f)` writes, byte for byte.
    pub fn to_json(&self) -> String {
        let ignore = self.ignore_label_id.map_or("null".to_string(), |v| v.to_string());
        let sets: Vec<String> =
            self.sets.iter().map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))).collect();
        format!(
            "{{\"pad_id\": {}, \"ignore_label_id\": {ignore}, \"blank_identifier_id\": {}, \"vocab_size\": {}, \"seq_len\": {}, \"num_puzzle_identifiers\": {}, \"total_groups\": {}, \"mean_puzzle_examples\": {}, \"total_puzzles\": {}, \"sets\": [{}]}}",
            self.pad_id,
            self.blank_identifier_id,
            self.vocab_size,
            self.seq_len,
            self.num_puzzle_identifiers,
            self.total_groups,
            python_float(self.mean_puzzle_examples),
            self.total_puzzles,
            sets.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_matches_pythons_and_reads_back() {
        let m = Metadata {
            pad_id: 0,
            ignore_label_id: Some(0),
            blank_identifier_id: 0,
            vocab_size: 11,
            seq_len: 81,
            num_puzzle_identifiers: 1,
            total_groups: 1000,
            mean_puzzle_examples: 1.0,
            total_puzzles: 1000,
            sets: vec!["all".into()],
        };
        assert_eq!(
            m.to_json(),
            r#"{"pad_id": 0, "ignore_label_id": 0, "blank_identifier_id": 0, "vocab_size": 11, "seq_len": 81, "num_puzzle_identifiers": 1, "total_groups": 1000, "mean_puzzle_examples": 1.0, "total_puzzles": 1000, "sets": ["all"]}"#
        );
        assert_eq!(Metadata::parse(Path::new("d.json"), &m.to_json()).unwrap(), m);
        assert_eq!(python_float(4.153846153846154), "4.153846153846154");
        let err = Metadata::parse(Path::new("/d/dataset.json"), r#"{"pad_id": 0}"#).unwrap_err().to_string();
        assert!(err.contains("/d/dataset.json") && err.contains("missing field"), "{err}");
    }
}
