//! `ouro batch`: a group of experiments, each its own `ouro run` process.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use ouro_lab::runs::RunState;
use ouro_lab::schedule::{Event, Launcher, Schedule, leaders};
use ouro_lab::{Catalog, OutputRoot, RunRecord};

use super::{CostArgs, Layout, Next, Placement, Planned, cost_line, first_line, hours, next_step, pull_records, stem};
use crate::BackendArgs;

/// Run a group of experiments: sequentially or N at a time, skipping complete runs, running a
/// recipe shared by several names once, resuming interrupted runs, going on past failures.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ouro batch --pattern exp01 --dry-run       # what would run, and how long it would take\n  ouro batch --pattern exp01                 # every exp01 config, one after the other\n  ouro batch exp02a_01 exp02a_04 --parallel 2 --devices 8 --platform gpu\n  ouro batch --list"
)]
pub struct BatchArgs {
    /// Experiments by name (with --pattern, added to its matches).
    names: Vec<String>,
    /// Every experiment whose name contains this (`*` matches any text): `exp01`, `exp0*_a`.
    #[arg(long)]
    pattern: Option<String>,
    /// List the catalog's experiments and exit.
    #[arg(long)]
    list: bool,
    /// Overrides applied to every run (`--set epochs=100 --set eval_interval=10`); a comma list
    /// or a range sweeps (`--set arch.hidden_size=16,32 --set lr=range(1,4)`: one run per
    /// combination, named by its values).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    #[command(flatten)]
    layout: Layout,
    /// Put the runs in this experiment group (a sweep's default: `<group>-sweep-<keys>`).
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// Runs at once.
    #[arg(long, default_value_t = 1)]
    parallel: usize,
    /// Accelerators to split between the parallel runs (GPUs through CUDA_VISIBLE_DEVICES,
    /// TPU chips through TPU_VISIBLE_CHIPS); default: one per run. Ignored on the CPU plugin.
    #[arg(long)]
    devices: Option<usize>,
    /// Show what would run and its estimated time; run nothing.
    #[arg(long)]
    dry_run: bool,
    /// Stop each run after this many steps (resumable later).
    #[arg(long)]
    max_steps: Option<u64>,
    #[command(flatten)]
    cost: CostArgs,
}

/// How one experiment of a batch ended.
struct Outcome {
    name: String,
    result: String,
    ok: bool,
    run_dir: Option<PathBuf>,
    seconds: f64,
}

/// Runs `ouro batch`.
pub fn batch(backend: &BackendArgs, args: &BatchArgs) -> Result<()> {
    let catalog = Catalog::new(&args.layout.catalog);
    if args.list {
        for name in catalog.names()? {
            println!("{name}");
        }
        return Ok(());
    }
    let mut names = match &args.pattern {
        Some(p) => catalog.matching(p)?,
        None => Vec::new(),
    };
    names.extend(args.names.iter().filter(|n| !names.contains(n)).cloned().collect::<Vec<_>>());
    if names.is_empty() {
        bail!("name experiments or give --pattern (`ouro batch --list` lists them)");
    }
    if args.parallel == 0 {
        bail!("--parallel must be at least 1");
    }
    let root = args.layout.root()?;
    pull_records(&root)?;
    // Resolve everything first: a config error shows before anything runs.
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut planned: Vec<Planned> = Vec::new();
    let sweep = ouro_lab::sweep::Sweep::parse(&args.overrides)?;
    for name in &names {
        for (run_name, overrides, placement) in runs_of(args, &sweep, name)? {
            match args.layout.plan(&root, name, &overrides, &placement) {
                Ok(p) => planned.push(p),
                Err(e) => outcomes.push(Outcome {
                    name: run_name,
                    result: format!("failed: {}", first_line(&crate::error_chain(e.as_ref()))),
                    ok: false,
                    run_dir: None,
                    seconds: 0.0,
                }),
            }
        }
    }
    if sweep.is_sweep() && !args.dry_run {
        record_sweeps(&root, args, &planned)?;
    }
    // A recipe shared by several names runs once: the others wait for it, then find it complete.
    let leader = leaders(&planned.iter().map(|p| &p.hash).collect::<Vec<_>>());
    if args.dry_run {
        print_plan(backend, args, &root, &planned, &leader);
        for o in &outcomes {
            println!("{:<24} {}", o.name, o.result);
        }
        return Ok(());
    }
    let per_run = args.devices.unwrap_or(args.parallel) / args.parallel;
    if per_run == 0 {
        bail!("--devices ({}) is fewer than --parallel ({})", args.devices.unwrap_or(0), args.parallel);
    }
    let stop = crate::train::stop_on_signals()?;
    let mut processes = Processes { backend, args, root: &root, planned: &planned, per_run, stopping: false };
    let schedule = Schedule { leader, slots: args.parallel, poll_every: std::time::Duration::from_millis(200) };
    for event in schedule.run(&mut processes, &stop)? {
        outcomes.push(processes.outcome(event));
    }
    print_batch_summary(&outcomes);
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    if failed > 0 {
        bail!(
            "{failed} of {} experiments did not complete; `{}` continues them (complete runs are skipped)",
            outcomes.len(),
            args.continue_command()
        );
    }
    Ok(())
}

