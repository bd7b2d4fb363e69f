//! ARC datasets from the ARC-AGI JSON files, as `build_arc_dataset.py` builds them.
//!
//! Every random draw comes from numpy's legacy generator seeded with `seed` (42), in the
//! official order, so the files are the official builder's byte for byte:
//!
//! 1. per subset, tasks (in file order, solutions merged) are shuffled; a task of the test
//!    subset sends its `train` pairs to the train split and its `test` pairs to the test split,
//!    any other task sends both to train; pairs keep the JSON key order (`test` before `train`
//!    in the ARC-1 files);
//! 2. each task gets up to `num_aug` augmentations (a dihedral transform `randint(8)` and a
//!    colour permutation fixing black), drawn in up to `5 · num_aug` trials and rejected when
//!    their SHA-256 puzzle hash repeats; the name is `task|||t<k>|||<ten digits>`;
//! 3. identifiers are numbered from `puzzle_identifiers_start` in split, group, puzzle order;
//! 4. each puzzle draws `no_aug_id`; in the train split every other example is translated on the
//!    30×30 canvas by `randint` offsets; grids are encoded colour + 2 with EOS (1) below and to
//!    the right, PAD 0 elsewhere.
//!
//! Augmented grids are never stored: a puzzle is its task plus a transform, re-applied when the
//! arrays are written row by row, so a full build (about 4M examples) needs little memory.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::dihedral;
use crate::error::{Error, Result};
use crate::metadata::Metadata;
use crate::npy::{self, NpyDtype, NpyWriter};
use crate::rng::NumpyLegacy;
use crate::writer::{AtomicDir, python_json, write_identifiers};

/// The canvas side.
pub const MAX_GRID: usize = 30;
const RETRIES_FACTOR: usize = 5;

/// The distinct augmentations a task has at most: 8 dihedral transforms × 9! permutations of
/// the colours other than black.
pub const MAX_AUGMENTATIONS: usize = 8 * 362_880;
const SEPARATOR: &str = "|||";

/// Options of the official builder.
#[derive(Clone, Debug)]
pub struct ArcOptions {
    /// Path prefix of `<prefix>_<subset>_challenges.json` (and `_solutions.json`).
    pub input_prefix: PathBuf,
    /// Subsets to read, in order (`training evaluation concept` for ARC-1).
    pub subsets: Vec<String>,
    /// The subset whose test pairs form the test split.
    pub test_set_name: String,
    /// A second test subset (`your_test_set` by default, as official).
    pub test_set_name2: String,
    /// numpy seed.
    pub seed: u32,
    /// Augmentations per task.
    pub num_aug: usize,
    /// First puzzle identifier (0 is `<blank>`).
    pub puzzle_identifiers_start: usize,
}

impl ArcOptions {
    /// ARC-1 as the official README builds it.
    pub fn arc1(input_prefix: PathBuf) -> ArcOptions {
        ArcOptions {
            input_prefix,
            subsets: vec!["training".into(), "evaluation".into(), "concept".into()],
            test_set_name: "evaluation".into(),
            test_set_name2: "your_test_set".into(),
            seed: 42,
            num_aug: 1000,
            puzzle_identifiers_start: 1,
        }
    }
}

/// A grid of colours 0..=9.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grid {
    /// Rows.
    pub h: usize,
    /// Columns.
    pub w: usize,
    /// Row-major colours.
    pub cells: Vec<u8>,
}

impl Grid {
    fn from_json(v: &Value) -> std::result::Result<Grid, String> {
        let rows = v.as_array().ok_or("a grid must be a list of rows")?;
        let h = rows.len();
        let w = rows.first().and_then(Value::as_array).map_or(0, Vec::len);
        if h == 0 || w == 0 || h > MAX_GRID || w > MAX_GRID {
            return Err(format!("a grid must be 1..=30 × 1..=30, got {h} × {w}"));
        }
        let mut cells = Vec::with_capacity(h * w);
        for row in rows {
            let row = row.as_array().ok_or("a grid row must be a list")?;
            if row.len() != w {
                return Err(format!("ragged grid: rows of {} and {w} cells", row.len()));
            }
            for c in row {
                match c.as_u64() {
                    Some(v @ 0..=9) => cells.push(v as u8),
                    _ => return Err(format!("a cell must be a colour 0..=9, got {c}")),
                }
            }
        }
        Ok(Grid { h, w, cells })
    }

    /// The official `grid_hash`: SHA-256 of the shape bytes then the cells.
    fn hash(&self) -> String {
        let mut h = Sha256::new();
        h.update([self.h as u8, self.w as u8]);
        h.update(&self.cells);
        crate::build::hex(&h.finalize())
    }

