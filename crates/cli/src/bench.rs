//! `ouro bench`: what a user runs first on a TPU VM or a GPU box. The train (or eval) step of a
//! config, on synthetic data of its shape, timed in steady state: step time, examples/s,
//! achieved FLOP/s and model FLOPs utilisation, compile time and device memory.

use anyhow::{Result, bail};
use clap::Args;
use ouro_train::bench::{StepBench, Which};

use crate::BackendArgs;
use crate::train::ShapeArgs;

/// Time a config's train step (or eval step) on the devices, without a dataset.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ouro bench --config configs/sudoku4-tiny.yaml\n  ouro --platform gpu bench --config configs/experiments/baseline.yaml --global-batch 768\n  ouro --platform tpu bench --config configs/experiments/baseline.yaml --devices 4 --global-batch 3072 arch.mlp_t=false\n  ouro bench --config configs/sudoku-mlp.yaml --seq-len 81 --vocab-size 11 --puzzle-ids 1 --eval"
)]
pub struct BenchArgs {
    #[command(flatten)]
    shape: ShapeArgs,
    /// Time the eval step (`halt_max_steps` forward ACT steps) instead of the train step.
    #[arg(long)]
    eval: bool,
    /// Steps run before timing (the first runs also allocate).
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Timed windows; the median window is reported.
    #[arg(long, default_value_t = 10)]
    windows: usize,
    /// Steps per window, dispatched back to back and waited for once.
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Peak dense TFLOP/s of one device for MFU (default: known for H100/H200/A100/L40S and TPU
    /// v4/v5e/v5p/v6e from the device kind; none on CPUs).
    #[arg(long, value_name = "TFLOPS")]
    peak_tflops: Option<f64>,
}

/// Runs `ouro bench`.
pub fn run(backend: &BackendArgs, args: &BenchArgs) -> Result<()> {
    if args.windows == 0 || args.steps == 0 {
        bail!("--windows and --steps must be at least 1");
    }
    let (config, dims) = args.shape.load()?;
    let n = config.mesh.data;
    let runtime = ouro_runtime::Runtime::new(backend.client(n)?)?;
    let which = if args.eval { Which::Eval } else { Which::Train };
    let mut bench = StepBench::new(&runtime, &config, dims, which)?;
    for _ in 0..args.warmup {
        bench.step()?;
    }
    bench.sync()?;
    let mut windows = Vec::with_capacity(args.windows);
    for _ in 0..args.windows {
        windows.push(bench.time(args.steps)?);
    }
    windows.sort_by(f64::total_cmp);

    let client = runtime.client();
    let kind = client.devices().first().map(|d| d.description().map(|d| d.kind)).transpose()?.unwrap_or_default();
    let a = &config.arch;
    println!(
        "{} step of {} ({}, D {}, H_cycles {} x L_cycles {}, {}{}) on {} x {} ({})",
        if args.eval { "eval" } else { "train" },
        args.shape.config.display(),
        if a.mlp_t { "mlp_t".to_string() } else { format!("attention, {} heads", a.num_heads) },
        a.hidden_size,
        a.h_cycles,
        a.l_cycles,
        a.forward_dtype.dtype(),
        if config.remat && !args.eval { ", remat" } else { "" },
        n,
        if kind.is_empty() { "device" } else { kind.as_str() },
        client.platform_name()
    );
    println!(
        "batch: {} rows ({} per device), seq_len {}, vocab {}",
        bench.rows,
        bench.rows / n,
        dims.seq_len,
        dims.vocab_size
    );
    println!("compile: {:.2} s (no compile cache)", bench.compile_seconds);
    let w = &windows;
    let median = w[w.len() / 2];
    println!(
        "step: median {:.2} ms over {} windows of {} steps (fastest {:.2}, slowest {:.2})",
        median * 1e3,
        w.len(),
        args.steps,
        w[0] * 1e3,
        w[w.len() - 1] * 1e3
    );
    println!("throughput: {:.0} examples/s", bench.rows as f64 / median);
    let achieved = bench.flops / median;
    let peak = args.peak_tflops.map(|t| t * 1e12).or_else(|| ouro_train::cost::peak_flops(&kind));
    let mfu = match peak {
        Some(p) => format!("; MFU {:.1} % of {n} x {:.0} TFLOP/s", 100.0 * achieved / (p * n as f64), p / 1e12),
        None => "; MFU: no peak known for this device (--peak-tflops)".to_string(),
    };
    println!("matmul FLOPs: {:.3} TFLOP per step, {:.2} TFLOP/s achieved{mfu}", bench.flops / 1e12, achieved / 1e12);
    let compiled = bench.compiled_bytes()? as f64;
    let allocator = client.devices().first().and_then(|d| d.memory_stats().ok()).and_then(|m| m.peak_bytes_in_use);
    println!(
        "memory per device: {:.3} GiB compiled (arguments, temporaries, outputs){}",
        compiled / GIB,
        allocator.map_or_else(String::new, |p| format!("; allocator peak {:.3} GiB", p as f64 / GIB))
    );
    Ok(())
}

const GIB: f64 = (1u64 << 30) as f64;