/// The runs experiment `name` makes: one, or with a sweep one per combination of its values
/// (each named `<name>.<values>`, in the sweep's group): each run's name, overrides and place.
fn runs_of(
    args: &BatchArgs,
    sweep: &ouro_lab::sweep::Sweep,
    name: &str,
) -> Result<Vec<(String, Vec<String>, Placement)>> {
    let one = Placement { group: args.group.clone(), name: None };
    if !sweep.is_sweep() {
        return Ok(vec![(stem(name), args.overrides.clone(), one)]);
    }
    let group = match &args.group {
        Some(g) => g.clone(),
        None => {
            let file = Catalog::new(&args.layout.catalog).find(name)?;
            let config =
                ouro_train::TrainConfig::load(&file, &sweep.fixed).with_context(|| format!("experiment {name}"))?;
            sweep.group(config.study.experiment_group.as_deref().unwrap_or("ungrouped"))
        }
    };
    Ok(sweep
        .variants()
        .into_iter()
        .map(|v| {
            let run_name = format!("{}.{}", stem(name), v.suffix);
            let mut overrides = sweep.fixed.clone();
            overrides.extend(v.overrides);
            (run_name.clone(), overrides, Placement { group: Some(group.clone()), name: Some(run_name) })
        })
        .collect())
}

/// Writes each sweep group's plan (`sweep.json`: the command and its runs) for `ouro report`,
/// which finds no config of the catalog in a sweep's group.
fn record_sweeps(root: &OutputRoot, args: &BatchArgs, planned: &[Planned]) -> Result<()> {
    let mut groups: Vec<&str> = planned.iter().map(|p| p.group.as_str()).collect();
    groups.dedup();
    for group in groups {
        let runs = planned
            .iter()
            .filter(|p| p.group == group)
            .map(|p| ouro_lab::sweep::PlannedRun {
                name: p.name.clone(),
                config_file: p.file.display().to_string(),
                overrides: p.overrides.clone(),
            })
            .collect();
        let record = ouro_lab::sweep::Record { command: args.continue_command(), runs };
        record.write(&root.local().join(group))?;
        root.push(&format!("{group}/{}", ouro_lab::sweep::RECORD_FILE))?;
    }
    Ok(())
}

impl BatchArgs {
    /// A batch of experiment `name` alone (`ouro run` of a sweep).
    pub(crate) fn of_one(name: String, overrides: Vec<String>, layout: &Layout, placement: &Placement) -> BatchArgs {
        BatchArgs {
            names: vec![name],
            pattern: None,
            list: false,
            overrides,
            layout: layout.clone(),
            group: placement.group.clone(),
            parallel: 1,
            devices: None,
            dry_run: false,
            max_steps: None,
            cost: CostArgs { device_tflops: None, mfu: 0.3, memory: false, target: None, measure: false },
        }
    }

    /// With `--dry-run` as given.
    pub(crate) fn dry_run(self, dry_run: bool) -> BatchArgs {
        BatchArgs { dry_run, ..self }
    }

    /// With `--max-steps` as given.
    pub(crate) fn max_steps(self, max_steps: Option<u64>) -> BatchArgs {
        BatchArgs { max_steps, ..self }
    }

