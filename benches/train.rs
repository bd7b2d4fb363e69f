//! Training throughput on the pinned CPU plugin: the TRM train step (examples/s) at a tiny and a
//! small config, attention and mlp_t, f32 and bf16; the eval step; compiling the train step
//! cold and from the persistent compile cache; the sampler.
//!
//! `cargo bench --bench train` (a filter narrows it: `cargo bench --bench train -- train_step/tiny`).
//! criterion prints the time per step and, as "thrpt", examples (rows) per second. Checkpoint
//! save throughput is `cargo bench -p ouro-ckpt --bench save`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ouro_data::build::sudoku::{self, SudokuOptions};
use ouro_data::build::sudoku_solver::Geometry;
use ouro_data::sampler::{Sampler, SamplerConfig};
use ouro_nn::DataDims;
use ouro_runtime::Runtime;
use ouro_train::TrainConfig;
use ouro_train::bench::{StepBench, Which};

// The allocator the `ouro` binary runs with (see `ouro_pjrt::host_allocator`).
#[cfg(target_os = "linux")]
#[global_allocator]
static GLOBAL: ouro_pjrt::host_allocator::HostAllocator = ouro_pjrt::host_allocator::HostAllocator;

/// A config of a given size: `tiny` is `configs/sudoku4-tiny.yaml`'s model on 4x4 boards, `small`
/// a 9x9-board model four times wider.
struct Size {
    name: &'static str,
    hidden: usize,
    /// The data's shape; `batch_size` is the global batch.
    dims: DataDims,
}

const SIZES: [Size; 2] = [
    Size {
        name: "tiny",
        hidden: 64,
        dims: DataDims { batch_size: 64, seq_len: 16, vocab_size: 6, num_puzzle_identifiers: 1 },
    },
    Size {
        name: "small",
        hidden: 256,
        dims: DataDims { batch_size: 32, seq_len: 81, vocab_size: 11, num_puzzle_identifiers: 1 },
    },
];

fn config(size: &Size, mlp_t: bool, dtype: &str) -> TrainConfig {
    let (heads, pos) = if mlp_t { (8, "none") } else { (4, "rope") };
    let yaml = format!(
        "arch:\n  hidden_size: {}\n  num_heads: {heads}\n  expansion: 4\n  L_layers: 2\n  H_cycles: 2\n  L_cycles: 2\n  \
         puzzle_emb_len: 1\n  mlp_t: {mlp_t}\n  pos_encodings: {pos}\n  forward_dtype: {dtype}\n  halt_max_steps: 4\n\
         data_paths: [unused]\nglobal_batch_size: {}\nepochs: 1\nlr: 1.0e-3\nweight_decay: 0.1\n\
         puzzle_emb_lr: 1.0e-2\npuzzle_emb_weight_decay: 0.1\nema: true\n",
        size.hidden, size.dims.batch_size
    );
    TrainConfig::parse(&yaml, "benches/train.rs", &[]).expect("a valid benchmark config")
}

/// Times `iters` steps dispatched back to back, waited for once (steady state).
fn steps(bench: &mut StepBench, iters: u64) -> Duration {
    Duration::from_secs_f64(bench.time(iters as usize).unwrap() * iters as f64)
}

fn step_throughput(c: &mut Criterion) {
    let runtime = Runtime::open_default(1).expect("the CPU plugin");
    let mut group = c.benchmark_group("train_step");
    group.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
    for size in &SIZES {
        for mlp_t in [false, true] {
            for dtype in ["float32", "bfloat16"] {
                let cfg = config(size, mlp_t, dtype);
                let mut bench = StepBench::new(&runtime, &cfg, size.dims, Which::Train).unwrap();
                let id = format!("{}/{}/{}", size.name, if mlp_t { "mlp_t" } else { "attention" }, dtype);
                group.throughput(Throughput::Elements(size.dims.batch_size as u64));
                group.bench_function(BenchmarkId::from_parameter(id), |b| b.iter_custom(|n| steps(&mut bench, n)));
            }
        }
    }
    group.finish();

    let mut group = c.benchmark_group("eval_step");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    for size in &SIZES {
        let mut bench = StepBench::new(&runtime, &config(size, false, "bfloat16"), size.dims, Which::Eval).unwrap();
        group.throughput(Throughput::Elements(size.dims.batch_size as u64));
        group.bench_function(BenchmarkId::from_parameter(format!("{}/attention/bfloat16", size.name)), |b| {
            b.iter_custom(|n| steps(&mut bench, n))
        });
    }
    group.finish();
}

/// Getting the tiny train step ready: tracing and lowering it (ouro), then XLA compiling its
/// StableHLO cold, and served by the persistent compile cache (what a second run of a config
/// pays).
fn compile_time(c: &mut Criterion) {
    let size = &SIZES[0];
    let cfg = config(size, false, "bfloat16");
    let model = ouro_nn::Trm::new(cfg.recipe.arch.clone(), size.dims).unwrap();
    let step_cfg = ouro_train::run::step_config(&cfg.recipe, 1000);
    let options = ouro_lower::LowerOptions::default();
    let mut group = c.benchmark_group("compile_train_step");
    group.sample_size(10);
    group.bench_function("tiny/trace_and_lower", |b| {
        b.iter(|| {
            ouro_lower::lower(&ouro_train::train_step(&model, &step_cfg, size.dims.batch_size).unwrap().func, &options)
        })
    });
    let text =
        ouro_lower::lower(&ouro_train::train_step(&model, &step_cfg, size.dims.batch_size).unwrap().func, &options)
            .unwrap()
            .text;
    let program = ouro_pjrt::Program::text(text);
    let open = || {
        ouro_pjrt::open_client(&ouro_pjrt::PluginChoice::Default, ouro_pjrt::ClientOptions::new().cpu_device_count(1))
            .unwrap()
    };
    let cold = open();
    let single = ouro_pjrt::CompileOptions::single_device();
    group.bench_function("tiny/xla_cold", |b| b.iter(|| cold.compile(&program, &single).unwrap()));
    let dir = std::env::temp_dir().join(format!("ouro-bench-cache-{}", std::process::id()));
    let warm = open().with_compile_cache(ouro_pjrt::CompileCache::new(&dir).unwrap()).unwrap();
    warm.compile(&program, &single).unwrap();
    group.bench_function("tiny/xla_from_cache", |b| b.iter(|| warm.compile(&program, &single).unwrap()));
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

/// The sampler over a generated 9x9 Sudoku set: batches of 768 rows per second.
fn sampler_throughput(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("ouro-bench-sudoku-{}", std::process::id()));
    let train = sudoku::generate(Geometry::NINE, 200, 1, 1);
    let test = sudoku::generate(Geometry::NINE, 10, 1, 2);
    let options = SudokuOptions { num_aug: 100, ..SudokuOptions::default() };
    ouro_data::writer::write_dataset(&dir, &sudoku::build(Geometry::NINE, train, test, &options), true).unwrap();
    let data = Arc::new(ouro_data::PuzzleDataset::open(std::slice::from_ref(&dir), "train").unwrap());
    let rows = 768;
    let mut sampler =
        Sampler::new(data.clone(), SamplerConfig { seed: 0, global_batch_size: rows, epochs_per_iter: 1_000_000 })
            .unwrap();
    let mut group = c.benchmark_group("sampler");
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function("sudoku9_batch768", |b| b.iter(|| sampler.next_train().expect("a batch")));
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, step_throughput, compile_time, sampler_throughput);
criterion_main!(benches);
