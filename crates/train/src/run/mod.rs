//! The official training loop (`pretrain.py`): iterations of `eval_interval` epochs, each a
//! pass of the sampler with one compiled step per batch, then an evaluation of the (EMA)
//! weights on the test set. Metrics reach the host one step late, so reading them never stalls
//! the device; they go to `metrics.jsonl` in the run directory beside the resolved config.
//!
//! Along the data flow: [`plan`] (data, model, schedule, refusals), [`programs`] (compiled
//! steps by depth), [`resume`] (the checkpoint location, its writer, continuing), the loop
//! here, [`log`] (metrics, throughput, progress), [`evaluate`], [`saves`] (checkpoints).

mod evaluate;
mod log;
mod plan;
mod programs;
mod resume;
mod saves;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ouro_data::sampler::{Batch as HostBatch, Sampler, SamplerConfig, SamplerState};
use ouro_nn::ParamSpec;
use ouro_pjrt::Client;
use ouro_runtime::Runtime;

pub use plan::step_config;
pub(crate) use plan::{compiler_of, model_at, model_of};
pub(crate) use saves::run_record;

use crate::checkpoint::MeshPlace;
use crate::config::{Recipe, TrainConfig};
use crate::devices::{DeviceState, Devices};
use crate::error::{Context, Result};
use crate::preempt::StopAgreement;
use crate::state::StateLayout;
use crate::step::{StepConfig, eval_step, train_step};
use crate::weights::save_weights;
use evaluate::{EvalPlace, evaluate};
use log::{StepLog, median};
use plan::{Plan, Splits};
use programs::DepthPrograms;
use resume::LocationGuard;
use saves::{Checkpoints, SavePoint};

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
    /// When `max_steps` ends the run before it has evaluated at all, evaluate once first (a
    /// validation run checks the eval step that a long run first meets hours in).
    pub evaluate_at_limit: bool,
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

/// Trains as configured and returns what happened.
pub fn train(runtime: &Runtime, cfg: &TrainConfig, options: &RunOptions) -> Result<Summary> {
    let (plan, splits) = Plan::new(cfg)?;
    let meta = splits.train.metadata.clone();
    let model = model_of(&cfg.recipe, &cfg.run, &meta, runtime)?;
    plan::check_platform(&cfg.recipe, runtime)?;
    // Compile everything first, so a bad program fails before any data moves.
    let started = Instant::now();
    let dp = Devices::new(runtime, cfg.recipe.mesh.data).context("placing mesh.data on the devices")?;
    plan::check_device_memory(&model, runtime, &cfg.recipe.mesh)?;
    // Process 0 writes the run directory: one writer at a time, before anything is compiled.
    let _lock = if dp.leader() { Some(crate::lock::RunLock::acquire(&options.run_dir)?) } else { None };
    let step_cfg = step_config(&cfg.recipe, plan.total);
    let gbs = cfg.recipe.global_batch_size;
    let options_lower = cfg.recipe.lower_options();
    // The architecture's depth; a curriculum adds programs for its shallower depths later.
    let step = train_step(&model, &step_cfg, gbs)?;
    let init = crate::init::init_state(&model, &step.layout, gbs, step_cfg.parallel.as_ref())?;
    let eval = eval_step(&model, gbs, step_cfg.parallel.as_ref())?;
    let mut programs = DepthPrograms::new(runtime, cfg, &meta, &step_cfg);
    programs.train.insert(plan.full_depth, runtime.compile(&step.func, &options_lower)?);
    let init_exe = runtime.compile(&init, &options_lower)?;
    programs.eval.insert(plan.full_depth, runtime.compile(&eval.func, &options_lower)?);
    let compile_seconds = started.elapsed().as_secs_f64();
    tracing::info!(compile_seconds, total_steps = plan.total, "compiled the train, init and eval steps");
    let values = dp.initial_state(runtime.client(), &init_exe, &step.layout, cfg.recipe.seed)?;
    let summary = Summary { total_steps: plan.total, compile_seconds, ..Summary::default() };
    let setup = Setup { runtime, cfg, options, step_cfg: &step_cfg, layout: &step.layout, eval_specs: &eval.weights };
    let mut run = Run::start(setup, (plan, splits), dp, programs, values, summary)?;
    run.train_all()?;
    run.finish()
}

