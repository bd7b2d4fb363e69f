//! `ouro validate NAME`: the experiment guide's short validation run.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use ouro_lab::Catalog;

use super::first_line;
use crate::BackendArgs;
use crate::train::{HowToRun, load_config, train_config};

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
    config.run.checkpoint.location = None;
    config.run.checkpoint.every_steps = (args.steps / 2).max(1);
    let mut checks: Vec<(&str, Result<String>)> = Vec::new();
    let how = HowToRun { max_steps: Some(args.steps), force: true, ..HowToRun::default() };
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
        checks.push(("a checkpoint is written", checkpoint_written(&config.run.checkpoint_location(&run_dir))));
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
                println!("  FAIL  {what}: {}", first_line(&crate::error_chain(e.as_ref())));
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

fn checkpoint_written(location: &str) -> Result<String> {
    let steps = ouro_ckpt::committed(&ouro_store::Location::open(location)?)?;
    // Newest first.
    match steps.first() {
        Some(s) => Ok(format!("committed steps {steps:?}, the newest step_{s}")),
        None => bail!("no committed checkpoint in {location}"),
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
