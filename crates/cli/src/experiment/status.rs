//! `ouro status`: what an output root holds.

use anyhow::Result;
use clap::Args;

use super::{first_line, hours};

/// Show what is running, done and failed in an output root, with each run's last metrics.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  ouro status\n  ouro status exp01-model-scaling --output-root /mnt/runs")]
pub struct StatusArgs {
    /// Only this experiment group.
    group: Option<String>,
    /// The output root: a directory, or `gs://…`/`s3://…` (read through its staging copy).
    #[arg(long, value_name = "DIR|URL", default_value = "runs")]
    output_root: String,
}

/// Runs `ouro status`.
pub fn status(args: &StatusArgs) -> Result<()> {
    let root = ouro_lab::OutputRoot::open(&args.output_root)?;
    // Records and metrics only: no weights, no checkpoints.
    root.pull("", |r| r.ends_with("/run.json") || r.ends_with("/metrics.jsonl"))?;
    let scan = ouro_lab::scan(root.local())?;
    for damaged in &scan.damaged {
        eprintln!("warning: skipped {}", crate::error_chain(damaged));
    }
    let runs: Vec<_> = scan
        .runs
        .into_iter()
        .filter(|(d, _)| {
            args.group.as_ref().is_none_or(|g| d.parent().and_then(|p| p.file_name()).is_some_and(|n| n == g.as_str()))
        })
        .collect();
    if runs.is_empty() {
        println!("no runs in {}", args.output_root);
        return Ok(());
    }
    println!(
        "{:<30} {:<24} {:<11} {:>13} {:>9} {:>11} {:>9}",
        "group", "experiment", "state", "step", "loss", "exact acc.", "updated"
    );
    for (dir, record) in runs {
        let source = record.results_dir(&dir);
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
