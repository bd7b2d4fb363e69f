//! `ouro ckpt`: list, inspect and verify checkpoints.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use ouro_ckpt::Step;
use ouro_store::Location;

/// Checkpoints under a location.
#[derive(Args, Debug)]
pub struct CkptArgs {
    #[command(subcommand)]
    command: CkptCommand,
}

#[derive(Subcommand, Debug)]
enum CkptCommand {
    /// List the steps, committed or not.
    ///
    /// Example: ouro ckpt ls runs/sudoku4-tiny/checkpoints
    Ls {
        /// The checkpoint location (a path, file://, s3:// or gs://).
        location: String,
    },
    /// Show a step's manifest: tensors, files and the run's records.
    ///
    /// Example: ouro ckpt inspect runs/sudoku4-tiny/checkpoints --step 3125
    Inspect {
        /// The checkpoint location.
        location: String,
        /// The step (default: the latest committed).
        #[arg(long)]
        step: Option<u64>,
    },
    /// Write a step's model as the official state_dict in safetensors (EMA weights by default).
    ///
    /// Example: ouro ckpt export runs/sudoku4-tiny/checkpoints --out model.safetensors
    Export {
        /// The checkpoint location.
        location: String,
        /// The step (default: the latest committed).
        #[arg(long)]
        step: Option<u64>,
        /// Export the live weights rather than the EMA ones.
        #[arg(long)]
        live: bool,
        /// The safetensors file to write.
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
    /// Re-read every piece of a step and check its checksum.
    ///
    /// Example: ouro ckpt verify s3://bucket/exp/run --step 500
    Verify {
        /// The checkpoint location.
        location: String,
        /// The step (default: every committed one).
        #[arg(long)]
        step: Option<u64>,
    },
}

fn open(location: &str) -> Result<Location> {
    Location::open(location).with_context(|| format!("opening {location}"))
}

fn latest(location: &Location) -> Result<u64> {
    match ouro_ckpt::committed(location)?.first() {
        Some(&s) => Ok(s),
        None => bail!("no committed checkpoint under {}", location.url),
    }
}

/// Runs `ouro ckpt`.
pub fn run(args: &CkptArgs) -> Result<()> {
    match &args.command {
        CkptCommand::Ls { location } => {
            let loc = open(location)?;
            let steps = ouro_ckpt::list(&loc)?;
            if steps.is_empty() {
                println!("no checkpoint under {}", loc.url);
            }
            for s in steps {
                let state = if s.committed { "committed" } else { "unfinished (invisible to --resume)" };
                println!("step_{:<10} {:>12.1} MB  {state}", s.step, s.bytes as f64 / 1e6);
            }
        }
        CkptCommand::Inspect { location, step } => {
            let loc = open(location)?;
            let step = match step {
                Some(s) => *s,
                None => latest(&loc)?,
            };
            let s = Step::open(&loc, step)?;
            let m = &s.manifest;
            println!(
                "{}: step {}, {} ({}), written by ouro {} from {} host(s)",
                s.url(),
                m.step,
                m.format,
                m.created_unix,
                m.ouro_version,
                m.hosts
            );
            println!("{} tensors, {:.1} MB in {} files", m.tensors.len(), m.total_bytes() as f64 / 1e6, m.files.len());
            for t in &m.tensors {
                println!("  {:<48} {:>5} {:?} ({} pieces)", t.name, t.dtype, t.shape, t.pieces.len());
            }
            let mut run = m.run.clone();
            if let Some(obj) = run.as_object_mut() {
                obj.remove("config");
            }
            println!("run: {run}");
        }
        CkptCommand::Export { location, step, live, out } => {
            let loc = open(location)?;
            let step = match step {
                Some(s) => *s,
                None => latest(&loc)?,
            };
            let s = Step::open(&loc, step)?;
            let n = ouro_train::weights::export_checkpoint(&s, !live, out)?;
            println!(
                "wrote {n} tensors of {} ({} weights) to {}",
                s.url(),
                if *live { "live" } else { "EMA" },
                out.display()
            );
        }
        CkptCommand::Verify { location, step } => {
            let loc = open(location)?;
            let steps = match step {
                Some(s) => vec![*s],
                None => ouro_ckpt::committed(&loc)?,
            };
            if steps.is_empty() {
                bail!("no committed checkpoint under {}", loc.url);
            }
            let mut damaged = 0;
            for number in steps {
                let problems = match Step::open(&loc, number) {
                    Ok(s) => s.verify(),
                    Err(e) => vec![e],
                };
                if problems.is_empty() {
                    println!("step_{number}: ok");
                } else {
                    damaged += 1;
                    for p in problems {
                        println!("step_{number}: {p}");
                    }
                }
            }
            if damaged > 0 {
                bail!("{damaged} damaged step(s)");
            }
        }
    }
    Ok(())
}
