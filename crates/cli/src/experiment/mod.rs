//! The research program's commands: `ouro run NAME`, `ouro batch`, `ouro status`,
//! `ouro validate NAME` and `ouro report GROUP`, over a catalog of experiment configs and an
//! output root laid out as `{output_root}/{experiment_group}/{name}/`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use ouro_lab::runs::{RunState, complete_with_hash};
use ouro_lab::{Catalog, OutputRoot, RunRecord, data_fingerprint, recipe_hash};
use ouro_train::TrainConfig;

use crate::train::load_config;

mod batch;
mod note;
mod report;
mod run;
mod status;
mod validate;

pub use batch::{BatchArgs, batch};
pub use note::{NoteArgs, note};
pub use report::{ReportArgs, report};
pub use run::{RunArgs, run};
pub use status::{StatusArgs, status};
pub use validate::{ValidateArgs, validate};

/// Where experiments are found and where their runs go.
#[derive(Args, Debug, Clone)]
pub struct Layout {
    /// The experiment catalog: NAME is `<catalog>/NAME.yaml`.
    #[arg(long, value_name = "DIR", default_value = Layout::CATALOG)]
    pub catalog: PathBuf,
    /// Runs go to `<output-root>/<experiment_group>/<name>/`: a directory, or `gs://…`/`s3://…`
    /// (run files staged under ouro's cache and copied up as the run goes; checkpoints written
    /// there directly).
    #[arg(long, value_name = "DIR|URL", default_value = Layout::OUTPUT_ROOT)]
    pub output_root: String,
    /// Put checkpoints at `<URL>/<experiment_group>/<name>/` instead of in the run directory
    /// (`gs://bucket/checkpoints`, `s3://...`, a path).
    #[arg(long, value_name = "URL")]
    pub checkpoint_root: Option<String>,
}

/// An experiment resolved: its config, where it runs, and its recipe's hash.
struct Planned {
    name: String,
    file: PathBuf,
    overrides: Vec<String>,
    config: TrainConfig,
    /// `<experiment_group>/<name>`, relative to the output root.
    relative: String,
    /// The local run directory (a remote root's staging copy).
    run_dir: PathBuf,
    hash: String,
    /// Its experiment group.
    group: String,
}

impl Layout {
    /// The default catalog.
    const CATALOG: &str = "configs/experiments";
    /// The default output root.
    const OUTPUT_ROOT: &str = "runs";

    /// The flags that give this layout on a command line (none for the defaults).
    fn flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        if self.catalog != Path::new(Layout::CATALOG) {
            flags.extend(["--catalog".to_string(), self.catalog.display().to_string()]);
        }
        if self.output_root != Layout::OUTPUT_ROOT {
            flags.extend(["--output-root".to_string(), self.output_root.clone()]);
        }
        if let Some(root) = &self.checkpoint_root {
            flags.extend(["--checkpoint-root".to_string(), root.clone()]);
        }
        flags
    }

    /// The output root.
    fn root(&self) -> Result<OutputRoot> {
        Ok(OutputRoot::open(&self.output_root)?)
    }

    /// Resolves `name` with `overrides` (building a generated dataset it names).
    fn plan(&self, root: &OutputRoot, name: &str, overrides: &[String], placement: &Placement) -> Result<Planned> {
        let file = Catalog::new(&self.catalog).find(name)?;
        let config = load_config(&file, overrides).with_context(|| format!("experiment {name}"))?;
        self.place(root, file, config, overrides, placement)
    }

    /// Where the experiment of `file`, resolved as `config`, runs, and its recipe's hash.
    fn place(
        &self,
        root: &OutputRoot,
        file: PathBuf,
        mut config: TrainConfig,
        overrides: &[String],
        placement: &Placement,
    ) -> Result<Planned> {
        let name = placement.name.clone().unwrap_or_else(|| stem(&file.display().to_string()));
        ouro_train::config::check_path_name("the experiment's name", &name)?;
        if let Some(group) = &placement.group {
            ouro_train::config::check_path_name("the experiment group", group)?;
            config.study.experiment_group = Some(group.clone());
        }
        let group = config.study.experiment_group.clone().unwrap_or_else(|| "ungrouped".into());
        let relative = format!("{group}/{name}");
        let run_dir = root.local().join(&group).join(&name);
        if let Some(checkpoints) = &self.checkpoint_root {
            config.run.checkpoint.location = Some(format!("{}/{relative}", checkpoints.trim_end_matches('/')));
        } else if root.is_remote() {
            config.run.checkpoint.location = Some(root.url(&format!("{relative}/checkpoints")));
        }
        let hash = recipe_hash(&config.recipe, &data_fingerprint(&config.recipe)?)?;
        Ok(Planned { name, file, overrides: overrides.to_vec(), config, relative, run_dir, hash, group })
    }
}

