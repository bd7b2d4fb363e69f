//! `ouro train` and `ouro model-info`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use ouro_train::{RunOptions, TrainConfig};

use crate::BackendArgs;

/// Train a TRM.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  ouro train --config configs/sudoku4-tiny.yaml\n  \
    ouro train --config configs/sudoku-mlp.yaml arch.L_cycles=4 lr=3e-4 --print-config\n  \
    ouro train --config configs/sudoku-mlp.yaml mesh.data=8 --resume --platform gpu")]
pub struct TrainArgs {
    /// The config (YAML, official PretrainConfig keys; a `defaults:` list composes other files).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Overrides: `key=value` (dotted keys for sections, YAML values: `arch.L_cycles=4`,
    /// `data_paths=[a, b]`), `+key=value` adds a key, `~key` deletes one, `group=name` swaps a
    /// file of the defaults list (`arch=trm_small`).
    overrides: Vec<String>,
    /// Stop after this many steps (the schedule still spans the whole run).
    #[arg(long)]
    max_steps: Option<u64>,
    /// The run directory (default: the config's checkpoint_path, else runs/<project>/<run>).
    #[arg(long, value_name = "DIR")]
    run_dir: Option<PathBuf>,
    /// Replace the metrics of an earlier run in the run directory.
    #[arg(long)]
    force: bool,
    /// Continue from the latest committed checkpoint (checkpoint.location, default
    /// <run dir>/checkpoints); a damaged step falls back to the one before.
    #[arg(long)]
    resume: bool,
    /// Print the resolved config (defaults list, overrides and interpolation applied, every
    /// default filled in) and exit.
    #[arg(long)]
    print_config: bool,
}

/// The config with its overrides, and its generated dataset built if it names a recipe.
pub(crate) fn load_config(path: &Path, overrides: &[String]) -> Result<TrainConfig> {
    let config = TrainConfig::load(path, overrides)?;
    // The recipe builds a local dataset; a remote one must already exist where it points.
    if let Some(recipe) = &config.recipe.generate_sudoku
        && !ouro_store::is_remote(&config.recipe.data_paths[0])
    {
        let out = PathBuf::from(&config.recipe.data_paths[0]);
        if !out.exists() {
            eprintln!("building the {}x{} sudoku dataset {} ...", recipe.size, recipe.size, out.display());
            recipe
                .build(&out, ouro_nn::footprint::host_memory_available())
                .with_context(|| format!("building generate_sudoku at {}", out.display()))?;
        }
    }
    Ok(config)
}

/// Runs `ouro train`.
pub fn run(backend: &BackendArgs, args: &TrainArgs) -> Result<()> {
    if args.print_config {
        let config = TrainConfig::load(&args.config, &args.overrides)?;
        print!("{}", config.to_yaml()?);
        return Ok(());
    }
    let config = load_config(&args.config, &args.overrides)?;
    let run_dir = args.run_dir.clone().unwrap_or_else(|| config.run_dir());
    let how = HowToRun { max_steps: args.max_steps, force: args.force, resume: args.resume, ..HowToRun::default() };
    let summary = train_config(backend, &config, &run_dir, how)
        .with_context(|| format!("training with {}", args.config.display()))?;
    print_summary(&summary, &run_dir);
    if summary.stopped {
        bail!("{}", stopped_message(&summary));
    }
    Ok(())
}

/// What a run stopped by a signal tells the user: what was saved, and the command that goes on.
pub fn stopped_message(summary: &ouro_train::run::Summary) -> String {
    let started_at = summary.resumed_from.unwrap_or(0);
    match (summary.checkpoints.last(), summary.resumed_from) {
        (Some(last), _) => format!(
            "stopped by a signal after step {} with step {} saved; the same command with --resume continues",
            summary.steps, last.step
        ),
        (None, Some(step)) => format!(
            "stopped by a signal before training past step {step}; nothing new was saved, and the same command \
             with --resume continues from step {step}"
        ),
        (None, None) => format!(
            "stopped by a signal {}; nothing was saved, and the same command starts the run again",
            if summary.steps == started_at {
                "before the first step".to_string()
            } else {
                format!("after step {}", summary.steps)
            }
        ),
    }
}

/// How `train_config` runs.
#[derive(Clone, Default)]
pub(crate) struct HowToRun {
    /// Stop after this many steps.
    pub max_steps: Option<u64>,
    /// Replace an earlier run's metrics.
    pub force: bool,
    /// Continue from the latest checkpoint.
    pub resume: bool,
    /// Copies the run directory elsewhere during the run (see `RunOptions::persist`).
    pub persist: Option<ouro_train::run::Persist>,
    /// Evaluate once when `max_steps` ends the run before any evaluation.
    pub evaluate_at_limit: bool,
}

