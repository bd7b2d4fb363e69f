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
    root.pull("", |r| ["/run.json", "/metrics.jsonl", "/config.yaml", "/notes.jsonl"].iter().any(|f| r.ends_with(f)))?;
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
        "{:<24} {:<24} {:<11} {:>13} {:>9} {:>11} {:>10} {:>9} {:>9}  tags",
        "group", "experiment", "state", "step", "loss", "exact acc.", "steps/s", "left", "updated"
    );
    for (dir, record) in runs {
        let source = record.results_dir(&dir);
        let metrics = ouro_lab::metrics::RunMetrics::read(&source).unwrap_or_default();
        let row = Row::of(&record, &metrics);
        let updated = std::fs::metadata(source.join("metrics.jsonl"))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .map_or_else(|| "-".into(), |e| format!("{} ago", hours(e.as_secs_f64())));
        let group =
            dir.parent().and_then(|p| p.file_name()).map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let tags = ouro_lab::group::tags_of(&source).join(", ");
        println!(
            "{:<24} {:<24} {:<11} {:>13} {:>9} {:>11} {:>10} {:>9} {:>9}  {tags}",
            group,
            record.name,
            record.shown_state(),
            row.step,
            row.loss,
            row.accuracy,
            row.rate,
            row.left,
            updated
        );
        if let Some(e) = &record.error {
            println!("    {}", first_line(e));
        }
        let notes = ouro_lab::notes::read(&dir).unwrap_or_default();
        if let Some(n) = notes.last() {
            let more = if notes.len() > 1 {
                format!(" (+{} more: `ouro note {}`)", notes.len() - 1, record.name)
            } else {
                String::new()
            };
            println!("    note, {}: {}{more}", ouro_lab::runs::utc(n.time), first_line(&n.text));
        }
    }
    Ok(())
}

/// A run's figures as `ouro status` shows them.
struct Row {
    /// `step/total` (`?` for a total not known yet).
    step: String,
    loss: String,
    accuracy: String,
    /// Optimizer steps per second, at the last throughput record.
    rate: String,
    /// The time left at that rate, for a run that is going.
    left: String,
}

impl Row {
    fn of(record: &ouro_lab::RunRecord, metrics: &ouro_lab::metrics::RunMetrics) -> Row {
        let step = metrics.train.last().map_or(record.steps, |(s, _)| *s);
        let total = if record.total_steps > 0 { record.total_steps.to_string() } else { "?".into() };
        let seconds_per_step = metrics.throughput.last().and_then(|(_, v)| v.get("throughput/step_seconds").copied());
        let going = record.alive() && record.total_steps > step;
        let left = match seconds_per_step {
            Some(s) if going && s > 0.0 => hours((record.total_steps - step) as f64 * s),
            _ => "-".into(),
        };
        Row {
            step: format!("{step}/{total}"),
            loss: metrics.last("train/lm_loss").map_or_else(|| "-".into(), |l| format!("{l:.4}")),
            accuracy: metrics
                .last(ouro_lab::guide::PRIMARY)
                .map_or_else(|| "-".into(), |a| format!("{:.2} %", a * 100.0)),
            rate: seconds_per_step.filter(|s| *s > 0.0).map_or_else(|| "-".into(), |s| format!("{:.2}", 1.0 / s)),
            left,
        }
    }
}

#[cfg(test)]
mod tests {
    use ouro_lab::RunRecord;
    use ouro_lab::metrics::RunMetrics;
    use ouro_lab::runs::RunState;

    #[test]
    fn a_running_run_shows_its_total_rate_and_time_left() {
        let record = RunRecord {
            total_steps: 1000,
            ..RunRecord::new("a", std::path::Path::new("a.yaml"), &[], "h", RunState::Running).owned_by_this_process()
        };
        let step = |s: u64, k: &str, v: f64| (s, [(k.to_string(), v)].into_iter().collect());
        let metrics = RunMetrics {
            train: vec![step(400, "train/lm_loss", 0.5)],
            throughput: vec![step(400, "throughput/step_seconds", 0.5)],
            ..RunMetrics::default()
        };
        let row = super::Row::of(&record, &metrics);
        assert_eq!((row.step.as_str(), row.rate.as_str(), row.left.as_str()), ("400/1000", "2.00", "5.0 min"));
        // A run that is not going has no time left to show.
        let stopped = RunRecord { state: RunState::Stopped, ..record };
        assert_eq!(super::Row::of(&stopped, &metrics).left, "-");
    }
}
