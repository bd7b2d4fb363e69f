//! `ouro ckpt`: list, inspect, verify, export and import checkpoints.

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
    /// Start a run from a weights file: write its step_0 with the file's model weights (an
    /// official state_dict in safetensors, `_orig_mod.model.` prefixes allowed) and a fresh
    /// optimizer; `ouro train --resume` with the same config then trains from them.
    ///
    /// Example: ouro ckpt import model.safetensors --config configs/sudoku4-tiny.yaml --run-dir runs/finetune
    Import {
        /// The safetensors file.
        file: std::path::PathBuf,
        /// The run's config.
        #[arg(long, value_name = "FILE")]
        config: std::path::PathBuf,
        /// Config overrides, `key=value`, as for `ouro train`.
        overrides: Vec<String>,
        /// The run directory (default as for `ouro train`); the step goes to its checkpoint
        /// location.
        #[arg(long, value_name = "DIR")]
        run_dir: Option<std::path::PathBuf>,
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
    Location::open(location).with_context(|| format!("opening {}", ouro_store::redact(location)))
}

fn latest(location: &Location) -> Result<u64> {
    match ouro_ckpt::committed(location)?.first() {
        Some(&s) => Ok(s),
        None => bail!("no committed checkpoint under {}", location.url),
    }
}

/// Runs `ouro ckpt`.
pub fn run(backend: &crate::BackendArgs, args: &CkptArgs) -> Result<()> {
    match &args.command {
        CkptCommand::Ls { location } => ls(location),
        CkptCommand::Inspect { location, step } => inspect(location, *step),
        CkptCommand::Export { location, step, live, out } => export(location, *step, *live, out),
        CkptCommand::Import { file, config, overrides, run_dir } => {
            import(backend, file, config, overrides, run_dir.as_deref())
        }
        CkptCommand::Verify { location, step } => verify(location, *step),
    }
}

/// List a location's steps with their state.
fn ls(location: &str) -> Result<()> {
    let loc = open(location)?;
    let steps = ouro_ckpt::list(&loc)?;
    if steps.is_empty() {
        println!("no checkpoint under {}", loc.url);
    }
    for s in steps {
        // Committed means a marker and a manifest that matches it (`verify` reads the shards).
        let state = match (s.committed, s.committed.then(|| Step::open(&loc, s.step))) {
            (true, Some(Ok(_))) => "committed".to_string(),
            (true, Some(Err(e))) => format!("damaged: {}", crate::error_chain(&e)),
            _ => "unfinished (invisible to --resume)".to_string(),
        };
        println!("step_{:<10} {:>12.1} MB  {state}", s.step, s.bytes as f64 / 1e6);
    }
    Ok(())
}

/// Print a step's manifest.
fn inspect(location: &str, step: Option<u64>) -> Result<()> {
    let loc = open(location)?;
    let step = match step {
        Some(s) => s,
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
    Ok(())
}

/// Write a step's model as the official state_dict.
fn export(location: &str, step: Option<u64>, live: bool, out: &std::path::Path) -> Result<()> {
    let loc = open(location)?;
    let step = match step {
        Some(s) => s,
        None => latest(&loc)?,
    };
    let s = Step::open(&loc, step)?;
    let n = ouro_train::weights::export_checkpoint(&s, !live, out)?;
    println!("wrote {n} tensors of {} ({} weights) to {}", s.url(), if live { "live" } else { "EMA" }, out.display());
    Ok(())
}

/// Write step_0 of a run from a weights file.
fn import(
    backend: &crate::BackendArgs,
    file: &std::path::Path,
    config: &std::path::Path,
    overrides: &[String],
    run_dir: Option<&std::path::Path>,
) -> Result<()> {
    let cfg = crate::train::load_config(config, overrides)?;
    let run_dir = run_dir.map_or_else(|| cfg.run_dir(), std::path::Path::to_path_buf);
    let location = cfg.run.checkpoint_location(&run_dir);
    let runtime = ouro_runtime::Runtime::new(backend.client(1)?)?;
    let imported = ouro_train::import_weights(&runtime, &cfg, file, &location)
        .with_context(|| format!("importing {}", file.display()))?;
    if !imported.unused.is_empty() {
        eprintln!("warning: {} holds tensors this model has not: {}", file.display(), imported.unused.join(", "));
    }
    println!(
        "wrote {}/step_0: {} tensors from {}, {} of a fresh run; `ouro train` with the same config and \
         overrides, --run-dir {} --resume, trains from it",
        imported.location,
        imported.from_file,
        file.display(),
        imported.fresh,
        run_dir.display()
    );
    Ok(())
}

/// Read every shard of the committed steps (or one) against its checksums.
fn verify(location: &str, step: Option<u64>) -> Result<()> {
    let loc = open(location)?;
    let steps = match step {
        Some(s) => vec![s],
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
    Ok(())
}
