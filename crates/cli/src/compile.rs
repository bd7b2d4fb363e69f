//! `ouro compile`: a config's steps compiled for a TPU slice this machine does not have, with
//! the TPU compiler's per-chip memory against the chip's HBM, the program's FLOPs and bytes,
//! and the roofline bound on its step time.

use anyhow::{Result, bail};
use clap::Args;
use ouro_train::aot::{BytesSource, CompiledStep, RefusedStep, StepKind, compile_step, placed};
use ouro_train::target::Target;

use crate::BackendArgs;
use crate::train::ShapeArgs;

/// Compile a config's train, init and eval steps for a TPU slice, deviceless.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  ouro compile --config configs/experiments/baseline.yaml --target v4-64\n  \
    ouro compile --config configs/experiments/exp01f.yaml --target v5e-256 remat=true --steps train\n  \
    ouro compile --config configs/sudoku4-tiny.yaml --target v5e-1 --json\n\n\
    Targets: TPU slices by their Cloud names (v4-8 ... v4-4096, v5e-1 ... v5e-256, v5p-8 ... v5p-4096, \
    v6e-1 ... v6e-256) or libtpu topologies (v4:2x2x1, v5e:4x4). The slice's chip count sets mesh.data \
    unless the config sets it. libtpu is the pinned one (fetched with pip on first use) unless --plugin \
    or TPU_LIBRARY_PATH names another.")]
pub struct CompileArgs {
    #[command(flatten)]
    shape: ShapeArgs,
    /// The TPU slice (`v4-64`), libtpu topology (`v4:2x4x4`) or GPUs (`h100-8`) to compile
    /// for (default: the config's `target` key).
    #[arg(long, value_name = "SLICE")]
    target: Option<String>,
    /// Which steps, comma-separated: init, train, eval.
    #[arg(long, value_delimiter = ',', default_values_t = ["init".to_string(), "train".to_string(), "eval".to_string()])]
    steps: Vec<String>,
    /// Also compile the train step with its recursion cycles unrolled, whose bytes count every
    /// cycle (the program as it runs counts a loop's body once): a tighter roofline, a longer compile.
    #[arg(long)]
    unrolled_bytes: bool,
    /// Also print the figures as one line of JSON, last.
    #[arg(long)]
    json: bool,
}

const GIB: f64 = (1u64 << 30) as f64;

/// A target's compiler, opened once: the plugin, its topology of the target, and what each
/// device has.
pub(crate) struct TargetCompiler {
    pub(crate) target: Target,
    pub(crate) api: std::sync::Arc<ouro_pjrt::Api>,
    pub(crate) topology: ouro_pjrt::Topology,
    /// XLA options the plugin needs (the CUDA toolchain's directory).
    pub(crate) overrides: Vec<(String, ouro_pjrt::OptionOverrideValue)>,
    /// Each device's memory, as the compiler describes it.
    pub(crate) hbm: Option<i64>,
}

impl TargetCompiler {
    /// Parses `name` and describes the target to its plugin.
    pub(crate) fn open(backend: &BackendArgs, name: &str) -> Result<TargetCompiler> {
        let target = Target::parse(name)?;
        let crate::backend::Compiler { api, overrides } = backend.compiler(target.platform())?;
        let topology = ouro_pjrt::Topology::create(&api, &target.topology, &target.options).map_err(|e| {
            anyhow::anyhow!("describing {} ({}) to {}: {e}", target.name, target.topology, api.path().display())
        })?;
        let hbm = device_memory(&topology).or(target.device_memory().map(|b| b as i64));
        Ok(TargetCompiler { target, api, topology, overrides, hbm })
    }

    /// The train step of `config` compiled for the target, as a line: per-chip memory against
    /// the chip's, or the compiler's refusal.
    pub(crate) fn train_memory(&self, config: &ouro_train::TrainConfig, dims: &ouro_nn::DataDims) -> Result<String> {
        let t = &self.target;
        let config = placed(config, t)?;
        let rows = config.recipe.global_batch_size / config.recipe.mesh.data;
        Ok(match compile_step(&self.topology, &config, dims, StepKind::Train, false, &self.overrides)? {
            Ok(step) => {
                let total = step.memory.device_bytes();
                let verdict = match self.hbm {
                    Some(h) if total <= h => {
                        format!("fits ({:.0} % of {:.2} GiB)", 100.0 * total as f64 / h as f64, h as f64 / GIB)
                    }
                    Some(h) => format!("DOES NOT FIT in {:.2} GiB", h as f64 / GIB),
                    None => "device memory unknown".into(),
                };
                format!(
                    "train step on {} ({} rows per chip): {:.2} GiB per chip ({:.2} GiB temporaries), {verdict}, from the {} compiler in {:.0} s",
                    t.name,
                    rows,
                    total as f64 / GIB,
                    step.memory.temp_size_in_bytes as f64 / GIB,
                    self.topology.platform_name(),
                    step.compile_seconds
                )
            }
            Err(r) => format!(
                "train step on {} ({} rows per chip): DOES NOT COMPILE ({}): {}",
                t.name,
                rows,
                if r.out_of_memory() { "out of device memory" } else { "compiler error" },
                r.message.lines().next().unwrap_or_default()
            ),
        })
    }
}