/// Trains `config` into `run_dir` on the chosen plugin (what `ouro train`, `ouro run` and
/// `ouro validate` share).
pub(crate) fn train_config(
    backend: &BackendArgs,
    config: &TrainConfig,
    run_dir: &Path,
    how: HowToRun,
) -> Result<ouro_train::run::Summary> {
    let (mut client, job) = backend.client_in_job(config.recipe.mesh.data)?;
    // Compiled steps are cached on disk: a second run of the same config starts at once.
    if std::env::var_os("OURO_NO_COMPILE_CACHE").is_none() {
        let dir = ouro_pjrt::plugin::cache_dir()?.join("compiled");
        client = client.with_compile_cache(ouro_pjrt::CompileCache::new(&dir)?)?;
    }
    let runtime = ouro_runtime::Runtime::new(client)?;
    let options = RunOptions {
        run_dir: run_dir.to_path_buf(),
        progress: std::io::stderr().is_terminal(),
        max_steps: how.max_steps,
        force: how.force,
        resume: how.resume,
        // In a job, the processes agree through its store on one step to stop at and save.
        stop: Some(stop_on_signals()?),
        job_store: job.as_ref().map(|cluster| cluster.store()),
        hosts: job.map(|cluster| Arc::new(crate::JobHosts::new(cluster, None)) as Arc<dyn ouro_ckpt::Hosts>),
        persist: how.persist,
        evaluate_at_limit: how.evaluate_at_limit,
    };
    Ok(ouro_train::train(&runtime, config, &options)?)
}

/// What a finished (or stopped) run prints.
pub(crate) fn print_summary(summary: &ouro_train::run::Summary, run_dir: &Path) {
    // Too few steps for a rate (a resumed run already at its limit): no timing to show.
    let timing = if summary.median_step_seconds.is_finite() {
        format!(
            ", median step {:.1} ms, {:.0} examples/s",
            summary.median_step_seconds * 1e3,
            summary.examples_per_second
        )
    } else {
        String::new()
    };
    println!(
        "{} steps of {} in {}; compile {:.1} s{timing}",
        summary.steps,
        summary.total_steps,
        run_dir.display(),
        summary.compile_seconds
    );
    if let Some(step) = summary.resumed_from {
        println!("  resumed from step {step}");
    }
    if let Some(last) = summary.checkpoints.last() {
        println!(
            "  {} checkpoints, the last step_{} ({:.1} MB in {:.2} s); a save held the loop {:.1} ms (median)",
            summary.checkpoints.len(),
            last.step,
            last.bytes as f64 / 1e6,
            last.seconds,
            summary.median_save_block_seconds * 1e3
        );
    }
    for (k, v) in &summary.last_eval {
        println!("  eval {k}: {v:.4}");
    }
}

/// SIGTERM (a preempted TPU VM gets one) and Ctrl-C set the returned flag: the run stops after
/// the current step and saves a checkpoint. A second signal ends the process at once.
pub fn stop_on_signals() -> Result<Arc<std::sync::atomic::AtomicBool>> {
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // Registered first, so it sees the flag as the previous signal left it.
        signal_hook::flag::register_conditional_shutdown(signal, 1, flag.clone())
            .context("installing the signal handlers")?;
        signal_hook::flag::register(signal, flag.clone()).context("installing the signal handlers")?;
    }
    Ok(flag)
}

/// A config and the shape of its data, for commands that need no dataset.
#[derive(Args, Debug)]
pub(crate) struct ShapeArgs {
    /// The config (required).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Overrides, as for `train`.
    overrides: Vec<String>,
    /// Tokens per example (default: the config's data_shape, else the training data's metadata).
    #[arg(long)]
    seq_len: Option<usize>,
    /// Vocabulary (default: as --seq-len).
    #[arg(long)]
    vocab_size: Option<usize>,
    /// Puzzle identifiers (default: as --seq-len).
    #[arg(long)]
    puzzle_ids: Option<usize>,
    /// Devices on the data axis (overrides mesh.data).
    #[arg(long)]
    devices: Option<usize>,
    /// Global batch (overrides global_batch_size).
    #[arg(long)]
    global_batch: Option<usize>,
}

impl ShapeArgs {
    /// The config with the flags applied, and the model's view of its data at the global batch.
    pub(crate) fn load(&self) -> Result<(TrainConfig, ouro_nn::DataDims)> {
        let mut overrides = self.overrides.clone();
        if let Some(n) = self.devices {
            overrides.push(format!("mesh.data={n}"));
        }
        if let Some(b) = self.global_batch {
            overrides.push(format!("global_batch_size={b}"));
        }
        // A generated dataset is built as `train` builds it: its metadata gives the shapes.
        let config = load_config(self.file()?, &overrides)?;
        let declared = config.run.data_shape.as_ref().map(|d| (d.seq_len, d.vocab_size, d.num_puzzle_identifiers));
        let shape = match (self.seq_len, self.vocab_size, self.puzzle_ids, declared) {
            (Some(s), Some(v), Some(p), _) => (s, v, p),
            (s, v, p, Some(d)) => (s.unwrap_or(d.0), v.unwrap_or(d.1), p.unwrap_or(d.2)),
            (s, v, p, None) => {
                let path = ouro_data::remote::resolve(&config.recipe.data_paths[0])?;
                let m = ouro_data::Metadata::read(&path.join("train").join("dataset.json")).with_context(|| {
                    format!(
                        "reading the shapes of {} (or give --seq-len, --vocab-size and --puzzle-ids)",
                        path.display()
                    )
                })?;
                (s.unwrap_or(m.seq_len), v.unwrap_or(m.vocab_size), p.unwrap_or(m.num_puzzle_identifiers))
            }
        };
        let dims = ouro_nn::DataDims {
            batch_size: config.recipe.global_batch_size,
            seq_len: shape.0,
            vocab_size: shape.1,
            num_puzzle_identifiers: shape.2,
        };
        Ok((config, dims))
    }

