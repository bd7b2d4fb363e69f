//! The official training loop (`pretrain.py`): iterations of `eval_interval` epochs, each a
//! pass of the sampler with one compiled step per batch, then an evaluation of the (EMA)
//! weights on the test set. Metrics reach the host one step late, so reading them never stalls
//! the device; they go to `metrics.jsonl` in the run directory beside the resolved config.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ouro_data::sampler::{Batch as HostBatch, Sampler, SamplerConfig};
use ouro_data::{PuzzleDataset, total_steps};
use ouro_nn::{DataDims, FloatType, METRICS, Trm};
use ouro_optim::Schedule;
use ouro_pjrt::{Buffer, Client, Device};
use ouro_runtime::{Runtime, to_host};
use serde_json::{Value, json};

use crate::checkpoint::{MeshPlace, restore, snapshot};
use crate::config::{DATA_AXIS, LossScaling, OptimizerName, TrainConfig};
use crate::curriculum::{Curriculum, Depth, at_depth};
use crate::metrics::MetricsLog;
use crate::state::{init_state, seed_key};
use crate::step::{DataParallel, HALTED_AFTER, LossScale, OptimizerKind, StepConfig, eval_step, train_step};
use crate::weights::{eval_weights, save_weights};

/// How to run besides the config.
#[derive(Clone)]
pub struct RunOptions {
    /// Where the config, metrics and weights go.
    pub run_dir: PathBuf,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Stop after this many steps (smoke runs); the schedule still spans the whole run.
    pub max_steps: Option<u64>,
    /// Replace the metrics of an earlier run in the same directory.
    pub force: bool,
    /// Continue from the latest committed checkpoint (from step 0 if there is none).
    pub resume: bool,
    /// The job's processes when there are several: each saves its parts of a checkpoint and
    /// process 0 commits once all have written.
    pub hosts: Option<Arc<dyn ouro_ckpt::Hosts>>,
    /// Set (by a signal handler) to stop after the current step: the run saves a checkpoint
    /// and returns with [`Summary::stopped`]. In a job of several processes (with
    /// `job_store`), a flag set on any of them stops all of them after one agreed step.
    pub stop: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// The job's key-value store when there are several processes: where they agree on the
    /// step to stop at (see [`crate::preempt`]).
    pub job_store: Option<Arc<dyn ouro_pjrt::KeyValueStore>>,
    /// Called (on process 0) whenever the run directory holds something worth keeping: after
    /// each checkpoint and each evaluation. `ouro run` copies the directory to a remote output
    /// root with it. A failure is logged and the run goes on.
    pub persist: Option<Persist>,
}

/// See [`RunOptions::persist`].
pub type Persist = Arc<dyn Fn() -> Result<()> + Send + Sync>;

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Optimizer steps taken.
    pub steps: u64,
    /// The official step count of the whole run.
    pub total_steps: u64,
    /// Seconds spent compiling (0 on a cache hit).
    pub compile_seconds: f64,
    /// Median seconds per step over the run (the first step excluded).
    pub median_step_seconds: f64,
    /// Training examples per second at the median step time.
    pub examples_per_second: f64,
    /// The last evaluation, `all/exact_accuracy` style keys.
    pub last_eval: BTreeMap<String, f64>,
    /// The step the run resumed from, if it did.
    pub resumed_from: Option<u64>,
    /// Checkpoints committed by this run.
    pub checkpoints: Vec<ouro_ckpt::SaveReport>,
    /// Median seconds a save held the training loop (the device-to-host copy).
    pub median_save_block_seconds: f64,
    /// Whether the run stopped early because `RunOptions::stop` was set.
    pub stopped: bool,
}

/// This process's devices of the data axis, and running a program on them.
pub(crate) struct Devices {
    /// This process's devices, in mesh order.
    devices: Vec<Device>,
    /// This process's place among the processes that feed the mesh, `(index, count)`: host
    /// `index` holds shards `[index · n, (index + 1) · n)` and feeds that slice of every batch.
    host: (usize, usize),
}

impl Devices {
    /// The `mesh`-way data axis: the runtime's mesh order, this process's part of it.
    pub(crate) fn new(runtime: &Runtime, mesh: usize) -> Result<Devices> {
        let devices = runtime.mesh_devices(mesh)?;
        let mut processes = Vec::with_capacity(devices.len());
        for d in &devices {
            processes.push(d.description()?.process_index);
        }
        let (host, local) = host_part(&processes, runtime.client().process_index())?;
        Ok(Devices { devices: local.into_iter().map(|i| devices[i].clone()).collect(), host })
    }

    /// Whether this process writes the run's files (metrics, config, weights).
    fn leader(&self) -> bool {
        self.host.0 == 0
    }

    fn n(&self) -> usize {
        self.devices.len()
    }

    /// Runs the init program from the seed's key on every device: the keys (the step takes
    /// them too), then each device's state and constants in `layout` order.
    #[allow(clippy::type_complexity)]
    pub(crate) fn initial_state(
        &self,
        client: &Client,
        init: &ouro_runtime::Executable,
        layout: &crate::step::StateLayout,
        seed: u64,
    ) -> Result<(Vec<Buffer>, Vec<Vec<Buffer>>, Vec<Vec<Buffer>>)> {
        let keys: Vec<Buffer> =
            self.devices.iter().map(|d| client.buffer_from_host(&seed_key(seed), &[2], d)).collect::<Result<_, _>>()?;
        let mut state = self.exec(init, &keys.iter().map(|k| vec![k]).collect::<Vec<_>>())?;
        let constants = state.iter_mut().map(|s| s.split_off(layout.state.len())).collect();
        Ok((keys, state, constants))
    }

