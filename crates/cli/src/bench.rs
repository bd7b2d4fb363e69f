//! `ouro bench`: what a user runs first on a TPU VM or a GPU box. The train (or eval) step of a
//! config, on synthetic data of its shape, timed in steady state: step time, examples/s,
//! achieved FLOP/s and model FLOPs utilisation, compile time and device memory.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use ouro_pjrt::{Buffer, CompileOptions, ElementType, Program};
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
    /// Time this StableHLO program instead of a config's step (another framework's lowering
    /// of the same step, e.g. `jax.jit(step).lower(...).as_text()`): its `@main` runs with the
    /// arguments in --args (all zeros without it), donated arguments (`tf.aliasing_output`) fed
    /// back from the outputs they alias. --config is not read.
    #[arg(long, value_name = "FILE", conflicts_with = "eval")]
    stablehlo: Option<PathBuf>,
    /// The program's arguments: a safetensors file with tensors `arg0`, `arg1`, ... (--stablehlo).
    #[arg(long, value_name = "FILE", requires = "stablehlo")]
    args: Option<PathBuf>,
    /// Rows per step of the program, for examples/s (--stablehlo).
    #[arg(long, requires = "stablehlo")]
    rows: Option<usize>,
    /// Also print the figures as one line of JSON, last.
    #[arg(long)]
    json: bool,
    /// Write the step's StableHLO here (what ouro hands XLA; `--stablehlo` runs such a file).
    #[arg(long, value_name = "FILE", conflicts_with = "stablehlo")]
    emit_stablehlo: Option<PathBuf>,
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
    if let Some(file) = &args.stablehlo {
        return program(backend, args, file);
    }
    let (config, dims) = args.shape.load()?;
    let n = config.recipe.mesh.data;
    let runtime = ouro_runtime::Runtime::new(backend.client(n)?)?;
    let which = if args.eval { Which::Eval } else { Which::Train };
    let mut bench = StepBench::new(&runtime, &config, dims, which)?;
    if let Some(path) = &args.emit_stablehlo {
        std::fs::write(path, bench.stablehlo()).with_context(|| format!("writing {}", path.display()))?;
    }
    for _ in 0..args.warmup {
        bench.step()?;
    }
    bench.sync()?;
    let mut windows = Vec::with_capacity(args.windows);
    for _ in 0..args.windows {
        windows.push(bench.time(args.steps)?);
    }
    windows.sort_by(f64::total_cmp);

    print_figures(args, (&config, &dims), &bench, &runtime, &windows)
}