/// Runs `ouro compile`.
pub fn run(backend: &BackendArgs, args: &CompileArgs) -> Result<()> {
    let kinds = step_kinds(&args.steps)?;
    let (config, dims) = args.shape.load()?;
    let file = args.shape.file()?.display().to_string();
    let Some(name) = args.target.clone().or_else(|| config.run.target.clone()) else {
        bail!("{file} names no target: give --target (v4-64, v5e-256, h100-8, ...) or set `target:` in the config");
    };
    let compiler = TargetCompiler::open(backend, &name)?;
    let TargetCompiler { target, topology, overrides, hbm, .. } = &compiler;
    let hbm = *hbm;
    let config = placed(&config, target).map_err(|e| anyhow::anyhow!("{file} on {}: {e:#}", target.name))?;
    let kind = topology.devices().first().map(|d| d.kind.clone()).unwrap_or_default();
    let n = config.recipe.mesh.data;
    print_setup(&file, &compiler, &config);
    let chip = target.chip();
    let mut results = Vec::new();
    let mut refused = Vec::new();
    for kind in kinds {
        match compile_step(topology, &config, &dims, kind, args.unrolled_bytes, overrides)? {
            Ok(step) => {
                print_step(&step, hbm, &chip);
                results.push(step);
            }
            Err(r) => {
                println!(
                    "{} step: refused by the compiler after {:.1} s:\n  {}",
                    r.kind.name(),
                    r.compile_seconds,
                    r.message
                );
                refused.push(r);
            }
        }
    }
    let too_big: Vec<&CompiledStep> =
        results.iter().filter(|s| hbm.is_some_and(|h| s.memory.device_bytes() > h)).collect();
    if args.json {
        println!("{}", json(target, &kind, hbm, n, &config, &results, &refused));
    }
    if let Some(r) = refused.first() {
        bail!(
            "{file} does not compile for {} ({} step{}): {}",
            target.name,
            r.kind.name(),
            if r.out_of_memory() {
                ", out of device memory; try remat=true, grad_accum_steps or a bigger slice"
            } else {
                ""
            },
            r.message
        );
    }
    if let Some(s) = too_big.first() {
        bail!(
            "{file} does not fit {}: the {} step needs {:.2} GiB per chip of {:.2} GiB",
            target.name,
            s.kind.name(),
            s.memory.device_bytes() as f64 / GIB,
            hbm.unwrap_or(0) as f64 / GIB
        );
    }
    Ok(())
}

/// The steps `--steps` names.
fn step_kinds(steps: &[String]) -> Result<Vec<StepKind>> {
    steps
        .iter()
        .map(|s| match s.trim() {
            "train" => Ok(StepKind::Train),
            "init" => Ok(StepKind::Init),
            "eval" => Ok(StepKind::Eval),
            other => bail!("unknown step {other:?} in --steps: expected init, train or eval"),
        })
        .collect()
}

/// The target, its compiler and the config's placement on it.
fn print_setup(file: &str, compiler: &TargetCompiler, config: &ouro_train::TrainConfig) {
    let TargetCompiler { target, api, topology, hbm, .. } = compiler;
    let kind = topology.devices().first().map(|d| d.kind.clone()).unwrap_or_default();
    let (major, minor) = api.version();
    let n = config.recipe.mesh.data;
    println!(
        "{file} for {} ({}, {} x {kind}{}), {} {} (PJRT {major}.{minor})",
        target.name,
        target.topology,
        topology.devices().len(),
        hbm.map_or_else(String::new, |b| format!(", {:.2} GiB HBM each", b as f64 / GIB)),
        topology.platform_name(),
        topology.platform_version().lines().next().unwrap_or_default(),
    );
    println!(
        "mesh.data {n}, global batch {} ({} rows per chip{})",
        config.recipe.global_batch_size,
        config.recipe.global_batch_size / n,
        if config.recipe.grad_accum_steps > 1 {
            format!(", {} micro-batches", config.recipe.grad_accum_steps)
        } else {
            String::new()
        }
    );
}

/// The memory each device of the topology has, as libtpu reports it.
pub(crate) fn device_memory(topology: &ouro_pjrt::Topology) -> Option<i64> {
    let attribute = |attrs: &[(String, ouro_pjrt::NamedValue)]| {
        attrs.iter().find(|(n, _)| n == "device_memory_bytes_limit").and_then(|(_, v)| match v {
            ouro_pjrt::NamedValue::Int64(b) => Some(*b),
            _ => None,
        })
    };
    topology.devices().first().and_then(|d| attribute(&d.attributes)).or_else(|| attribute(topology.attributes()))
}