/// This host's samplers of the training split (`epochs_per_iter` a pass) and of the test split.
fn samplers(
    recipe: &Recipe,
    splits: Splits,
    epochs_per_iter: usize,
    (host, hosts): (usize, usize),
) -> Result<(Sampler, Option<Sampler>)> {
    let sampler_of = |data: ouro_data::PuzzleDataset, epochs_per_iter: usize| -> Result<Sampler> {
        let config = SamplerConfig { seed: recipe.seed, global_batch_size: recipe.global_batch_size, epochs_per_iter };
        Ok(Sampler::new(Arc::new(data), config)?.for_host(host, hosts)?)
    };
    let train = sampler_of(splits.train, epochs_per_iter)?;
    Ok((train, splits.test.map(|d| sampler_of(d, 1)).transpose()?))
}

/// What every part of a run reads.
#[derive(Clone, Copy)]
struct Setup<'a> {
    runtime: &'a Runtime,
    cfg: &'a TrainConfig,
    options: &'a RunOptions,
    step_cfg: &'a StepConfig,
    layout: &'a StateLayout,
    /// The eval step's weight arguments.
    eval_specs: &'a [ParamSpec],
}

/// A run under way: its devices and state, its data, its programs, its saves and its log.
struct Run<'a> {
    setup: Setup<'a>,
    plan: Plan,
    dp: Devices,
    programs: DepthPrograms<'a>,
    values: DeviceState,
    sampler: Sampler,
    test_sampler: Option<Sampler>,
    hosts: Arc<dyn ouro_ckpt::Hosts>,
    stop: Option<StopAgreement>,
    checkpoints: Checkpoints<'a>,
    _location: Option<LocationGuard>,
    log: StepLog,
    /// Steps taken.
    steps: u64,
    /// The iteration a (resumed) run starts in.
    first_iteration: usize,
    /// The sampler's position after the last batch trained on (the sampler itself may be one
    /// batch further when the run stops at its step limit).
    trained_position: SamplerState,
    /// The iteration that batch belongs to: a resumed run re-enters it, and the sampler then
    /// ends its pass (and evaluates) exactly where the uninterrupted run did.
    trained_iteration: usize,
    /// Where the run stops: the run's end or `--max-steps`.
    limit: u64,
    summary: Summary,
}

impl<'a> Run<'a> {
    /// Samplers, the checkpoint location and what it resumes from, the stop agreement, the
    /// metrics log, and every depth the remaining steps meet compiled.
    fn start(
        setup: Setup<'a>,
        (plan, splits): (Plan, Splits),
        dp: Devices,
        programs: DepthPrograms<'a>,
        mut values: DeviceState,
        mut summary: Summary,
    ) -> Result<Run<'a>> {
        let Setup { cfg, options, .. } = setup;
        let (mut sampler, test_sampler) = samplers(&cfg.recipe, splits, plan.epochs_per_iter, dp.host)?;