    /// Runs `exe` with `args[d]` on device `d`; results per device.
    pub(crate) fn exec(&self, exe: &ouro_runtime::Executable, args: &[Vec<&Buffer>]) -> Result<Vec<Vec<Buffer>>> {
        if self.n() == 1 { Ok(vec![exe.run(&args[0])?]) } else { Ok(exe.run_sharded(args)?) }
    }

    /// Each device's rows of `batch` (this host's part of the global batch), copied straight to
    /// that device.
    pub(crate) fn upload(&self, client: &Client, batch: &HostBatch) -> Result<Vec<[Buffer; 3]>> {
        let n = self.n();
        let mut out = Vec::with_capacity(n);
        for (d, device) in self.devices.iter().enumerate() {
            let shard = batch.shard(d, n)?;
            let (rows, seq) = (shard.rows as i64, batch.seq_len as i64);
            out.push([
                client.buffer_from_host(shard.inputs, &[rows, seq], device)?,
                client.buffer_from_host(shard.labels, &[rows, seq], device)?,
                client.buffer_from_host(shard.puzzle_identifiers, &[rows], device)?,
            ]);
        }
        Ok(out)
    }
}

/// Given the owning process of each mesh position (grouped by process), this process's
/// `(index, count)` among the processes and its mesh positions.
fn host_part(processes: &[i32], me: i32) -> Result<((usize, usize), Vec<usize>)> {
    let mut hosts = processes.to_vec();
    hosts.dedup();
    let mut sorted = hosts.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != hosts.len() {
        bail!("the mesh interleaves the processes' devices ({processes:?}); each process needs a contiguous run");
    }
    let index = hosts.iter().position(|&p| p == me).ok_or_else(|| anyhow!("process {me} has no device in the mesh"))?;
    let local: Vec<usize> = (0..processes.len()).filter(|&i| processes[i] == me).collect();
    if local.len() * hosts.len() != processes.len() {
        bail!(
            "the {} devices of mesh.data are spread unevenly over {} processes ({} in process {me}); every host needs the same number",
            processes.len(),
            hosts.len(),
            local.len()
        );
    }
    Ok(((index, hosts.len()), local))
}

/// The step's settings from a config, for a run of `total` steps.
pub fn step_config(cfg: &TrainConfig, total: u64) -> StepConfig {
    let schedule = Schedule {
        base: cfg.lr,
        warmup_steps: cfg.lr_warmup_steps,
        total_steps: total as usize,
        min_ratio: cfg.lr_min_ratio,
    };
    StepConfig {
        optimizer: match cfg.optimizer {
            OptimizerName::AdamAtan2 => OptimizerKind::AdamAtan2,
            OptimizerName::Adamw => OptimizerKind::AdamW { eps: cfg.adam_eps },
            OptimizerName::Adam => OptimizerKind::Adam { eps: cfg.adam_eps },
            OptimizerName::Lion => OptimizerKind::Lion,
        },
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        weight_decay: cfg.weight_decay,
        schedule,
        puzzle_schedule: Schedule { base: cfg.puzzle_emb_lr, ..schedule },
        puzzle_weight_decay: cfg.puzzle_emb_weight_decay,
        ema_rate: cfg.ema.then_some(cfg.ema_rate),
        global_batch_size: cfg.global_batch_size,
        total_steps: total as usize,
        halt_exploration_final: if cfg.use_adaptive_halting { cfg.halt_exploration_final } else { None },
        grad_accum_steps: cfg.grad_accum_steps,
        loss_scale: (cfg.loss_scaling == LossScaling::Dynamic)
            .then_some(LossScale { initial: cfg.loss_scale_initial, growth_interval: cfg.loss_scale_growth_interval }),
        parallel: (cfg.mesh.data > 1).then(|| DataParallel {
            axis: DATA_AXIS.to_string(),
            devices: cfg.mesh.data,
            shard_optimizer_state: cfg.mesh.shard_optimizer_state,
        }),
    }
}

/// The model `cfg` describes over the dimensions of its data.
pub(crate) fn model_of(cfg: &TrainConfig, meta: &ouro_data::Metadata) -> Result<Trm> {
    let dims = DataDims {
        batch_size: cfg.global_batch_size,
        seq_len: meta.seq_len,
        vocab_size: meta.vocab_size,
        num_puzzle_identifiers: meta.num_puzzle_identifiers,
    };
    model_at(cfg, dims)
}

/// The model `cfg` trains on data of `dims`, with its memory and speed switches (`remat`,
/// `unroll_cycles`) applied.
pub(crate) fn model_at(cfg: &TrainConfig, dims: DataDims) -> Result<Trm> {
    let mut model = Trm::new(cfg.arch.clone(), dims).map_err(|e| anyhow!("config: {e}"))?;
    model.remat = cfg.remat;
    model.unroll = cfg.unroll_cycles;
    Ok(model)
}

/// What keeps a checkpoint location to one writer for as long as it is held.
enum LocationGuard {
    /// An object store's lease.
    Lease(Arc<ouro_ckpt::Lease>),
    /// A local location outside the run directory: its own lock file, held while this lives.
    Lock { _held: crate::lock::RunLock },
    /// The run directory's `checkpoints/`: the run directory's lock covers it.
    RunDirectory,
}

impl LocationGuard {
    fn lease(&self) -> Option<Arc<ouro_ckpt::Lease>> {
        match self {
            LocationGuard::Lease(lease) => Some(lease.clone()),
            _ => None,
        }
    }
}

/// Takes the checkpoint location for this run: a second writer (another machine resuming the
/// same run, say) is refused naming the first.
fn hold_location(
    options: &RunOptions,
    location: &ouro_store::Location,
    ckpt: &crate::config::CheckpointConfig,
) -> Result<LocationGuard> {
    let Some(dir) = location.local_dir() else {
        let ttl = Duration::from_secs(ckpt.lease_seconds);
        return Ok(LocationGuard::Lease(Arc::new(ouro_ckpt::Lease::acquire(
            location,
            &crate::lock::this_process(),
            ttl,
        )?)));
    };
    let run_dir = options.run_dir.canonicalize().unwrap_or_else(|_| options.run_dir.clone());
    if dir == run_dir.join(crate::config::CHECKPOINTS_DIR) {
        return Ok(LocationGuard::RunDirectory);
    }
    Ok(LocationGuard::Lock { _held: crate::lock::RunLock::acquire(&dir)? })
}

