//! `ouro report GROUP`: plots and the Markdown report of a group.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

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
    /// The output root: a directory, or `gs://…`/`s3://…` (the report is written to its
    /// staging copy and copied up).
    #[arg(long, value_name = "DIR|URL", default_value = "runs")]
    output_root: String,
    /// Where the report goes (default: `<output-root>/<group>/report/`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Runs `ouro report`.
pub fn report(args: &ReportArgs) -> Result<()> {
    ouro_train::config::check_path_name("the experiment group", &args.group)?;
    let root = ouro_lab::OutputRoot::open(&args.output_root)?;
    // A duplicate's results are those of the run it names, possibly in another group.
    root.pull("", |r| ["/run.json", "/metrics.jsonl", "/config.yaml"].iter().any(|f| r.ends_with(f)))?;
    let files = ouro_lab::report::write_report(root.local(), &args.group, args.out.as_deref())?;
    if args.out.is_none() {
        root.push(&format!("{}/report", args.group))?;
        if root.is_remote() {
            println!("copied to {}", root.url(&format!("{}/report", args.group)));
        }
    }
    for s in &files.skipped {
        eprintln!("warning: left out of the report: {s}");
    }
    println!("{}", files.markdown.display());
    for p in &files.plots {
        println!("{}", p.display());
    }
    Ok(())
}
