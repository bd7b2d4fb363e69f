//! A run's `metrics.jsonl` read back: training records, evaluations and throughput, each a
//! step and named values.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};

/// One record: its step and values.
pub type Record = (u64, BTreeMap<String, f64>);

/// The records of a run, by kind.
#[derive(Clone, Debug, Default)]
pub struct RunMetrics {
    /// `train/...` records, one per step.
    pub train: Vec<Record>,
    /// Evaluations (`all/...`, one key per metric and test set).
    pub eval: Vec<Record>,
    /// `throughput/...` records.
    pub throughput: Vec<Record>,
}

impl RunMetrics {
    /// Reads `run_dir/metrics.jsonl` (empty if the run wrote none yet). A torn last line (a
    /// run killed mid-write) is skipped; any other bad line is an error naming it.
    pub fn read(run_dir: &Path) -> Result<RunMetrics> {
        let path = run_dir.join("metrics.jsonl");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RunMetrics::default()),
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        let mut metrics = RunMetrics::default();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let damaged = |message| Error::Damaged { what: format!("{}:{}", path.display(), i + 1), message };
            let value: serde_json::Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => break,
                Err(e) => return Err(damaged(format!("not a JSON record: {e}"))),
            };
            let Some(object) = value.as_object() else { return Err(damaged("not a JSON object".into())) };
            let step = object.get("step").and_then(|s| s.as_u64()).unwrap_or(0);
            let values: BTreeMap<String, f64> = object
                .iter()
                .filter(|(k, _)| *k != "step")
                .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                .collect();
            let Some(first) = values.keys().next() else { continue };
            if first.starts_with("train/") {
                metrics.train.push((step, values));
            } else if first.starts_with("throughput/") {
                metrics.throughput.push((step, values));
            } else {
                metrics.eval.push((step, values));
            }
        }
        Ok(metrics)
    }

    /// `(step, value)` of `key` in `records`, where present and finite.
    pub fn series(records: &[Record], key: &str) -> Vec<(f64, f64)> {
        records.iter().filter_map(|(s, v)| v.get(key).filter(|x| x.is_finite()).map(|x| (*s as f64, *x))).collect()
    }

    /// The last value of `key` in the evaluations (or, for `train/...` keys, in training).
    pub fn last(&self, key: &str) -> Option<f64> {
        let records = if key.starts_with("train/") { &self.train } else { &self.eval };
        records.iter().rev().find_map(|(_, v)| v.get(key).copied())
    }

    /// `key` of the training records averaged over windows of `window` steps (the last one
    /// shorter), at each window's mean step. A per-halted metric (accuracies, halt steps) is
    /// weighed by the sequences that halted in each step: undefined in a step where none did,
    /// and noisy step to step; the rest (losses, the learning rate) weigh each step alike.
    pub fn windowed(&self, key: &str, window: usize) -> Vec<(f64, f64)> {
        self.train.chunks(window.max(1)).filter_map(|records| weighted_mean(records, key)).collect()
    }

    /// `key` over the last `fraction` of the training records, as [`RunMetrics::windowed`]
    /// weighs it (at least the last record).
    pub fn recent(&self, key: &str, fraction: f64) -> Option<f64> {
        let n = ((self.train.len() as f64 * fraction).ceil() as usize).max(1);
        weighted_mean(&self.train[self.train.len().saturating_sub(n)..], key).map(|(_, v)| v)
    }

    /// The median of `key` over the throughput records.
    pub fn median_throughput(&self, key: &str) -> Option<f64> {
        let mut values: Vec<f64> = Self::series(&self.throughput, key).into_iter().map(|(_, v)| v).collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        Some(values[values.len() / 2])
    }
}

/// Train metrics averaged over the sequences that halted, not over the batch.
const PER_HALTED: [&str; 4] = ["train/accuracy", "train/exact_accuracy", "train/q_halt_accuracy", "train/steps"];

/// The mean step and the weighted mean of `key` over `records`; `None` when nothing weighs.
fn weighted_mean(records: &[Record], key: &str) -> Option<(f64, f64)> {
    let per_halted = PER_HALTED.contains(&key);
    let (mut steps, mut sum, mut weights) = (0.0, 0.0, 0.0);
    for (step, values) in records {
        let Some(v) = values.get(key).filter(|v| v.is_finite()) else { continue };
        // Runs logged before `train/halted` weigh by the official count: 1, or 0 when none halted.
        let w = if per_halted {
            values.get("train/halted").or(values.get("train/count")).copied().unwrap_or(1.0)
        } else {
            1.0
        };
        steps += w * *step as f64;
        sum += w * v;
        weights += w;
    }
    (weights > 0.0).then(|| (steps / weights, sum / weights))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_sorted_by_kind_and_a_torn_last_line_is_skipped() {
        let dir = std::env::temp_dir().join(format!("ouro-metrics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = "{\"step\":1,\"train/lm_loss\":2.0,\"train/lr\":0.1}\n\
            {\"step\":10,\"throughput/examples_per_second\":100.0}\n\
            {\"step\":10,\"all/exact_accuracy\":0.5}\n\
            {\"step\":20,\"throughput/examples_per_second\":300.0}\n\
            {\"step\":30,\"throughput/examples_per_second\":200.0}\n\
            {\"step\":31,\"train/lm";
        std::fs::write(dir.join("metrics.jsonl"), text).unwrap();
        let m = RunMetrics::read(&dir).unwrap();
        assert_eq!((m.train.len(), m.eval.len(), m.throughput.len()), (1, 1, 3));
        assert_eq!(m.last("all/exact_accuracy"), Some(0.5));
        assert_eq!(m.last("train/lm_loss"), Some(2.0));
        assert_eq!(m.median_throughput("throughput/examples_per_second"), Some(200.0));
        std::fs::write(dir.join("metrics.jsonl"), "{\"step\":1}\nnot json\n{\"step\":2}\n").unwrap();
        let e = RunMetrics::read(&dir).unwrap_err().to_string();
        assert!(e.contains("metrics.jsonl:2"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn per_halted_metrics_are_weighed_by_the_sequences_that_halted() {
        let record = |step: u64, exact: f64, halted: f64| -> Record {
            let values = [("train/exact_accuracy", exact), ("train/halted", halted), ("train/lm_loss", 1.0 + exact)];
            (step, values.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        };
        // Step 4 halted nothing: its 0 is no measurement. Step 3's 1.0 counts 3 times step 1's.
        let m = RunMetrics {
            train: vec![record(1, 0.5, 1.0), record(2, 0.0, 0.0), record(3, 1.0, 3.0), record(4, 0.0, 0.0)],
            ..RunMetrics::default()
        };
        assert_eq!(m.last("train/exact_accuracy"), Some(0.0), "the last record alone reads 0");
        assert_eq!(m.recent("train/exact_accuracy", 1.0), Some(0.875));
        assert_eq!(m.recent("train/exact_accuracy", 0.5), Some(1.0), "the last two steps");
        assert_eq!(m.windowed("train/exact_accuracy", 2), [(1.0, 0.5), (3.0, 1.0)]);
        // A loss weighs every step alike.
        assert_eq!(m.windowed("train/lm_loss", 4), [(2.5, 1.375)]);
    }
}