/// Where a run goes when not where its config says: `--group` and `--as`.
#[derive(Args, Debug, Clone, Default)]
pub struct Placement {
    /// Put the run in this experiment group instead of the config's `experiment_group` (a
    /// sweep's runs go to `<group>-sweep-<keys>` unless this is given).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Name the run NAME instead of after its config (a sweep names each run by its values).
    #[arg(long = "as", id = "run_as", value_name = "NAME")]
    pub name: Option<String>,
}

impl Placement {
    /// The flags that give this placement on a command line.
    fn flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        if let Some(group) = &self.group {
            flags.extend(["--group".to_string(), group.clone()]);
        }
        if let Some(name) = &self.name {
            flags.extend(["--as".to_string(), name.clone()]);
        }
        flags
    }
}

impl Planned {
    /// The shape of the run's data: the config's `data_shape`, else read from the data.
    fn data_shape(&self) -> ouro_data::Result<ouro_train::config::DataShape> {
        if let Some(shape) = &self.config.run.data_shape {
            return Ok(shape.clone());
        }
        let dir = ouro_data::remote::resolve(&self.config.recipe.data_paths[0])?;
        let meta = ouro_data::Metadata::read(&dir.join("train").join("dataset.json"))?;
        let test = ouro_data::Metadata::read(&dir.join("test").join("dataset.json")).ok().map(|m| m.total_puzzles);
        Ok(ouro_train::cost::shape_of(&meta, test))
    }

    /// The steps of the whole run, as training counts them (`None` when the data cannot be
    /// read yet, or several datasets are merged: the run records it when it ends).
    fn total_steps(&self) -> Option<u64> {
        let recipe = &self.config.recipe;
        let shape = self.data_shape().ok().filter(|_| recipe.data_paths.len() == 1)?;
        let steps = ouro_data::total_steps_of(
            shape.total_groups,
            shape.mean_puzzle_examples,
            recipe.epochs as u64,
            recipe.global_batch_size,
        );
        Some(steps)
    }
}

/// Brings down every run's record of a remote root, so the runs it holds are known.
fn pull_records(root: &OutputRoot) -> Result<()> {
    root.pull("", |relative| relative.ends_with("/run.json"))
        .with_context(|| format!("reading the run records of {}", root.url("")))?;
    Ok(())
}

/// The device throughput a dry run costs runs at, and where its memory comes from.
#[derive(Args, Debug, Clone)]
pub struct CostArgs {
    /// Peak dense bf16 TFLOP/s of one device (default: the target's chip, else 989: an H100 SXM).
    #[arg(long, value_name = "TFLOPS")]
    pub device_tflops: Option<f64>,
    /// The fraction of the peak the run achieves (model FLOPs utilisation).
    #[arg(long, default_value_t = 0.3)]
    pub mfu: f64,
    /// Also report device memory: from the target's compiler when the config names a `target`
    /// (or `--target` is given), else compiled at 8 and 16 rows on the chosen plugin and
    /// extrapolated to each device's rows (seconds per config).
    #[arg(long)]
    pub memory: bool,
    /// Compile each run's train step for this TPU slice or GPU target (`v4-64`, `v5e-256`,
    /// `h100-8`), deviceless, and report its per-chip memory from that compiler: whether the run
    /// fits. With `--memory` alone, each config's `target` key is compiled for.
    #[arg(long, value_name = "SLICE")]
    pub target: Option<String>,
    /// Estimate time from the train step timed on the chosen plugin (at up to 64 rows on
    /// synthetic data, as `ouro bench`) instead of a device's peak: what the runs take on this
    /// machine. Seconds per distinct recipe.
    #[arg(long)]
    pub measure: bool,
}

