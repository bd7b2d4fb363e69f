//! What a run is before anything runs: its data, checked against the config; the model and the
//! step's settings; the schedule of iterations and recursion depths; the refusals that must come
//! before anything is compiled or allocated.

use ouro_data::{PuzzleDataset, total_steps};
use ouro_nn::{Compiler, DataDims, FloatType, Trm};
use ouro_optim::Schedule;
use ouro_runtime::Runtime;

use crate::config::{DATA_AXIS, LossScaling, MeshConfig, Recipe, RunConfig, TrainConfig};
use crate::curriculum::{Curriculum, Depth};
use crate::error::{Context, Error, Result};
use crate::step::{DataParallel, LossScale, StepConfig};

/// The step's settings from a config, for a run of `total` steps.
pub fn step_config(recipe: &Recipe, total: u64) -> StepConfig {
    let schedule = Schedule {
        base: recipe.lr,
        warmup_steps: recipe.lr_warmup_steps,
        total_steps: total as usize,
        min_ratio: recipe.lr_min_ratio,
    };
    StepConfig {
        optimizer: recipe.optimizer_config(),
        schedule,
        puzzle_schedule: Schedule { base: recipe.puzzle_emb_lr, ..schedule },
        puzzle_weight_decay: recipe.puzzle_emb_weight_decay,
        ema_rate: recipe.ema.then_some(recipe.ema_rate),
        global_batch_size: recipe.global_batch_size,
        total_steps: total as usize,
        halt_exploration_final: if recipe.use_adaptive_halting { recipe.halt_exploration_final } else { None },
        grad_accum_steps: recipe.grad_accum_steps,
        loss_scale: (recipe.loss_scaling == LossScaling::Dynamic).then_some(LossScale {
            initial: recipe.loss_scale_initial,
            growth_interval: recipe.loss_scale_growth_interval,
        }),
        parallel: (recipe.mesh.data > 1).then(|| DataParallel {
            axis: DATA_AXIS.to_string(),
            devices: recipe.mesh.data,
            shard_optimizer_state: recipe.mesh.shard_optimizer_state,
        }),
    }
}

/// The model `recipe` describes over the dimensions of its data, compiled as `run` says, for
/// the platform of `runtime`.
pub(crate) fn model_of(recipe: &Recipe, run: &RunConfig, meta: &ouro_data::Metadata, runtime: &Runtime) -> Result<Trm> {
    let dims = DataDims {
        batch_size: recipe.global_batch_size,
        seq_len: meta.seq_len,
        vocab_size: meta.vocab_size,
        num_puzzle_identifiers: meta.num_puzzle_identifiers,
    };
    model_at(recipe, run, dims, compiler_of(runtime))
}

/// The compiler `runtime`'s steps are written for.
pub(crate) fn compiler_of(runtime: &Runtime) -> Compiler {
    Compiler::of_platform(runtime.client().platform_name())
}

/// The model `recipe` trains on data of `dims`, with its memory and speed switches (`remat`,
/// `unroll_cycles`) applied, written for `compiler`.
pub(crate) fn model_at(recipe: &Recipe, run: &RunConfig, dims: DataDims, compiler: Compiler) -> Result<Trm> {
    let mut model = Trm::new(recipe.arch.clone(), dims).map_err(|e| Error::Config(format!("config: {e}")))?;
    model.remat = run.remat;
    model.unroll = run.unroll_cycles;
    model.compiler = compiler;
    Ok(model)
}

/// A run's data.
pub(crate) struct Splits {
    /// The training split.
    pub train: PuzzleDataset,
    /// The test split, if there is one (no evaluation without it).
    pub test: Option<PuzzleDataset>,
}

/// A run's schedule.
pub(crate) struct Plan {
    /// The official step count of the whole run.
    pub total: u64,
    /// Epochs per iteration (a sampler pass, then an evaluation).
    pub epochs_per_iter: usize,
    /// Iterations of the run.
    pub iterations: usize,
    /// The architecture's recursion depth.
    pub full_depth: Depth,
    /// The recursion-depth curriculum, if any.
    pub curriculum: Option<Curriculum>,
}

