//! Sudoku datasets: the sudoku-extreme CSV format (`source,question,answer,rating`, `.` for a
//! blank), the official builder's conversion and augmentation, and a generator of hard puzzles
//! with unique solutions for when the CSV cannot be downloaded.
//!
//! Conversion follows `build_sudoku_dataset.py`: token = digit + 1 (0 PAD, 1 blank, 2..=n+1
//! digits), one example per puzzle, an original and its `num_aug` shuffles per group, puzzle
//! identifier 0. The shuffles draw from numpy's legacy generator seeded with `seed`, in the
//! official call order, so `ouro` reproduces what the official script writes after
//! `np.random.seed(seed)` (the official script itself is unseeded).

use std::io::Write;
use std::path::Path;

use rayon::prelude::*;

use super::held_out::{self, Seen};
use super::sudoku_solver::{Geometry, count_solutions, is_solution, minimal_puzzle, random_solution, rating};
use crate::error::{Error, Result};
use crate::metadata::Metadata;
use crate::rng::{NumpyLegacy, SplitMix};
use crate::writer::{DatasetFiles, SplitArrays};

/// One puzzle of the CSV: clues (0 blank), solution, difficulty rating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SudokuRow {
    /// Where it came from.
    pub source: String,
    /// Clues, row-major, 0 for blank.
    pub question: Vec<u8>,
    /// The solution.
    pub answer: Vec<u8>,
    /// Difficulty rating.
    pub rating: i64,
}

/// A cell's token: its digit + 1 (0 is padding, 1 a blank).
fn token(digit: u8) -> u8 {
    digit + 1
}

fn digit(g: Geometry, c: u8, blank_ok: bool) -> Option<u8> {
    match c {
        b'.' | b'0' if blank_ok => Some(0),
        b'1'..=b'9' if ((c - b'0') as usize) <= g.n() => Some(c - b'0'),
        _ => None,
    }
}

/// Reads a sudoku-extreme CSV, checking every row (and, with `check`, that each answer is the
/// unique solution of its question).
pub fn read_csv(path: &Path, g: Geometry, check: bool) -> Result<Vec<SudokuRow>> {
    let mut rows = Vec::new();
    super::csv::read(path, |record| {
        let err = |message: String| record.error(path, message);
        let (q, a) = (record.question.as_bytes(), record.answer.as_bytes());
        for (what, s) in [("question", q), ("answer", a)] {
            if s.len() != g.cells() {
                return Err(err(format!("the {what} has {} characters, expected {}", s.len(), g.cells())));
            }
        }
        let question = q.iter().map(|&c| digit(g, c, true)).collect::<Option<Vec<u8>>>().ok_or_else(|| {
            err(format!("the question may only hold '.' and digits 1..{}: '{}'", g.n(), record.question))
        })?;
        let answer = a
            .iter()
            .map(|&c| digit(g, c, false))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| err(format!("the answer may only hold digits 1..{}: '{}'", g.n(), record.answer)))?;
        let rating = record.rating(path)?;
        if check {
            if !is_solution(g, &question, &answer) {
                return Err(err("the answer is not a valid solution of the question".into()));
            }
            match count_solutions(g, &question, 2).0 {
                0 => return Err(err("the question has no solution".into())),
                1 => {}
                _ => return Err(err("the question has more than one solution".into())),
            }
        }
        rows.push(SudokuRow { source: record.source.to_string(), question, answer, rating });
        Ok(())
    })?;
    Ok(rows)
}

/// Writes rows in the sudoku-extreme CSV format.
pub fn write_csv(path: &Path, rows: &[SudokuRow]) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| Error::io(path, e))?);
    let cell = |v: &u8| if *v == 0 { '.' } else { (b'0' + v) as char };
    let mut write = || -> std::io::Result<()> {
        writeln!(out, "source,question,answer,rating")?;
        for r in rows {
            let q: String = r.question.iter().map(cell).collect();
            let a: String = r.answer.iter().map(cell).collect();
            writeln!(out, "{},{q},{a},{}", r.source, r.rating)?;
        }
        out.flush()
    };
    write().map_err(|e| Error::io(path, e))
}