    fn augmented(&self, aug: &Augmentation) -> Grid {
        let mapped: Vec<u8> = self.cells.iter().map(|&c| aug.colours[c as usize]).collect();
        let (cells, h, w) = dihedral::transform(&mapped, self.h, self.w, aug.transform);
        Grid { h, w, cells }
    }
}

/// A dihedral transform and a colour permutation (black fixed); the identity for originals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Augmentation {
    /// Dihedral transform id.
    pub transform: usize,
    /// Colour map.
    pub colours: [u8; 10],
    /// Whether this is the original (no suffix in the name).
    pub original: bool,
}

impl Augmentation {
    fn identity() -> Augmentation {
        Augmentation { transform: 0, colours: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], original: true }
    }

    /// The puzzle's name: `task` or `task|||t<k>|||<colour digits>`.
    pub fn name(&self, task: &str) -> String {
        if self.original {
            return task.to_string();
        }
        let digits: String = self.colours.iter().map(|c| char::from(b'0' + c)).collect();
        format!("{task}{SEPARATOR}t{}{SEPARATOR}{digits}", self.transform)
    }
}

/// A task's pairs routed to one split.
#[derive(Clone, Debug)]
struct Routed {
    task: usize,
    split: usize,
    pairs: Vec<(Grid, Grid)>,
}

/// The official `puzzle_hash` of a task's pairs in every split under `aug`.
fn puzzle_hash(parts: &[&Routed], aug: &Augmentation) -> String {
    let mut hashes: Vec<String> = parts
        .iter()
        .flat_map(|r| r.pairs.iter().map(|(i, o)| format!("{}|{}", i.augmented(aug).hash(), o.augmented(aug).hash())))
        .collect();
    hashes.sort();
    crate::build::hex(&Sha256::digest(hashes.join("|").as_bytes()))
}

/// Encodes a pair on the 30×30 canvas at offset `(pad_r, pad_c)`: colours + 2, EOS (1) on the
/// row below and the column right of each grid, PAD (0) elsewhere.
pub fn encode_pair(input: &Grid, output: &Grid, pad_r: usize, pad_c: usize) -> [Vec<u8>; 2] {
    [input, output].map(|g| {
        let mut canvas = vec![0u8; MAX_GRID * MAX_GRID];
        for r in 0..g.h {
            for c in 0..g.w {
                canvas[(pad_r + r) * MAX_GRID + pad_c + c] = g.cells[r * g.w + c] + 2;
            }
        }
        let (eos_r, eos_c) = (pad_r + g.h, pad_c + g.w);
        if eos_r < MAX_GRID {
            for c in pad_c..eos_c {
                canvas[eos_r * MAX_GRID + c] = 1;
            }
        }
        if eos_c < MAX_GRID {
            for r in pad_r..eos_r {
                canvas[r * MAX_GRID + eos_c] = 1;
            }
        }
        canvas
    })
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::Format { path: path.to_path_buf(), message: format!("invalid JSON: {e}") })
}

/// Splits of the output: 0 train, 1 test.
const SPLITS: [&str; 2] = ["train", "test"];

/// What an ARC build wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArcBuilt {
    /// Examples of the train and test splits.
    pub examples: [usize; 2],
    /// Test examples whose input is also a training example's (counted by a 64-bit hash).
    pub test_seen: usize,
}