/// How this process learns it is to stop: its own flag, or in a job of several processes the
/// agreement of all of them (a host stopping alone would leave the others in their next step).
fn stop_agreement(
    options: &RunOptions,
    hosts: &dyn ouro_ckpt::Hosts,
    run_key: &str,
) -> Result<Option<crate::preempt::StopAgreement>> {
    use crate::preempt::StopAgreement;
    let Some(flag) = options.stop.clone() else { return Ok(None) };
    if hosts.count() == 1 {
        return Ok(Some(StopAgreement::alone(flag)));
    }
    let Some(store) = options.job_store.clone() else {
        bail!("a job of {} processes was given a stop flag but no key-value store to agree on a stop", hosts.count())
    };
    let prefix = format!("ouro/stop/{run_key}");
    Ok(Some(StopAgreement::in_job(flag, store, hosts.index(), hosts.count(), &prefix)))
}

/// Refuses a model whose state alone is more than a device's memory, before anything is
/// compiled or allocated. CPU devices share the host's memory: their limit is what it has
/// available.
fn check_device_memory(model: &Trm, runtime: &Runtime, mesh: &crate::config::MeshConfig) -> Result<()> {
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
        bail!(
            "config: the training state alone needs at least {} per device (f32 weights, two optimizer moments and \
            an EMA copy of {:.3e} parameters, the puzzle table and buffers), more than the {} of {what}",
            gib(need),
            footprint.trainable,
            gib(limit)
        );
    }
    Ok(())
}

/// The trainer's record in a checkpoint's manifest: what `--resume` needs besides the tensors.
pub(crate) fn run_record(
    cfg: &TrainConfig,
    iteration: usize,
    position: &ouro_data::sampler::SamplerState,
) -> Result<Value> {
    Ok(json!({
        "config": cfg.to_yaml()?,
        "global_batch_size": cfg.global_batch_size,
        "mesh_data": cfg.mesh.data,
        "iteration": iteration,
        "sampler": position,
    }))
}

/// Divides summed train metrics as the official loop logs them: losses by the global batch,
/// the rest (count included) by the number of sequences that halted.
fn train_log(names: &[String], values: &[f64], global_batch: usize) -> Vec<(String, f64)> {
    let count = values[0].max(1.0);
    names
        .iter()
        .zip(values)
        .filter(|(n, _)| n.as_str() != "finite")
        .map(|(n, &v)| {
            let scaled = if ["lr", "loss_scale", "overflow"].contains(&n.as_str()) || n.starts_with(HALTED_AFTER) {
                v
            } else if n.ends_with("loss") {
                v / global_batch as f64
            } else {
                // As official, `count` too: 1 when some sequence halted, else 0.
                v / count
            };
            (format!("train/{n}"), scaled)
        })
        .collect()
}