    /// The config file.
    pub(crate) fn file(&self) -> Result<&Path> {
        self.config.as_deref().ok_or_else(|| anyhow::anyhow!("--config FILE is required"))
    }
}

/// Count a TRM's parameters and FLOPs.
#[derive(Args, Debug)]
pub struct ModelInfoArgs {
    #[command(flatten)]
    shape: ShapeArgs,
    /// Compile the train step for the mesh and report its memory per device (what the plugin's
    /// compiler reports for the partitioned program).
    #[arg(long)]
    memory: bool,
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Runs `ouro model-info`: counts from the parameter specs, FLOPs from the traced train step.
pub fn model_info(backend: &BackendArgs, args: &ModelInfoArgs) -> Result<()> {
    use ouro_nn::{Role, Trm, count};
    let (config, dims) = args.shape.load()?;
    let gbs = config.recipe.global_batch_size;
    let meta = (dims.seq_len, dims.vocab_size, dims.num_puzzle_identifiers);
    let file = args.shape.file()?;
    let mut model =
        Trm::new(config.recipe.arch.clone(), dims).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let specs = model.specs();
    model.unroll = true;
    let step = ouro_train::train_step(&model, &ouro_train::run::step_config(&config.recipe, 1), gbs)?;
    let flops = ouro_train::flops::matmul_flops(&step.func);
    let a = &config.recipe.arch;
    println!(
        "model: {} ({}, D {}, {} layers, H_cycles {} x L_cycles {}, {} ACT steps)",
        a.name,
        if a.mlp_t { "mlp_t".to_string() } else { format!("attention, {} heads", a.num_heads) },
        a.hidden_size,
        a.l_layers,
        a.h_cycles,
        a.l_cycles,
        a.halt_max_steps
    );
    println!("data: seq_len {}, vocab {}, puzzle ids {}, global batch {gbs}", meta.0, meta.1, meta.2);
    println!("trainable parameters: {}", thousands(count(&specs, Role::Trainable) as u64));
    println!("puzzle-embedding table: {} (sparse SignSGD)", thousands(count(&specs, Role::PuzzleTable) as u64));
    println!("fixed buffers (H_init, L_init): {}", thousands(count(&specs, Role::Fixed) as u64));
    println!(
        "matmul FLOPs per training step: {:.2} TFLOP ({:.2} GFLOP per example)",
        flops as f64 / 1e12,
        flops as f64 / gbs as f64 / 1e9
    );
    if args.memory {
        // The memory of the program training runs: no-gradient cycles in loops, not unrolled.
        model.unroll = false;
        model.remat = config.run.remat;
        memory_report(backend, &config, &model)?;
    }
    Ok(())
}

/// Compiles the (partitioned) train step and prints the compiler's memory figures per device.
fn memory_report(backend: &BackendArgs, config: &TrainConfig, model: &ouro_nn::Trm) -> Result<()> {
    let n = config.recipe.mesh.data;
    let runtime = ouro_runtime::Runtime::new(backend.client(n)?)?;
    let step = ouro_train::train_step(
        model,
        &ouro_train::run::step_config(&config.recipe, 1),
        config.recipe.global_batch_size,
    )?;
    let options = config.recipe.lower_options();
    let started = std::time::Instant::now();
    let exe = runtime.compile(&step.func, &options)?;
    let stats = exe.loaded().compiled_memory_stats()?;
    let size =
        |b: i64| format!("{:.3} GiB ({:.2} MiB)", b as f64 / (1u64 << 30) as f64, b as f64 / (1u64 << 20) as f64);
    println!(
        "memory per device ({} on {n} device(s), {} rows each; compiled in {:.1} s):",
        runtime.client().platform_name(),
        config.recipe.global_batch_size / n,
        started.elapsed().as_secs_f64()
    );
    println!("  arguments (state, constants, batch shard): {}", size(stats.argument_size_in_bytes));
    println!("  temporaries (activations, gradients):      {}", size(stats.temp_size_in_bytes));
    println!(
        "  outputs not aliased to donated arguments:  {}",
        size(stats.output_size_in_bytes - stats.alias_size_in_bytes)
    );
    let total = stats.argument_size_in_bytes + stats.temp_size_in_bytes + stats.output_size_in_bytes
        - stats.alias_size_in_bytes;
    println!("  total:                                     {}", size(total));
    Ok(())
}
