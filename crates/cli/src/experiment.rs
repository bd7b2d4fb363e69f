//! The research program's commands: `ouro run NAME`, `ouro batch`, `ouro status`,
//! `ouro validate NAME` and `ouro report GROUP`, over a catalog of experiment configs and an
//! output root laid out as `{output_root}/{experiment_group}/{name}/`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use ouro_lab::runs::{RunState, complete_with_hash, now};
use ouro_lab::{Catalog, RunRecord, data_fingerprint, recipe_hash};
use ouro_train::TrainConfig;

use crate::BackendArgs;
use crate::train::{HowToRun, load_config, print_summary, train_config};

/// Where experiments are found and where their runs go.
#[derive(Args, Debug, Clone)]
pub struct Layout {
    /// The experiment catalog: NAME is `<catalog>/NAME.yaml`.
    #[arg(long, value_name = "DIR", default_value = "configs/experiments")]
    pub catalog: PathBuf,
    /// Runs go to `<output-root>/<experiment_group>/<name>/`.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    pub output_root: PathBuf,
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
    run_dir: PathBuf,
    hash: String,
}

impl Layout {
    /// Resolves `name` with `overrides` (building a generated dataset it names).
    fn plan(&self, name: &str, overrides: &[String]) -> Result<Planned> {
        let file = Catalog::new(&self.catalog).find(name)?;
        let mut config = load_config(&file, overrides).with_context(|| format!("experiment {name}"))?;
        let name = stem(&file.display().to_string());
        let group = config.experiment_group.clone().unwrap_or_else(|| "ungrouped".into());
        let run_dir = self.output_root.join(&group).join(&name);
        if let Some(root) = &self.checkpoint_root {
            config.checkpoint.location = Some(format!("{}/{group}/{name}", root.trim_end_matches('/')));
        }
        let hash = recipe_hash(&config, &data_fingerprint(&config)?)?;
        Ok(Planned { name, file, overrides: overrides.to_vec(), config, run_dir, hash })
    }
}

/// Run one experiment of the catalog by name.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ouro run exp01a --dry-run                  # the resolved config and what it costs\n  ouro run exp01a epochs=1000 eval_interval=100\n  ouro run exp01a --output-root /mnt/runs --checkpoint-root gs://bucket/checkpoints"
)]
pub struct RunArgs {
    /// The experiment: a name in the catalog (`exp01a`) or a config file.
    name: String,
    /// Overrides, as for `ouro train` (`key=value`, `+key=value`, `~key`, `group=name`).
    overrides: Vec<String>,
    #[command(flatten)]
    layout: Layout,
    /// Show the resolved config, the run directory, what it would do and its estimated cost; run nothing.
    #[arg(long)]
    dry_run: bool,
    /// Run again even when a run of this recipe is complete, replacing the run directory's metrics.
    #[arg(long)]
    force: bool,
    /// Stop after this many steps (resumable later).
    #[arg(long)]
    max_steps: Option<u64>,
    #[command(flatten)]
    cost: CostArgs,
}