/// Trains as configured and returns what happened.
pub fn train(runtime: &Runtime, cfg: &TrainConfig, options: &RunOptions) -> Result<Summary> {
    let train_data = PuzzleDataset::open_locations(&cfg.data_paths, "train").context("opening the training data")?;
    let test_data = match PuzzleDataset::open_locations(cfg.test_paths(), "test") {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!("no test split, so no evaluation: {e}");
            None
        }
    };
    let meta = train_data.metadata.clone();
    if let Some(t) = &test_data
        && (t.metadata.seq_len != meta.seq_len || t.metadata.vocab_size != meta.vocab_size)
    {
        bail!(
            "the test data (seq_len {}, vocab_size {}) does not match the training data (seq_len {}, vocab_size {})",
            t.metadata.seq_len,
            t.metadata.vocab_size,
            meta.seq_len,
            meta.vocab_size
        );
    }
    if let Some(shape) = &cfg.data_shape {
        crate::cost::check_shape(shape, &meta)
            .with_context(|| format!("data_shape against the data at {}", cfg.data_paths.join(", ")))?;
    }
    let gbs = cfg.global_batch_size;
    let model = model_of(cfg, &meta)?;
    let client = runtime.client();
    if cfg.arch.loss.dtype == FloatType::Float64 && client.platform_name().eq_ignore_ascii_case("tpu") {
        bail!("arch.loss.dtype float64: TPUs have no f64; use arch.loss.dtype=float32");
    }
    if cfg.arch.forward_dtype == FloatType::Float16 && cfg.loss_scaling == LossScaling::None {
        tracing::warn!(
            "arch.forward_dtype float16 without loss_scaling: dynamic: small gradients may flush to zero \
             and large ones overflow"
        );
    }
    let total = total_steps(&meta, cfg.epochs as u64, gbs);
    if total == 0 {
        bail!("the run has no step: epochs × groups × examples per puzzle < global_batch_size ({gbs})");
    }
    let epochs_per_iter = cfg.eval_interval.unwrap_or(cfg.epochs);
    let iterations = cfg.epochs / epochs_per_iter;

    // Compile everything first, so a bad program fails before any data moves.
    let started = Instant::now();
    let dp = Devices::new(runtime, cfg.mesh.data).context("placing mesh.data on the devices")?;
    let n = dp.n();
    check_device_memory(&model, runtime, &cfg.mesh)?;
    // Process 0 writes the run directory: one writer at a time, before anything is compiled.
    let _lock = if dp.leader() { Some(crate::lock::RunLock::acquire(&options.run_dir)?) } else { None };
    let step_cfg = step_config(cfg, total);
    let parallel = step_cfg.parallel.as_ref();
    let options_lower = cfg.lower_options();
    // The architecture's depth; a curriculum adds programs for its shallower depths below.
    let step = train_step(&model, &step_cfg, gbs)?;
    let init = init_state(&model, &step.layout, gbs, parallel)?;
    let eval = eval_step(&model, gbs, parallel)?;
    let full_depth = Depth { h_cycles: cfg.arch.h_cycles, l_cycles: cfg.arch.l_cycles };
    let curriculum = Curriculum::of(cfg, total)?;
    if let Some(c) = &curriculum
        && c.depth_at(total - 1) != full_depth
    {
        tracing::warn!(
            "curriculum_end_epoch ({}) is past the run's {} epochs: it ends at {}, not the architecture's {full_depth}",
            cfg.curriculum_end_epoch.unwrap_or(0),
            cfg.epochs,
            c.depth_at(total - 1)
        );
    }
    let mut programs = DepthPrograms::new(runtime, cfg, &meta, &step_cfg);
    programs.train.insert(full_depth, runtime.compile(&step.func, &options_lower)?);
    let init_exe = runtime.compile(&init, &options_lower)?;
    programs.eval.insert(full_depth, runtime.compile(&eval.func, &options_lower)?);
    let compile_seconds = started.elapsed().as_secs_f64();
    tracing::info!(compile_seconds, total_steps = total, "compiled the train, init and eval steps");

    let (keys, mut state, mut constants) = dp.initial_state(client, &init_exe, &step.layout, cfg.seed)?;

    let (host, hosts) = dp.host;
    let mut sampler =
        Sampler::new(Arc::new(train_data), SamplerConfig { seed: cfg.seed, global_batch_size: gbs, epochs_per_iter })?
            .for_host(host, hosts)?;
    let test_sampler = match test_data {
        Some(d) => Some(
            Sampler::new(Arc::new(d), SamplerConfig { seed: cfg.seed, global_batch_size: gbs, epochs_per_iter: 1 })?
                .for_host(host, hosts)?,
        ),
        None => None,
    };

    // Checkpoints: resume from the newest intact one, then save as configured.
    let ckpt = &cfg.checkpoint;
    let ckpt_url = cfg.checkpoint_location(&options.run_dir);
    let ckpt_location = ouro_store::Location::open(&ckpt_url)
        .with_context(|| format!("opening the checkpoint location {}", ouro_store::redact(&ckpt_url)))?;
    // One writer per location too (it may be shared by runs, or live outside the run directory).
    let location_guard = if dp.leader() { Some(hold_location(options, &ckpt_location, ckpt)?) } else { None };
    let place = MeshPlace { devices: cfg.mesh.data, first: host * n, leader: dp.leader() };
    let mut steps = 0u64;
    let mut first_iteration = 0;
    let mut summary = Summary { total_steps: total, compile_seconds, ..Summary::default() };
    let saving_hosts: Arc<dyn ouro_ckpt::Hosts> = match (&options.hosts, hosts) {
        (_, 1) => Arc::new(ouro_ckpt::OneHost),
        (Some(h), n) if h.count() == n && h.index() == host => h.clone(),
        (Some(h), n) => bail!(
            "the mesh is fed by {n} processes with this one as {host}, but the job is {h:?}: \
             every process of the job must feed the mesh, in process order"
        ),
        (None, n) => bail!("the mesh is fed by {n} processes but this run was given no job to save checkpoints with"),
    };
    if options.resume {
        let restored =
            resume(&ckpt_location, &step.layout, &mut state, &mut constants, &dp, client, parallel, place, gbs)?;
        match restored {
            Some(r) => {
                agree_on_resumed_step(saving_hosts.as_ref(), &ckpt_url, r.step)?;
                sampler.restore(r.sampler).context("restoring the sampler's position")?;
                (steps, first_iteration) = (r.step, r.iteration);
                summary.resumed_from = Some(r.step);
                tracing::info!(step = r.step, location = %ckpt_url, "resumed");
            }
            None => {
                agree_on_resumed_step(saving_hosts.as_ref(), &ckpt_url, 0)?;
                tracing::warn!(location = %ckpt_url, "--resume: no committed checkpoint there; starting from step 0")
            }
        }
    }
    let stop = stop_agreement(options, saving_hosts.as_ref(), &ckpt_url)?;
    let mut checkpoints = Checkpoints {
        cfg,
        layout: &step.layout,
        parallel,
        place,
        saver: ouro_ckpt::Saver::new(
            ckpt_location,
            ouro_ckpt::Layout::default(),
            ouro_ckpt::Retention { keep_last: ckpt.keep_last, keep_every: ckpt.keep_every },
        )
        .on_hosts(saving_hosts.clone()),
        lease: location_guard.as_ref().and_then(LocationGuard::lease),
        held: Vec::new(),
        reports: Vec::new(),
        last_saved: steps,
    };

    // Process 0 writes the run's files; the other hosts compute the same replicated values.
    let mut metrics_log = if dp.leader() {
        let metrics_path = options.run_dir.join("metrics.jsonl");
        if let Some(step) = summary.resumed_from {
            truncate_metrics(&metrics_path, step)?;
        } else if options.resume {
            // Nothing committed to resume from (killed during the first save): the run starts
            // over, and records no checkpoint backs are dropped as on any resume.
            truncate_metrics(&metrics_path, 0)?;
        } else if trained_steps_logged(&metrics_path) > 0 && !options.force {
            // A log without a step (a run stopped while it compiled) is no run to keep.
            bail!(
                "{} already holds a run's metrics; choose another run directory or pass --force to replace them",
                options.run_dir.display()
            );
        }
        std::fs::create_dir_all(&options.run_dir)
            .with_context(|| format!("creating the run directory {}", options.run_dir.display()))?;
        let yaml = cfg.to_yaml()?;
        let config_path = options.run_dir.join("config.yaml");
        std::fs::write(&config_path, &yaml).with_context(|| format!("writing {}", config_path.display()))?;
        let mut log = MetricsLog::open(&options.run_dir, summary.resumed_from.is_none())?;
        log.text(steps, "config", &format!("```yaml\n{yaml}```"))?;
        log
    } else {
        MetricsLog::sink()
    };
    let limit = options.max_steps.map_or(total, |m| m.min(total));
    // Every depth the remaining steps meet is compiled before the first of them runs.
    if let Some(c) = &curriculum {
        let started = Instant::now();
        for (depth, count) in c.spans(steps, limit) {
            tracing::info!(%depth, steps = count, "recursion-depth curriculum");
            programs.train_program(depth)?;
        }
        summary.compile_seconds += started.elapsed().as_secs_f64();
    }
    // Achieved FLOP/s and MFU: the step's matmul FLOPs, against the devices' peak when known.
    let kind = client.devices().first().map(|d| d.description().map(|d| d.kind)).transpose()?.unwrap_or_default();
    let peak = crate::target::peak_flops(&kind).map(|p| p * cfg.mesh.data as f64);

    let bar = ProgressBar::with_draw_target(
        Some(limit),
        if options.progress && dp.leader() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise} < {eta_precise}]")
            .expect("a valid template"),
    );

    // Metrics not read yet: the step, its metrics buffer, and its depth.
    let mut pending: Vec<(u64, Buffer, Depth)> = Vec::new();
    let mut step_times = Vec::new();
    let mut last = Instant::now();
    // The sampler's position after the last batch trained on (the sampler itself may be one
    // batch further when the run stops at its step limit).
    let mut trained_position = sampler.state().clone();
    // The iteration that batch belongs to: a resumed run re-enters it, and the sampler then
    // ends its pass (and evaluates) exactly where the uninterrupted run did.
    let mut trained_iteration = first_iteration;
    bar.set_position(steps);
    let names = &step.layout.metrics;
    let halt_sums = std::cell::RefCell::new(Vec::<f64>::new());
    let halted_prefix = format!("train/{HALTED_AFTER}");
    let report = |steps: u64, buffer: &Buffer, depth: Depth, bar: &ProgressBar, file: &mut MetricsLog| -> Result<()> {
        let values = to_host(buffer)?.to_f64_vec();
        if values[names.len() - 1] != 1.0 {
            bail!(
                "step {steps}: the loss or a gradient is not finite (lm_loss sum {}); the state on device \
                 is that of step {} and no further update was applied",
                values[5],
                steps - 1
            );
        }
        let (halts, mut logged): (Vec<_>, Vec<_>) =
            train_log(names, &values, gbs).into_iter().partition(|(n, _)| n.starts_with(&halted_prefix));
        if curriculum.is_some() {
            logged.push(("train/h_cycles".into(), depth.h_cycles as f64));
            logged.push(("train/l_cycles".into(), depth.l_cycles as f64));
        }
        file.record(steps, "", &logged)?;
        // Halting counts are summed over the throughput interval into one histogram.
        let mut sums = halt_sums.borrow_mut();
        sums.resize(halts.len(), 0.0);
        for (sum, (_, c)) in sums.iter_mut().zip(&halts) {
            *sum += c;
        }
        if steps.is_multiple_of(THROUGHPUT_EVERY) {
            let counts: Vec<(f64, f64)> = sums.iter().enumerate().map(|(k, &c)| ((k + 1) as f64, c)).collect();
            file.histogram(steps, "train/halt_steps", &counts)?;
            sums.iter_mut().for_each(|c| *c = 0.0);
        }
        let get = |k: &str| logged.iter().find(|(n, _)| n == k).map_or(f64::NAN, |(_, v)| *v);
        bar.set_message(format!("loss {:.4}  exact {:.3}", get("train/lm_loss"), get("train/exact_accuracy")));
        Ok(())
    };

    'outer: for iteration in first_iteration..iterations {
        while let Some(batch) = sampler.next_train() {
            if steps >= limit {
                break 'outer;
            }
            if stop.as_ref().map_or(Ok(false), |s| s.stop_before(steps))? {
                tracing::warn!(step = steps, "stopping on request; saving a checkpoint first");
                summary.stopped = true;
                break 'outer;
            }
            let batch_buffers = dp.upload(client, &batch)?;
            let args: Vec<Vec<&Buffer>> = (0..n)
                .map(|d| {
                    let mut a: Vec<&Buffer> = state[d].iter().collect();
                    a.extend(constants[d].iter());
                    a.push(&keys[d]);
                    a.extend(batch_buffers[d].iter());
                    a
                })
                .collect();
            let depth = curriculum.as_ref().map_or(full_depth, |c| c.depth_at(steps));
            let exe = programs.train_program(depth)?;
            let mut out = dp.exec(&exe, &args)?;
            steps += 1;
            // The metrics are replicated: device 0's copy is read.
            let metrics: Vec<Buffer> = out.iter_mut().map(|o| o.pop().expect("the metrics output")).collect();
            pending.push((steps, metrics.into_iter().next().expect("a device"), depth));
            state = out;
            if let Some(position) = &batch.state_after {
                trained_position = position.clone();
            }
            trained_iteration = iteration;
            if ckpt.every_steps > 0 && steps.is_multiple_of(ckpt.every_steps) {
                // The metrics so far go to disk first, so a resumed run's log has no gap.
                for (s, m, d) in pending.drain(..) {
                    report(s, &m, d, &bar, &mut metrics_log)?;
                }
                metrics_log.flush()?;
                checkpoints.save(&state, &constants, steps, iteration, &trained_position)?;
                persist(options, dp.leader(), "checkpoint");
                last = Instant::now();
            }
            // Read the previous step's metrics while this one runs.
            if pending.len() > 1 {
                let (s, m, d) = pending.remove(0);
                report(s, &m, d, &bar, &mut metrics_log)?;
                let now = Instant::now();
                step_times.push(now.duration_since(last).as_secs_f64());
                last = now;
                // The bar shows the rate of the last steps; the run's median is taken once, at the end.
                let recent = &step_times[step_times.len().saturating_sub(RATE_WINDOW)..];
                if s.is_multiple_of(THROUGHPUT_EVERY) {
                    let seconds = median(recent);
                    let step_flops = programs.flops(d)?;
                    let mut values = vec![
                        ("throughput/examples_per_second".to_string(), gbs as f64 / seconds),
                        ("throughput/step_seconds".to_string(), seconds),
                        ("throughput/tflops".to_string(), step_flops / seconds / 1e12),
                    ];
                    if let Some(peak) = peak {
                        values.push(("throughput/mfu".to_string(), step_flops / seconds / peak));
                    }
                    metrics_log.record(s, "", &values)?;
                }
                bar.set_position(s);
                bar.set_message(format!("{}  {:.0} ex/s", bar.message(), gbs as f64 / median(recent)));
            }
        }
        for (s, m, d) in pending.drain(..) {
            report(s, &m, d, &bar, &mut metrics_log)?;
        }
        if iteration >= cfg.min_eval_interval
            && let Some(test) = &test_sampler
        {
            // The model is evaluated at the depth it was last trained at.
            let depth = curriculum.as_ref().map_or(full_depth, |c| c.depth_at(steps.saturating_sub(1)));
            let eval_exe = programs.eval_program(depth)?;
            let place = EvalPlace { client, devices: &dp, hosts: saving_hosts.as_ref(), step: steps };
            let results = evaluate(cfg, &eval, &eval_exe, &step.layout, &state, &constants, test, &place)?;
            let values: Vec<(String, f64)> = results.iter().map(|(k, v)| (k.clone(), *v)).collect();
            metrics_log.record(steps, "eval/", &values)?;
            metrics_log.flush()?;
            tracing::info!(step = steps, ?results, "evaluated");
            summary.last_eval = results;
            if dp.leader() && (cfg.checkpoint_every_eval || iteration + 1 == iterations) {
                let path = options.run_dir.join(format!("step_{steps}.safetensors"));
                let buffers = eval_weights(cfg.ema, &eval.weights, &step.layout, &state[0], &constants[0])?;
                save_weights(&path, &eval.weights, &buffers)?;
                tracing::info!(path = %path.display(), "saved the evaluated weights");
            }
            persist(options, dp.leader(), "evaluation");
        }
    }
    for (s, m, d) in pending.drain(..) {
        report(s, &m, d, &bar, &mut metrics_log)?;
    }
    metrics_log.flush()?;
    if steps > checkpoints.last_saved {
        // The end of this invocation (the run, or its --max-steps): always resumable.
        checkpoints.save(&state, &constants, steps, trained_iteration, &trained_position)?;
    }
    summary.median_save_block_seconds = median(&checkpoints.held);
    summary.checkpoints = checkpoints.finish()?;
    bar.finish();
    summary.steps = steps;
    // The first interval includes the pipeline filling; the median ignores it.
    summary.median_step_seconds = median(&step_times);
    summary.examples_per_second = gbs as f64 / summary.median_step_seconds;
    Ok(summary)
}