    /// The command that runs this batch again: it continues what stopped and skips what is
    /// complete.
    fn continue_command(&self) -> String {
        let mut words = vec!["ouro".to_string(), "batch".into()];
        words.extend(self.names.iter().cloned());
        if let Some(p) = &self.pattern {
            words.extend(["--pattern".to_string(), p.clone()]);
        }
        for o in &self.overrides {
            words.extend(["--set".to_string(), o.clone()]);
        }
        words.extend(self.layout.flags());
        if let Some(g) = &self.group {
            words.extend(["--group".to_string(), g.clone()]);
        }
        if self.parallel > 1 {
            words.extend(["--parallel".to_string(), self.parallel.to_string()]);
        }
        if let Some(d) = self.devices {
            words.extend(["--devices".to_string(), d.to_string()]);
        }
        if let Some(m) = self.max_steps {
            words.extend(["--max-steps".to_string(), m.to_string()]);
        }
        shell_words::join(words)
    }
}

/// The dry run's table: what each experiment would do, and its cost.
fn print_plan(
    backend: &BackendArgs,
    args: &BatchArgs,
    root: &OutputRoot,
    planned: &[Planned],
    leader: &[Option<usize>],
) {
    let mut memory = super::MemoryPlan::new(&args.cost, backend);
    println!("{:<24} {:<30} {:<16} {:<34} cost", "experiment", "group", "recipe", "would");
    for (i, p) in planned.iter().enumerate() {
        let would = match (leader[i], next_step(root, p, false)) {
            (_, Err(e)) => format!("fail: {}", first_line(&crate::error_chain(e.as_ref()))),
            (_, Ok(Next::Complete)) => "skip (complete)".into(),
            (_, Ok(Next::SameAs(d))) => format!("skip (same as {})", d.display()),
            (Some(l), _) => format!("skip (same recipe as {})", planned[l].name),
            (None, Ok(Next::Resume(s))) => format!("resume from step {s}"),
            (None, Ok(Next::Start)) => "run".into(),
        };
        let group = p.config.study.experiment_group.clone().unwrap_or_default();
        println!("{:<24} {:<30} {:<16} {:<34} {}", p.name, group, p.hash, would, cost_line(p, &args.cost, &mut memory));
    }
}

/// The batch's experiments as `ouro run` processes.
struct Processes<'a> {
    backend: &'a BackendArgs,
    args: &'a BatchArgs,
    root: &'a OutputRoot,
    planned: &'a [Planned],
    per_run: usize,
    /// Whether the batch was asked to stop (said once).
    stopping: bool,
}

impl Launcher for Processes<'_> {
    type Job = std::process::Child;
    type Error = anyhow::Error;

    fn is_complete(&mut self, i: usize) -> bool {
        matches!(next_step(self.root, &self.planned[i], false), Ok(Next::Complete))
    }

    fn start(&mut self, i: usize, slot: usize) -> Result<std::process::Child> {
        let p = &self.planned[i];
        let child = spawn(self.backend, self.args, self.root, p, slot, self.per_run)?;
        eprintln!("batch: started {} (log {})", p.name, p.run_dir.join("ouro.log").display());
        Ok(child)
    }

    fn poll(&mut self, child: &mut std::process::Child) -> Result<Option<bool>> {
        Ok(child.try_wait().context("waiting for a run")?.map(|status| status.success()))
    }

    fn stop(&mut self, child: &std::process::Child) {
        if !self.stopping {
            self.stopping = true;
            eprintln!("batch: stopping; each running experiment saves a checkpoint and ends");
        }
        terminate(child);
    }
}

