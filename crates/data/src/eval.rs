//! The official ARC evaluator. (Sudoku and Maze accuracy is the eval step's metrics, summed on
//! the device by the loss head.)

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::build::arc::{Grid, MAX_GRID, inverse_augmentation, invert_grid};
use crate::error::{Error, Result};

/// The official `_crop`: the largest top-left rectangle of colour tokens (2..=11) of a 30×30
/// canvas, scanning rows and narrowing at the first non-colour token, returned as colours.
pub fn crop(canvas: &[i32]) -> Grid {
    let n = MAX_GRID;
    let (mut best_area, mut best) = (0, (0, 0));
    let mut cols = n;
    for rows in 1..=n {
        for c in 1..=cols {
            let x = canvas[(rows - 1) * n + c - 1];
            if !(2..=11).contains(&x) {
                cols = c - 1;
                break;
            }
        }
        if rows * cols > best_area {
            best_area = rows * cols;
            best = (rows, cols);
        }
    }
    let (h, w) = best;
    let mut cells = Vec::with_capacity(h * w);
    for r in 0..h {
        cells.extend(canvas[r * n..r * n + w].iter().map(|&x| (x - 2) as u8));
    }
    Grid { h, w, cells }
}

fn grid_hash(g: &Grid) -> String {
    let mut h = Sha256::new();
    h.update([g.h as u8, g.w as u8]);
    h.update(&g.cells);
    crate::build::hex(&h.finalize())
}

/// One test pair of an evaluated task.
#[derive(Clone, Debug)]
struct TestPair {
    input_hash: String,
    label_hash: String,
}

/// The official ARC evaluator (`evaluators/arc.py`): predictions of every augmented version of
/// a test input are mapped back to the original, voted on by count and then mean
/// `sigmoid(q_halt)`, and scored pass@k.
///
/// The official evaluator never clears its votes between evaluations when `aggregated_voting`
/// is on (its default), so each evaluation also counts the predictions of all earlier ones;
/// [`ArcEvaluator::clear_between_evals`] turns that off.
pub struct ArcEvaluator {
    identifiers: Vec<String>,
    tasks: Vec<(String, Vec<TestPair>)>,
    blank_identifier: i32,
    /// The k of each pass@k.
    pub pass_ks: Vec<usize>,
    /// Attempts per test input in the submission.
    pub submission_k: usize,
    /// Keep votes across evaluations (the official default and quirk).
    pub aggregated_voting: bool,
    grids: HashMap<String, Grid>,
    votes: HashMap<String, HashMap<String, Vec<(String, f64)>>>,
}

impl ArcEvaluator {
    /// Reads `identifiers.json` and `test_puzzles.json` of a built ARC dataset.
    pub fn open(dataset: &Path, blank_identifier: i32) -> Result<ArcEvaluator> {
        let read = |name: &str| -> Result<Value> {
            let path = dataset.join(name);
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            serde_json::from_str(&text)
                .map_err(|e| Error::Format { path: path.clone(), message: format!("invalid JSON: {e}") })
        };
        let ids = read("identifiers.json")?;
        let identifiers = ids
            .as_array()
            .and_then(|a| a.iter().map(|v| v.as_str().map(String::from)).collect::<Option<Vec<_>>>())
            .ok_or_else(|| Error::Format {
                path: dataset.join("identifiers.json"),
                message: "expected a list of names".into(),
            })?;
        let puzzles = read("test_puzzles.json")?;
        let bad = |m: String| Error::Format { path: dataset.join("test_puzzles.json"), message: m };
        let mut tasks = Vec::new();
        for (name, task) in puzzles.as_object().ok_or_else(|| bad("expected an object of tasks".into()))? {
            let mut pairs = Vec::new();
            for pair in task
                .get("test")
                .and_then(Value::as_array)
                .ok_or_else(|| bad(format!("task {name} has no test pairs")))?
            {
                let grid = |k: &str| -> Result<Grid> {
                    let rows = pair
                        .get(k)
                        .and_then(Value::as_array)
                        .ok_or_else(|| bad(format!("task {name}: a test pair lacks '{k}'")))?;
                    let h = rows.len();
                    let w = rows.first().and_then(Value::as_array).map_or(0, Vec::len);
                    let cells: Vec<u8> = rows
                        .iter()
                        .flat_map(|r| r.as_array().into_iter().flatten().map(|c| c.as_u64().unwrap_or(0) as u8))
                        .collect();
                    Ok(Grid { h, w, cells })
                };
                pairs
                    .push(TestPair { input_hash: grid_hash(&grid("input")?), label_hash: grid_hash(&grid("output")?) });
            }
            tasks.push((name.clone(), pairs));
        }
        Ok(ArcEvaluator {
            identifiers,
            tasks,
            blank_identifier,
            pass_ks: vec![1, 2, 5, 10, 100, 1000],
            submission_k: 2,
            aggregated_voting: true,
            grids: HashMap::new(),
            votes: HashMap::new(),
        })
    }

