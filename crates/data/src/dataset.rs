//! Reading the TRM dataset format: one directory per split with `dataset.json` and, per set,
//! `<set>__{inputs,labels,puzzle_identifiers,puzzle_indices,group_indices}.npy`.
//!
//! Inputs and labels stay memory-mapped; the three index arrays are small and read into memory.
//! Every file is checked against the others and the metadata when the dataset is opened, so a
//! bad dataset fails here with the file named, never in the middle of training.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::metadata::Metadata;
use crate::npy::NpyArray;

/// The arrays of one set (`all`, or `all1`, `all2`... when several dataset paths are merged).
#[derive(Debug)]
pub struct SetArrays {
    /// The set's name in the merged dataset.
    pub name: String,
    /// `[examples, seq_len]` token ids (memory-mapped).
    pub inputs: NpyArray,
    /// `[examples, seq_len]` label ids (memory-mapped).
    pub labels: NpyArray,
    /// Puzzle-embedding row of each puzzle.
    pub puzzle_identifiers: Vec<i32>,
    /// CSR offsets of each puzzle's examples (`puzzles + 1` entries).
    pub puzzle_indices: Vec<i64>,
    /// CSR offsets of each group's puzzles (`groups + 1` entries).
    pub group_indices: Vec<i64>,
}

impl SetArrays {
    /// Examples.
    pub fn num_examples(&self) -> usize {
        self.inputs.shape()[0]
    }

    /// Puzzles.
    pub fn num_puzzles(&self) -> usize {
        self.puzzle_identifiers.len()
    }

    /// Groups.
    pub fn num_groups(&self) -> usize {
        self.group_indices.len() - 1
    }

    /// Opens and checks the set `file_set` in `dir` (named `name` in the merged dataset).
    pub fn open(dir: &Path, file_set: &str, name: &str, metadata: &Metadata) -> Result<SetArrays> {
        let file = |field: &str| dir.join(format!("{file_set}__{field}.npy"));
        let open = |field: &str| -> Result<NpyArray> {
            let path = file(field);
            if !path.is_file() {
                return Err(Error::Inconsistent {
                    path: dir.to_path_buf(),
                    message: format!("missing {}", path.display()),
                });
            }
            NpyArray::open(&path)
        };
        let inputs = open("inputs")?;
        let labels = open("labels")?;
        let ids = open("puzzle_identifiers")?;
        let pidx = open("puzzle_indices")?;
        let gidx = open("group_indices")?;
        let bad = |path: &Path, message: String| Error::Format { path: path.to_path_buf(), message };

        for a in [&inputs, &labels] {
            if a.shape().len() != 2 || a.shape()[1] != metadata.seq_len {
                return Err(bad(
                    a.path(),
                    format!("expected shape [examples, seq_len = {}], got {:?}", metadata.seq_len, a.shape()),
                ));
            }
        }
        if inputs.shape()[0] != labels.shape()[0] {
            return Err(bad(
                labels.path(),
                format!("{} label rows but {} input rows", labels.shape()[0], inputs.shape()[0]),
            ));
        }
        for a in [&ids, &pidx, &gidx] {
            if a.shape().len() != 1 {
                return Err(bad(a.path(), format!("expected a 1-D array, got shape {:?}", a.shape())));
            }
        }
        let examples = inputs.shape()[0] as i64;
        let puzzle_identifiers: Vec<i64> = ids.to_vec();
        let puzzle_indices = pidx.to_vec();
        let group_indices = gidx.to_vec();
        let puzzles = puzzle_identifiers.len() as i64;
        check_offsets(pidx.path(), &puzzle_indices, puzzles, examples, "puzzle", "examples")?;
        check_offsets(gidx.path(), &group_indices, group_indices.len() as i64 - 1, puzzles, "group", "puzzles")?;
        if let Some((i, v)) = puzzle_identifiers
            .iter()
            .enumerate()
            .find(|(_, v)| **v < 0 || **v as usize >= metadata.num_puzzle_identifiers)
        {
            return Err(bad(
                ids.path(),
                format!(
                    "puzzle {i} has identifier {v}, outside 0..num_puzzle_identifiers = {}",
                    metadata.num_puzzle_identifiers
                ),
            ));
        }
        for a in [&inputs, &labels] {
            if let Some((lo, hi)) = a.min_max()
                && (lo < 0 || hi as usize >= metadata.vocab_size)
            {
                return Err(bad(
                    a.path(),
                    format!("token ids range over {lo}..={hi}, outside 0..vocab_size = {}", metadata.vocab_size),
                ));
            }
        }
        Ok(SetArrays {
            name: name.to_string(),
            inputs,
            labels,
            puzzle_identifiers: puzzle_identifiers.into_iter().map(|v| v as i32).collect(),
            puzzle_indices,
            group_indices,
        })
    }
}

