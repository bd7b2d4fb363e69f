//! A config's steps compiled ahead of time for accelerators this machine does not have: the
//! train, init and eval steps lowered for the target's mesh and handed to its compiler through
//! a topology (no client, no device): libtpu for a TPU slice, the CUDA plugin for described
//! GPUs. A pod run's per-chip memory, FLOPs and bytes are known before the pod is rented (what
//! MaxText's `train_compile` does for JAX).

use std::time::Instant;

use ouro_nn::{Compiler, DataDims};
use ouro_pjrt::{CompileOptions, CompiledMemoryStats, CostAnalysis, OptionOverrideValue, Program, Topology};

use crate::config::TrainConfig;
use crate::error::{Context, Error, Result};
use crate::init::init_state;
use crate::run::{model_at, step_config};
use crate::step::{eval_step, train_step};
use crate::target::{Chip, Target};

/// A step of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// Forward, backward and update of one ACT step.
    Train,
    /// The first state, made on the devices.
    Init,
    /// `halt_max_steps` forward ACT steps.
    Eval,
}

impl StepKind {
    /// Every step, in the order a run first meets them.
    pub const ALL: [StepKind; 3] = [StepKind::Init, StepKind::Train, StepKind::Eval];

    /// `train`, `init`, `eval`.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Train => "train",
            StepKind::Init => "init",
            StepKind::Eval => "eval",
        }
    }
}

/// Where a step's bytes for the roofline come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BytesSource {
    /// The program as it runs: `while` bodies counted once, so the bytes are a lower bound.
    Looped,
    /// The same step compiled with its recursion cycles unrolled: every cycle counted.
    Unrolled,
}

/// What the TPU compiler says of one step on one device.
#[derive(Clone, Debug)]
pub struct CompiledStep {
    /// Which step.
    pub kind: StepKind,
    /// Seconds the compile took.
    pub compile_seconds: f64,
    /// The compiler's memory figures per device.
    pub memory: CompiledMemoryStats,
    /// The compiler's cost analysis per device (`while` bodies counted once).
    pub cost: CostAnalysis,
    /// Matmul FLOPs per device, counted from ouro's traced program (every loop iteration).
    pub model_flops: f64,
    /// Bytes accessed per device for the roofline, and where they come from.
    pub bytes: Option<(f64, BytesSource)>,
}

impl CompiledStep {
    /// The roofline's lower bound on the step time on `chip`: the larger of its FLOPs at the
    /// chip's peak and its bytes at the chip's HBM bandwidth.
    pub fn roofline_seconds(&self, chip: &Chip) -> f64 {
        let compute = self.model_flops / chip.peak_flops;
        let memory = self.bytes.map_or(0.0, |(b, _)| b / chip.hbm_bandwidth);
        compute.max(memory)
    }

    /// The model FLOPs utilisation a step at the roofline bound would reach.
    pub fn roofline_mfu(&self, chip: &Chip) -> f64 {
        let bound = self.roofline_seconds(chip);
        if bound > 0.0 { self.model_flops / chip.peak_flops / bound } else { 0.0 }
    }
}

/// A step the compiler refused, with its own words.
#[derive(Clone, Debug)]
pub struct RefusedStep {
    /// Which step.
    pub kind: StepKind,
    /// Seconds until the compiler gave up.
    pub compile_seconds: f64,
    /// The compiler's message (`RESOURCE_EXHAUSTED: ... CompileTimeHbmOom ...`).
    pub message: String,
}

impl RefusedStep {
    /// Whether the compiler refused for lack of device memory.
    pub fn out_of_memory(&self) -> bool {
        self.message.contains("HbmOom") || self.message.contains("RESOURCE_EXHAUSTED")
    }
}

/// The config as it runs on `target`: `mesh.data` set to the slice's chip count unless the
/// config chose a mesh, checked against the slice and the global batch.
pub fn placed(cfg: &TrainConfig, target: &Target) -> Result<TrainConfig> {
    let mut cfg = cfg.clone();
    if cfg.recipe.mesh.data == 1 {
        cfg.recipe.mesh.data = target.chips;
    }
    if cfg.recipe.mesh.data > target.chips {
        return Err(Error::Config(format!(
            "mesh.data is {} but {} has {} chips",
            cfg.recipe.mesh.data, target.name, target.chips
        )));
    }
    let gbs = cfg.recipe.global_batch_size;
    if !gbs.is_multiple_of(cfg.recipe.mesh.data) {
        return Err(Error::Config(format!(
            "global_batch_size {gbs} does not split over the {} chips of {} (mesh.data {}); use a multiple of {}",
            target.chips, target.name, cfg.recipe.mesh.data, cfg.recipe.mesh.data
        )));
    }
    cfg.check().with_context(|| format!("the config placed on {}", target.name))?;
    Ok(cfg)
}