impl Processes<'_> {
    /// The summary line of what became of an experiment.
    fn outcome(&self, event: Event) -> Outcome {
        let (i, ok, seconds, result) = match event {
            Event::Skipped(i) => (i, true, 0.0, "skipped: complete".to_string()),
            Event::NotStarted(i, e) => (i, false, 0.0, format!("failed to start: {e}")),
            Event::Stopped(i) => (i, false, 0.0, "not started (batch stopped)".to_string()),
            Event::Ended { index, success, seconds } => (index, success, seconds, self.ended(index, success)),
        };
        let p = &self.planned[i];
        Outcome { name: p.name.clone(), result, ok, run_dir: Some(p.run_dir.clone()), seconds }
    }

    /// How experiment `i`'s process ended, from its run record.
    fn ended(&self, i: usize, success: bool) -> String {
        let p = &self.planned[i];
        // The log's last lines were written after the run's own last copy.
        if let Err(e) = self.root.push(&p.relative) {
            eprintln!("batch: copying {} to {} failed: {e:#}", p.name, self.root.url(&p.relative));
        }
        let record = RunRecord::read(&p.run_dir).ok().flatten();
        match (&record, success) {
            (Some(r), true) if r.state == RunState::Duplicate => {
                format!("same recipe as {}", r.same_as.as_deref().unwrap_or("?"))
            }
            (Some(r), true) if r.state == RunState::Stopped => format!("stopped at step {}/{}", r.steps, r.total_steps),
            (_, true) => "complete".into(),
            (Some(r), false) if r.state == RunState::Stopped => {
                format!("stopped at step {}/{} (resumable)", r.steps, r.total_steps)
            }
            (Some(r), false) => format!("failed: {}", first_line(r.error.as_deref().unwrap_or("see its ouro.log"))),
            (None, false) => format!("failed; see {}", p.run_dir.join("ouro.log").display()),
        }
    }
}

/// Starts `ouro run` for `p` in its own process (a failure or crash ends only that run), its
/// output in the run directory's `ouro.log`, never reading standard input.
fn spawn(
    backend: &BackendArgs,
    args: &BatchArgs,
    root: &OutputRoot,
    p: &Planned,
    slot: usize,
    per_run: usize,
) -> Result<std::process::Child> {
    std::fs::create_dir_all(&p.run_dir).with_context(|| format!("creating {}", p.run_dir.display()))?;
    // A run resumed from another machine's copy continues its log.
    root.pull(&p.relative, |r| r.ends_with("/ouro.log"))?;
    let log_path = p.run_dir.join("ouro.log");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path)?;
    let mut cmd = std::process::Command::new(std::env::current_exe().context("finding the ouro executable")?);
    backend.forward(&mut cmd);
    cmd.arg("run")
        .arg(&p.file)
        .arg("--catalog")
        .arg(&args.layout.catalog)
        .arg("--output-root")
        .arg(&args.layout.output_root);
    if let Some(root) = &args.layout.checkpoint_root {
        cmd.arg("--checkpoint-root").arg(root);
    }
    if let Some(m) = args.max_steps {
        cmd.arg("--max-steps").arg(m.to_string());
    }
    // The run's place as planned here (a sweep's group and name), so the child finds it.
    cmd.arg("--group").arg(&p.group).arg("--as").arg(&p.name);
    cmd.arg("--").args(&p.overrides);
    // This run's share of the accelerators, taken from those the user left visible.
    if args.parallel > 1 {
        let (_, platform) = backend.locate()?;
        let share = |variable: &str| {
            let visible = std::env::var(variable).ok();
            device_share(visible.as_deref(), variable, slot, per_run, args.parallel)
        };
        match platform {
            ouro_pjrt::Platform::Gpu => {
                cmd.env("CUDA_VISIBLE_DEVICES", share("CUDA_VISIBLE_DEVICES")?.join(","));
            }
            ouro_pjrt::Platform::Tpu if per_run == 1 => {
                cmd.env("TPU_VISIBLE_CHIPS", share("TPU_VISIBLE_CHIPS")?.join(","))
                    .env("TPU_CHIPS_PER_PROCESS_BOUNDS", "1,1,1")
                    .env("TPU_PROCESS_BOUNDS", "1,1,1")
                    .env("TPU_PROCESS_PORT", (8476 + slot).to_string());
            }
            ouro_pjrt::Platform::Tpu => {
                bail!("--parallel on TPU gives each run one chip: use --devices equal to --parallel")
            }
            ouro_pjrt::Platform::Cpu => {}
        }
    }
    cmd.stdin(std::process::Stdio::null()).stdout(log.try_clone()?).stderr(log);
    cmd.spawn().with_context(|| format!("starting {}", p.name))
}

