//! Maze datasets: the maze CSV format (`source,question,answer,rating`, square grids of
//! `# SGo`), the official conversion with optional dihedral augmentation, and a generator of
//! hard 30×30 mazes whose label is their unique shortest path.
//!
//! Tokens: 0 PAD, `#` 1 (wall), ` ` 2 (open), `S` 3, `G` 4, `o` 5 (path, in labels).

use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;

use rayon::prelude::*;

use super::dihedral;
use super::held_out::{self, Seen};
use crate::error::{Error, Result};
use crate::metadata::Metadata;
use crate::rng::SplitMix;
use crate::writer::{DatasetFiles, SplitArrays};

/// The official charset; a character's token is its index + 1.
pub const CHARSET: &[u8] = b"# SGo";

/// One maze: question and answer grids (characters of [`CHARSET`]), side, rating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MazeRow {
    /// Where it came from.
    pub source: String,
    /// `side × side` characters.
    pub question: Vec<u8>,
    /// The question with the path marked `o`.
    pub answer: Vec<u8>,
    /// Rating (the shortest path's length for generated mazes).
    pub rating: i64,
    /// Side length.
    pub side: usize,
}

/// Reads a maze CSV; every grid must be square, of one size, and only use [`CHARSET`].
pub fn read_csv(path: &Path) -> Result<Vec<MazeRow>> {
    let mut rows: Vec<MazeRow> = Vec::new();
    super::csv::read(path, |record| {
        let err = |message: String| record.error(path, message);
        let (q, a) = (record.question.as_bytes(), record.answer.as_bytes());
        let side = (q.len() as f64).sqrt() as usize;
        if side * side != q.len() || a.len() != q.len() {
            return Err(err(format!(
                "question and answer must be equal square grids, got {} and {} characters",
                q.len(),
                a.len()
            )));
        }
        if let Some(first) = rows.first()
            && first.side != side
        {
            return Err(err(format!("a {side}×{side} maze among {}×{} ones", first.side, first.side)));
        }
        if let Some(&c) = q.iter().chain(a).find(|c| !CHARSET.contains(c)) {
            return Err(err(format!("character '{}' is not one of \"# SGo\"", c as char)));
        }
        let rating = record.rating(path)?;
        rows.push(MazeRow { source: record.source.into(), question: q.to_vec(), answer: a.to_vec(), rating, side });
        Ok(())
    })?;
    Ok(rows)
}

/// Writes rows in the maze CSV format.
pub fn write_csv(path: &Path, rows: &[MazeRow]) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| Error::io(path, e))?);
    let mut write = || -> std::io::Result<()> {
        writeln!(out, "source,question,answer,rating")?;
        for r in rows {
            writeln!(
                out,
                "{},{},{},{}",
                r.source,
                String::from_utf8_lossy(&r.question),
                String::from_utf8_lossy(&r.answer),
                r.rating
            )?;
        }
        out.flush()
    };
    write().map_err(|e| Error::io(path, e))
}

fn token(c: u8) -> u8 {
    CHARSET.iter().position(|&x| x == c).map_or(0, |p| p as u8 + 1)
}

fn convert(rows: &[MazeRow], augment: bool) -> SplitArrays {
    let copies = if augment { 8 } else { 1 };
    let side = rows.first().map_or(0, |r| r.side);
    let count = rows.len() * copies;
    let mut split = SplitArrays {
        inputs: Vec::with_capacity(count * side * side),
        labels: Vec::with_capacity(count * side * side),
        puzzle_identifiers: vec![0; count],
        puzzle_indices: (0..=count as i32).collect(),
        group_indices: (0..=rows.len()).map(|k| (k * copies) as i32).collect(),
        metadata: None,
        token_dtype: None,
    };
    for row in rows {
        for t in 0..copies {
            split.inputs.extend(dihedral::transform(&row.question, side, side, t).0.into_iter().map(token));
            split.labels.extend(dihedral::transform(&row.answer, side, side, t).0.into_iter().map(token));
        }
    }
    split.metadata = Some(Metadata {
        pad_id: 0,
        ignore_label_id: Some(0),
        blank_identifier_id: 0,
        vocab_size: CHARSET.len() + 1,
        seq_len: side * side,
        num_puzzle_identifiers: 1,
        total_groups: rows.len(),
        mean_puzzle_examples: 1.0,
        total_puzzles: rows.len(),
        sets: vec!["all".into()],
    });
    split
}

/// Options of the official builder.
#[derive(Clone, Debug, Default)]
pub struct MazeOptions {
    /// Keep this many training mazes (numpy's `choice`, seeded with `seed`).
    pub subsample_size: Option<usize>,
    /// Add the 8 dihedral transforms of each training maze (the official `--aug`).
    pub augment: bool,
    /// Seed of numpy's legacy generator.
    pub seed: u32,
}

/// Builds the splits as `build_maze_dataset.py` does.
pub fn build(train: &[MazeRow], test: &[MazeRow], options: &MazeOptions) -> DatasetFiles {
    DatasetFiles::train_and_test(train_split(train, options), test_split(test))
}