/// The device throughput a dry run costs runs at.
#[derive(Args, Debug, Clone)]
pub struct CostArgs {
    /// Peak dense bf16 TFLOP/s of one device (989: an H100 SXM; a v4 TPU chip: 275).
    #[arg(long, value_name = "TFLOPS", default_value_t = 989.0)]
    pub device_tflops: f64,
    /// The fraction of the peak the run achieves (model FLOPs utilisation).
    #[arg(long, default_value_t = 0.3)]
    pub mfu: f64,
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

fn next_step(layout: &Layout, p: &Planned, force: bool) -> Result<Next> {
    let record = RunRecord::read(&p.run_dir)?;
    if let Some(r) = &record {
        if r.alive() {
            bail!("{} is being run by process {} right now", p.run_dir.display(), r.pid.unwrap_or(0));
        }
        if r.hash != p.hash && !force {
            bail!(
                "{} holds a run of another recipe (hash {}, now {}: the config, its overrides or the data changed); \
                 pass --force to replace it, or choose another --output-root",
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
    if let Some(other) = complete_with_hash(&layout.output_root, &p.hash, &p.run_dir)? {
        return Ok(Next::SameAs(other));
    }
    if record.is_some() {
        let url =
            p.config.checkpoint.location.clone().unwrap_or_else(|| p.run_dir.join("checkpoints").display().to_string());
        let location = ouro_store::Location::open(&url)?;
        if let Some(&step) = ouro_ckpt::committed(&location).unwrap_or_default().last() {
            return Ok(Next::Resume(step));
        }
    }
    Ok(Next::Start)
}

/// The cost of a planned run, as one line.
fn cost_line(p: &Planned, cost: &CostArgs) -> String {
    let shape = match &p.config.data_shape {
        Some(s) => Ok(s.clone()),
        None => ouro_data::remote::resolve(&p.config.data_paths[0]).and_then(|dir| {
            let meta = ouro_data::Metadata::read(&dir.join("train").join("dataset.json"))?;
            let test = ouro_data::Metadata::read(&dir.join("test").join("dataset.json")).ok().map(|m| m.total_puzzles);
            Ok(ouro_train::cost::shape_of(&meta, test))
        }),
    };
    let shape = match shape {
        Ok(s) => s,
        Err(e) => return format!("cost unknown: no data_shape in the config and no data to read it from ({e:#})"),
    };
    match ouro_train::cost::estimate(&p.config, &shape) {
        Ok(c) => {
            let rate = cost.device_tflops * 1e12 * cost.mfu * p.config.mesh.data as f64;
            let depths = if c.depths.is_empty() {
                String::new()
            } else {
                let spans: Vec<String> =
                    c.depths.iter().map(|(d, n)| format!("{}x{} for {n}", d.h_cycles, d.l_cycles)).collect();
                format!("; depth (H_cycles x L_cycles) {} steps", spans.join(", "))
            };
            format!(
                "{:.2} M params, {} steps, {:.3} PFLOP train + {:.3} PFLOP eval ({} evals); {} at {:.0} % MFU of {} x {} TFLOP/s",
                c.params as f64 / 1e6,
                c.total_steps,
                c.train_flops / 1e15,
                c.eval_flops() / 1e15,
                c.evaluations,
                hours(c.seconds(rate)),
                cost.mfu * 100.0,
                p.config.mesh.data,
                cost.device_tflops,
            ) + &depths
        }
        Err(e) => format!("cost unknown: {e:#}"),
    }
}

fn hours(seconds: f64) -> String {
    if seconds < 3600.0 { format!("{:.1} min", seconds / 60.0) } else { format!("{:.2} h", seconds / 3600.0) }
}

/// Runs `ouro run`.
pub fn run(backend: &BackendArgs, args: &RunArgs) -> Result<()> {
    let p = args.layout.plan(&args.name, &args.overrides)?;
    let next = next_step(&args.layout, &p, args.force)?;
    if args.dry_run {
        print!("{}", p.config.to_yaml()?);
        println!("# experiment {} ({}), recipe {}", p.name, p.file.display(), p.hash);
        println!("# run directory {}", p.run_dir.display());
        println!(
            "# would {}",
            match &next {
                Next::Complete => "do nothing: complete".to_string(),
                Next::SameAs(d) => format!("do nothing: the same recipe is complete in {}", d.display()),
                Next::Resume(s) => format!("resume from step {s}"),
                Next::Start => "start".to_string(),
            }
        );
        println!("# {}", cost_line(&p, &args.cost));
        return Ok(());
    }
    match next {
        Next::Complete => {
            println!("{}: complete in {} (--force runs it again)", p.name, p.run_dir.display());
            return Ok(());
        }
        Next::SameAs(other) => {
            let previous = RunRecord::read(&other)?.context("the complete run's record vanished")?;
            let record = RunRecord {
                finished: Some(now()),
                steps: previous.steps,
                total_steps: previous.total_steps,
                same_as: Some(other.display().to_string()),
                ..RunRecord::new(&p.name, &p.file, &p.overrides, &p.hash, RunState::Duplicate)
            };
            record.write(&p.run_dir)?;
            println!("{}: the same recipe ({}) is complete in {}; not run again", p.name, p.hash, other.display());
            return Ok(());
        }
        Next::Resume(_) | Next::Start => {}
    }
    let resume = matches!(next, Next::Resume(_));
    let previous = RunRecord::read(&p.run_dir)?.filter(|r| r.hash == p.hash);
    let mut record = RunRecord {
        pid: Some(std::process::id()),
        seconds: if resume { previous.as_ref().map_or(0.0, |r| r.seconds) } else { 0.0 },
        ..RunRecord::new(&p.name, &p.file, &p.overrides, &p.hash, RunState::Running)
    };
    record.write(&p.run_dir)?;
    let started = std::time::Instant::now();
    // The runner owns the directory: a fresh start replaces what a failed attempt left.
    let how = HowToRun { max_steps: args.max_steps, force: true, resume };
    let result = train_config(backend, &p.config, &p.run_dir, how);
    record.seconds += started.elapsed().as_secs_f64();
    record.finished = Some(now());
    record.pid = None;
    match result {
        Ok(summary) => {
            record.steps = summary.steps;
            record.total_steps = summary.total_steps;
            // The sampler may end a run a step short of `total_steps` (whole batches only):
            // a run is cut short only by a signal or by --max-steps.
            let cut = summary.stopped
                || args.max_steps.is_some_and(|m| summary.steps >= m && summary.steps < summary.total_steps);
            record.state = if cut { RunState::Stopped } else { RunState::Complete };
            record.write(&p.run_dir)?;
            print_summary(&summary, &p.run_dir);
            if summary.stopped {
                bail!(
                    "stopped by a signal after step {} with that step saved; `ouro run {}` continues",
                    summary.steps,
                    p.name
                );
            }
            Ok(())
        }
        Err(e) => {
            record.state = RunState::Failed;
            record.error = Some(format!("{e:#}"));
            record.write(&p.run_dir)?;
            Err(e.context(format!("experiment {}", p.name)))
        }
    }
}

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
    /// Overrides applied to every run (`--set epochs=100 --set eval_interval=10`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    #[command(flatten)]
    layout: Layout,
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
    // Resolve everything first: a config error shows before anything runs.
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut planned: Vec<Planned> = Vec::new();
    for name in &names {
        match args.layout.plan(name, &args.overrides) {
            Ok(p) => planned.push(p),
            Err(e) => outcomes.push(Outcome {
                name: stem(name),
                result: format!("failed: {}", first_line(&format!("{e:#}"))),
                ok: false,
                run_dir: None,
                seconds: 0.0,
            }),
        }
    }
    // A recipe shared by several names runs once: the others wait for it, then find it complete.
    let leader: Vec<Option<usize>> =
        planned.iter().enumerate().map(|(i, p)| planned[..i].iter().position(|q| q.hash == p.hash)).collect();

    if args.dry_run {
        println!("{:<24} {:<30} {:<16} {:<34} cost", "experiment", "group", "recipe", "would");
        for (i, p) in planned.iter().enumerate() {
            let would = match (leader[i], next_step(&args.layout, p, false)) {
                (_, Err(e)) => format!("fail: {}", first_line(&format!("{e:#}"))),
                (_, Ok(Next::Complete)) => "skip (complete)".into(),
                (_, Ok(Next::SameAs(d))) => format!("skip (same as {})", d.display()),
                (Some(l), _) => format!("skip (same recipe as {})", planned[l].name),
                (None, Ok(Next::Resume(s))) => format!("resume from step {s}"),
                (None, Ok(Next::Start)) => "run".into(),
            };
            let group = p.config.experiment_group.clone().unwrap_or_default();
            println!("{:<24} {:<30} {:<16} {:<34} {}", p.name, group, p.hash, would, cost_line(p, &args.cost));
        }
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
    let mut done: Vec<Option<bool>> = vec![None; planned.len()];
    let mut running: Vec<(usize, usize, std::process::Child, std::time::Instant)> = Vec::new();
    let mut free_slots: Vec<usize> = (0..args.parallel).rev().collect();
    let mut next = 0usize;
    let mut waiting: Vec<usize> = Vec::new();
    let mut stopping = false;
    loop {
        if !stopping && stop.load(std::sync::atomic::Ordering::Relaxed) {
            stopping = true;
            eprintln!("batch: stopping; each running experiment saves a checkpoint and ends");
            for (_, _, child, _) in &running {
                terminate(child);
            }
        }
        // Start what can start: in order, a follower only once its leader has ended.
        while !stopping && !free_slots.is_empty() {
            let ready = waiting.iter().position(|&i| leader[i].is_none_or(|l| done[l].is_some()));
            let i = match ready {
                Some(k) => waiting.remove(k),
                None if next < planned.len() => {
                    next += 1;
                    if leader[next - 1].is_some_and(|l| done[l].is_none()) {
                        waiting.push(next - 1);
                        continue;
                    }
                    next - 1
                }
                None => break,
            };
            let p = &planned[i];
            if let Ok(Next::Complete) = next_step(&args.layout, p, false) {
                done[i] = Some(true);
                outcomes.push(Outcome {
                    name: p.name.clone(),
                    result: "skipped: complete".into(),
                    ok: true,
                    run_dir: Some(p.run_dir.clone()),
                    seconds: 0.0,
                });
                continue;
            }
            let slot = free_slots.pop().expect("a free slot");
            match spawn(backend, args, p, slot, per_run) {
                Ok(child) => {
                    eprintln!("batch: started {} (log {})", p.name, p.run_dir.join("ouro.log").display());
                    running.push((i, slot, child, std::time::Instant::now()));
                }
                Err(e) => {
                    free_slots.push(slot);
                    done[i] = Some(false);
                    outcomes.push(Outcome {
                        name: p.name.clone(),
                        result: format!("failed to start: {e:#}"),
                        ok: false,
                        run_dir: Some(p.run_dir.clone()),
                        seconds: 0.0,
                    });
                }
            }
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut k = 0;
        while k < running.len() {
            let status = running[k].2.try_wait().context("waiting for a run")?;
            let Some(status) = status else {
                k += 1;
                continue;
            };
            let (i, slot, _, started) = running.remove(k);
            free_slots.push(slot);
            let p = &planned[i];
            let record = RunRecord::read(&p.run_dir).ok().flatten();
            let result = match (&record, status.success()) {
                (Some(r), true) if r.state == RunState::Duplicate => {
                    format!("same recipe as {}", r.same_as.as_deref().unwrap_or("?"))
                }
                (Some(r), true) if r.state == RunState::Stopped => {
                    format!("stopped at step {}/{}", r.steps, r.total_steps)
                }
                (_, true) => "complete".into(),
                (Some(r), false) if r.state == RunState::Stopped => {
                    format!("stopped at step {}/{} (resumable)", r.steps, r.total_steps)
                }
                (Some(r), false) => {
                    format!("failed: {}", first_line(r.error.as_deref().unwrap_or("see its ouro.log")))
                }
                (None, false) => format!("failed ({status}); see {}", p.run_dir.join("ouro.log").display()),
            };
            done[i] = Some(status.success());
            outcomes.push(Outcome {
                name: p.name.clone(),
                result,
                ok: status.success(),
                run_dir: Some(p.run_dir.clone()),
                seconds: started.elapsed().as_secs_f64(),
            });
        }
    }
    for &i in waiting.iter().chain(&(next..planned.len()).collect::<Vec<_>>()) {
        outcomes.push(Outcome {
            name: planned[i].name.clone(),
            result: "not started (batch stopped)".into(),
            ok: false,
            run_dir: Some(planned[i].run_dir.clone()),
            seconds: 0.0,
        });
    }
    print_batch_summary(&names, &outcomes);
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    if failed > 0 {
        bail!("{failed} of {} experiments did not complete", outcomes.len());
    }
    Ok(())
}

/// An experiment's name: a catalog name as it is, a config file by its stem (as runs are named).
fn stem(name: &str) -> String {
    Path::new(name).file_stem().map_or_else(|| name.to_string(), |s| s.to_string_lossy().into_owned())
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(160).collect()
}

/// Starts `ouro run` for `p` in its own process (a failure or crash ends only that run), its
/// output in the run directory's `ouro.log`, never reading standard input.
fn spawn(
    backend: &BackendArgs,
    args: &BatchArgs,
    p: &Planned,
    slot: usize,
    per_run: usize,
) -> Result<std::process::Child> {
    std::fs::create_dir_all(&p.run_dir).with_context(|| format!("creating {}", p.run_dir.display()))?;
    let log_path = p.run_dir.join("ouro.log");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path)?;
    let mut cmd = std::process::Command::new(std::env::current_exe().context("finding the ouro executable")?);
    if let Some(plugin) = &backend.plugin {
        cmd.arg("--plugin").arg(plugin);
    }
    if let Some(platform) = backend.platform {
        cmd.arg("--platform").arg(platform.to_string());
    }
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
    cmd.arg("--").args(&p.overrides);
    // This run's share of the accelerators.
    let devices: Vec<String> = (slot * per_run..(slot + 1) * per_run).map(|d| d.to_string()).collect();
    if args.parallel > 1 {
        match backend.platform {
            Some(ouro_pjrt::Platform::Gpu) => {
                cmd.env("CUDA_VISIBLE_DEVICES", devices.join(","));
            }
            Some(ouro_pjrt::Platform::Tpu) if per_run == 1 => {
                cmd.env("TPU_VISIBLE_CHIPS", &devices[0])
                    .env("TPU_CHIPS_PER_PROCESS_BOUNDS", "1,1,1")
                    .env("TPU_PROCESS_BOUNDS", "1,1,1")
                    .env("TPU_PROCESS_PORT", (8476 + slot).to_string());
            }
            Some(ouro_pjrt::Platform::Tpu) => {
                bail!("--parallel on TPU gives each run one chip: use --devices equal to --parallel")
            }
            _ => {}
        }
    }
    cmd.stdin(std::process::Stdio::null()).stdout(log.try_clone()?).stderr(log);
    cmd.spawn().with_context(|| format!("starting {}", p.name))
}

/// Asks a run to stop after its current step (it saves a checkpoint first).
fn terminate(child: &std::process::Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a pid of our own child and a valid signal number.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
}

fn print_batch_summary(names: &[String], outcomes: &[Outcome]) {
    println!("\n{:<24} {:<8} {:>10} {:>12}  result", "experiment", "ok", "wall", "exact acc.");
    for name in names {
        let Some(o) = outcomes.iter().find(|o| o.name == stem(name)) else { continue };
        let metrics = o.run_dir.as_ref().and_then(|d| {
            let record = RunRecord::read(d).ok().flatten()?;
            let source = record.same_as.map_or_else(|| d.clone(), PathBuf::from);
            ouro_lab::metrics::RunMetrics::read(&source).ok()
        });
        let acc = metrics
            .and_then(|m| m.last(ouro_lab::report::PRIMARY))
            .map_or_else(|| "-".into(), |a| format!("{:.2} %", a * 100.0));
        let wall = if o.seconds > 0.0 { hours(o.seconds) } else { "-".into() };
        println!("{:<24} {:<8} {:>10} {:>12}  {}", o.name, if o.ok { "yes" } else { "NO" }, wall, acc, o.result);
    }
}

/// Show what is running, done and failed in an output root, with each run's last metrics.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  ouro status\n  ouro status exp01-model-scaling --output-root /mnt/runs")]
pub struct StatusArgs {
    /// Only this experiment group.
    group: Option<String>,
    /// The output root.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    output_root: PathBuf,
}

/// Runs `ouro status`.
pub fn status(args: &StatusArgs) -> Result<()> {
    let runs = ouro_lab::scan(&args.output_root)?;
    let runs: Vec<_> = runs
        .into_iter()
        .filter(|(d, _)| {
            args.group.as_ref().is_none_or(|g| d.parent().and_then(|p| p.file_name()).is_some_and(|n| n == g.as_str()))
        })
        .collect();
    if runs.is_empty() {
        println!("no runs in {}", args.output_root.display());
        return Ok(());
    }
    println!(
        "{:<30} {:<24} {:<11} {:>13} {:>9} {:>11} {:>9}",
        "group", "experiment", "state", "step", "loss", "exact acc.", "updated"
    );
    for (dir, record) in runs {
        let source = record.same_as.as_ref().map_or_else(|| dir.clone(), PathBuf::from);
        let metrics = ouro_lab::metrics::RunMetrics::read(&source).unwrap_or_default();
        let step = metrics.train.last().map_or(record.steps, |(s, _)| *s);
        let loss = metrics.last("train/lm_loss").map_or_else(|| "-".into(), |l| format!("{l:.4}"));
        let acc = metrics.last(ouro_lab::report::PRIMARY).map_or_else(|| "-".into(), |a| format!("{:.2} %", a * 100.0));
        let updated = std::fs::metadata(source.join("metrics.jsonl"))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .map_or_else(|| "-".into(), |e| format!("{} ago", hours(e.as_secs_f64())));
        let group =
            dir.parent().and_then(|p| p.file_name()).map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let total = if record.total_steps > 0 { record.total_steps.to_string() } else { "?".into() };
        println!(
            "{:<30} {:<24} {:<11} {:>13} {:>9} {:>11} {:>9}",
            group,
            record.name,
            record.shown_state(),
            format!("{step}/{total}"),
            loss,
            acc,
            updated
        );
        if let Some(e) = &record.error {
            println!("    {}", first_line(e));
        }
    }
    Ok(())
}

/// Check that an experiment works before spending a long run on it: a short run that must
/// start, decrease its loss, write a checkpoint and produce metrics (each reported pass/fail).
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ouro validate exp01a global_batch_size=64 arch.hidden_size=64\n  ouro validate exp04a_100 --steps 40"
)]
pub struct ValidateArgs {
    /// The experiment: a name in the catalog or a config file.
    name: String,
    /// Overrides (shrink a large experiment to something this machine runs quickly).
    overrides: Vec<String>,
    /// Steps to run.
    #[arg(long, default_value_t = 20)]
    steps: u64,
    /// The experiment catalog.
    #[arg(long, value_name = "DIR", default_value = "configs/experiments")]
    catalog: PathBuf,
    /// Where the short run goes (replaced by each validation).
    #[arg(long, value_name = "DIR", default_value = "runs/_validate")]
    out: PathBuf,
}

/// Runs `ouro validate`.
pub fn validate(backend: &BackendArgs, args: &ValidateArgs) -> Result<()> {
    if args.steps < 4 {
        bail!("--steps must be at least 4 (the loss is compared between the first and last quarter)");
    }
    let file = Catalog::new(&args.catalog).find(&args.name)?;
    let mut config = load_config(&file, &args.overrides)?;
    let run_dir = args.out.join(&args.name);
    if run_dir.exists() {
        std::fs::remove_dir_all(&run_dir).with_context(|| format!("clearing {}", run_dir.display()))?;
    }
    config.checkpoint.location = None;
    config.checkpoint.every_steps = (args.steps / 2).max(1);
    let mut checks: Vec<(&str, Result<String>)> = Vec::new();
    let how = HowToRun { max_steps: Some(args.steps), force: true, resume: false };
    let trained = train_config(backend, &config, &run_dir, how);
    let summary = match trained {
        Ok(s) => {
            checks.push(("starts and trains", Ok(format!("{} steps, compile {:.1} s", s.steps, s.compile_seconds))));
            Some(s)
        }
        Err(e) => {
            checks.push(("starts and trains", Err(e)));
            None
        }
    };
    if summary.is_some() {
        let metrics = ouro_lab::metrics::RunMetrics::read(&run_dir);
        checks
            .push(("loss decreases", metrics.as_ref().map_err(|e| anyhow::anyhow!("{e:#}")).and_then(loss_decreases)));
        checks.push(("a checkpoint is written", checkpoint_written(&run_dir)));
        checks.push((
            "metrics appear",
            metrics.map_err(|e| anyhow::anyhow!("{e:#}")).and_then(|m| metrics_appear(&m, &run_dir)),
        ));
    }
    println!("validation of {} ({} steps in {}):", args.name, args.steps, run_dir.display());
    let mut failed = 0;
    for (what, result) in &checks {
        match result {
            Ok(detail) => println!("  PASS  {what}: {detail}"),
            Err(e) => {
                failed += 1;
                println!("  FAIL  {what}: {}", first_line(&format!("{e:#}")));
            }
        }
    }
    if failed > 0 || checks.len() < 4 {
        bail!("{} validation failed", args.name);
    }
    Ok(())
}

fn loss_decreases(m: &ouro_lab::metrics::RunMetrics) -> Result<String> {
    let loss: Vec<f64> =
        ouro_lab::metrics::RunMetrics::series(&m.train, "train/lm_loss").into_iter().map(|p| p.1).collect();
    if loss.len() < 4 {
        bail!("only {} loss values", loss.len());
    }
    let q = loss.len() / 4;
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let (first, last) = (mean(&loss[..q]), mean(&loss[loss.len() - q..]));
    if last < first {
        Ok(format!("mean lm_loss {first:.4} in the first quarter, {last:.4} in the last"))
    } else {
        bail!("mean lm_loss {first:.4} in the first quarter, {last:.4} in the last: no decrease")
    }
}

fn checkpoint_written(run_dir: &Path) -> Result<String> {
    let location = ouro_store::Location::open(&run_dir.join("checkpoints").display().to_string())?;
    let steps = ouro_ckpt::committed(&location)?;
    match steps.last() {
        Some(s) => Ok(format!("committed steps {steps:?}, the newest step_{s}")),
        None => bail!("no committed checkpoint in {}", run_dir.join("checkpoints").display()),
    }
}

fn metrics_appear(m: &ouro_lab::metrics::RunMetrics, run_dir: &Path) -> Result<String> {
    if m.train.is_empty() {
        bail!("metrics.jsonl has no training record");
    }
    let events = std::fs::read_dir(run_dir)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("events.out.tfevents.")))
        .context("no TensorBoard event file")?;
    let read = ouro_tboard::read_events(&events)?;
    let scalars = read.iter().filter(|e| matches!(e.what, ouro_tboard::What::Scalars(_))).count();
    if scalars == 0 {
        bail!("{} has no scalars", events.display());
    }
    Ok(format!("{} records in metrics.jsonl, {scalars} scalar events in {}", m.train.len(), events.display()))
}

/// Compare an experiment group's runs: plots (SVG and PNG) of loss and accuracy curves, final
/// accuracy against the varied variable, throughput and wall time, and a Markdown report in
/// the shape of the experiment guide, written next to the runs.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ouro report exp01-model-scaling\n  ouro report exp01-model-scaling --output-root /mnt/runs --out /tmp/exp01-report"
)]
pub struct ReportArgs {
    /// The experiment group (a directory of the output root).
    group: String,
    /// The output root.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    output_root: PathBuf,
    /// Where the report goes (default: `<output-root>/<group>/report/`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Runs `ouro report`.
pub fn report(args: &ReportArgs) -> Result<()> {
    let files = ouro_lab::report::write_report(&args.output_root, &args.group, args.out.as_deref())?;
    println!("{}", files.markdown.display());
    for p in &files.plots {
        println!("{}", p.display());
    }
    Ok(())
}
