//! The `ouro` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use ouro_pjrt::{Client, ClientOptions, Platform, PluginChoice};

mod bench;
mod ckpt;
mod dataset;
mod experiment;
mod info;
mod job;
mod smoke;
mod train;

pub use job::JobHosts;

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

/// Which PJRT plugin to run on.
#[derive(Args, Debug, Clone)]
pub struct BackendArgs {
    /// Path of a PJRT plugin (.so). Overrides OURO_PJRT_PLUGIN and --platform.
    #[arg(long, global = true, value_name = "PATH")]
    plugin: Option<PathBuf>,
    /// cpu (the pinned XLA CPU plugin, fetched on first use), gpu or tpu. Default: OURO_PLATFORM, else cpu.
    #[arg(long, global = true, value_name = "PLATFORM")]
    platform: Option<Platform>,
    /// Several hosts: this process's id, 0 to N-1 (default: OURO_PROCESS_ID, the TPU or SLURM
    /// environment, a TPU VM's metadata).
    #[arg(long, global = true, value_name = "ID", help_heading = "Several hosts")]
    process_id: Option<usize>,
    /// Several hosts: how many processes the job has (default: OURO_NUM_PROCESSES, ...).
    #[arg(long, global = true, value_name = "N", help_heading = "Several hosts")]
    num_processes: Option<usize>,
    /// Several hosts: process 0's address, host[:port] (default port 8479; OURO_COORDINATOR, ...).
    #[arg(long, global = true, value_name = "HOST[:PORT]", help_heading = "Several hosts")]
    coordinator: Option<String>,
    /// Several hosts: seconds to wait for every process to join.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 300, help_heading = "Several hosts")]
    join_timeout: u64,
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
    ///
    /// When this process is one of several (flags, environment), it first joins the job, and
    /// the client exchanges its topology with the others through the job's key-value store.
    pub fn client(&self, cpu_devices: usize) -> Result<Client> {
        Ok(self.client_in_job(cpu_devices)?.0)
    }

    /// [`BackendArgs::client`], and the job it joined when this process is one of several.
    pub fn client_in_job(&self, cpu_devices: usize) -> Result<(Client, Option<Arc<ouro_cluster::Cluster>>)> {
        let location = ouro_pjrt::plugin::locate(&self.choice())?;
        let platform = location.platform;
        let mut options = ClientOptions::new();
        if platform.unwrap_or(Platform::Cpu) == Platform::Cpu {
            options = options.cpu_device_count(cpu_devices);
        }
        let flags = ouro_cluster::Flags {
            process_id: self.process_id,
            num_processes: self.num_processes,
            coordinator: self.coordinator.clone(),
        };
        let env = |name: &str| std::env::var(name).ok();
        let mut joined = None;
        if let Some(spec) = ouro_cluster::discover(&flags, &env, platform == Some(Platform::Tpu))? {
            tracing::info!(process = spec.process_id, of = spec.num_processes, coordinator = %spec.coordinator, from = spec.source, "joining a multi-process job");
            let cluster = ouro_cluster::Cluster::join(spec, std::time::Duration::from_secs(self.join_timeout))?;
            let spec = cluster.spec();
            options = match platform {
                Some(Platform::Cpu) => anyhow::bail!(
                    "process {} of {} joined the job, but the XLA CPU plugin cannot run one program across \
                     processes (no cross-process collectives; see docs/training.md, \"Several hosts\"); on one \
                     machine run a single process with mesh.data=N instead",
                    spec.process_id,
                    spec.num_processes
                ),
                // The CUDA plugin takes its place from node_id/num_nodes; libtpu from its own
                // environment. Both exchange the rest through the store.
                Some(Platform::Gpu) => {
                    options.gpu_node(spec.process_id, spec.num_processes).key_value_store(cluster.store(), "gpu:")
                }
                Some(Platform::Tpu) => options.key_value_store(cluster.store(), "tpu:"),
                None => options.key_value_store(cluster.store(), "pjrt:"),
            };
            joined = Some(Arc::new(cluster));
        }
        let api = ouro_pjrt::plugin::load(&location).with_context(|| {
            format!("loading the PJRT plugin {} (from {})", location.path.display(), location.source)
        })?;
        let client = Client::create(&api, &options)
            .with_context(|| format!("creating a client of {}", location.path.display()))?;
        if let Some(cluster) = &joined {
            let (all, local) = (client.devices().len(), client.addressable_devices().len());
            if all == local {
                anyhow::bail!(
                    "process {} of {} joined the job, but the {} client sees only this process's {local} devices: \
                     the plugin did not join the others",
                    cluster.spec().process_id,
                    cluster.spec().num_processes,
                    client.platform_name()
                );
            }
            tracing::info!(devices = all, here = local, "the client spans the job");
        }
        Ok((client, joined))
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
    /// Plots and a Markdown report comparing an experiment group's runs.
    Report(experiment::ReportArgs),
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
        Command::Bench(args) => bench::run(&cli.backend, args),
        Command::Ckpt(args) => ckpt::run(&cli.backend, args),
        Command::Run(args) => experiment::run(&cli.backend, args),
        Command::Batch(args) => experiment::batch(&cli.backend, args),
        Command::Status(args) => experiment::status(args),
        Command::Validate(args) => experiment::validate(&cli.backend, args),
        Command::Report(args) => experiment::report(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