/// The training split: the chosen mazes (a subsample, if asked), with their dihedral images.
pub fn train_split(train: &[MazeRow], options: &MazeOptions) -> SplitArrays {
    let mut rng = crate::rng::NumpyLegacy::new(options.seed);
    let chosen: Vec<MazeRow> = match options.subsample_size {
        Some(k) if k < train.len() => rng.choice(train.len(), k).into_iter().map(|i| train[i].clone()).collect(),
        _ => train.to_vec(),
    };
    convert(&chosen, options.augment)
}

/// The test split: each maze once, as it is.
pub fn test_split(test: &[MazeRow]) -> SplitArrays {
    convert(test, false)
}

/// The cells up, down, left and right of cell `c` on a `side × side` grid.
fn neighbours(c: usize, side: usize) -> impl Iterator<Item = usize> {
    let (r, col) = (c / side, c % side);
    [
        (r > 0).then(|| c - side),
        (r + 1 < side).then(|| c + side),
        (col > 0).then(|| c - 1),
        (col + 1 < side).then(|| c + 1),
    ]
    .into_iter()
    .flatten()
}

/// Breadth-first distances from `from` over open cells (`usize::MAX` where unreachable).
pub fn distances(grid: &[u8], side: usize, from: usize) -> Vec<usize> {
    let mut dist = vec![usize::MAX; grid.len()];
    let mut queue = VecDeque::from([from]);
    dist[from] = 0;
    while let Some(c) = queue.pop_front() {
        for n in neighbours(c, side) {
            if grid[n] != b'#' && dist[n] == usize::MAX {
                dist[n] = dist[c] + 1;
                queue.push_back(n);
            }
        }
    }
    dist
}

/// Whether `answer` marks a shortest path from `S` to `G` of `question` (and nothing else).
pub fn is_shortest_path(question: &[u8], answer: &[u8], side: usize) -> bool {
    let (Some(s), Some(g)) = (question.iter().position(|&c| c == b'S'), question.iter().position(|&c| c == b'G'))
    else {
        return false;
    };
    let dist = distances(question, side, s);
    // The path cells, S and G, connected in order of distance, one per step.
    let marked: Vec<usize> = (0..question.len()).filter(|&c| answer[c] == b'o').collect();
    if question.iter().zip(answer).any(|(&q, &a)| a != q && !(q == b' ' && a == b'o')) || marked.len() + 1 != dist[g] {
        return false;
    }
    let mut by_step = vec![usize::MAX; dist[g] + 1];
    by_step[0] = s;
    by_step[dist[g]] = g;
    for &c in &marked {
        if dist[c] == 0 || dist[c] >= dist[g] || by_step[dist[c]] != usize::MAX {
            return false;
        }
        by_step[dist[c]] = c;
    }
    by_step.windows(2).all(|w| {
        let (a, b) = (w[0], w[1]);
        let adjacent = (a / side == b / side && a.abs_diff(b) == 1) || a.abs_diff(b) == side;
        a != usize::MAX && b != usize::MAX && adjacent
    })
}

/// Number of shortest paths to each cell from the source of `dist` (saturating).
fn shortest_path_counts(grid: &[u8], side: usize, from: usize, dist: &[usize]) -> Vec<u64> {
    let mut order: Vec<usize> = (0..grid.len()).filter(|&c| dist[c] != usize::MAX).collect();
    order.sort_by_key(|&c| dist[c]);
    let mut count = vec![0u64; grid.len()];
    count[from] = 1;
    for c in order {
        for n in neighbours(c, side) {
            if dist[n] != usize::MAX && dist[n] + 1 == dist[c] {
                count[c] = count[c].saturating_add(count[n]);
            }
        }
    }
    count
}