/// Prints what was measured: the config and batch, compile time, step times, throughput, MFU
/// and memory (and with `--json` the same as one JSON line).
fn print_figures(
    args: &BenchArgs,
    (config, dims): (&ouro_train::TrainConfig, &ouro_nn::DataDims),
    bench: &StepBench,
    runtime: &ouro_runtime::Runtime,
    windows: &[f64],
) -> Result<()> {
    let n = config.recipe.mesh.data;
    let client = runtime.client();
    let kind = client.devices().first().map(|d| d.description().map(|d| d.kind)).transpose()?.unwrap_or_default();
    let a = &config.recipe.arch;
    println!(
        "{} step of {} ({}, D {}, H_cycles {} x L_cycles {}, {}{}) on {} x {} ({})",
        if args.eval { "eval" } else { "train" },
        args.shape.file()?.display(),
        if a.mlp_t { "mlp_t".to_string() } else { format!("attention, {} heads", a.num_heads) },
        a.hidden_size,
        a.h_cycles,
        a.l_cycles,
        a.forward_dtype.dtype(),
        if config.run.remat && !args.eval { ", remat" } else { "" },
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
    let median = print_steps(windows, args.steps);
    println!("throughput: {:.0} examples/s", bench.rows as f64 / median);
    let achieved = bench.flops / median;
    let peak = args.peak_tflops.map(|t| t * 1e12).or_else(|| ouro_train::target::peak_flops(&kind));
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
    if args.json {
        let figures = serde_json::json!({
            "impl": "ouro",
            "step": if args.eval { "eval" } else { "train" },
            "platform": client.platform_name(),
            "device_kind": kind,
            "devices": n,
            "rows": bench.rows,
            "compile_seconds": bench.compile_seconds,
            "median_step_seconds": median,
            "windows": windows,
            "examples_per_second": bench.rows as f64 / median,
            "flops_per_step": bench.flops,
            "mfu": peak.map(|p| achieved / (p * n as f64)),
            "compiled_bytes": compiled,
        });
        println!("{figures}");
    }
    Ok(())
}

const GIB: f64 = (1u64 << 30) as f64;

/// Prints the step line of sorted per-window step times (seconds) and returns their median.
fn print_steps(windows: &[f64], steps: usize) -> f64 {
    let median = windows[windows.len() / 2];
    println!(
        "step: median {:.2} ms over {} windows of {steps} steps (fastest {:.2}, slowest {:.2})",
        median * 1e3,
        windows.len(),
        windows[0] * 1e3,
        windows[windows.len() - 1] * 1e3
    );
    median
}

/// Times a StableHLO program given as text on one device: `ouro bench --stablehlo`.
fn program(backend: &BackendArgs, args: &BenchArgs, file: &Path) -> Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let client = backend.client(1)?;
    let started = Instant::now();
    let exe = client.compile(&Program::text(text.clone()), &CompileOptions::single_device())?;
    let compile_seconds = started.elapsed().as_secs_f64();
    let signature = exe
        .signature()
        .cloned()
        .ok_or_else(|| anyhow!("{}: cannot read the parameter types of its @main", file.display()))?;
    let aliases = aliased_outputs(&text, signature.parameters.len());
    let mut inputs = program_inputs(&client, &signature, args.args.as_deref())?;
    let donated: Vec<usize> = (0..inputs.len()).filter(|&i| aliases[i].is_some()).collect();
    let mut last: Vec<Buffer> = Vec::new();
    let step = |inputs: &mut Vec<Option<Buffer>>| -> Result<Vec<Buffer>> {
        let refs: Vec<&Buffer> = inputs.iter().map(|b| b.as_ref().expect("an input")).collect();
        let out = exe.execute(&refs, &donated)?;
        let mut out: Vec<Option<Buffer>> = out.into_iter().map(Some).collect();
        // A donated argument's next value is the output it aliases.
        for (i, alias) in aliases.iter().enumerate() {
            if let Some(k) = alias {
                inputs[i] = Some(
                    out.get_mut(*k)
                        .and_then(Option::take)
                        .ok_or_else(|| anyhow!("parameter {i} aliases output {k}, which the program does not have"))?,
                );
            }
        }
        Ok(out.into_iter().flatten().collect())
    };
    let sync = |inputs: &[Option<Buffer>], last: &[Buffer]| -> Result<()> {
        for b in inputs.iter().flatten().chain(last) {
            b.block_until_ready()?;
        }
        Ok(())
    };
    for _ in 0..args.warmup {
        last = step(&mut inputs)?;
    }
    sync(&inputs, &last)?;
    let mut windows = Vec::with_capacity(args.windows);
    for _ in 0..args.windows {
        let started = Instant::now();
        for _ in 0..args.steps {
            last = step(&mut inputs)?;
        }
        sync(&inputs, &last)?;
        windows.push(started.elapsed().as_secs_f64() / args.steps as f64);
    }
    windows.sort_by(f64::total_cmp);
    println!(
        "program {} ({} parameters, {} donated) on {}",
        file.display(),
        signature.parameters.len(),
        donated.len(),
        client.platform_name()
    );
    println!("compile: {compile_seconds:.2} s (no compile cache)");
    let median = print_steps(&windows, args.steps);
    if let Some(rows) = args.rows {
        println!("throughput: {:.0} examples/s", rows as f64 / median);
    }
    if args.json {
        let figures = serde_json::json!({
            "impl": "stablehlo",
            "program": file.display().to_string(),
            "platform": client.platform_name(),
            "compile_seconds": compile_seconds,
            "median_step_seconds": median,
            "windows": windows,
            "examples_per_second": args.rows.map(|r| r as f64 / median),
        });
        println!("{figures}");
    }
    Ok(())
}

