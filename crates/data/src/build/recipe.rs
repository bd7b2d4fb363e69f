//! Datasets a training config names by recipe and that are built on first use, so a config is a
//! self-contained experiment (CI's learning run, the README's main job).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::held_out::Seen;
use super::sudoku::{self, SudokuOptions};
use super::sudoku_solver::Geometry;
use super::{build_size, check_fits, test_seed};
use crate::writer::{DatasetFiles, write_dataset};
use crate::{Error, Result};

/// A generated Sudoku dataset (a config's `generate_sudoku`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SudokuRecipe {
    /// Board side: 4 or 9.
    pub size: usize,
    /// Generated training puzzles.
    pub train: usize,
    /// Generated test puzzles (a separate stream).
    pub test: usize,
    /// Shuffled copies per training puzzle.
    #[serde(default)]
    pub num_aug: usize,
    /// Keep the hardest of this many minimal puzzles for each one.
    #[serde(default = "one_candidate")]
    pub candidates: usize,
    /// Seed of generation and augmentation.
    #[serde(default)]
    pub seed: u32,
}

fn one_candidate() -> usize {
    1
}

impl SudokuRecipe {
    /// The board's geometry.
    pub fn geometry(&self) -> Result<Geometry> {
        Geometry::of_side(self.size)
            .ok_or_else(|| Error::Config(format!("generate_sudoku.size must be 4 or 9, got {}", self.size)))
    }

    /// Builds the dataset at `out`, which must not exist. Refused before generating anything
    /// when it would not fit the format or `memory_available` bytes (see [`check_fits`]).
    pub fn build(&self, out: &Path, memory_available: Option<f64>) -> Result<()> {
        let g = self.geometry()?;
        let (examples, bytes) = build_size(g.cells(), self.train, 1.0 + self.num_aug as f64, self.test);
        let what = format!("{} training puzzles with num_aug {}", self.train, self.num_aug);
        check_fits(&what, examples, bytes, memory_available)?;
        write_dataset(out, &self.files()?, false)
    }

    /// The dataset's splits: the training puzzles with their shuffles, and test puzzles from
    /// another stream that are none of the training examples (see [`super::held_out`]).
    pub fn files(&self) -> Result<DatasetFiles> {
        let g = self.geometry()?;
        let seed = self.seed as u64;
        let train = sudoku::generate(g, self.train, self.candidates, seed);
        let options = SudokuOptions {
            subsample_size: None,
            min_difficulty: None,
            num_aug: self.num_aug,
            seed: self.seed,
            official_dtypes: false,
            nested: false,
        };
        let train = sudoku::train_split(g, train, &options);
        let seen = Seen::of(&train, g.cells());
        let test = sudoku::generate_held_out(g, self.test, self.candidates, test_seed(seed), &seen)?;
        let test = sudoku::test_split(g, test, &options);
        Ok(DatasetFiles::train_and_test(train, test))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipe_builds_its_splits_once_and_refuses_what_cannot_fit() {
        let dir = std::env::temp_dir().join(format!("ouro-recipe-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let recipe = SudokuRecipe { size: 4, train: 6, test: 3, num_aug: 2, candidates: 1, seed: 5 };
        recipe.build(&dir, None).unwrap();
        let train = crate::PuzzleDataset::open(std::slice::from_ref(&dir), "train").unwrap();
        let test = crate::PuzzleDataset::open(std::slice::from_ref(&dir), "test").unwrap();
        assert_eq!((train.num_examples(), test.num_examples()), (18, 3));
        assert!(matches!(recipe.build(&dir, None), Err(Error::OutputExists(_))));
        let e = SudokuRecipe { size: 5, ..recipe.clone() }.build(&dir, None).unwrap_err().to_string();
        assert!(e.contains("must be 4 or 9"), "{e}");
        let e = recipe.build(&dir.join("small"), Some(1024.0)).unwrap_err().to_string();
        assert!(e.contains("of memory to build") && !dir.join("small").exists(), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_main_jobs_test_puzzles_are_none_of_its_training_examples() {
        // The `generate_sudoku` of configs/sudoku4-tiny.yaml, the README's main job.
        let recipe = SudokuRecipe { size: 4, train: 500, test: 200, num_aug: 8, candidates: 1, seed: 1 };
        let files = recipe.files().unwrap();
        let (train, test) = (&files.splits[0].1, &files.splits[1].1);
        let seen = Seen::of(train, 16);
        assert_eq!((train.inputs.len(), test.inputs.len()), (500 * 9 * 16, 200 * 16));
        assert_eq!(seen.overlap(test), 0);
        // The stream's first 200 puzzles, the test set before, held training examples.
        let g = recipe.geometry().unwrap();
        let first = sudoku::test_split(g, sudoku::generate(g, 200, 1, test_seed(1)), &SudokuOptions::default());
        let before = seen.overlap(&first);
        eprintln!("{before} of the first 200 test puzzles are training examples");
        assert!(before > 0);
    }
}
