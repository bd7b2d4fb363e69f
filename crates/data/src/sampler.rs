//! The official `PuzzleDataset` iteration, reproduced exactly and made resumable.
//!
//! Train (`_iter_train`): each pass over the sets bumps an iteration counter and seeds
//! `Philox(seed + iters)`; the group order is `epochs_per_iter` concatenated permutations;
//! batches are packed by walking that order, picking one puzzle per group with
//! `rng.integers`, and taking as many of its examples as fit; the last, short batch is dropped.
//! The Philox stream is numpy's bit for bit, so ouro draws the same batches as the official
//! trainer. (Which examples of a multi-example puzzle are taken comes from numpy's unseeded
//! global generator in the official code; ouro draws them from its own seeded generator.)
//!
//! Test (`_iter_test`): sequential windows of the global batch size, the last one padded
//! (`pad_id` inputs, ignored labels, blank identifiers) with a mask.
//!
//! The position is a small serialisable [`SamplerState`]; restoring it continues with the very
//! same next batch.

use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::{PuzzleDataset, SetArrays};
use crate::error::{Error, Result};
use crate::rng::{NumpyPhilox, SplitMix};

/// The label of positions that carry no loss (`IGNORE_LABEL_ID`).
pub const IGNORE_LABEL: i32 = -100;

/// How to sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplerConfig {
    /// The official `seed`.
    pub seed: u64,
    /// Examples per optimizer step, over all devices and hosts.
    pub global_batch_size: usize,
    /// Epochs per training iteration (the official `eval_interval`, or all epochs).
    pub epochs_per_iter: usize,
}

/// Where the sampler is: enough to continue with the same next batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplerState {
    /// The official `_iters` counter (one per set per training pass).
    pub iters: u64,
    /// The set being read in the current pass.
    pub set: usize,
    /// Groups of the current order already consumed.
    pub start_index: usize,
    /// The current set's Philox generator, `None` before the set starts.
    pub rng: Option<NumpyPhilox>,
    /// Picks examples inside multi-example puzzles.
    pub example_rng: SplitMix,
    /// Training batches produced so far.
    pub batches: u64,
}

/// One global batch, `rows × seq_len`, as int32.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// The set it came from.
    pub set: String,
    /// Rows: the global batch size, or this host's part of it (see [`Sampler::for_host`]).
    pub rows: usize,
    /// Tokens per row.
    pub seq_len: usize,
    /// `[rows, seq_len]` input token ids.
    pub inputs: Vec<i32>,
    /// `[rows, seq_len]` labels, ignored positions `-100`.
    pub labels: Vec<i32>,
    /// `[rows]` puzzle identifiers.
    pub puzzle_identifiers: Vec<i32>,
    /// Rows that hold data (the rest is padding).
    pub effective: usize,
    /// The puzzle (index in its set) of each data row.
    pub puzzles: Vec<u32>,
    /// The sampler's position after this batch (a resumed sampler continues after it).
    pub state_after: Option<SamplerState>,
}

impl Batch {
    /// Rows `[d · rows/n, (d + 1) · rows/n)`: device (or host) `d` of `n`'s part.
    pub fn shard(&self, d: usize, n: usize) -> Result<BatchShard<'_>> {
        if n == 0 || !self.rows.is_multiple_of(n) || d >= n {
            return Err(Error::Config(format!("cannot split a batch of {} rows into part {d} of {n}", self.rows)));
        }
        let per = self.rows / n;
        let (lo, hi) = (d * per, (d + 1) * per);
        Ok(BatchShard {
            rows: per,
            inputs: &self.inputs[lo * self.seq_len..hi * self.seq_len],
            labels: &self.labels[lo * self.seq_len..hi * self.seq_len],
            puzzle_identifiers: &self.puzzle_identifiers[lo..hi],
            valid: (lo..hi).map(|r| r < self.effective).collect(),
        })
    }
}

/// A device's rows of a [`Batch`].
#[derive(Debug)]
pub struct BatchShard<'a> {
    /// Rows.
    pub rows: usize,
    /// `[rows, seq_len]` inputs.
    pub inputs: &'a [i32],
    /// `[rows, seq_len]` labels.
    pub labels: &'a [i32],
    /// `[rows]` identifiers.
    pub puzzle_identifiers: &'a [i32],
    /// Which rows hold data.
    pub valid: Vec<bool>,
}

/// The official sampler over a [`PuzzleDataset`].
pub struct Sampler {
    dataset: Arc<PuzzleDataset>,
    config: SamplerConfig,
    state: SamplerState,
    /// The group order of the current set (recomputed from `iters` on restore).
    order: Vec<u64>,
    /// This host's part of every global batch: `(index, hosts)`.
    part: (usize, usize),
}

