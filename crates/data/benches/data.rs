//! Data throughput: sampler examples/s for Sudoku and ARC batches, and sudoku generation.
//!
//! `cargo bench -p ouro-data --bench data`. The sampler must outrun the training step by 20×:
//! at least 200k Sudoku examples/s on one core.

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ouro_data::build::arc::{ArcOptions, build as build_arc};
use ouro_data::build::sudoku::{SudokuOptions, build, generate};
use ouro_data::build::sudoku_solver::Geometry;
use ouro_data::writer::write_dataset;
use ouro_data::{PuzzleDataset, Sampler, SamplerConfig};

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ouro-bench-{}-{name}", std::process::id()))
}

fn sampler_throughput(c: &mut Criterion) {
    // 200 generated puzzles × 100 augmentations: 20,200 training examples.
    let sudoku = scratch("sudoku");
    let files = build(
        Geometry::NINE,
        generate(Geometry::NINE, 200, 1, 1),
        Vec::new(),
        &SudokuOptions { num_aug: 100, seed: 1, ..Default::default() },
    );
    write_dataset(&sudoku, &files, true).unwrap();
    let ds = Arc::new(PuzzleDataset::open(std::slice::from_ref(&sudoku), "train").unwrap());

    // One core, as the target says: rayon's pool of one thread.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let mut group = c.benchmark_group("sampler");
    for gbs in [768usize, 6144] {
        group.throughput(Throughput::Elements(gbs as u64));
        let mut sampler =
            Sampler::new(ds.clone(), SamplerConfig { seed: 0, global_batch_size: gbs, epochs_per_iter: 1_000_000 })
                .unwrap();
        group.bench_function(format!("sudoku_batch_{gbs}_one_core"), |b| {
            b.iter(|| pool.install(|| sampler.next_train().unwrap()))
        });
    }

    let arc = scratch("arc");
    let prefix = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/arc-agi/arc-agi");
    if prefix.with_file_name("arc-agi_training_challenges.json").is_file() {
        build_arc(&ArcOptions { num_aug: 8, ..ArcOptions::arc1(prefix) }, &arc, true).unwrap();
        let ds = Arc::new(PuzzleDataset::open(std::slice::from_ref(&arc), "train").unwrap());
        group.throughput(Throughput::Elements(768));
        let mut sampler =
            Sampler::new(ds, SamplerConfig { seed: 0, global_batch_size: 768, epochs_per_iter: 1_000_000 }).unwrap();
        group.bench_function("arc_batch_768_one_core", |b| b.iter(|| pool.install(|| sampler.next_train().unwrap())));
        let ds = Arc::new(PuzzleDataset::open(std::slice::from_ref(&arc), "train").unwrap());
        let mut sampler =
            Sampler::new(ds, SamplerConfig { seed: 0, global_batch_size: 768, epochs_per_iter: 1_000_000 }).unwrap();
        group.bench_function("arc_batch_768_all_cores", |b| b.iter(|| sampler.next_train().unwrap()));
    }
    group.finish();

    let mut group = c.benchmark_group("generate");
    group.sample_size(10).throughput(Throughput::Elements(100));
    group.bench_function("hard_sudoku_100_best_of_4", |b| b.iter(|| generate(Geometry::NINE, 100, 4, 7)));
    group.finish();
    let _ = std::fs::remove_dir_all(sudoku);
    let _ = std::fs::remove_dir_all(arc);
}

criterion_group!(benches, sampler_throughput);
criterion_main!(benches);