/// The compiled train and eval steps of each recursion depth a run meets (one without a
/// curriculum), compiled on first use, with each train step's matmul FLOPs for MFU.
struct DepthPrograms<'a> {
    runtime: &'a Runtime,
    cfg: &'a TrainConfig,
    meta: &'a ouro_data::Metadata,
    step_cfg: &'a StepConfig,
    train: BTreeMap<Depth, Arc<ouro_runtime::Executable>>,
    eval: BTreeMap<Depth, Arc<ouro_runtime::Executable>>,
    flops: BTreeMap<Depth, f64>,
}

impl<'a> DepthPrograms<'a> {
    fn new(
        runtime: &'a Runtime,
        cfg: &'a TrainConfig,
        meta: &'a ouro_data::Metadata,
        step_cfg: &'a StepConfig,
    ) -> DepthPrograms<'a> {
        DepthPrograms {
            runtime,
            cfg,
            meta,
            step_cfg,
            train: BTreeMap::new(),
            eval: BTreeMap::new(),
            flops: BTreeMap::new(),
        }
    }

    fn model(&self, depth: Depth) -> Result<Trm> {
        model_of(&at_depth(self.cfg, depth), self.meta).with_context(|| format!("the model at {depth}"))
    }

    fn train_program(&mut self, depth: Depth) -> Result<Arc<ouro_runtime::Executable>> {
        if let Some(exe) = self.train.get(&depth) {
            return Ok(exe.clone());
        }
        let step = train_step(&self.model(depth)?, self.step_cfg, self.cfg.global_batch_size)?;
        let exe = self.runtime.compile(&step.func, &self.cfg.lower_options())?;
        self.train.insert(depth, exe.clone());
        Ok(exe)
    }

    fn eval_program(&mut self, depth: Depth) -> Result<Arc<ouro_runtime::Executable>> {
        if let Some(exe) = self.eval.get(&depth) {
            return Ok(exe.clone());
        }
        let eval = eval_step(&self.model(depth)?, self.cfg.global_batch_size, self.step_cfg.parallel.as_ref())?;
        let exe = self.runtime.compile(&eval.func, &self.cfg.lower_options())?;
        self.eval.insert(depth, exe.clone());
        Ok(exe)
    }

    /// Matmul FLOPs of one train step at `depth`.
    fn flops(&mut self, depth: Depth) -> Result<f64> {
        if let Some(&f) = self.flops.get(&depth) {
            return Ok(f);
        }
        let model = self.model(depth)?;
        let f = crate::cost::train_step_flops(&at_depth(self.cfg, depth), &model.dims)? as f64;
        self.flops.insert(depth, f);
        Ok(f)
    }
}