impl Sampler {
    /// A sampler at the start of training.
    pub fn new(dataset: Arc<PuzzleDataset>, config: SamplerConfig) -> Result<Sampler> {
        if config.global_batch_size == 0 || config.epochs_per_iter == 0 {
            return Err(Error::Config("the global batch size and epochs per iteration must be positive".into()));
        }
        let state = SamplerState {
            iters: 0,
            set: 0,
            start_index: 0,
            rng: None,
            example_rng: SplitMix::new(config.seed ^ 0x6f75_726f),
            batches: 0,
        };
        Ok(Sampler { dataset, config, state, order: Vec::new(), part: (0, 1) })
    }

    /// Makes every batch host `index` of `hosts`' rows of the global batch, `[index · B/hosts,
    /// (index + 1) · B/hosts)`, as the official loader's rank slicing does: every host draws the
    /// same global order and assembles only its own rows, so the hosts' parts together are
    /// the single-host batch.
    pub fn for_host(mut self, index: usize, hosts: usize) -> Result<Sampler> {
        let gbs = self.config.global_batch_size;
        if hosts == 0 || index >= hosts || !gbs.is_multiple_of(hosts) {
            return Err(Error::Config(format!(
                "cannot give host {index} of {hosts} an equal part of a global batch of {gbs}"
            )));
        }
        self.part = (index, hosts);
        Ok(self)
    }

    /// This host's rows `[lo, hi)` of a global batch.
    fn part_rows(&self) -> (usize, usize) {
        let per = self.config.global_batch_size / self.part.1;
        (self.part.0 * per, (self.part.0 + 1) * per)
    }

    /// The dataset.
    pub fn dataset(&self) -> &PuzzleDataset {
        &self.dataset
    }

    /// The current position.
    pub fn state(&self) -> &SamplerState {
        &self.state
    }

    /// Continues from a saved position.
    pub fn restore(&mut self, state: SamplerState) -> Result<()> {
        if state.set > self.dataset.sets.len() {
            return Err(Error::Config(format!(
                "sampler state names set {} of a dataset with {}",
                state.set,
                self.dataset.sets.len()
            )));
        }
        self.order = match &state.rng {
            Some(_) => self.group_order(state.iters, state.set).1,
            None => Vec::new(),
        };
        if state.start_index > self.order.len() {
            return Err(Error::Config("sampler state is past the end of its group order".into()));
        }
        self.state = state;
        Ok(())
    }

    /// A fresh generator for pass `iters` and the group order it draws first.
    fn group_order(&self, iters: u64, set: usize) -> (NumpyPhilox, Vec<u64>) {
        let mut rng = NumpyPhilox::new(self.config.seed as u128 + iters as u128);
        let groups = self.dataset.sets[set].num_groups();
        let order = (0..self.config.epochs_per_iter).flat_map(|_| rng.permutation(groups)).collect();
        (rng, order)
    }

    /// The next training batch of the current pass, or `None` when the pass is over (the next
    /// call starts the next pass, as the official trainer's next iteration does).
    pub fn next_train(&mut self) -> Option<Batch> {
        loop {
            let set_index = self.state.set;
            if set_index >= self.dataset.sets.len() {
                // The pass is over; the next call begins a new one.
                self.state.set = 0;
                return None;
            }
            if self.state.rng.is_none() {
                self.state.iters += 1;
                let (rng, order) = self.group_order(self.state.iters, set_index);
                self.state.rng = Some(rng);
                self.order = order;
                self.state.start_index = 0;
            }
            let dataset = Arc::clone(&self.dataset);
            let set = &dataset.sets[set_index];
            match self.pack(set) {
                Some(batch) => return Some(batch),
                None => {
                    // This set is exhausted (its short last batch dropped): on to the next.
                    self.state.set += 1;
                    self.state.rng = None;
                    self.state.start_index = 0;
                    self.order.clear();
                }
            }
        }
    }