/// The official `shuffle_sudoku`: a digit relabelling, a random transpose, band/row and
/// stack/column permutations, applied identically to board and solution.
pub fn shuffle(g: Geometry, rng: &mut NumpyLegacy, board: &[u8], solution: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (b, n) = (g.b, g.n());
    let mut digits: Vec<u8> = (1..=n as u8).collect();
    rng.shuffle(&mut digits);
    let mut digit_map = vec![0u8];
    digit_map.extend(digits);
    let transpose = rng.rand() < 0.5;
    let perm = |rng: &mut NumpyLegacy| -> Vec<usize> {
        rng.permutation(b)
            .into_iter()
            .flat_map(|band| rng.permutation(b).into_iter().map(move |r| band * b + r).collect::<Vec<_>>())
            .collect()
    };
    let row_perm = perm(rng);
    let col_perm = perm(rng);
    let apply = |x: &[u8]| -> Vec<u8> {
        (0..n * n)
            .map(|i| {
                let (r, c) = (row_perm[i / n], col_perm[i % n]);
                let v = if transpose { x[c * n + r] } else { x[r * n + c] };
                digit_map[v as usize]
            })
            .collect()
    };
    (apply(board), apply(solution))
}

/// Options of the official builder.
#[derive(Clone, Debug, Default)]
pub struct SudokuOptions {
    /// Keep this many training puzzles (chosen with numpy's `choice`).
    pub subsample_size: Option<usize>,
    /// Keep puzzles rated at least this.
    pub min_difficulty: Option<i64>,
    /// Shuffled copies per training puzzle.
    pub num_aug: usize,
    /// Seed of numpy's legacy generator.
    pub seed: u32,
    /// Store augmented training tokens as int64, as the official builder does (its shuffles
    /// produce int64 arrays); ouro stores uint8 otherwise, which every loader reads the same.
    pub official_dtypes: bool,
    /// Draw each training puzzle's augmentations from its own stream, keyed by the seed and the
    /// puzzle's row in the source, instead of one stream through the file (official). Then
    /// datasets built with one seed nest: a smaller subset's puzzles are the first ones of a
    /// larger subset's (both are prefixes of one seeded permutation) with the same shuffles, and
    /// `num_aug = A` holds the first A shuffles of any larger `num_aug` (exp04a/exp04b).
    pub nested: bool,
}