fn print_step(step: &CompiledStep, hbm: Option<i64>, chip: &ouro_train::target::Chip) {
    let m = &step.memory;
    let total = m.device_bytes();
    let fits = match hbm {
        Some(h) => format!(
            " of {:.2} GiB HBM: {} ({:.0} %)",
            h as f64 / GIB,
            if total <= h { "fits" } else { "DOES NOT FIT" },
            100.0 * total as f64 / h as f64
        ),
        None => String::new(),
    };
    println!("{} step: compiled in {:.1} s", step.kind.name(), step.compile_seconds);
    println!(
        "  per chip: arguments {:.3} GiB, temporaries {:.3} GiB, outputs {:.3} GiB ({:.3} GiB aliased to donated \
         arguments), total {:.3} GiB{fits}",
        m.argument_size_in_bytes as f64 / GIB,
        m.temp_size_in_bytes as f64 / GIB,
        m.output_size_in_bytes as f64 / GIB,
        m.alias_size_in_bytes as f64 / GIB,
        total as f64 / GIB
    );
    if step.kind == StepKind::Init {
        return;
    }
    let compiler_flops = step.cost.flops().map_or_else(
        || "the compiler gives no count".to_string(),
        |f| format!("the compiler counts {:.3} TFLOP with loop bodies once", f / 1e12),
    );
    let bytes = match step.bytes {
        Some((b, BytesSource::Unrolled)) => format!("{:.2} GB accessed (unrolled cycles)", b / 1e9),
        Some((b, BytesSource::Looped)) => format!("{:.2} GB accessed (loop bodies once: a lower bound)", b / 1e9),
        None => "bytes not reported".to_string(),
    };
    println!("  per chip: {:.3} TFLOP of matmuls (traced; {compiler_flops}), {bytes}", step.model_flops / 1e12);
    let compute = step.model_flops / chip.peak_flops;
    let memory = match step.bytes {
        Some((b, _)) => {
            format!("memory {:.2} ms at {:.0} GB/s", b / chip.hbm_bandwidth * 1e3, chip.hbm_bandwidth / 1e9)
        }
        None => "no bytes from this compiler: compute only".into(),
    };
    println!(
        "  roofline: {:.2} ms per step (compute {:.2} ms at {:.0} TFLOP/s, {memory}): MFU {:.0} % at the bound",
        step.roofline_seconds(chip) * 1e3,
        compute * 1e3,
        chip.peak_flops / 1e12,
        100.0 * step.roofline_mfu(chip)
    );
}

fn json(
    target: &Target,
    kind: &str,
    hbm: Option<i64>,
    devices: usize,
    config: &ouro_train::TrainConfig,
    results: &[CompiledStep],
    refused: &[RefusedStep],
) -> serde_json::Value {
    let chip = target.chip();
    let steps: Vec<serde_json::Value> = results
        .iter()
        .map(|s| {
            serde_json::json!({
                "step": s.kind.name(),
                "compile_seconds": s.compile_seconds,
                "argument_bytes": s.memory.argument_size_in_bytes,
                "temp_bytes": s.memory.temp_size_in_bytes,
                "output_bytes": s.memory.output_size_in_bytes,
                "alias_bytes": s.memory.alias_size_in_bytes,
                "device_bytes": s.memory.device_bytes(),
                "fits": hbm.map(|h| s.memory.device_bytes() <= h),
                "model_flops": s.model_flops,
                "compiler_flops": s.cost.flops(),
                "bytes_accessed": s.bytes.map(|(b, _)| b),
                "bytes_source": s.bytes.map(|(_, src)| if src == BytesSource::Unrolled { "unrolled" } else { "looped" }),
                "roofline_seconds": s.roofline_seconds(&chip),
                "roofline_mfu": s.roofline_mfu(&chip),
            })
        })
        .collect();
    let refused: Vec<serde_json::Value> = refused
        .iter()
        .map(|r| serde_json::json!({"step": r.kind.name(), "compile_seconds": r.compile_seconds, "message": r.message, "out_of_memory": r.out_of_memory()}))
        .collect();
    serde_json::json!({
        "target": target.name,
        "topology": target.topology,
        "device_kind": kind,
        "devices": devices,
        "device_memory_bytes": hbm,
        "global_batch_size": config.recipe.global_batch_size,
        "rows_per_device": config.recipe.global_batch_size / devices,
        "peak_flops": chip.peak_flops,
        "hbm_bandwidth": chip.hbm_bandwidth,
        "steps": steps,
        "refused": refused,
    })
}
