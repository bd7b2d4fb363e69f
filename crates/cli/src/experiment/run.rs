//! `ouro run NAME`: one experiment of the catalog.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use ouro_lab::RunRecord;
use ouro_lab::lifecycle::{Ended, Lifecycle, RunPlace, record_duplicate};
use ouro_lab::runs::RunState;

use super::{CostArgs, Layout, Next, Placement, cost_line, next_step, pull_records};
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
    #[command(flatten)]
    placement: Placement,
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
    let sweep = ouro_lab::sweep::Sweep::parse(&args.overrides)?;
    if sweep.is_sweep() {
        // Several runs, one per combination: a batch of one experiment.
        if args.placement.name.is_some() {
            bail!("--as names one run, and {} is a sweep of several: leave --as out", args.overrides.join(" "));
        }
        let batch = super::BatchArgs::of_one(args.name.clone(), args.overrides.clone(), &args.layout, &args.placement)
            .dry_run(args.dry_run)
            .max_steps(args.max_steps);
        return super::batch(backend, &batch);
    }
    let root = args.layout.root()?;
    pull_records(&root)?;
    let p = args.layout.plan(&root, &args.name, &args.overrides, &args.placement)?;
    let next = next_step(&root, &p, args.force)?;
    let place = RunPlace { dir: p.run_dir.clone(), relative: p.relative.clone() };
    let identity = RunRecord {
        // Known before training, so `ouro status` shows how far the run is from the start.
        total_steps: p.total_steps().unwrap_or(0),
        ..RunRecord::new(&p.name, &p.file, &p.overrides, &p.hash, RunState::Running)
    };
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
            record_duplicate(&root, &place, identity, &other)?;
            println!("{}: the same recipe ({}) is complete in {}; not run again", p.name, p.hash, other.display());
            return Ok(());
        }
        Next::Resume(_) | Next::Start => {}
    }
    let resume = matches!(next, Next::Resume(_));
    warn_if_running_elsewhere(&p.name, &p.run_dir);
    if resume {
        // The metrics so far continue where the checkpoint is (the log is the batch parent's).
        root.pull(&p.relative, |r| !r.ends_with("/ouro.log"))
            .with_context(|| format!("reading {}", root.url(&p.relative)))?;
    }
    // Checkpoints on an object store are leased to one writer: a run going on another machine
    // is refused here, before this one writes the run's record. (In a job, process 0 holds the
    // lease for all; the others do not look.)
    let leader = backend.process_spec(ouro_pjrt::plugin::has_tpu_chip())?.is_none_or(|s| s.process_id == 0);
    if let Some(url) = p.config.run.checkpoint.location.as_deref().filter(|u| leader && ouro_store::is_remote(u)) {
        let location = ouro_store::Location::open(url)?;
        ouro_ckpt::Lease::refuse_if_held(&location, Duration::from_secs(p.config.run.checkpoint.lease_seconds))
            .with_context(|| format!("experiment {}", p.name))?;
    }
    let run = Lifecycle::begin(Arc::new(root), place, identity, resume)?;
    // The runner owns the directory: a fresh start replaces what a failed attempt left.
    let how =
        HowToRun { max_steps: args.max_steps, force: true, resume, persist: run.persist(), ..HowToRun::default() };
    match train_config(backend, &p.config, &p.run_dir, how) {
        Ok(summary) => {
            run.end(Ended::Trained { summary: &summary, max_steps: args.max_steps })?;
            print_summary(&summary, &p.run_dir);
            if summary.stopped {
                bail!(
                    "stopped by a signal after step {} with that step saved; `{}` continues",
                    summary.steps,
                    continue_command(args)
                );
            }
            Ok(())
        }
        // Lost the race for the lease to another machine: the record is that run's.
        Err(e) if held_by_another(&e) => {
            run.end(Ended::HeldElsewhere)?;
            Err(e.context(format!("experiment {}", p.name)))
        }
        Err(e) => {
            if let Err(copy) = run.end(Ended::Failed(crate::error_chain(e.as_ref()))) {
                eprintln!("{}: recording the failed run failed too: {copy:#}", p.name);
            }
            Err(e.context(format!("experiment {}", p.name)))
        }
    }
}

/// Says so when the run was last recorded as running on another machine (a damaged record was
/// reported by `next_step`; the run rewrites it).
fn warn_if_running_elsewhere(name: &str, run_dir: &std::path::Path) {
    let Some(r) = RunRecord::read(run_dir).ok().flatten() else { return };
    if r.state == RunState::Running && !r.on_this_host() {
        eprintln!(
            "{name}: last recorded as running on {} (pid {}); continuing it here: stop that machine's run if it still goes",
            r.host.as_deref().unwrap_or("?"),
            r.pid.unwrap_or(0)
        );
    }
}

/// The command that continues the run `args` started: the same experiment, overrides, layout
/// and step limit, quoted for a shell.
fn continue_command(args: &RunArgs) -> String {
    let mut words = vec!["ouro".to_string(), "run".into(), args.name.clone()];
    words.extend(args.overrides.iter().cloned());
    words.extend(args.layout.flags());
    words.extend(args.placement.flags());
    if let Some(limit) = args.max_steps {
        words.extend(["--max-steps".to_string(), limit.to_string()]);
    }
    shell_words::join(words)
}

/// Whether `e` is the refusal of a second writer of the run's checkpoint location.
fn held_by_another(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<ouro_train::Error>().is_some_and(ouro_train::Error::is_lease_held))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    /// `ouro run ...` as the CLI parses it.
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        run: super::RunArgs,
    }

    #[test]
    fn a_stopped_run_is_continued_by_the_command_that_started_it() {
        let typed = [
            "ouro",
            "tiny_h64",
            "arch.hidden_size=64",
            "data_paths=[data/a, data/b]",
            "--output-root",
            "s3://bucket/runs",
            "--max-steps",
            "40",
        ];
        let args = Cli::parse_from(typed).run;
        let command = super::continue_command(&args);
        assert_eq!(
            command,
            "ouro run tiny_h64 'arch.hidden_size=64' 'data_paths=[data/a, data/b]' --output-root s3://bucket/runs --max-steps 40"
        );
        // Parsed back, it is the same run.
        let words = shell_words::split(&command).unwrap();
        let again = Cli::parse_from(std::iter::once("ouro".to_string()).chain(words.into_iter().skip(2))).run;
        assert_eq!(
            (again.name, again.overrides, again.layout.output_root),
            (args.name, args.overrides, args.layout.output_root)
        );
        // The defaults add no flags.
        assert_eq!(super::continue_command(&Cli::parse_from(["ouro", "tiny_h64"]).run), "ouro run tiny_h64");
    }

    #[test]
    fn a_lease_lost_to_another_machine_is_told_from_a_failure() {
        let held = ouro_train::Error::from(ouro_ckpt::Error::Held("s3://b/run is leased to host a".into()));
        let lost = anyhow::Error::from(held.context("opening the checkpoint location")).context("experiment x");
        assert!(super::held_by_another(&lost));
        let failed = anyhow::Error::from(ouro_train::Error::Config("global_batch_size must be at least 1".into()));
        assert!(!super::held_by_another(&failed));
    }
}