/// Builds the dataset into `out` (atomically; an existing `out` needs `force`). Returns what it
/// wrote.
pub fn build(options: &ArcOptions, out: &Path, force: bool) -> Result<ArcBuilt> {
    if options.num_aug > MAX_AUGMENTATIONS {
        return Err(Error::Config(format!(
            "--num-aug {}: a task has at most {MAX_AUGMENTATIONS} distinct augmentations (8 dihedral transforms × \
             9! colour permutations)",
            options.num_aug
        )));
    }
    let mut rng = NumpyLegacy::new(options.seed);
    let mut task_names: Vec<String> = Vec::new();
    // groups[split] = list of (routed part, augmentations of its task)
    let mut groups: [Vec<(Routed, usize)>; 2] = [Vec::new(), Vec::new()];
    let mut task_augs: Vec<Vec<Augmentation>> = Vec::new();
    let mut test_puzzles = serde_json::Map::new();

    for subset in &options.subsets {
        let challenges = PathBuf::from(format!("{}_{subset}_challenges.json", options.input_prefix.display()));
        let solutions = PathBuf::from(format!("{}_{subset}_solutions.json", options.input_prefix.display()));
        let Value::Object(mut tasks) = read_json(&challenges)? else {
            return Err(Error::Format { path: challenges, message: "expected an object of tasks".into() });
        };
        let sols = if solutions.is_file() { Some(read_json(&solutions)?) } else { None };
        for (name, task) in tasks.iter_mut() {
            let bad = |m: String| Error::Format { path: challenges.clone(), message: format!("task {name}: {m}") };
            let tests =
                task.get_mut("test").and_then(Value::as_array_mut).ok_or_else(|| bad("no 'test' list".into()))?;
            match &sols {
                Some(s) => {
                    let grids = s.get(name.as_str()).and_then(Value::as_array).ok_or_else(|| Error::Format {
                        path: solutions.clone(),
                        message: format!("no solutions for task {name}"),
                    })?;
                    if grids.len() != tests.len() {
                        return Err(Error::Format {
                            path: solutions.clone(),
                            message: format!("task {name}: {} solutions for {} test inputs", grids.len(), tests.len()),
                        });
                    }
                    for (t, g) in tests.iter_mut().zip(grids) {
                        t.as_object_mut()
                            .ok_or_else(|| bad("a test pair must be an object".into()))?
                            .insert("output".into(), g.clone());
                    }
                }
                None => {
                    for t in tests.iter_mut() {
                        if let Some(obj) = t.as_object_mut() {
                            obj.entry("output").or_insert(serde_json::json!([[0]]));
                        }
                    }
                }
            }
        }
        let mut list: Vec<(String, Value)> = tasks.into_iter().collect();
        rng.shuffle(&mut list);
        let is_test = *subset == options.test_set_name || *subset == options.test_set_name2;
        for (name, task) in list {
            let bad = |m: String| Error::Format { path: challenges.clone(), message: format!("task {name}: {m}") };
            let index = task_names.len();
            task_names.push(name.clone());
            // Pairs routed by example type, in the JSON's key order.
            let mut parts: Vec<Routed> = Vec::new();
            for (kind, pairs) in task.as_object().ok_or_else(|| bad("a task must be an object".into()))? {
                let split = if is_test && kind == "test" { 1 } else { 0 };
                let pairs = pairs.as_array().ok_or_else(|| bad(format!("'{kind}' must be a list")))?;
                let mut converted = Vec::with_capacity(pairs.len());
                for p in pairs {
                    let grid = |k: &str| {
                        p.get(k)
                            .ok_or_else(|| bad(format!("a '{kind}' pair has no '{k}'")))
                            .and_then(|g| Grid::from_json(g).map_err(&bad))
                    };
                    converted.push((grid("input")?, grid("output")?));
                }
                match parts.iter_mut().find(|r| r.split == split) {
                    Some(r) => r.pairs.extend(converted),
                    None => parts.push(Routed { task: index, split, pairs: converted }),
                }
            }
            if is_test {
                test_puzzles.insert(name.clone(), task.clone());
            }
            let refs: Vec<&Routed> = parts.iter().collect();
            let mut augs = vec![Augmentation::identity()];
            if options.num_aug > 0 {
                let mut seen = HashSet::from([puzzle_hash(&refs, &augs[0])]);
                for _ in 0..RETRIES_FACTOR * options.num_aug {
                    let transform = rng.randint(8) as usize;
                    let mut colours = [0u8; 10];
                    let mut perm: Vec<u8> = (1..10).collect();
                    rng.shuffle(&mut perm);
                    colours[1..].copy_from_slice(&perm);
                    let aug = Augmentation { transform, colours, original: false };
                    if seen.insert(puzzle_hash(&refs, &aug)) {
                        augs.push(aug);
                    }
                    if augs.len() > options.num_aug {
                        break;
                    }
                }
                if augs.len() <= options.num_aug {
                    eprintln!("[Puzzle {name}] augmentation not full, only {}", augs.len());
                }
            }
            task_augs.push(augs);
            for part in parts {
                let split = part.split;
                groups[split].push((part, index));
            }
        }
    }

    // Identifiers: split, group, puzzle order; a name seen in train keeps its id in test.
    let mut identifiers = vec!["<blank>".to_string(); options.puzzle_identifiers_start];
    let mut id_of = std::collections::HashMap::new();
    for split in &groups {
        for (part, task) in split {
            for aug in &task_augs[*task] {
                let name = aug.name(&task_names[part.task]);
                if !id_of.contains_key(&name) {
                    id_of.insert(name.clone(), identifiers.len());
                    identifiers.push(name);
                }
            }
        }
    }

    let dir = AtomicDir::create(out, force)?;
    let mut counts = [0usize; 2];
    // The training inputs by a 64-bit hash (eight bytes an example; the splits are streamed to
    // disk), and the test examples found among them.
    let (mut seen, mut test_seen, hasher) = (HashSet::new(), 0, std::hash::RandomState::new());
    for (s, split) in groups.iter().enumerate() {
        if split.is_empty() {
            continue;
        }
        let split_dir = dir.path().join(SPLITS[s]);
        std::fs::create_dir_all(&split_dir).map_err(|e| Error::io(&split_dir, e))?;
        let examples: usize = split.iter().map(|(p, t)| p.pairs.len() * task_augs[*t].len()).sum();
        if examples > i32::MAX as usize {
            return Err(Error::Config(format!(
                "the {} split would hold {examples} examples, more than the {} the format's int32 indices number: \
                 use a smaller --num-aug",
                ["train", "test"][s],
                i32::MAX
            )));
        }
        let cells = MAX_GRID * MAX_GRID;
        let mut inputs = NpyWriter::create_u8(&split_dir.join("all__inputs.npy"), &[examples, cells])?;
        let mut labels = NpyWriter::create_u8(&split_dir.join("all__labels.npy"), &[examples, cells])?;
        let (mut pidx, mut gidx, mut ids) = (vec![0i64], vec![0i64], Vec::new());
        let translate = s == 0;
        for (part, task) in split {
            for aug in &task_augs[*task] {
                let no_aug_id = rng.randint(part.pairs.len() as u64) as usize;
                for (k, (i, o)) in part.pairs.iter().enumerate() {
                    let (i, o) = (i.augmented(aug), o.augmented(aug));
                    let (pad_r, pad_c) = if translate && k != no_aug_id {
                        let r = rng.randint((MAX_GRID - i.h.max(o.h) + 1) as u64) as usize;
                        let c = rng.randint((MAX_GRID - i.w.max(o.w) + 1) as u64) as usize;
                        (r, c)
                    } else {
                        (0, 0)
                    };
                    let [a, b] = encode_pair(&i, &o, pad_r, pad_c);
                    let hash = std::hash::BuildHasher::hash_one(&hasher, &a);
                    if s == 0 {
                        seen.insert(hash);
                    } else if seen.contains(&hash) {
                        test_seen += 1;
                    }
                    inputs.write(&a)?;
                    labels.write(&b)?;
                }
                pidx.push(pidx.last().copied().unwrap_or(0) + part.pairs.len() as i64);
                ids.push(id_of[&aug.name(&task_names[part.task])] as i64);
            }
            gidx.push(ids.len() as i64);
        }
        inputs.finish()?;
        labels.finish()?;
        npy::write(&split_dir.join("all__puzzle_identifiers.npy"), NpyDtype::I32, &[ids.len()], ids.iter().copied())?;
        npy::write(&split_dir.join("all__puzzle_indices.npy"), NpyDtype::I32, &[pidx.len()], pidx.iter().copied())?;
        npy::write(&split_dir.join("all__group_indices.npy"), NpyDtype::I32, &[gidx.len()], gidx.iter().copied())?;
        let metadata = Metadata {
            pad_id: 0,
            ignore_label_id: Some(0),
            blank_identifier_id: 0,
            vocab_size: 12,
            seq_len: cells,
            num_puzzle_identifiers: identifiers.len(),
            total_groups: gidx.len() - 1,
            mean_puzzle_examples: examples as f64 / ids.len() as f64,
            total_puzzles: ids.len(),
            sets: vec!["all".into()],
        };
        let path = split_dir.join("dataset.json");
        std::fs::write(&path, metadata.to_json()).map_err(|e| Error::io(&path, e))?;
        counts[s] = examples;
    }
    write_identifiers(dir.path(), &identifiers)?;
    let path = dir.path().join("test_puzzles.json");
    std::fs::write(&path, python_json(&Value::Object(test_puzzles))).map_err(|e| Error::io(&path, e))?;
    dir.commit()?;
    Ok(ArcBuilt { examples: counts, test_seen })
}

