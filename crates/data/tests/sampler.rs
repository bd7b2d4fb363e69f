//! The sampler against the official `PuzzleDataset` (fixtures/official_sampler.json, recorded
//! by fixtures/official_sampler.py from the official puzzle_dataset.py), and its guarantees:
//! exact step counts, resumption.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ouro_data::build::arc::{ArcOptions, build as build_arc};
use ouro_data::build::sudoku::{SudokuOptions, build as build_sudoku, read_csv};
use ouro_data::build::sudoku_solver::Geometry;
use ouro_data::writer::write_dataset;
use ouro_data::{Batch, Metadata, PuzzleDataset, Sampler, SamplerConfig, total_steps};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn official() -> Value {
    serde_json::from_str(include_str!("fixtures/official_sampler.json")).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ouro-sampler-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The dataset the fixture was recorded on (the official builder's bytes, see builders.rs).
fn sudoku_dataset(dir: &Path) -> Arc<PuzzleDataset> {
    let train = read_csv(&fixture_path("sudoku_train.csv"), Geometry::NINE, false).unwrap();
    let test = read_csv(&fixture_path("sudoku_test.csv"), Geometry::NINE, false).unwrap();
    let files = build_sudoku(
        Geometry::NINE,
        train,
        test,
        &SudokuOptions { subsample_size: Some(20), num_aug: 5, seed: 7, ..Default::default() },
    );
    write_dataset(dir, &files, true).unwrap();
    Arc::new(PuzzleDataset::open(&[dir.to_path_buf()], "train").unwrap())
}

fn hash_rows(inputs: &[i32], labels: &[i32], ids: &[i32]) -> String {
    let mut h = Sha256::new();
    for v in inputs.iter().chain(labels).chain(ids) {
        h.update(v.to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn hash(b: &Batch) -> String {
    hash_rows(&b.inputs, &b.labels, &b.puzzle_identifiers)
}

fn pass(sampler: &mut Sampler) -> Vec<Batch> {
    std::iter::from_fn(|| sampler.next_train()).collect()
}

#[test]
fn sudoku_training_batches_equal_the_official_ones() {
    let dir = scratch("sudoku");
    let ds = sudoku_dataset(&dir);
    let want = official();
    let mut sampler =
        Sampler::new(ds.clone(), SamplerConfig { seed: 5, global_batch_size: 8, epochs_per_iter: 3 }).unwrap();
    for (k, want_pass) in want["sudoku"]["passes"].as_array().unwrap().iter().enumerate() {
        let got = pass(&mut sampler);
        let want_batches = want_pass["batches"].as_array().unwrap();
        assert_eq!(got.len(), want_batches.len(), "pass {k}: batch count");
        for (i, (g, w)) in got.iter().zip(want_batches).enumerate() {
            assert_eq!(hash(g), w["sha256"].as_str().unwrap(), "pass {k}, batch {i}");
            assert_eq!(g.effective as u64, w["effective"].as_u64().unwrap());
        }
    }
    // Rank 1 of 2 takes rows 4..8 of each global batch, as the official per-rank slice does.
    let mut sampler = Sampler::new(ds, SamplerConfig { seed: 5, global_batch_size: 8, epochs_per_iter: 3 }).unwrap();
    let want_rank = want["sudoku_rank1_of_2"]["passes"][0]["batches"].as_array().unwrap();
    for (g, w) in pass(&mut sampler).iter().zip(want_rank) {
        let shard = g.shard(1, 2).unwrap();
        assert_eq!(hash_rows(shard.inputs, shard.labels, shard.puzzle_identifiers), w["sha256"].as_str().unwrap());
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn test_batches_are_sequential_and_padded_like_the_official_ones() {
    let dir = scratch("sudoku-test");
    let _ = sudoku_dataset(&dir);
    let ds = Arc::new(PuzzleDataset::open(std::slice::from_ref(&dir), "test").unwrap());
    let sampler = Sampler::new(ds, SamplerConfig { seed: 0, global_batch_size: 3, epochs_per_iter: 1 }).unwrap();
    let got: Vec<Batch> = sampler.test_batches().collect();
    let want = official()["sudoku_test"].as_array().unwrap().clone();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            (hash(g).as_str(), g.effective as u64),
            (w["sha256"].as_str().unwrap(), w["effective"].as_u64().unwrap())
        );
    }
    // 8 examples in batches of 3: the last holds 2 and a padding row.
    let last = got.last().unwrap();
    assert_eq!(last.effective, 2);
    assert!(last.labels[2 * 81..].iter().all(|&l| l == -100) && last.inputs[2 * 81..].iter().all(|&t| t == 0));
    assert_eq!(last.shard(0, 3).unwrap().valid, [true]);
    assert_eq!(last.shard(2, 3).unwrap().valid, [false]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn arc_batches_pick_the_official_puzzles_and_test_batches_match() {
    let dir = scratch("arc");
    let prefix = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/arc-agi/arc-agi");
    build_arc(&ArcOptions { num_aug: 4, ..ArcOptions::arc1(prefix) }, &dir, true).unwrap();
    let ds = Arc::new(PuzzleDataset::open(std::slice::from_ref(&dir), "train").unwrap());
    let want = official();
    let mut sampler = Sampler::new(ds, SamplerConfig { seed: 0, global_batch_size: 64, epochs_per_iter: 1 }).unwrap();
    let got = pass(&mut sampler);
    let want_pass = &want["arc"]["passes"][0];
    let puzzles: Vec<Vec<u64>> = want_pass["puzzles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_array().unwrap().iter().map(|p| p.as_u64().unwrap()).collect())
        .collect();
    // The official pass also packs the short last batch it then drops.
    assert_eq!(got.len(), want_pass["batches"].as_array().unwrap().len());
    for (i, g) in got.iter().enumerate() {
        let rows: Vec<u64> = g.puzzles.iter().map(|&p| p as u64).collect();
        assert_eq!(rows, puzzles[i], "batch {i}: the puzzle of every row");
    }
    let test = Arc::new(PuzzleDataset::open(std::slice::from_ref(&dir), "test").unwrap());
    let sampler = Sampler::new(test, SamplerConfig { seed: 0, global_batch_size: 256, epochs_per_iter: 1 }).unwrap();
    let want_test = want["arc_test"].as_array().unwrap();
    let got: Vec<Batch> = sampler.test_batches().collect();
    assert_eq!(got.len(), want_test.len());
    for (g, w) in got.iter().zip(want_test) {
        assert_eq!(hash(g), w["sha256"].as_str().unwrap());
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_restored_sampler_continues_with_the_same_batches() {
    let dir = scratch("resume");
    let ds = sudoku_dataset(&dir);
    let config = SamplerConfig { seed: 9, global_batch_size: 7, epochs_per_iter: 4 };
    let mut straight = Sampler::new(ds.clone(), config.clone()).unwrap();
    let all: Vec<Option<Batch>> = (0..40).map(|_| straight.next_train()).collect();
    for cut in [0usize, 3, 10, 11, 25] {
        let Some(state) = all[cut].as_ref().and_then(|b| b.state_after.clone()) else { continue };
        // Through a serialised state, as a checkpoint stores it.
        let state = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
        let mut resumed = Sampler::new(ds.clone(), config.clone()).unwrap();
        resumed.restore(state).unwrap();
        for (k, want) in all.iter().enumerate().skip(cut + 1) {
            let got = resumed.next_train();
            assert_eq!(got.map(|b| hash(&b)), want.as_ref().map(hash), "resumed after batch {cut}, batch {k}");
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn step_counts_equal_the_official_for_sudoku_1k_aug_1000() {
    // Sudoku-Extreme 1k-aug-1000: 1000 groups of one-example puzzles, 50,000 epochs.
    let metadata = Metadata {
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
    assert_eq!(total_steps(&metadata, 50_000, 768), 65_104);
    assert_eq!(total_steps(&metadata, 50_000, 6144), 8_138);
    // Actual batches: 10 iterations of eval_interval = 5000 epochs.
    let per_pass = |gbs: u64| 5000 * 1000 / gbs;
    assert_eq!(10 * per_pass(768), 65_100);
    assert_eq!(10 * per_pass(6144), 8_130);
}

#[test]
fn batches_per_pass_is_exact_for_one_example_puzzles() {
    let dir = scratch("count");
    let ds = sudoku_dataset(&dir);
    for (gbs, epochs) in [(7usize, 3usize), (8, 5), (20, 2), (6, 1)] {
        let mut sampler =
            Sampler::new(ds.clone(), SamplerConfig { seed: 1, global_batch_size: gbs, epochs_per_iter: epochs })
                .unwrap();
        let predicted = sampler.train_batches_per_pass().unwrap();
        assert_eq!(pass(&mut sampler).len() as u64, predicted, "gbs {gbs}, epochs {epochs}");
        assert_eq!(predicted, (20 * epochs / gbs) as u64);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_datasets_are_refused_naming_the_file() {
    let dir = scratch("bad");
    let _ = sudoku_dataset(&dir);
    let open = || PuzzleDataset::open(std::slice::from_ref(&dir), "train").map(|_| ()).unwrap_err().to_string();
    // Missing dataset.json.
    let err = PuzzleDataset::open(&[dir.join("nowhere")], "train").unwrap_err().to_string();
    assert!(err.contains("dataset.json"), "{err}");
    // Indices that disagree with the arrays.
    let pidx = dir.join("train/all__puzzle_indices.npy");
    let saved = std::fs::read(&pidx).unwrap();
    ouro_data::npy::write(&pidx, ouro_data::npy::NpyDtype::I32, &[3], [0, 1, 2]).unwrap();
    let err = open();
    assert!(err.contains("all__puzzle_indices.npy") && err.contains("offsets"), "{err}");
    std::fs::write(&pidx, saved).unwrap();
    // Token ids beyond the vocabulary.
    let inputs = dir.join("train/all__inputs.npy");
    let saved = std::fs::read(&inputs).unwrap();
    let mut bad = saved.clone();
    *bad.last_mut().unwrap() = 200;
    std::fs::write(&inputs, bad).unwrap();
    let err = open();
    assert!(err.contains("all__inputs.npy") && err.contains("vocab_size = 11"), "{err}");
    std::fs::write(&inputs, saved).unwrap();
    // Labels whose rows are not seq_len long.
    let labels = dir.join("train/all__labels.npy");
    ouro_data::npy::write(&labels, ouro_data::npy::NpyDtype::U8, &[120, 80], std::iter::repeat_n(1, 120 * 80)).unwrap();
    let err = open();
    assert!(err.contains("all__labels.npy") && err.contains("seq_len = 81"), "{err}");
    // A missing array.
    std::fs::remove_file(&labels).unwrap();
    assert!(open().contains("missing"), "{}", open());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn merged_data_paths_iterate_like_the_official_ones() {
    let dir = scratch("merged");
    let _ = sudoku_dataset(&dir);
    let ds = Arc::new(PuzzleDataset::open(&[dir.clone(), dir.clone()], "train").unwrap());
    assert_eq!(ds.sets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["all", "all1"]);
    assert_eq!(ds.metadata.num_puzzle_identifiers, 2);
    let mut sampler = Sampler::new(ds, SamplerConfig { seed: 5, global_batch_size: 8, epochs_per_iter: 2 }).unwrap();
    for (k, want_pass) in official()["sudoku_two_paths"]["passes"].as_array().unwrap().iter().enumerate() {
        let got = pass(&mut sampler);
        let want: Vec<(&str, &str)> = want_pass["batches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["set"].as_str().unwrap(), b["sha256"].as_str().unwrap()))
            .collect();
        let got: Vec<(String, String)> = got.iter().map(|b| (b.set.clone(), hash(b))).collect();
        assert_eq!(got.iter().map(|(s, h)| (s.as_str(), h.as_str())).collect::<Vec<_>>(), want, "pass {k}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The rows of `parts` (hosts 0, 1, ...) stacked, as one batch would hold them.
fn stacked(parts: &[Batch]) -> (Vec<i32>, Vec<i32>, Vec<i32>, usize) {
    let mut out = (Vec::new(), Vec::new(), Vec::new(), 0);
    for p in parts {
        out.0.extend(&p.inputs);
        out.1.extend(&p.labels);
        out.2.extend(&p.puzzle_identifiers);
        out.3 += p.effective;
    }
    out
}

#[test]
fn each_host_assembles_its_own_rows_of_the_global_batch() {
    let dir = scratch("hosts");
    let train = sudoku_dataset(&dir);
    let test = Arc::new(PuzzleDataset::open(std::slice::from_ref(&dir), "test").unwrap());
    let config = SamplerConfig { seed: 3, global_batch_size: 8, epochs_per_iter: 2 };
    let whole = pass(&mut Sampler::new(train.clone(), config.clone()).unwrap());
    for hosts in [2, 4] {
        let parts: Vec<Vec<Batch>> = (0..hosts)
            .map(|h| pass(&mut Sampler::new(train.clone(), config.clone()).unwrap().for_host(h, hosts).unwrap()))
            .collect();
        for (i, w) in whole.iter().enumerate() {
            let part_i: Vec<Batch> = parts.iter().map(|p| p[i].clone()).collect();
            assert!(part_i.iter().all(|p| p.rows == 8 / hosts));
            assert_eq!(
                stacked(&part_i),
                (w.inputs.clone(), w.labels.clone(), w.puzzle_identifiers.clone(), 8),
                "batch {i}, {hosts} hosts"
            );
            // Every host's sampler is at the same position: a checkpoint from any of them resumes all.
            assert!(part_i.iter().all(|p| p.state_after == w.state_after));
        }
        // Test windows, the last one padded: the padding falls in the last hosts' rows.
        // 8 test examples in a window of 12: host 2 of 4 gets 2 examples and a padding row, host 3 none.
        let config = SamplerConfig { global_batch_size: 12, ..config.clone() };
        let whole: Vec<Batch> = Sampler::new(test.clone(), config.clone()).unwrap().test_batches().collect();
        assert_eq!((whole.len(), whole[0].effective), (1, 8));
        let samplers: Vec<Sampler> = (0..hosts)
            .map(|h| Sampler::new(test.clone(), config.clone()).unwrap().for_host(h, hosts).unwrap())
            .collect();
        let parts: Vec<Vec<Batch>> = samplers.iter().map(|s| s.test_batches().collect()).collect();
        for (i, w) in whole.iter().enumerate() {
            let part_i: Vec<Batch> = parts.iter().map(|p| p[i].clone()).collect();
            assert_eq!(
                stacked(&part_i),
                (w.inputs.clone(), w.labels.clone(), w.puzzle_identifiers.clone(), w.effective)
            );
        }
    }
    let e = Sampler::new(train, config).unwrap().for_host(0, 3).err().unwrap().to_string();
    assert!(e.contains("cannot give host 0 of 3 an equal part of a global batch of 8"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}
