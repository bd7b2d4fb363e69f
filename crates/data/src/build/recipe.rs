//! Datasets a training config names by recipe and that are built on first use, so a config is a
//! self-contained experiment (CI's learning run, the README's main job).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::sudoku::{self, SudokuOptions};
use super::sudoku_solver::Geometry;
use super::{build_size, check_fits, test_seed};
use crate::writer::write_dataset;
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
        let seed = self.seed as u64;
        let train = sudoku::generate(g, self.train, self.candidates, seed);
        let test = sudoku::generate(g, self.test, self.candidates, test_seed(seed));
        let options = SudokuOptions {
            subsample_size: None,
            min_difficulty: None,
            num_aug: self.num_aug,
            seed: self.seed,
            official_dtypes: false,
            nested: false,
        };
        write_dataset(out, &sudoku::build(g, train, test, &options), false)
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
}