impl Plan {
    /// Opens and checks `cfg`'s data and works out the schedule.
    pub fn new(cfg: &TrainConfig) -> Result<(Plan, Splits)> {
        let train =
            PuzzleDataset::open_locations(&cfg.recipe.data_paths, "train").context("opening the training data")?;
        let test = match PuzzleDataset::open_locations(cfg.recipe.test_paths(), "test") {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!("no test split, so no evaluation: {e}");
                None
            }
        };
        let meta = &train.metadata;
        if let Some(t) = &test
            && (t.metadata.seq_len != meta.seq_len || t.metadata.vocab_size != meta.vocab_size)
        {
            return Err(Error::Config(format!(
                "the test data (seq_len {}, vocab_size {}) does not match the training data (seq_len {}, vocab_size {})",
                t.metadata.seq_len, t.metadata.vocab_size, meta.seq_len, meta.vocab_size
            )));
        }
        if let Some(shape) = &cfg.run.data_shape {
            crate::cost::check_shape(shape, meta)
                .with_context(|| format!("data_shape against the data at {}", cfg.recipe.data_paths.join(", ")))?;
        }
        let gbs = cfg.recipe.global_batch_size;
        let total = total_steps(meta, cfg.recipe.epochs as u64, gbs);
        if total == 0 {
            return Err(Error::Config(format!(
                "the run has no step: epochs × groups × examples per puzzle < global_batch_size ({gbs})"
            )));
        }
        let epochs_per_iter = cfg.recipe.eval_interval.unwrap_or(cfg.recipe.epochs);
        let full_depth = Depth { h_cycles: cfg.recipe.arch.h_cycles, l_cycles: cfg.recipe.arch.l_cycles };
        let curriculum = Curriculum::of(&cfg.recipe, total)?;
        if let Some(c) = &curriculum
            && c.depth_at(total - 1) != full_depth
        {
            tracing::warn!(
                "curriculum_end_epoch ({}) is past the run's {} epochs: it ends at {}, not the architecture's {full_depth}",
                cfg.recipe.curriculum_end_epoch.unwrap_or(0),
                cfg.recipe.epochs,
                c.depth_at(total - 1)
            );
        }
        let iterations = cfg.recipe.epochs / epochs_per_iter;
        let plan = Plan { total, epochs_per_iter, iterations, full_depth, curriculum };
        Ok((plan, Splits { train, test }))
    }

    /// The recursion depth step `step` (0-based) trains at.
    pub fn depth_at(&self, step: u64) -> Depth {
        self.curriculum.as_ref().map_or(self.full_depth, |c| c.depth_at(step))
    }
}

/// Refuses what the platform cannot run and warns of what it runs badly.
pub(crate) fn check_platform(recipe: &Recipe, runtime: &Runtime) -> Result<()> {
    if recipe.arch.loss.dtype == FloatType::Float64 && runtime.client().platform_name().eq_ignore_ascii_case("tpu") {
        return Err(Error::Config("arch.loss.dtype float64: TPUs have no f64; use arch.loss.dtype=float32".into()));
    }
    if recipe.arch.forward_dtype == FloatType::Float16 && recipe.loss_scaling == LossScaling::None {
        tracing::warn!(
            "arch.forward_dtype float16 without loss_scaling: dynamic: small gradients may flush to zero \
             and large ones overflow"
        );
    }
    Ok(())
}

/// Refuses a model whose state alone is more than a device's memory, before anything is
/// compiled or allocated. CPU devices share the host's memory: their limit is what it has
/// available.
pub(crate) fn check_device_memory(model: &Trm, runtime: &Runtime, mesh: &MeshConfig) -> Result<()> {
    use ouro_nn::footprint::{Footprint, gib, host_memory_available};
    let shards = if mesh.shard_optimizer_state { mesh.data } else { 1 };
    let footprint = Footprint::of(&model.cfg, &model.dims);
    let need = footprint.min_state_bytes(shards);
    let client = runtime.client();
    let device_limit = client.addressable_devices().first().and_then(|d| d.memory_stats().ok()?.bytes_limit);
    let (limit, what) = match device_limit {
        Some(bytes) => (Some(bytes as f64), format!("a {} device's memory", client.platform_name())),
        None => (host_memory_available(), "the host memory available".to_string()),
    };
    if let Some(limit) = limit.filter(|&limit| need > limit) {
        return Err(Error::Config(format!(
            "config: the training state alone needs at least {} per device (f32 weights, two optimizer moments and \
            an EMA copy of {:.3e} parameters, the puzzle table and buffers), more than the {} of {what}",
            gib(need),
            footprint.trainable,
            gib(limit)
        )));
    }
    Ok(())
}