        // Checkpoints: resume from the newest intact one, then save as configured.
        let ckpt_url = cfg.run.checkpoint_location(&options.run_dir);
        let location = ouro_store::Location::open(&ckpt_url)
            .with_context(|| format!("opening the checkpoint location {}", ouro_store::redact(&ckpt_url)))?;
        // One writer per location too (it may be shared by runs, or live outside the run directory).
        let guard =
            if dp.leader() { Some(resume::hold_location(options, &location, &cfg.run.checkpoint)?) } else { None };
        let place = MeshPlace { devices: cfg.recipe.mesh.data, first: dp.host.0 * dp.n(), leader: dp.leader() };
        let saving_hosts = resume::saving_hosts(options, dp.host)?;
        let (mut steps, mut first_iteration) = (0, 0);
        if options.resume {
            let target = Self::restore_target(setup, &dp, place);
            let restored = resume::resume(&location, &target, &mut values)?;
            resume::agree_on_resumed_step(saving_hosts.as_ref(), &ckpt_url, restored.as_ref().map_or(0, |r| r.step))?;
            match restored {
                Some(r) => {
                    sampler.restore(r.sampler).context("restoring the sampler's position")?;
                    (steps, first_iteration) = (r.step, r.iteration);
                    summary.resumed_from = Some(r.step);
                    tracing::info!(step = r.step, location = %ckpt_url, "resumed");
                }
                None => {
                    tracing::warn!(location = %ckpt_url, "--resume: no committed checkpoint there; starting from step 0")
                }
            }
        }
        let stop = resume::stop_agreement(options, saving_hosts.as_ref(), &ckpt_url)?;
        let retention =
            ouro_ckpt::Retention { keep_last: cfg.run.checkpoint.keep_last, keep_every: cfg.run.checkpoint.keep_every };
        let checkpoints = Checkpoints {
            cfg,
            layout: setup.layout,
            parallel: setup.step_cfg.parallel.as_ref(),
            place,
            saver: ouro_ckpt::Saver::new(location, ouro_ckpt::Layout::default(), retention)
                .on_hosts(saving_hosts.clone()),
            lease: guard.as_ref().and_then(LocationGuard::lease),
            held: Vec::new(),
            reports: Vec::new(),
            last_saved: steps,
        };
        // Process 0 writes the run's files; the other hosts compute the same replicated values.
        let file = log::open_metrics(cfg, options, summary.resumed_from, dp.leader())?;
        let limit = options.max_steps.map_or(plan.total, |m| m.min(plan.total));
        let log = Self::step_log(setup, file, &plan, &dp, limit)?;
        let trained_position = sampler.state().clone();
        let mut run = Run {
            setup,
            plan,
            dp,
            programs,
            values,
            sampler,
            test_sampler,
            hosts: saving_hosts,
            stop,
            checkpoints,
            _location: guard,
            log,
            steps,
            first_iteration,
            trained_position,
            trained_iteration: first_iteration,
            limit,
            summary,
        };
        run.compile_curriculum()?;
        Ok(run)
    }

    /// Where a resumed checkpoint's tensors go.
    fn restore_target<'d>(setup: Setup<'d>, dp: &'d Devices, place: MeshPlace) -> resume::Target<'d> {
        resume::Target {
            layout: setup.layout,
            devices: dp,
            client: setup.runtime.client(),
            parallel: setup.step_cfg.parallel.as_ref(),
            place,
            global_batch_size: setup.cfg.recipe.global_batch_size,
        }
    }

    /// The log of the train steps, with the progress bar and the peak FLOP/s for MFU.
    fn step_log(
        setup: Setup<'_>,
        file: crate::metrics::MetricsLog,
        plan: &Plan,
        dp: &Devices,
        limit: u64,
    ) -> Result<StepLog> {
        let (cfg, client) = (setup.cfg, setup.runtime.client());
        let bar = log::progress_bar(limit, setup.options.progress && dp.leader());
        let mut log = StepLog::new(file, bar, setup.layout.metrics, cfg.recipe.global_batch_size);
        log.curriculum = plan.curriculum.is_some();
        // Achieved FLOP/s and MFU: the step's matmul FLOPs, against the devices' peak when known.
        let kind = client.devices().first().map(|d| d.description().map(|d| d.kind)).transpose()?.unwrap_or_default();
        log.peak = crate::target::peak_flops(&kind).map(|p| p * cfg.recipe.mesh.data as f64);
        Ok(log)
    }

    /// Compiles every depth the remaining steps meet before the first of them runs.
    fn compile_curriculum(&mut self) -> Result<()> {
        let Some(c) = &self.plan.curriculum else { return Ok(()) };
        let started = Instant::now();
        for (depth, count) in c.spans(self.steps, self.limit) {
            tracing::info!(%depth, steps = count, "recursion-depth curriculum");
            self.programs.train_program(depth)?;
        }
        self.summary.compile_seconds += started.elapsed().as_secs_f64();
        Ok(())
    }

    /// Every iteration: its epochs of steps, then an evaluation, until the run ends or stops.
    fn train_all(&mut self) -> Result<()> {
        self.log.bar.set_position(self.steps);
        for iteration in self.first_iteration..self.plan.iterations {
            while let Some(batch) = self.sampler.next_train() {
                if self.steps >= self.limit {
                    if self.setup.options.evaluate_at_limit && self.summary.last_eval.is_empty() {
                        self.log.drain()?;
                        self.evaluate(iteration)?;
                    }
                    return Ok(());
                }
                if self.stop_requested()? {
                    return Ok(());
                }
                self.step(&batch, iteration)?;
            }
            self.log.drain()?;
            if iteration >= self.setup.cfg.recipe.min_eval_interval && self.test_sampler.is_some() {
                self.evaluate(iteration)?;
            }
        }
        Ok(())
    }

    /// Whether to stop before the next step (and say so).
    fn stop_requested(&mut self) -> Result<bool> {
        let Some(stop) = &self.stop else { return Ok(false) };
        if !stop.stop_before(self.steps)? {
            return Ok(false);
        }
        tracing::warn!(step = self.steps, "stopping on request; saving a checkpoint first");
        self.summary.stopped = true;
        Ok(true)
    }

    /// One train step on `batch`, of `iteration`, and the checkpoint it may be due.
    fn step(&mut self, batch: &HostBatch, iteration: usize) -> Result<()> {
        let client = self.setup.runtime.client();
        let buffers = self.dp.upload(client, batch)?;
        let depth = self.plan.depth_at(self.steps);
        let exe = self.programs.train_program(depth)?;
        let metrics = self.dp.train(&exe, self.setup.layout, &mut self.values, &buffers)?;
        self.steps += 1;
        self.log.dispatched(self.steps, metrics, depth);
        if let Some(position) = &batch.state_after {
            self.trained_position = position.clone();
        }
        self.trained_iteration = iteration;
        let every = self.setup.cfg.run.checkpoint.every_steps;
        if every > 0 && self.steps.is_multiple_of(every) {
            // The metrics so far go to disk first, so a resumed run's log has no gap.
            self.log.drain()?;
            self.save(iteration)?;
            self.persist("checkpoint");
            self.log.restart_clock();
        }
        self.log.read_previous(&mut self.programs)
    }

    /// Saves the state after the last step, whose batch belongs to `iteration`.
    fn save(&mut self, iteration: usize) -> Result<()> {
        let at = SavePoint { step: self.steps, iteration, position: &self.trained_position };
        self.checkpoints.save(&self.values, at)
    }

    /// Evaluates after `iteration` and keeps the evaluated weights as configured.
    fn evaluate(&mut self, iteration: usize) -> Result<()> {
        let Setup { cfg, options, eval_specs, .. } = self.setup;
        let Some(test) = &self.test_sampler else { return Ok(()) };
        // The model is evaluated at the depth it was last trained at.
        let exe = self.programs.eval_program(self.plan.depth_at(self.steps.saturating_sub(1)))?;
        let client: &Client = self.setup.runtime.client();
        let place = EvalPlace { client, devices: &self.dp, hosts: self.hosts.as_ref(), step: self.steps };
        let results = evaluate(&cfg.recipe, (&exe, eval_specs), &self.values, test, &place)?;
        let values: Vec<(String, f64)> = results.iter().map(|(k, v)| (k.clone(), *v)).collect();
        self.log.file.record(self.steps, "eval/", &values)?;
        self.log.file.flush()?;
        tracing::info!(step = self.steps, ?results, "evaluated");
        self.summary.last_eval = results;
        if self.dp.leader() && (cfg.recipe.checkpoint_every_eval || iteration + 1 == self.plan.iterations) {
            let path = options.run_dir.join(format!("step_{}.safetensors", self.steps));
            save_weights(&path, eval_specs, &self.values.eval_weights(0, eval_specs, cfg.recipe.ema)?)?;
            tracing::info!(path = %path.display(), "saved the evaluated weights");
        }
        self.persist("evaluation");
        Ok(())
    }

    /// Runs the persist hook on the process that writes the run directory; a failure is a
    /// warning.
    fn persist(&self, after: &str) {
        if let (Some(hook), true) = (&self.setup.options.persist, self.dp.leader())
            && let Err(e) = hook()
        {
            tracing::warn!("copying the run directory after the {after} failed (the run goes on): {e:#}");
        }
    }

    /// The end of this invocation (the run, or its `--max-steps`): always resumable.
    fn finish(mut self) -> Result<Summary> {
        self.log.drain()?;
        if self.steps > self.checkpoints.last_saved {
            self.save(self.trained_iteration)?;
        }
        let mut summary = self.summary;
        summary.median_save_block_seconds = median(&self.checkpoints.held);
        summary.checkpoints = self.checkpoints.finish()?;
        self.log.bar.finish();
        summary.steps = self.steps;
        // The first interval includes the pipeline filling; the median ignores it.
        summary.median_step_seconds = median(&self.log.step_times);
        summary.examples_per_second = self.setup.cfg.recipe.global_batch_size as f64 / summary.median_step_seconds;
        Ok(summary)
    }
}
