//! The `ouro` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use ouro_pjrt::{Client, ClientOptions, Platform, PluginChoice};

mod dataset;
mod info;
mod smoke;
mod train;

/// ouro: a native training engine for Tiny Recursive Models.
#[derive(Parser, Debug)]
#[command(name = "ouro", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    backend: BackendArgs,
    #[command(subcommand)]
    command: Command,
}

/// Which PJRT plugin to run on.
#[derive(Args, Debug, Clone)]
pub struct BackendArgs {
    /// Path of a PJRT plugin (.so). Overrides OURO_PJRT_PLUGIN and --platform.
    #[arg(long, global = true, value_name = "PATH")]
    plugin: Option<PathBuf>,
    /// cpu (the pinned XLA CPU plugin, fetched on first use), gpu or tpu. Default: OURO_PLATFORM, else cpu.
    #[arg(long, global = true, value_name = "PLATFORM")]
    platform: Option<Platform>,
}

impl BackendArgs {
    fn choice(&self) -> PluginChoice {
        match (&self.plugin, self.platform) {
            (Some(path), _) => PluginChoice::Path(path.clone()),
            (None, Some(platform)) => PluginChoice::Platform(platform),
            (None, None) => PluginChoice::Default,
        }
    }

    /// Opens a client; `cpu_devices` sets the XLA CPU plugin's device count.
    pub fn client(&self, cpu_devices: usize) -> Result<Client> {
        let location = ouro_pjrt::plugin::locate(&self.choice())?;
        let mut options = ClientOptions::new();
        if location.platform.unwrap_or(Platform::Cpu) == Platform::Cpu {
            options = options.cpu_device_count(cpu_devices);
        }
        let api = ouro_pjrt::plugin::load(&location).with_context(|| {
            format!("loading the PJRT plugin {} (from {})", location.path.display(), location.source)
        })?;
        Client::create(&api, &options).with_context(|| format!("creating a client of {}", location.path.display()))
    }
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
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    // The XLA plugins log INFO lines on stderr; hide them unless the user chose a level.
    if std::env::var_os("TF_CPP_MIN_LOG_LEVEL").is_none() {
        // SAFETY: called first thing in main, before any thread exists.
        unsafe { std::env::set_var("TF_CPP_MIN_LOG_LEVEL", "1") };
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("OURO_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Info(args) => info::run(&cli.backend, args),
        Command::Smoke(args) => smoke::run(&cli.backend, args),
        Command::Dataset(args) => dataset::run(args),
        Command::Train(args) => train::run(&cli.backend, args),
        Command::ModelInfo(args) => train::model_info(&cli.backend, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