/// The augmentation stream of the puzzle at `row` of the source under `seed`.
fn puzzle_stream(seed: u32, row: usize) -> NumpyLegacy {
    // SplitMix64 of (seed, row): neighbouring rows get unrelated 32-bit seeds.
    let mut z = ((seed as u64) << 32 ^ row as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    NumpyLegacy::new((z ^ (z >> 31)) as u32)
}

/// The splits' arrays; `streams` gives each row its own augmentation stream (see
/// [`SudokuOptions::nested`]) instead of drawing from `rng`.
fn convert(
    g: Geometry,
    rows: &[SudokuRow],
    num_aug: usize,
    rng: &mut NumpyLegacy,
    streams: Option<(u32, &[usize])>,
) -> SplitArrays {
    let cells = g.cells();
    let count = rows.len() * (1 + num_aug);
    let mut split = SplitArrays {
        inputs: Vec::with_capacity(count * cells),
        labels: Vec::with_capacity(count * cells),
        puzzle_identifiers: vec![0; count],
        puzzle_indices: (0..=count as i32).collect(),
        group_indices: (0..=rows.len()).map(|k| (k * (1 + num_aug)) as i32).collect(),
        metadata: None,
        token_dtype: None,
    };
    for (i, row) in rows.iter().enumerate() {
        let mut own = streams.map(|(seed, source_rows)| puzzle_stream(seed, source_rows[i]));
        for aug in 0..=num_aug {
            let (q, a) = if aug == 0 {
                (row.question.clone(), row.answer.clone())
            } else {
                shuffle(g, own.as_mut().unwrap_or(rng), &row.question, &row.answer)
            };
            split.inputs.extend(q.iter().map(|&v| token(v)));
            split.labels.extend(a.iter().map(|&v| token(v)));
        }
    }
    split.metadata = Some(Metadata {
        pad_id: 0,
        ignore_label_id: Some(0),
        blank_identifier_id: 0,
        vocab_size: g.n() + 2,
        seq_len: cells,
        num_puzzle_identifiers: 1,
        total_groups: rows.len(),
        mean_puzzle_examples: 1.0,
        // The official builder writes the group count here.
        total_puzzles: rows.len(),
        sets: vec!["all".into()],
    });
    split
}

/// Builds the train and test splits as `build_sudoku_dataset.py` does.
pub fn build(g: Geometry, train: Vec<SudokuRow>, test: Vec<SudokuRow>, options: &SudokuOptions) -> DatasetFiles {
    DatasetFiles::train_and_test(train_split(g, train, options), test_split(g, test, options))
}

/// The rows rated at least `options.min_difficulty`.
fn rated(rows: Vec<SudokuRow>, options: &SudokuOptions) -> Vec<SudokuRow> {
    rows.into_iter().filter(|r| options.min_difficulty.is_none_or(|m| r.rating >= m)).collect()
}

/// The test split: each kept row once, unshuffled.
pub fn test_split(g: Geometry, test: Vec<SudokuRow>, options: &SudokuOptions) -> SplitArrays {
    // Unshuffled rows draw nothing from the generator.
    convert(g, &rated(test, options), 0, &mut NumpyLegacy::new(options.seed), None)
}

/// The training split: the kept rows (rating, subsample), each with its `num_aug` shuffles.
pub fn train_split(g: Geometry, train: Vec<SudokuRow>, options: &SudokuOptions) -> SplitArrays {
    let mut rng = NumpyLegacy::new(options.seed);
    let mut train = rated(train, options);
    let mut source_rows: Vec<usize> = (0..train.len()).collect();
    if let Some(k) = options.subsample_size
        && k < train.len()
    {
        source_rows = rng.choice(train.len(), k);
        train = source_rows.iter().map(|&i| train[i].clone()).collect();
    }
    let streams = options.nested.then_some((options.seed, source_rows.as_slice()));
    let mut split = convert(g, &train, options.num_aug, &mut rng, streams);
    if options.official_dtypes && options.num_aug > 0 {
        split.token_dtype = Some(crate::npy::NpyDtype::I64);
    }
    split
}

/// Generates `count` puzzles with unique solutions, reduced to minimal clue sets; each is the
/// hardest of `candidates` tries (by [`rating`]). Deterministic for a seed whatever the thread
/// count: puzzle `i` draws from its own generator.
pub fn generate(g: Geometry, count: usize, candidates: usize, seed: u64) -> Vec<SudokuRow> {
    generate_range(g, 0..count, candidates, seed)
}

/// Generated puzzles `rows` of the stream of `seed` (see [`generate`]).
fn generate_range(g: Geometry, rows: std::ops::Range<usize>, candidates: usize, seed: u64) -> Vec<SudokuRow> {
    rows.into_par_iter()
        .map(|i| {
            let mut rng = SplitMix::new(
                seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (i as u64).wrapping_mul(0xd1b5_4a32_d192_ed03),
            );
            let mut best: Option<(u64, Vec<u8>, Vec<u8>)> = None;
            for _ in 0..candidates.max(1) {
                let solution = random_solution(g, &mut rng);
                let puzzle = minimal_puzzle(g, &solution, &mut rng);
                let r = rating(g, &puzzle);
                if best.as_ref().is_none_or(|(br, _, _)| r > *br) {
                    best = Some((r, puzzle, solution));
                }
            }
            let (r, question, answer) = best.expect("at least one candidate");
            SudokuRow { source: format!("ouro-gen-{seed}"), question, answer, rating: r as i64 }
        })
        .collect()
}

/// `count` generated test puzzles of the stream of `seed` that are no example of the training
/// split `seen` was made of (see [`held_out::draw`]).
pub fn generate_held_out(
    g: Geometry,
    count: usize,
    candidates: usize,
    seed: u64,
    seen: &Seen<'_>,
) -> Result<Vec<SudokuRow>> {
    let tokens = |row: &SudokuRow| row.question.iter().map(|&v| token(v)).collect();
    held_out::draw("puzzles", count, |rows| generate_range(g, rows, candidates, seed), tokens, seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffles_keep_solutions_valid() {
        let mut rng = NumpyLegacy::new(0);
        let rows = generate(Geometry::NINE, 3, 1, 5);
        for row in &rows {
            for _ in 0..5 {
                let (q, a) = shuffle(Geometry::NINE, &mut rng, &row.question, &row.answer);
                assert!(is_solution(Geometry::NINE, &q, &a));
                assert_eq!(count_solutions(Geometry::NINE, &q, 2).0, 1);
                assert_eq!(q.iter().filter(|&&v| v == 0).count(), row.question.iter().filter(|&&v| v == 0).count());
            }
        }
    }

    #[test]
    fn nested_builds_hold_the_smaller_subsets_and_augmentation_counts() {
        let rows = generate(Geometry::FOUR, 12, 1, 3);
        let build_with = |subsample_size, num_aug| {
            let options = SudokuOptions {
                subsample_size,
                min_difficulty: None,
                num_aug,
                seed: 7,
                official_dtypes: false,
                nested: true,
            };
            let files = build(Geometry::FOUR, rows.clone(), rows[..2].to_vec(), &options);
            let train = files.splits.into_iter().next().expect("train").1;
            // Each puzzle's examples (original first, then its shuffles), as token rows.
            let cells = Geometry::FOUR.cells();
            let per = 1 + num_aug;
            train
                .inputs
                .chunks(cells * per)
                .map(|g| g.chunks(cells).map(<[u8]>::to_vec).collect())
                .collect::<Vec<Vec<_>>>()
        };
        let (small, large) = (build_with(Some(4), 3), build_with(Some(9), 3));
        assert_eq!(small[..], large[..4], "the 4-puzzle subset is the 9-puzzle one's first 4, shuffles included");
        let (few, many) = (build_with(Some(9), 2), build_with(Some(9), 5));
        for (f, m) in few.iter().zip(&many) {
            assert_eq!(f[..], m[..3], "2 shuffles are the first 2 of 5");
        }
        assert_ne!(many[0][1], many[1][1], "puzzles do not share a stream");
        // The official (sequential) stream does not nest: the switch is what makes them.
        let flat = |num_aug| {
            let options = SudokuOptions {
                subsample_size: Some(9),
                min_difficulty: None,
                num_aug,
                seed: 7,
                official_dtypes: false,
                nested: false,
            };
            build(Geometry::FOUR, rows.clone(), rows[..2].to_vec(), &options).splits[0].1.inputs.clone()
        };
        let cells = Geometry::FOUR.cells();
        assert_ne!(flat(2)[4 * cells..5 * cells], flat(5)[7 * cells..8 * cells], "puzzle 1's first shuffle");
    }

    #[test]
    fn generation_is_deterministic_per_seed() {
        assert_eq!(generate(Geometry::FOUR, 4, 2, 9), generate(Geometry::FOUR, 4, 2, 9));
        assert_ne!(generate(Geometry::FOUR, 4, 2, 9), generate(Geometry::FOUR, 4, 2, 10));
    }
}