/// A maze of `side × side` with a unique shortest path longer than `min_path` steps: a
/// depth-first maze with `loops` extra openings, S and G chosen far apart.
pub fn generate_one(side: usize, min_path: usize, loops: usize, rng: &mut SplitMix) -> MazeRow {
    loop {
        let mut grid = vec![b'#'; side * side];
        let cells = (side - 1) / 2;
        let at = |i: usize, j: usize| (2 * i + 1) * side + 2 * j + 1;
        let mut seen = vec![false; cells * cells];
        let mut stack = vec![(0usize, 0usize)];
        seen[0] = true;
        grid[at(0, 0)] = b' ';
        while let Some(&(i, j)) = stack.last() {
            let mut options = Vec::with_capacity(4);
            if i > 0 && !seen[(i - 1) * cells + j] {
                options.push((i - 1, j));
            }
            if i + 1 < cells && !seen[(i + 1) * cells + j] {
                options.push((i + 1, j));
            }
            if j > 0 && !seen[i * cells + j - 1] {
                options.push((i, j - 1));
            }
            if j + 1 < cells && !seen[i * cells + j + 1] {
                options.push((i, j + 1));
            }
            if options.is_empty() {
                stack.pop();
                continue;
            }
            let (ni, nj) = options[rng.below(options.len() as u64) as usize];
            seen[ni * cells + nj] = true;
            grid[at(ni, nj)] = b' ';
            grid[(at(i, j) + at(ni, nj)) / 2] = b' ';
            stack.push((ni, nj));
        }
        // Extra openings make loops, so the shortest path is not the only path.
        for _ in 0..loops {
            let r = 1 + rng.below((side - 2) as u64) as usize;
            let c = 1 + rng.below((side - 2) as u64) as usize;
            let horizontal = !r.is_multiple_of(2) && c.is_multiple_of(2) && c + 1 < side - 1;
            let vertical = r.is_multiple_of(2) && !c.is_multiple_of(2) && r + 1 < side - 1;
            if horizontal || vertical {
                grid[r * side + c] = b' ';
            }
        }
        let open: Vec<usize> = (0..grid.len()).filter(|&c| grid[c] == b' ').collect();
        let s = open[rng.below(open.len() as u64) as usize];
        let dist = distances(&grid, side, s);
        let far: Vec<usize> = open.iter().copied().filter(|&c| dist[c] != usize::MAX && dist[c] > min_path).collect();
        if far.is_empty() {
            continue;
        }
        let g = far[rng.below(far.len() as u64) as usize];
        let counts = shortest_path_counts(&grid, side, s, &dist);
        if counts[g] != 1 {
            continue;
        }
        // Walk back from G along decreasing distance: the unique shortest path.
        let mut answer = grid.clone();
        let mut c = g;
        while dist[c] > 1 {
            let prev = neighbours(c, side)
                .find(|&n| dist[n] != usize::MAX && dist[n] + 1 == dist[c])
                .expect("a cell at distance d > 0 has a neighbour at d - 1");
            answer[prev] = b'o';
            c = prev;
        }
        let mut question = grid;
        question[s] = b'S';
        question[g] = b'G';
        answer[s] = b'S';
        answer[g] = b'G';
        return MazeRow { source: "ouro-gen".into(), question, answer, rating: dist[g] as i64, side };
    }
}

/// `count` mazes (deterministic for a seed whatever the thread count).
pub fn generate(count: usize, side: usize, min_path: usize, loops: usize, seed: u64) -> Vec<MazeRow> {
    generate_range(0..count, side, min_path, loops, seed)
}

/// Generated mazes `rows` of the stream of `seed` (see [`generate`]).
fn generate_range(rows: std::ops::Range<usize>, side: usize, min_path: usize, loops: usize, seed: u64) -> Vec<MazeRow> {
    rows.into_par_iter()
        .map(|i| {
            let mut rng = SplitMix::new(
                seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (i as u64).wrapping_mul(0xd1b5_4a32_d192_ed03),
            );
            let mut row = generate_one(side, min_path, loops, &mut rng);
            row.source = format!("ouro-gen-{seed}");
            row
        })
        .collect()
}

/// `count` generated test mazes of the stream of `seed` that are no example (nor dihedral image)
/// of the training split `seen` was made of (see [`held_out::draw`]).
pub fn generate_held_out(
    count: usize,
    (side, min_path, loops): (usize, usize, usize),
    seed: u64,
    seen: &Seen<'_>,
) -> Result<Vec<MazeRow>> {
    let tokens = |row: &MazeRow| row.question.iter().map(|&c| token(c)).collect();
    held_out::draw("mazes", count, |rows| generate_range(rows, side, min_path, loops, seed), tokens, seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_out_mazes_skip_the_training_ones_and_their_images() {
        // Test mazes from the training stream itself: its first three are the training mazes.
        let stream = generate(5, 30, 110, 20, 7);
        let train = train_split(&stream[..3], &MazeOptions { augment: true, ..MazeOptions::default() });
        let seen = Seen::of(&train, 900);
        let test = generate_held_out(2, (30, 110, 20), 7, &seen).unwrap();
        assert_eq!(test, stream[3..]);
        // A dihedral image of a training maze is a training example too.
        let image = MazeRow { question: dihedral::transform(&stream[0].question, 30, 30, 3).0, ..stream[0].clone() };
        assert_eq!(seen.overlap(&test_split(&[image])), 1);
    }

    #[test]
    fn generated_labels_are_unique_shortest_paths() {
        for row in generate(8, 30, 110, 20, 3) {
            assert!(row.rating > 110);
            assert!(is_shortest_path(&row.question, &row.answer, 30));
        }
    }

    #[test]
    fn a_detour_is_not_a_shortest_path() {
        // S . . G along the top row, with a detour through the row below.
        let question = b"S  G    ########".to_vec();
        let good = b"SooG    ########".to_vec();
        let detour = b"So Goooo########".to_vec();
        assert!(is_shortest_path(&question, &good, 4));
        assert!(!is_shortest_path(&question, &detour, 4));
    }
}