    /// Clears the votes before each evaluation (instead of the official accumulation).
    pub fn clear_between_evals(mut self) -> ArcEvaluator {
        self.aggregated_voting = false;
        self
    }

    /// Called at the start of an evaluation.
    pub fn begin_eval(&mut self) {
        if !self.aggregated_voting {
            self.grids.clear();
            self.votes.clear();
        }
    }

    /// Adds a batch's last-step outputs: `inputs` and `preds` `[rows, 900]`, identifiers and
    /// `q_halt_logits` `[rows]`. Padding rows (blank identifier) are skipped.
    pub fn update(&mut self, inputs: &[i32], preds: &[i32], identifiers: &[i32], q_halt_logits: &[f32]) -> Result<()> {
        let cells = MAX_GRID * MAX_GRID;
        for (r, &id) in identifiers.iter().enumerate() {
            if id == self.blank_identifier {
                continue;
            }
            let name = self
                .identifiers
                .get(id as usize)
                .ok_or_else(|| Error::Config(format!("puzzle identifier {id} is not in identifiers.json")))?;
            let (original, inverse) = inverse_augmentation(name);
            let input = invert_grid(&crop(&inputs[r * cells..(r + 1) * cells]), &inverse);
            let pred = invert_grid(&crop(&preds[r * cells..(r + 1) * cells]), &inverse);
            let q = 1.0 / (1.0 + (-(q_halt_logits[r] as f64)).exp());
            let pred_hash = grid_hash(&pred);
            self.grids.insert(pred_hash.clone(), pred);
            self.votes.entry(original).or_default().entry(grid_hash(&input)).or_default().push((pred_hash, q));
        }
        Ok(())
    }

    /// `ARC/pass@k` for each k, and the submission (top `submission_k` grids per test input).
    pub fn result(&self) -> (Vec<(String, f64)>, Value) {
        let mut correct = vec![0.0; self.pass_ks.len()];
        let mut submission = serde_json::Map::new();
        for (name, pairs) in &self.tasks {
            let mut attempts = Vec::new();
            let mut solved = vec![0usize; self.pass_ks.len()];
            for pair in pairs {
                let Some(list) = self.votes.get(name).and_then(|v| v.get(&pair.input_hash)) else { continue };
                // (hash, count, mean q) in order of first appearance, then ranked.
                let mut tally: Vec<(String, usize, f64)> = Vec::new();
                for (h, q) in list {
                    match tally.iter_mut().find(|(t, _, _)| t == h) {
                        Some(entry) => {
                            entry.1 += 1;
                            entry.2 += q;
                        }
                        None => tally.push((h.clone(), 1, *q)),
                    }
                }
                for entry in &mut tally {
                    entry.2 /= entry.1 as f64;
                }
                // Descending by (count, mean q); a stable sort keeps first-seen order on ties.
                tally.sort_by(|a, b| (b.1, b.2).partial_cmp(&(a.1, a.2)).unwrap_or(std::cmp::Ordering::Equal));
                for (i, &k) in self.pass_ks.iter().enumerate() {
                    solved[i] += usize::from(tally.iter().take(k).any(|(h, _, _)| *h == pair.label_hash));
                }
                let mut grids: Vec<Value> =
                    tally.iter().take(self.submission_k).map(|(h, _, _)| grid_json(&self.grids[h])).collect();
                while grids.len() < self.submission_k {
                    grids.push(grids[0].clone());
                }
                let attempt: serde_json::Map<String, Value> =
                    grids.into_iter().enumerate().map(|(i, g)| (format!("attempt_{}", i + 1), g)).collect();
                attempts.push(Value::Object(attempt));
            }
            for (c, s) in correct.iter_mut().zip(&solved) {
                *c += *s as f64 / pairs.len().max(1) as f64;
            }
            submission.insert(name.clone(), Value::Array(attempts));
        }
        let n = self.tasks.len().max(1) as f64;
        let metrics = self.pass_ks.iter().zip(correct).map(|(k, c)| (format!("ARC/pass@{k}"), c / n)).collect();
        (metrics, Value::Object(submission))
    }
}

fn grid_json(g: &Grid) -> Value {
    Value::Array(
        (0..g.h)
            .map(|r| Value::Array(g.cells[r * g.w..(r + 1) * g.w].iter().map(|&c| Value::from(c)).collect()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::arc::encode_pair;

    #[test]
    fn crop_recovers_an_encoded_grid() {
        let g = Grid { h: 2, w: 3, cells: vec![0, 1, 2, 3, 4, 9] };
        let [canvas, _] = encode_pair(&g, &g, 0, 0);
        let canvas: Vec<i32> = canvas.into_iter().map(i32::from).collect();
        assert_eq!(crop(&canvas), g);
        // A full 30×30 grid has no EOS at all.
        let full = Grid { h: 30, w: 30, cells: vec![5; 900] };
        let [canvas, _] = encode_pair(&full, &full, 0, 0);
        assert_eq!(crop(&canvas.into_iter().map(i32::from).collect::<Vec<_>>()), full);
    }
}