/// Checks CSR offsets: `count + 1` entries, starting at 0, non-decreasing, ending at `total`.
fn check_offsets(path: &Path, offsets: &[i64], count: i64, total: i64, what: &str, of: &str) -> Result<()> {
    let bad = |message: String| Err(Error::Format { path: path.to_path_buf(), message });
    if offsets.len() as i64 != count + 1 {
        return bad(format!("expected {} offsets ({count} {what}s + 1), got {}", count + 1, offsets.len()));
    }
    if offsets.first() != Some(&0) {
        return bad(format!("{what} offsets must start at 0, got {:?}", offsets.first()));
    }
    if let Some(i) = offsets.windows(2).position(|w| w[1] < w[0]) {
        return bad(format!("{what} offsets decrease at {what} {i}: {} then {}", offsets[i], offsets[i + 1]));
    }
    if offsets.last() != Some(&total) {
        return bad(format!("the last {what} offset is {:?}, but there are {total} {of}", offsets.last()));
    }
    Ok(())
}

/// A split (`train` or `test`) of one or more dataset directories, merged as the official
/// `PuzzleDataset` merges `data_paths`.
#[derive(Debug)]
pub struct PuzzleDataset {
    /// Merged metadata (identifiers summed, mean examples weighted by puzzles).
    pub metadata: Metadata,
    /// Sets in iteration order: for each metadata set, each path (`all`, `all1`, ...).
    pub sets: Vec<SetArrays>,
    /// The directories.
    pub paths: Vec<PathBuf>,
}

impl PuzzleDataset {
    /// Opens `split` of every path in `paths` (local directories).
    pub fn open(paths: &[PathBuf], split: &str) -> Result<PuzzleDataset> {
        if paths.is_empty() {
            return Err(Error::Config("no dataset path given".into()));
        }
        let mut metas = Vec::new();
        for p in paths {
            let file = p.join(split).join("dataset.json");
            if !file.is_file() {
                return Err(Error::Missing { path: p.clone(), file });
            }
            metas.push(Metadata::read(&file)?);
        }
        let first = metas[0].clone();
        for (p, m) in paths.iter().zip(&metas).skip(1) {
            let same = m.seq_len == first.seq_len
                && m.vocab_size == first.vocab_size
                && m.pad_id == first.pad_id
                && m.ignore_label_id == first.ignore_label_id
                && m.blank_identifier_id == first.blank_identifier_id
                && m.sets == first.sets
                && m.num_puzzle_identifiers == first.num_puzzle_identifiers;
            if !same {
                return Err(Error::Inconsistent {
                    path: p.clone(),
                    message: format!(
                        "its {split} metadata does not match {}'s (seq_len, vocab, ids and sets must agree)",
                        paths[0].display()
                    ),
                });
            }
        }
        let total_puzzles: usize = metas.iter().map(|m| m.total_puzzles).sum();
        let metadata = Metadata {
            num_puzzle_identifiers: metas.iter().map(|m| m.num_puzzle_identifiers).sum(),
            total_groups: metas.iter().map(|m| m.total_groups).sum(),
            mean_puzzle_examples: metas.iter().map(|m| m.mean_puzzle_examples * m.total_puzzles as f64).sum::<f64>()
                / total_puzzles.max(1) as f64,
            total_puzzles,
            ..first
        };
        let mut sets = Vec::new();
        for set in &metadata.sets {
            for (i, (p, m)) in paths.iter().zip(&metas).enumerate() {
                let name = if i == 0 { set.clone() } else { format!("{set}{i}") };
                sets.push(SetArrays::open(&p.join(split), set, &name, m)?);
            }
        }
        Ok(PuzzleDataset { metadata, sets, paths: paths.to_vec() })
    }

    /// Opens `split` of every location: local paths, or `gs://`/`s3://` URLs mirrored into the
    /// cache first (see [`crate::remote`]).
    pub fn open_locations(locations: &[String], split: &str) -> Result<PuzzleDataset> {
        let paths = locations.iter().map(|l| crate::remote::resolve(l)).collect::<Result<Vec<_>>>()?;
        PuzzleDataset::open(&paths, split)
    }

    /// Examples over all sets.
    pub fn num_examples(&self) -> usize {
        self.sets.iter().map(SetArrays::num_examples).sum()
    }
}

/// The official count of optimizer steps: `int(epochs * total_groups * mean_puzzle_examples /
/// global_batch_size)` — the LR schedule's length and the cap on training.
pub fn total_steps(metadata: &Metadata, epochs: u64, global_batch_size: usize) -> u64 {
    total_steps_of(metadata.total_groups, metadata.mean_puzzle_examples, epochs, global_batch_size)
}

/// [`total_steps`] from the two figures of the metadata it reads.
pub fn total_steps_of(total_groups: usize, mean_puzzle_examples: f64, epochs: u64, global_batch_size: usize) -> u64 {
    (epochs as f64 * total_groups as f64 * mean_puzzle_examples / global_batch_size as f64) as u64
}