/// The most rows `--measure` times a train step at (the achieved FLOP/s barely moves above).
const MEASURE_ROWS: usize = 64;

/// Where a dry run's memory figures come from.
pub(crate) struct MemoryPlan<'a> {
    args: &'a CostArgs,
    backend: &'a crate::BackendArgs,
    /// The CPU plugin's extrapolation (`--memory` without a target).
    runtime: Option<ouro_runtime::Runtime>,
    /// Compilers and topologies opened so far, by target name.
    targets: Vec<(String, std::rc::Rc<crate::compile::TargetCompiler>)>,
    /// Results by (recipe hash, memory switches, target): duplicates compile once.
    seen: std::collections::HashMap<String, String>,
    /// `--measure`'s achieved FLOP/s and how it was measured, by recipe hash.
    rates: std::collections::HashMap<String, std::result::Result<(f64, String), String>>,
}

impl<'a> MemoryPlan<'a> {
    pub(crate) fn new(args: &'a CostArgs, backend: &'a crate::BackendArgs) -> MemoryPlan<'a> {
        MemoryPlan {
            args,
            backend,
            runtime: None,
            targets: Default::default(),
            seen: Default::default(),
            rates: Default::default(),
        }
    }

    /// The target a planned run's memory is compiled for: `--target`, else with `--memory` the
    /// config's `target`.
    fn target_of(&self, p: &Planned) -> Option<String> {
        self.args.target.clone().or_else(|| if self.args.memory { p.config.run.target.clone() } else { None })
    }

    fn compiler(&mut self, name: &str) -> Result<std::rc::Rc<crate::compile::TargetCompiler>> {
        if let Some((_, c)) = self.targets.iter().find(|(n, _)| n == name) {
            return Ok(c.clone());
        }
        let compiler = std::rc::Rc::new(crate::compile::TargetCompiler::open(self.backend, name)?);
        self.targets.push((name.to_string(), compiler.clone()));
        Ok(compiler)
    }

    /// The memory part of a cost line.
    fn line(&mut self, p: &Planned, shape: &ouro_train::config::DataShape) -> String {
        if let Some(name) = self.target_of(p) {
            let key = format!("{}/{}/{}/{name}", p.hash, p.config.run.remat, p.config.run.unroll_cycles);
            if let Some(line) = self.seen.get(&key) {
                return line.clone();
            }
            let line = match self
                .compiler(&name)
                .and_then(|c| c.train_memory(&p.config, &shape.dims(p.config.recipe.global_batch_size)))
            {
                Ok(line) => format!("; {line}"),
                Err(e) => format!("; memory on {name} unknown: {e:#}"),
            };
            self.seen.insert(key, line.clone());
            return line;
        }
        if !self.args.memory {
            return String::new();
        }
        let runtime = match self.runtime() {
            Ok(r) => r,
            Err(e) => return format!("; memory unknown: {e:#}"),
        };
        match ouro_train::cost::memory(runtime, &p.config, &shape.dims(p.config.recipe.global_batch_size)) {
            Ok(m) => format!(
                "; memory {} per device ({} state at {} rows + {} activations at {} rows, extrapolated by the {} compiler)",
                bytes(m.total()),
                bytes(m.state_bytes),
                m.rows,
                bytes(m.activation_bytes),
                m.micro_rows,
                runtime.client().platform_name(),
            ),
            Err(e) => format!("; memory unknown: {e:#}"),
        }
    }

    /// One device of the chosen plugin, opened on first use.
    fn runtime(&mut self) -> Result<&ouro_runtime::Runtime> {
        if self.runtime.is_none() {
            self.runtime = Some(ouro_runtime::Runtime::new(self.backend.client(1)?)?);
        }
        Ok(self.runtime.as_ref().expect("set above"))
    }

    /// The FLOP/s `p`'s train step achieves on one device of the chosen plugin, and how it was
    /// measured (once per recipe).
    fn measured_rate(
        &mut self,
        p: &Planned,
        shape: &ouro_train::config::DataShape,
    ) -> std::result::Result<(f64, String), String> {
        if let Some(rate) = self.rates.get(&p.hash) {
            return rate.clone();
        }
        let rate = self.measure(p, shape).map_err(|e| format!("timing the train step: {e:#}"));
        self.rates.insert(p.hash.clone(), rate.clone());
        rate
    }

    fn measure(&mut self, p: &Planned, shape: &ouro_train::config::DataShape) -> Result<(f64, String)> {
        let mut config = p.config.clone();
        let rows = config.recipe.global_batch_size.min(MEASURE_ROWS);
        config.recipe.global_batch_size = rows;
        config.recipe.mesh = ouro_train::config::MeshConfig::default();
        config.recipe.grad_accum_steps = 1;
        let runtime = self.runtime()?;
        let which = ouro_train::bench::Which::Train;
        let mut bench = ouro_train::bench::StepBench::new(runtime, &config, shape.dims(rows), which)?;
        bench.step()?;
        bench.sync()?;
        let mut windows = (0..3).map(|_| bench.time(2)).collect::<std::result::Result<Vec<f64>, _>>()?;
        windows.sort_by(f64::total_cmp);
        let step = windows[1];
        let platform = runtime.client().platform_name();
        Ok((bench.flops / step, format!("the train step timed on {platform}: {:.0} ms at {rows} rows", step * 1e3)))
    }

    /// Peak FLOP/s of one device, and the devices, a planned run is costed on (its target's,
    /// `--target` or the config's).
    fn rate(&self, p: &Planned) -> (f64, usize) {
        let name = self.args.target.clone().or_else(|| p.config.run.target.clone());
        let target = name.and_then(|t| ouro_train::target::Target::parse(&t).ok());
        let peak = self.args.device_tflops.map(|t| t * 1e12).or(target.as_ref().map(|t| t.chip().peak_flops));
        let devices = match &target {
            Some(t) if p.config.recipe.mesh.data == 1 => t.chips,
            _ => p.config.recipe.mesh.data,
        };
        (peak.unwrap_or(989e12), devices)
    }
}