/// The program's arguments on device 0: the tensors `arg0`, `arg1`, … of the safetensors file
/// `args_file` (checked against the parameters' types), or zeros.
fn program_inputs(
    client: &ouro_pjrt::Client,
    signature: &ouro_pjrt::Signature,
    args_file: Option<&Path>,
) -> Result<Vec<Option<Buffer>>> {
    let device = client.device(0)?;
    let tensors = match args_file {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => Vec::new(),
    };
    let given = if tensors.is_empty() {
        None
    } else {
        Some(safetensors::SafeTensors::deserialize(&tensors).with_context(|| "reading the --args safetensors")?)
    };
    let mut inputs: Vec<Option<Buffer>> = Vec::with_capacity(signature.parameters.len());
    for (i, ty) in signature.parameters.iter().enumerate() {
        let name = format!("arg{i}");
        let dims = &ty.dims;
        let bytes = match given.as_ref().map(|g| g.tensor(&name)) {
            Some(Ok(t)) => {
                let shape: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
                if shape != *dims || element_type(t.dtype()) != Some(ty.element_type) {
                    bail!("--args {name} is {:?}{:?}, the program's parameter {i} is {ty}", t.dtype(), t.shape());
                }
                t.data().to_vec()
            }
            Some(Err(_)) => bail!("--args has no tensor {name} for the program's parameter {i} ({ty})"),
            None => {
                let count: i64 = dims.iter().product();
                vec![0u8; count as usize * ty.element_type.size_in_bytes()]
            }
        };
        inputs.push(Some(client.buffer_from_bytes(&bytes, ty.element_type, dims, &device)?));
    }
    Ok(inputs)
}

/// For each of `@main`'s `n` parameters, the output it is aliased to (`tf.aliasing_output = k`,
/// as JAX writes donated arguments), if any.
fn aliased_outputs(text: &str, n: usize) -> Vec<Option<usize>> {
    let mut out = vec![None; n];
    let Some(start) = text.find("@main(") else { return out };
    // The parameter list ends at the `)` closing `@main(`.
    let rest = &text[start + "@main(".len()..];
    let mut depth = 0usize;
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        match c {
            '(' | '<' | '{' | '[' => depth += 1,
            ')' if depth == 0 => {
                end = i;
                break;
            }
            ')' | '>' | '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    for (i, part) in rest[..end].split("%arg").skip(1).enumerate().take(n) {
        if let Some(k) = part.split("tf.aliasing_output = ").nth(1) {
            out[i] = k.split(|c: char| !c.is_ascii_digit()).next().and_then(|d| d.parse().ok());
        }
    }
    out
}

/// The PJRT element type of a safetensors dtype.
fn element_type(dtype: safetensors::Dtype) -> Option<ElementType> {
    use safetensors::Dtype as D;
    Some(match dtype {
        D::BOOL => ElementType::Pred,
        D::U8 => ElementType::U8,
        D::I8 => ElementType::S8,
        D::I16 => ElementType::S16,
        D::U16 => ElementType::U16,
        D::F16 => ElementType::F16,
        D::BF16 => ElementType::BF16,
        D::I32 => ElementType::S32,
        D::U32 => ElementType::U32,
        D::F32 => ElementType::F32,
        D::F64 => ElementType::F64,
        D::I64 => ElementType::S64,
        D::U64 => ElementType::U64,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn donated_parameters_are_read_from_the_main_signature() {
        let text = "func.func public @main(%arg0: tensor<2xf32> {tf.aliasing_output = 1 : i32}, %arg1: \
                    tensor<i32>, %arg2: tensor<3x4xbf16> {jax.result_info = \"x\", tf.aliasing_output = 0 : i32}) \
                    -> (tensor<3x4xbf16>, tensor<2xf32>) {\n  return\n}\nfunc.func private @f(%arg0: tensor<f32> \
                    {tf.aliasing_output = 7 : i32})";
        assert_eq!(aliased_outputs(text, 3), vec![Some(1), None, Some(0)]);
        assert_eq!(aliased_outputs("no main here", 2), vec![None, None]);
    }
}