/// Run `slot`'s `per_run` devices, out of those `visible` (the user's `CUDA_VISIBLE_DEVICES`
/// or `TPU_VISIBLE_CHIPS`, kept as they wrote them: ordinals or GPU UUIDs), or of `0..` when
/// the variable is unset; too few visible devices for `slots` runs is refused naming both.
fn device_share(
    visible: Option<&str>,
    variable: &str,
    slot: usize,
    per_run: usize,
    slots: usize,
) -> Result<Vec<String>> {
    let needed = per_run * slots;
    let listed: Vec<String> = match visible {
        Some(list) => list.split(',').map(|d| d.trim().to_string()).filter(|d| !d.is_empty()).collect(),
        None => (0..needed).map(|d| d.to_string()).collect(),
    };
    if listed.len() < needed {
        bail!(
            "{slots} parallel runs of {per_run} device(s) need {needed} devices, but {variable}={:?} leaves {}",
            visible.unwrap_or_default(),
            listed.len()
        );
    }
    Ok(listed[slot * per_run..(slot + 1) * per_run].to_vec())
}

/// Asks a run to stop after its current step (it saves a checkpoint first).
fn terminate(child: &std::process::Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a pid of our own child and a valid signal number.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
}

fn print_batch_summary(outcomes: &[Outcome]) {
    println!("\n{:<24} {:<8} {:>10} {:>12}  result", "experiment", "ok", "wall", "exact acc.");
    for o in outcomes {
        let metrics = o.run_dir.as_ref().and_then(|d| {
            let record = RunRecord::read(d).ok().flatten()?;
            let source = record.results_dir(d);
            ouro_lab::metrics::RunMetrics::read(&source).ok()
        });
        let acc = metrics
            .and_then(|m| m.last(ouro_lab::guide::PRIMARY))
            .map_or_else(|| "-".into(), |a| format!("{:.2} %", a * 100.0));
        let wall = if o.seconds > 0.0 { hours(o.seconds) } else { "-".into() };
        println!("{:<24} {:<8} {:>10} {:>12}  {}", o.name, if o.ok { "yes" } else { "NO" }, wall, acc, o.result);
    }
}

#[cfg(test)]
mod tests {
    use super::device_share;
    use clap::Parser;

    /// `ouro batch ...` as the CLI parses it.
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        batch: super::BatchArgs,
    }

    #[test]
    fn a_stopped_batch_is_continued_by_the_command_that_started_it() {
        let typed = ["ouro", "tiny_h16", "--pattern", "exp0*", "--set", "lr=1e-3,2e-3", "--output-root", "s3://b/runs"];
        let args = Cli::parse_from(typed.iter().copied().chain(["--parallel", "2", "--max-steps", "9"])).batch;
        let command = args.continue_command();
        assert_eq!(
            command,
            "ouro batch tiny_h16 --pattern 'exp0*' --set 'lr=1e-3,2e-3' --output-root s3://b/runs --parallel 2 --max-steps 9"
        );
        let words = shell_words::split(&command).unwrap();
        let again = Cli::parse_from(std::iter::once("ouro".to_string()).chain(words.into_iter().skip(2))).batch;
        assert_eq!((again.names, again.overrides, again.parallel), (args.names, args.overrides, args.parallel));
    }

    #[test]
    fn parallel_runs_split_the_devices_the_user_left_visible() {
        assert_eq!(device_share(None, "CUDA_VISIBLE_DEVICES", 1, 2, 2).unwrap(), ["2", "3"]);
        assert_eq!(device_share(Some("4,6,7,5"), "CUDA_VISIBLE_DEVICES", 1, 1, 4).unwrap(), ["6"]);
        assert_eq!(device_share(Some("GPU-aa, GPU-bb"), "CUDA_VISIBLE_DEVICES", 0, 1, 2).unwrap(), ["GPU-aa"]);
        let e = device_share(Some("3,5"), "CUDA_VISIBLE_DEVICES", 0, 1, 4).unwrap_err().to_string();
        assert!(
            e.contains("need 4 devices") && e.contains("CUDA_VISIBLE_DEVICES=\"3,5\"") && e.contains("leaves 2"),
            "{e}"
        );
    }
}
