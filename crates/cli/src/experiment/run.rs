//! `ouro run NAME`: one experiment of the catalog.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use ouro_lab::runs::{RunState, now};
use ouro_lab::{OutputRoot, RunRecord};
use ouro_train::run::Persist;

use super::{CostArgs, Layout, Next, cost_line, next_step, pull_records};
use crate::BackendArgs;
use crate::train::{HowToRun, print_summary, train_config};

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

/// Runs `ouro run`.
pub fn run(backend: &BackendArgs, args: &RunArgs) -> Result<()> {
    let root = args.layout.root()?;
    pull_records(&root)?;
    let p = args.layout.plan(&root, &args.name, &args.overrides)?;
    let next = next_step(&root, &p, args.force)?;
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
        println!("# {}", cost_line(&p, &args.cost, &mut super::MemoryPlan::new(&args.cost, backend)));
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
            root.push(&p.relative)?;
            println!("{}: the same recipe ({}) is complete in {}; not run again", p.name, p.hash, other.display());
            return Ok(());
        }
        Next::Resume(_) | Next::Start => {}
    }
    let resume = matches!(next, Next::Resume(_));
    // A damaged record was reported by `next_step`; the run rewrites it.
    if let Some(r) =
        RunRecord::read(&p.run_dir).ok().flatten().filter(|r| r.state == RunState::Running && !r.on_this_host())
    {
        eprintln!(
            "{}: last recorded as running on {} (pid {}); continuing it here: stop that machine's run if it still goes",
            p.name,
            r.host.as_deref().unwrap_or("?"),
            r.pid.unwrap_or(0)
        );
    }
    if resume {
        // The metrics so far continue where the checkpoint is (the log is the batch parent's).
        root.pull(&p.relative, |r| !r.ends_with("/ouro.log"))
            .with_context(|| format!("reading {}", root.url(&p.relative)))?;
    }
    // Checkpoints on an object store are leased to one writer: a run going on another machine
    // is refused here, before this one writes the run's record. (In a job, process 0 holds the
    // lease for all; the others do not look.)
    let leader = backend.process_spec(ouro_pjrt::plugin::has_tpu_chip())?.is_none_or(|s| s.process_id == 0);
    if let Some(url) = p.config.checkpoint.location.as_deref().filter(|u| leader && ouro_store::is_remote(u)) {
        let location = ouro_store::Location::open(url)?;
        ouro_ckpt::Lease::refuse_if_held(&location, Duration::from_secs(p.config.checkpoint.lease_seconds))
            .with_context(|| format!("experiment {}", p.name))?;
    }
    let prior = RunRecord::read(&p.run_dir).ok().flatten();
    let previous = prior.clone().filter(|r| r.hash == p.hash);
    let mut record = RunRecord {
        seconds: if resume { previous.as_ref().map_or(0.0, |r| r.seconds) } else { 0.0 },
        ..RunRecord::new(&p.name, &p.file, &p.overrides, &p.hash, RunState::Running).owned_by_this_process()
    };
    record.write(&p.run_dir)?;
    root.push(&p.relative)?;
    let started = std::time::Instant::now();
    let root = Arc::new(root);
    let persist: Option<Persist> = root.is_remote().then(|| background_push(root.clone(), p.relative.clone()));
    // The runner owns the directory: a fresh start replaces what a failed attempt left.
    let how = HowToRun { max_steps: args.max_steps, force: true, resume, persist };
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
            root.push(&p.relative).with_context(|| format!("copying the run to {}", root.url(&p.relative)))?;
            if summary.stopped {
                bail!(
                    "stopped by a signal after step {} with that step saved; `ouro run {}` continues",
                    summary.steps,
                    p.name
                );
            }
            Ok(())
        }
        Err(e) if held_by_another(&e) => {
            // Lost the race for the lease to another machine: the record is that run's.
            if let Some(prior) = prior {
                prior.write(&p.run_dir)?;
                root.push(&p.relative)?;
            }
            Err(e.context(format!("experiment {}", p.name)))
        }
        Err(e) => {
            record.state = RunState::Failed;
            record.error = Some(crate::error_chain(&e));
            record.write(&p.run_dir)?;
            if let Err(copy) = root.push(&p.relative) {
                eprintln!("{}: copying the failed run to {} failed too: {copy:#}", p.name, root.url(&p.relative));
            }
            Err(e.context(format!("experiment {}", p.name)))
        }
    }
}

/// Whether `e` is the refusal of a second writer of the run's checkpoint location.
fn held_by_another(e: &anyhow::Error) -> bool {
    e.chain().any(|c| matches!(c.downcast_ref::<ouro_ckpt::Error>(), Some(ouro_ckpt::Error::Held(_))))
}

/// A persist hook that copies the run directory up on a thread of its own, so a slow or
/// unreachable store never holds training; a copy asked for while one is under way is skipped
/// (the next one, or the final copy, takes the files as they are then).
fn background_push(root: Arc<OutputRoot>, relative: String) -> Persist {
    let busy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    Arc::new(move || {
        if busy.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return Ok(());
        }
        let (root, relative, busy) = (root.clone(), relative.clone(), busy.clone());
        std::thread::spawn(move || {
            if let Err(e) = root.push(&relative) {
                tracing::warn!("copying the run to {} failed (the run goes on): {e:#}", root.url(&relative));
            }
            busy.store(false, std::sync::atomic::Ordering::Release);
        });
        Ok(())
    })
}