    /// `_sample_batch`: packs one global batch from the group order, or `None` if the rest of
    /// the order cannot fill one.
    fn pack(&mut self, set: &SetArrays) -> Option<Batch> {
        let gbs = self.config.global_batch_size;
        let rng = self.state.rng.as_mut().expect("a set in progress has its generator");
        let mut examples: Vec<usize> = Vec::with_capacity(gbs);
        let mut puzzles: Vec<usize> = Vec::with_capacity(gbs);
        while self.state.start_index < self.order.len() && examples.len() < gbs {
            let group = self.order[self.state.start_index] as usize;
            let puzzle = rng.integers(set.group_indices[group], set.group_indices[group + 1]) as usize;
            self.state.start_index += 1;
            let start = set.puzzle_indices[puzzle] as usize;
            let size = set.puzzle_indices[puzzle + 1] as usize - start;
            let take = size.min(gbs - examples.len());
            if size == 1 {
                examples.push(start);
            } else {
                // A random subset of the puzzle's examples, in random order.
                let mut chosen: Vec<usize> = (0..size).collect();
                for i in 0..take {
                    let j = i + self.state.example_rng.below((size - i) as u64) as usize;
                    chosen.swap(i, j);
                }
                examples.extend(chosen[..take].iter().map(|&e| start + e));
            }
            puzzles.extend(std::iter::repeat_n(puzzle, take));
        }
        if examples.len() < gbs {
            return None;
        }
        self.state.batches += 1;
        let (lo, hi) = self.part_rows();
        let mut batch = assemble(&self.dataset, set, &examples[lo..hi], &puzzles[lo..hi], hi - lo);
        batch.state_after = Some(self.state.clone());
        Some(batch)
    }

    /// The test batches of every set, in file order, the last of each set padded.
    pub fn test_batches(&self) -> impl Iterator<Item = Batch> + '_ {
        let gbs = self.config.global_batch_size;
        let (lo, hi) = self.part_rows();
        self.dataset.sets.iter().flat_map(move |set| {
            let n = set.num_examples();
            (0..n.div_ceil(gbs)).map(move |k| {
                // This host's rows of the k-th window; past the end they are padding.
                let start = (k * gbs + lo).min(n);
                let end = (k * gbs + hi).min(n);
                let examples: Vec<usize> = (start..end).collect();
                // The puzzle of each example (searchsorted on the offsets, side=right, - 1).
                let puzzles: Vec<usize> =
                    examples.iter().map(|&e| set.puzzle_indices.partition_point(|&o| o <= e as i64) - 1).collect();
                assemble(&self.dataset, set, &examples, &puzzles, hi - lo)
            })
        })
    }

    /// Training batches in one pass over the sets, when every puzzle has one example (Sudoku,
    /// Maze: each group gives exactly one example, so `groups · epochs_per_iter / batch`
    /// rounded down per set); `None` when it depends on which puzzles are drawn (ARC).
    pub fn train_batches_per_pass(&self) -> Option<u64> {
        let mut total = 0;
        for s in &self.dataset.sets {
            if s.num_examples() != s.num_puzzles() {
                return None;
            }
            total += (s.num_groups() * self.config.epochs_per_iter / self.config.global_batch_size) as u64;
        }
        Some(total)
    }
}

/// Copies the rows of `examples` (padding to `rows`) into a batch; large batches in parallel.
fn assemble(dataset: &PuzzleDataset, set: &SetArrays, examples: &[usize], puzzles: &[usize], rows: usize) -> Batch {
    let meta = &dataset.metadata;
    let s = meta.seq_len;
    let mut inputs = vec![meta.pad_id as i32; rows * s];
    let mut labels = vec![IGNORE_LABEL; rows * s];
    let ignore = meta.ignore_label_id.map(|v| v as i32);
    let fill = |(r, (inp, lab)): (usize, (&mut [i32], &mut [i32]))| {
        if let Some(&e) = examples.get(r) {
            set.inputs.copy_range_i32(e * s, inp);
            set.labels.copy_range_i32(e * s, lab);
            if let Some(ig) = ignore {
                for l in lab.iter_mut() {
                    if *l == ig {
                        *l = IGNORE_LABEL;
                    }
                }
            }
        }
    };
    // Splitting into per-row tasks only pays off for big batches.
    if rows * s >= 1 << 18 {
        inputs.par_chunks_mut(s).zip(labels.par_chunks_mut(s)).enumerate().for_each(fill);
    } else {
        inputs.chunks_mut(s).zip(labels.chunks_mut(s)).enumerate().for_each(fill);
    }
    let mut puzzle_identifiers = vec![meta.blank_identifier_id as i32; rows];
    for (r, &p) in puzzles.iter().enumerate() {
        puzzle_identifiers[r] = set.puzzle_identifiers[p];
    }
    Batch {
        set: set.name.clone(),
        rows,
        seq_len: s,
        inputs,
        labels,
        puzzle_identifiers,
        effective: examples.len(),
        puzzles: puzzles.iter().map(|&p| p as u32).collect(),
        state_after: None,
    }
}