/// Runs the persist hook on the process that writes the run directory; a failure is a warning.
fn persist(options: &RunOptions, leader: bool, after: &str) {
    if let (Some(hook), true) = (&options.persist, leader)
        && let Err(e) = hook()
    {
        tracing::warn!("copying the run directory after the {after} failed (the run goes on): {e:#}");
    }
}

/// Every host must have restored the same step (each picks the newest step it can read, so
/// damage seen by one host only would split them).
fn agree_on_resumed_step(hosts: &dyn ouro_ckpt::Hosts, location: &str, step: u64) -> Result<()> {
    if hosts.count() == 1 {
        return Ok(());
    }
    let all = hosts
        .all_gather(&format!("resume/{location}"), step.to_string().as_bytes())
        .map_err(|e| anyhow!("agreeing on the step to resume from: {e}"))?;
    let steps: Vec<String> = all.iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect();
    if steps.iter().any(|s| *s != steps[0]) {
        bail!(
            "the hosts resumed from different steps of {location} ({steps:?}, by process): run `ouro ckpt verify` on it"
        );
    }
    Ok(())
}

/// What a resumed run continues from.
struct Restored {
    step: u64,
    iteration: usize,
    sampler: ouro_data::sampler::SamplerState,
}

/// Loads the newest intact committed step into `state`/`constants`, falling back to older ones
/// when a step is damaged (and saying so). A checkpoint of another config is refused outright.
#[allow(clippy::too_many_arguments)]
fn resume(
    location: &ouro_store::Location,
    layout: &crate::step::StateLayout,
    state: &mut [Vec<Buffer>],
    constants: &mut [Vec<Buffer>],
    dp: &Devices,
    client: &Client,
    parallel: Option<&DataParallel>,
    place: MeshPlace,
    gbs: usize,
) -> Result<Option<Restored>> {
    let steps = ouro_ckpt::committed(location)?;
    for (k, &number) in steps.iter().enumerate() {
        let attempt = (|| -> Result<Restored> {
            let step = ouro_ckpt::Step::open(location, number)?;
            let run = &step.manifest.run;
            let saved_gbs = run["global_batch_size"].as_u64().unwrap_or(0) as usize;
            if saved_gbs != gbs {
                bail!(
                    "{} was saved at global_batch_size {saved_gbs}, this run's is {gbs}: the batches would differ",
                    step.url()
                );
            }
            let sampler = serde_json::from_value(run["sampler"].clone())
                .with_context(|| format!("{}: the sampler position", step.url()))?;
            let iteration = run["iteration"].as_u64().unwrap_or(0) as usize;
            restore(&step, &layout.state, &layout.constants, state, constants, &dp.devices, client, parallel, place)?;
            Ok(Restored { step: number, iteration, sampler })
        })();
        match attempt {
            Ok(r) => return Ok(Some(r)),
            // Damage or an unreadable store: an older step may still be good.
            Err(e)
                if e.downcast_ref::<ouro_ckpt::Error>()
                    .is_some_and(|c| !matches!(c, ouro_ckpt::Error::Mismatch(_))) =>
            {
                match steps.get(k + 1) {
                    Some(previous) => {
                        tracing::warn!("step_{number} cannot be restored ({e:#}); falling back to step_{previous}");
                    }
                    None => {
                        return Err(
                            e.context(format!("step_{number} cannot be restored and no older step is committed"))
                        );
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// The run's saves: each copies the state to the host (all it holds the loop for, timed) and
/// hands it to the background saver.
struct Checkpoints<'a> {
    cfg: &'a TrainConfig,
    layout: &'a crate::step::StateLayout,
    parallel: Option<&'a DataParallel>,
    place: MeshPlace,
    saver: ouro_ckpt::Saver,
    /// The location's lease on an object store: a save checks it is still this run's.
    lease: Option<Arc<ouro_ckpt::Lease>>,
    /// Seconds each save held the loop.
    held: Vec<f64>,
    /// Saves committed so far.
    reports: Vec<ouro_ckpt::SaveReport>,
    /// The last step handed over (or resumed from).
    last_saved: u64,
}

impl Checkpoints<'_> {
    /// Saves the state after step `steps`, whose batch belongs to `iteration` and left the
    /// sampler at `position`.
    fn save(
        &mut self,
        state: &[Vec<Buffer>],
        constants: &[Vec<Buffer>],
        steps: u64,
        iteration: usize,
        position: &ouro_data::sampler::SamplerState,
    ) -> Result<()> {
        // The step that produced the state may still be running: its time is the step's, not
        // the save's (the loop waits for it anyway when it reads that step's metrics).
        for buffer in state.iter().flatten() {
            buffer.block_until_ready()?;
        }
        if let Some(lease) = &self.lease {
            lease.check()?;
        }
        let started = Instant::now();
        let (cfg, layout) = (self.cfg, self.layout);
        let tensors = snapshot(
            &layout.state,
            &layout.constants,
            state,
            constants,
            self.parallel,
            self.place,
            cfg.checkpoint.save_carry,
        )?;
        self.held.push(started.elapsed().as_secs_f64());
        let run = run_record(cfg, iteration, position)?;
        self.reports.extend(self.saver.submit(ouro_ckpt::SaveJob { step: steps, tensors, run })?);
        self.last_saved = steps;
        Ok(())
    }

    /// Waits for the save in flight; every save's report.
    fn finish(mut self) -> Result<Vec<ouro_ckpt::SaveReport>> {
        self.reports.extend(self.saver.wait()?);
        Ok(self.reports)
    }
}

/// How many train steps `path` (a run's `metrics.jsonl`) records; 0 when it is missing.
fn trained_steps_logged(path: &std::path::Path) -> usize {
    let Ok(text) = std::fs::read_to_string(path) else { return 0 };
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| record.get("train/lm_loss").is_some())
        .count()
}

/// Drops what an interrupted run logged past step `step`: its train lines after it and its
/// evaluations from it on (the resumed run logs them again).
fn truncate_metrics(path: &std::path::Path, step: u64) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let mut kept = String::new();
    for line in text.lines() {
        let Ok(record) = serde_json::from_str::<Value>(line) else { continue };
        let at = record["step"].as_u64().unwrap_or(u64::MAX);
        let is_train = record.get("train/lm_loss").is_some();
        if (is_train && at <= step) || (!is_train && at < step) {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    // Whole or not at all: a kill mid-rewrite must not lose the records kept.
    let tmp = path.with_extension("jsonl.tmp");
    std::fs::write(&tmp, kept).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} into place", tmp.display()))
}

/// Steps whose median rate the progress bar shows.
const RATE_WINDOW: usize = 64;

/// Steps between throughput records.
const THROUGHPUT_EVERY: u64 = 10;

fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Where an evaluation runs: this host's devices, and the job's hosts the ARC evaluator
/// gathers every host's predictions from.
struct EvalPlace<'a> {
    client: &'a Client,
    devices: &'a Devices,
    hosts: &'a dyn ouro_ckpt::Hosts,
    /// The step evaluated, naming the exchanges.
    step: u64,
}

/// The official `evaluate`: every test batch through the eval step with the EMA weights (or the
/// raw ones), metrics summed per set and divided by the count. Over several hosts, the ARC
/// evaluator sees every host's rows of each batch, in global order.
#[allow(clippy::too_many_arguments)]
fn evaluate(
    cfg: &TrainConfig,
    eval: &crate::step::EvalStep,
    exe: &ouro_runtime::Executable,
    layout: &crate::step::StateLayout,
    state: &[Vec<Buffer>],
    constants: &[Vec<Buffer>],
    test: &Sampler,
    place: &EvalPlace<'_>,
) -> Result<BTreeMap<String, f64>> {
    let (client, dp) = (place.client, place.devices);
    let weights: Vec<Vec<&Buffer>> = (0..dp.n())
        .map(|d| eval_weights(cfg.ema, &eval.weights, layout, &state[d], &constants[d]))
        .collect::<Result<_>>()?;
    let mut sums: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let max_batches = cfg.eval_max_batches.unwrap_or(usize::MAX);
    let mut arc = match cfg.evaluators.first() {
        Some(_) => {
            let path = ouro_data::remote::resolve(&cfg.test_paths()[0])?;
            Some(ouro_data::eval::ArcEvaluator::open(&path, 0)?)
        }
        None => None,
    };
    if let Some(a) = arc.as_mut() {
        a.begin_eval();
    }
    for (index, batch) in test.test_batches().take(max_batches).enumerate() {
        let buffers = dp.upload(client, &batch)?;
        let args: Vec<Vec<&Buffer>> = (0..dp.n())
            .map(|d| {
                let mut a = weights[d].clone();
                a.extend(buffers[d].iter());
                a
            })
            .collect();
        let out = dp.exec(exe, &args)?;
        let values = to_host(&out[0][2])?.to_f64_vec();
        let entry = sums.entry(batch.set.clone()).or_insert_with(|| vec![0.0; values.len()]);
        for (s, v) in entry.iter_mut().zip(values) {
            *s += v;
        }
        if let Some(a) = arc.as_mut() {
            // Predictions are split over the devices in batch order.
            let mut rows = crate::gather::EvalRows {
                seq_len: batch.seq_len,
                inputs: batch.inputs.clone(),
                puzzle_identifiers: batch.puzzle_identifiers.clone(),
                ..Default::default()
            };
            for o in &out {
                rows.preds.extend(to_host(&o[0])?.to_i64_vec().into_iter().map(|v| v as i32));
                rows.q_halt.extend(to_host(&o[1])?.to_f64_vec().into_iter().map(|v| v as f32));
            }
            if place.hosts.count() > 1 {
                let name = |i: usize| format!("eval/{}/{i}", place.step);
                rows = crate::gather::gather_rows(place.hosts, &name(index), &rows)?;
                // This exchange completed, so every host has read the one before.
                if index > 0 {
                    place.hosts.forget(&name(index - 1)).map_err(|e| anyhow!("{e}"))?;
                }
            }
            a.update(&rows.inputs, &rows.preds, &rows.puzzle_identifiers, &rows.q_halt)?;
        }
    }
    let mut results = BTreeMap::new();
    for (set, values) in sums {
        let count = values[0].max(1.0);
        for (name, v) in METRICS.iter().zip(values).skip(1) {
            results.insert(format!("{set}/{name}"), v / count);
        }
        results.insert(format!("{set}/count"), count);
    }
    if let Some(a) = arc {
        for (name, v) in a.result().0 {
            results.insert(name, v);
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_host_owns_a_contiguous_slice_of_the_mesh() {
        assert_eq!(host_part(&[0, 0, 0, 0], 0).unwrap(), ((0, 1), vec![0, 1, 2, 3]));
        assert_eq!(host_part(&[0, 0, 1, 1], 1).unwrap(), ((1, 2), vec![2, 3]));
        // Process indices need not start at 0 or be consecutive.
        assert_eq!(host_part(&[4, 4, 7, 7, 9, 9], 7).unwrap(), ((1, 3), vec![2, 3]));
        for (processes, me, want) in [
            (vec![0, 1, 1], 1, "spread unevenly over 2 processes (2 in process 1)"),
            (vec![0, 1, 0, 1], 0, "interleaves"),
            (vec![0, 0], 3, "process 3 has no device"),
        ] {
            let e = host_part(&processes, me).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
