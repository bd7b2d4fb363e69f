//! The `ouro` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod backend;
mod bench;
mod ckpt;
mod compile;
mod data_hint;
mod dataset;
mod experiment;
mod info;
mod job;
mod smoke;
mod train;

pub use backend::BackendArgs;
pub use job::JobHosts;
pub use train::{stop_on_signals, stopped_message};

/// ouro: a native training engine for Tiny Recursive Models.
#[derive(Parser, Debug)]
#[command(
    name = "ouro",
    version,
    about,
    long_about = None,
    after_help = "Examples:\n  ouro train --config configs/sudoku4-tiny.yaml     # train a tiny TRM on the CPU plugin\n  \
        ouro run exp01a --dry-run                        # an experiment of the catalog, resolved and costed\n  \
        ouro batch --pattern tiny && ouro report tiny    # run a group, then compare it\n  \
        ouro <command> --help                            # each command's options and examples"
)]
struct Cli {
    #[command(flatten)]
    backend: BackendArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show the PJRT plugin, its versions and its devices.
    Info(info::InfoArgs),
    /// Run data-parallel SGD on a linear model across devices and check it against one device.
    Smoke(smoke::SmokeArgs),
    /// Generate puzzles and build datasets in the TRM format.
    Dataset(dataset::DatasetArgs),
    /// Train a TRM: `ouro train --config FILE [key=value ...]`.
    Train(train::TrainArgs),
    /// Parameter counts and FLOPs per training step of a config's model.
    ModelInfo(train::ModelInfoArgs),
    /// Compile a config's steps for a TPU slice without the hardware: per-chip memory from the
    /// TPU compiler, FLOPs, bytes and the roofline bound (`ouro compile --config FILE --target v4-64`).
    Compile(compile::CompileArgs),
    /// Time a config's train or eval step on the devices (step time, examples/s, MFU, compile
    /// time, memory), without a dataset.
    Bench(bench::BenchArgs),
    /// List, inspect, verify, export and import checkpoints.
    Ckpt(ckpt::CkptArgs),
    /// Run one experiment of the catalog by name: `ouro run exp01a [key=value ...]`.
    Run(experiment::RunArgs),
    /// Run a group of experiments: `ouro batch --pattern exp01 [--parallel N] [--dry-run]`.
    Batch(experiment::BatchArgs),
    /// What is running, done and failed in an output root.
    Status(experiment::StatusArgs),
    /// A short run of an experiment that checks it trains, checkpoints and logs.
    Validate(experiment::ValidateArgs),
    /// An experiment group's guide, before the runs (the plan) and after (results, plots), as
    /// Markdown and HTML.
    Report(experiment::ReportArgs),
    /// Attach a note to a run, shown by `ouro status` and in the group's guide.
    Note(experiment::NoteArgs),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    // The XLA plugins log INFO lines on stderr; hide them unless the user chose a level.
    if std::env::var_os("TF_CPP_MIN_LOG_LEVEL").is_none() {
        // SAFETY: called first thing in main, before any thread exists.
        unsafe { std::env::set_var("TF_CPP_MIN_LOG_LEVEL", "1") };
    }
    backend::tpu_environment_off_tpu();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("OURO_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        // Colour only on a terminal: batch runs' log files and CI logs stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Info(args) => info::run(&cli.backend, args),
        Command::Smoke(args) => smoke::run(&cli.backend, args),
        Command::Dataset(args) => dataset::run(args),
        Command::Train(args) => train::run(&cli.backend, args),
        Command::ModelInfo(args) => train::model_info(&cli.backend, args),
        Command::Compile(args) => compile::run(&cli.backend, args),
        Command::Bench(args) => bench::run(&cli.backend, args),
        Command::Ckpt(args) => ckpt::run(&cli.backend, args),
        Command::Run(args) => experiment::run(&cli.backend, args),
        Command::Batch(args) => experiment::batch(&cli.backend, args),
        Command::Status(args) => experiment::status(args),
        Command::Validate(args) => experiment::validate(&cli.backend, args),
        Command::Report(args) => experiment::report(&cli.backend, args),
        Command::Note(args) => experiment::note(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_chain(e.as_ref()));
            if let Some(hint) = data_hint::missing_dataset(&e) {
                eprintln!("{hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// `e` and its causes, joined by ": ", each cause once: an error that prints its source in its
/// own message (`path: Permission denied`) is not followed by that source again.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = String::new();
    let mut cause = Some(e);
    while let Some(c) = cause {
        cause = c.source();
        let text = c.to_string();
        if message.ends_with(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cause_its_error_already_prints_is_not_repeated() {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let store = ouro_store::Error::Io { path: "/runs/x".into(), source: denied };
        let e = anyhow::Error::from(store).context("saving step 5");
        assert_eq!(super::error_chain(e.as_ref()), "saving step 5: /runs/x: permission denied");
    }
}