/// What would happen to a planned run.
enum Next {
    /// Its directory holds a complete run of this recipe.
    Complete,
    /// Another directory holds a complete run of this recipe.
    SameAs(PathBuf),
    /// Continue from its checkpoint.
    Resume(u64),
    /// Start.
    Start,
}

fn next_step(root: &OutputRoot, p: &Planned, force: bool) -> Result<Next> {
    let record = RunRecord::read(&p.run_dir).unwrap_or_else(|e| {
        // Records are written whole (renamed into place), so this is outside damage; the run's
        // checkpoints and metrics say where it stands, and its record is rewritten when it runs.
        eprintln!("warning: {}; reading the run from its checkpoints instead", crate::error_chain(&e));
        None
    });
    if let Some(r) = &record {
        if r.alive() {
            bail!(
                "{} is being run by process {} on this machine right now (started {} ago); wait for it, or stop it \
                with `kill -TERM {}` (it saves a checkpoint) and run again to continue",
                p.run_dir.display(),
                r.pid.unwrap_or(0),
                hours(ouro_lab::runs::now() - r.started),
                r.pid.unwrap_or(0),
            );
        }
        if r.hash != p.hash && !force {
            bail!(
                "{} holds a run of another recipe (hash {}, now {}: the config, its overrides or the data changed); \
                 pass --force to replace it, `--as NAME` or `--group GROUP` to run it beside it, or choose another \
                 --output-root",
                p.run_dir.display(),
                r.hash,
                p.hash
            );
        }
        if r.state == RunState::Complete && !force {
            return Ok(Next::Complete);
        }
    }
    if force {
        return Ok(Next::Start);
    }
    if let Some(other) = complete_with_hash(root.local(), &p.hash, &p.run_dir)? {
        return Ok(Next::SameAs(other));
    }
    if record.is_some() {
        let url = p.config.run.checkpoint_location(&p.run_dir);
        let location = ouro_store::Location::open(&url)?;
        if let Some(&step) = ouro_ckpt::committed(&location).unwrap_or_default().first() {
            return Ok(Next::Resume(step));
        }
    }
    Ok(Next::Start)
}