/// Inverts an augmented puzzle name: the task name, and a function mapping a grid back.
pub fn inverse_augmentation(name: &str) -> (String, Option<(usize, [u8; 10])>) {
    let parts: Vec<&str> = name.split(SEPARATOR).collect();
    if parts.len() < 3 {
        return (name.to_string(), None);
    }
    let transform = parts[parts.len() - 2].trim_start_matches('t').parse::<usize>().unwrap_or(0);
    let digits: Vec<u8> = parts[parts.len() - 1].bytes().map(|b| b.wrapping_sub(b'0')).collect();
    // inv_perm = argsort(perm): the colour that maps to c is inv[c].
    let mut inv = [0u8; 10];
    for (i, &d) in digits.iter().enumerate().take(10) {
        if (d as usize) < 10 {
            inv[d as usize] = i as u8;
        }
    }
    (parts[0].to_string(), Some((transform, inv)))
}

/// Applies the inverse of an augmentation to a grid: undo the transform, then the colours.
pub fn invert_grid(grid: &Grid, inverse: &Option<(usize, [u8; 10])>) -> Grid {
    match inverse {
        None => grid.clone(),
        Some((t, inv)) => {
            let (cells, h, w) = dihedral::transform(&grid.cells, grid.h, grid.w, dihedral::INVERSE[*t]);
            Grid { h, w, cells: cells.into_iter().map(|c| inv.get(c as usize).copied().unwrap_or(c)).collect() }
        }
    }
}
