//! `ouro note RUN TEXT`: a note attached to a run.

use anyhow::{Result, bail};
use clap::Args;

/// Attach a note to a run (what you saw, why you stopped it, what to try next): kept in the run
/// directory's `notes.jsonl`, shown by `ouro status` and in the group's guide.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ouro note tiny/tiny_h16 \"loss plateaus from step 300: try lr=3e-3\"\n  ouro note exp01a \"preempted twice; resumed bit for bit\"\n  ouro note tiny_h64                        # list its notes"
)]
pub struct NoteArgs {
    /// The run: `GROUP/NAME`, or a NAME only one group holds.
    run: String,
    /// The note (words are joined by spaces); none lists the run's notes.
    text: Vec<String>,
    /// The output root: a directory, or `gs://…`/`s3://…`.
    #[arg(long, value_name = "DIR|URL", default_value = "runs")]
    output_root: String,
}

/// Runs `ouro note`.
pub fn note(args: &NoteArgs) -> Result<()> {
    let root = ouro_lab::OutputRoot::open(&args.output_root)?;
    root.pull("", |r| r.ends_with("/run.json") || r.ends_with(ouro_lab::notes::NOTES_FILE))?;
    let relative = find_run(&root, &args.run)?;
    let dir = root.local().join(&relative);
    if args.text.is_empty() {
        for n in ouro_lab::notes::read(&dir)? {
            println!("{}  {}", ouro_lab::runs::utc(n.time), n.text);
        }
        return Ok(());
    }
    let note = ouro_lab::notes::add(&dir, &args.text.join(" "))?;
    root.push(&format!("{relative}/{}", ouro_lab::notes::NOTES_FILE))?;
    println!("{relative}: noted at {}", ouro_lab::runs::utc(note.time));
    Ok(())
}

/// `GROUP/NAME` of the run `spec` names, refusing a name several groups hold.
fn find_run(root: &ouro_lab::OutputRoot, spec: &str) -> Result<String> {
    let scan = ouro_lab::scan(root.local())?;
    let runs: Vec<String> = scan
        .runs
        .iter()
        .filter_map(|(dir, _)| dir.strip_prefix(root.local()).ok().map(|d| d.display().to_string()))
        .collect();
    if runs.iter().any(|r| r == spec) {
        return Ok(spec.to_string());
    }
    let matches: Vec<&String> = runs.iter().filter(|r| r.rsplit('/').next() == Some(spec)).collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!("no run {spec:?} in {} (`ouro status` lists the runs)", root.url("")),
        many => bail!(
            "{spec:?} names runs in several groups ({}): give GROUP/NAME",
            many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}