/// The cost of a planned run, as one line (with its memory as `memory` plans it).
fn cost_line(p: &Planned, cost: &CostArgs, memory: &mut MemoryPlan<'_>) -> String {
    let Costed { cost: c, seconds, basis, shape } = match costed(p, cost, memory) {
        Ok(c) => c,
        Err(why) => return format!("cost unknown: {why}"),
    };
    let depths = if c.depths.is_empty() {
        String::new()
    } else {
        let spans: Vec<String> =
            c.depths.iter().map(|(d, n)| format!("{}x{} for {n}", d.h_cycles, d.l_cycles)).collect();
        format!("; depth (H_cycles x L_cycles) {} steps", spans.join(", "))
    };
    format!(
        "{:.2} M params, {} steps, {:.3} PFLOP train + {:.3} PFLOP eval ({} evals); {} at {basis}",
        c.params as f64 / 1e6,
        c.total_steps,
        c.train_flops / 1e15,
        c.eval_flops() / 1e15,
        c.evaluations,
        hours(seconds),
    ) + &depths
        + &memory.line(p, &shape)
}

/// A planned run costed: the cost model's figures, the seconds they take at the devices' rate,
/// and that rate in words.
struct Costed {
    cost: ouro_train::cost::Cost,
    seconds: f64,
    basis: String,
    shape: ouro_train::config::DataShape,
}

/// Costs a planned run on the devices `memory` plans it for; why not, when it cannot be.
fn costed(p: &Planned, cost: &CostArgs, memory: &mut MemoryPlan<'_>) -> std::result::Result<Costed, String> {
    let shape =
        p.data_shape().map_err(|e| format!("no data_shape in the config and no data to read it from ({e:#})"))?;
    let c = ouro_train::cost::estimate(&p.config.recipe, &shape).map_err(|e| format!("{e:#}"))?;
    let (rate, basis) = if cost.measure {
        let (rate, how) = memory.measured_rate(p, &shape)?;
        (rate, format!("{:.2} TFLOP/s ({how})", rate / 1e12))
    } else {
        let (peak, devices) = memory.rate(p);
        let mut basis = format!("{:.0} % MFU of {} x {:.0} TFLOP/s", cost.mfu * 100.0, devices, peak / 1e12);
        if cost.device_tflops.is_none() && cost.target.is_none() && p.config.run.target.is_none() {
            basis.push_str(" (H100s: the config names no target; --measure times the step here)");
        }
        (peak * cost.mfu * devices as f64, basis)
    };
    let seconds = c.seconds(rate);
    Ok(Costed { cost: c, seconds, basis, shape })
}

/// A size in GiB, or in MiB below one GiB.
fn bytes(n: f64) -> String {
    const MIB: f64 = (1u64 << 20) as f64;
    if n >= 1024.0 * MIB { format!("{:.2} GiB", n / (1024.0 * MIB)) } else { format!("{:.1} MiB", n / MIB) }
}

fn hours(seconds: f64) -> String {
    if seconds < 3600.0 { format!("{:.1} min", seconds / 60.0) } else { format!("{:.2} h", seconds / 3600.0) }
}

/// An experiment's name: a catalog name as it is, a config file by its stem (as runs are named).
fn stem(name: &str) -> String {
    Path::new(name).file_stem().map_or_else(|| name.to_string(), |s| s.to_string_lossy().into_owned())
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(160).collect()
}