/// The devices of an `n`-way mesh over `topology`, in mesh order (grouped by process, as
/// [`ouro_runtime::Runtime::mesh_devices`] orders a client's devices).
fn mesh_device_ids(topology: &Topology, n: usize) -> Result<Vec<i64>> {
    let mut devices: Vec<(i32, usize, i32)> =
        topology.devices().iter().enumerate().map(|(i, d)| (d.process_index, i, d.id)).collect();
    devices.sort();
    let processes = devices.last().map_or(0, |d| d.0) + 1;
    if processes > 1 && n != devices.len() {
        return Err(Error::Config(format!(
            "a mesh of {n} devices on {} must span all {} devices of its {processes} hosts",
            topology.name(),
            devices.len()
        )));
    }
    if n > devices.len() {
        return Err(Error::Config(format!("a mesh of {n} devices but {} has {}", topology.name(), devices.len())));
    }
    Ok(devices[..n].iter().map(|d| i64::from(d.2)).collect())
}

/// The `kind` step of `cfg` on data of `dims` (at `cfg`'s global batch), written for
/// `compiler`, as the StableHLO text a plugin compiles (the learning-rate schedule spans one
/// step: only its constants differ from a real run's).
pub fn step_program(cfg: &TrainConfig, dims: &DataDims, kind: StepKind, compiler: Compiler) -> Result<String> {
    let gbs = cfg.recipe.global_batch_size;
    let model = model_at(&cfg.recipe, &cfg.run, DataDims { batch_size: gbs, ..*dims }, compiler)?;
    let step_cfg = step_config(&cfg.recipe, 1);
    let func = match kind {
        StepKind::Train => train_step(&model, &step_cfg, gbs)?.func,
        StepKind::Init => {
            let layout = train_step(&model, &step_cfg, gbs)?.layout;
            init_state(&model, &layout, gbs, step_cfg.parallel.as_ref())?
        }
        StepKind::Eval => eval_step(&model, gbs, step_cfg.parallel.as_ref())?.func,
    };
    Ok(ouro_lower::lower(&func, &cfg.recipe.lower_options())?.text)
}

/// Compiles the `kind` step of `cfg` (already [`placed`]) for `topology`, on data of `dims`,
/// with the plugin's own compile `overrides` (XLA options by name). `unrolled_bytes` also
/// compiles the train step with unrolled cycles for its bytes.
pub fn compile_step(
    topology: &Topology,
    cfg: &TrainConfig,
    dims: &DataDims,
    kind: StepKind,
    unrolled_bytes: bool,
    overrides: &[(String, OptionOverrideValue)],
) -> Result<Result<CompiledStep, RefusedStep>> {
    let gbs = cfg.recipe.global_batch_size;
    let dims = DataDims { batch_size: gbs, ..*dims };
    let n = cfg.recipe.mesh.data;
    let mut options = match n {
        1 => CompileOptions::single_device(),
        _ => CompileOptions::spmd(
            &mesh_device_ids(topology, n)?,
            cfg.recipe.mesh.partitioner == crate::config::Partitioner::Shardy,
        ),
    };
    options.env_option_overrides.extend(overrides.iter().cloned());
    let compiler = Compiler::of_platform(topology.platform_name());
    let text = step_program(cfg, &dims, kind, compiler)?;
    let started = Instant::now();
    let exe = match topology.compile(&Program::text(text), &options) {
        Ok(exe) => exe,
        Err(e) => {
            let compile_seconds = started.elapsed().as_secs_f64();
            return Ok(Err(RefusedStep { kind, compile_seconds, message: e.to_string() }));
        }
    };
    let compile_seconds = started.elapsed().as_secs_f64();
    let memory = exe.compiled_memory_stats()?;
    let cost = cost_of(&exe)?;
    let model_flops = match kind {
        StepKind::Train => crate::cost::train_step_flops(&cfg.recipe, &dims)? as f64,
        StepKind::Init => 0.0,
        StepKind::Eval => crate::cost::eval_flops_per_example(&cfg.recipe, &dims)? as f64 * gbs as f64,
    } / n as f64;
    let mut bytes = cost.bytes_accessed().map(|b| (b, BytesSource::Looped));
    if unrolled_bytes && kind == StepKind::Train && !cfg.run.unroll_cycles {
        let mut unrolled = cfg.clone();
        unrolled.run.unroll_cycles = true;
        let exe =
            topology.compile(&Program::text(step_program(&unrolled, &dims, kind, compiler)?), &options).with_context(
                || format!("compiling the train step with unrolled cycles (for its bytes) for {}", topology.name()),
            )?;
        bytes = cost_of(&exe)?.bytes_accessed().map(|b| (b, BytesSource::Unrolled)).or(bytes);
    } else if cfg.run.unroll_cycles && kind == StepKind::Train {
        bytes = bytes.map(|(b, _)| (b, BytesSource::Unrolled));
    }
    Ok(Ok(CompiledStep { kind, compile_seconds, memory, cost, model_flops, bytes }))
}

/// The compiler's cost analysis, empty where the plugin has none (the CUDA plugin compiling
/// without a GPU answers `UNIMPLEMENTED`).
fn cost_of(exe: &ouro_pjrt::Executable) -> Result<CostAnalysis> {
    match exe.cost_analysis() {
        Ok(cost) => Ok(cost),
        Err(e) if e.code() == Some(ouro_pjrt::ErrorCode::Unimplemented) => Ok(CostAnalysis::default()),
        Err(e) => Err(e.into()),
    }
}
