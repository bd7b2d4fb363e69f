//! Starting a process's client: alone, or as one process of a job of several, whose clients
//! exchange their topology through the job's key-value store and then span every process's
//! devices. The binary decides where the plugin, the options and the process's place come from
//! (flags, environment); this is what it does with them.

use std::sync::Arc;
use std::time::Duration;

use ouro_cluster::{Cluster, ProcessSpec};
use ouro_pjrt::plugin::{self, Purpose};
use ouro_pjrt::{Client, ClientOptions, Platform, PluginLocation};

/// What a process starts its client from.
pub struct ClientStart {
    /// The plugin.
    pub plugin: PluginLocation,
    /// Its platform.
    pub platform: Platform,
    /// The client's create options.
    pub options: ClientOptions,
    /// This process's place in a job of several (`None`: alone).
    pub job: Option<ProcessSpec>,
    /// How long to wait for the job's other processes.
    pub join_timeout: Duration,
}

/// Why a client did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The plugin did not load.
    #[error("loading the PJRT plugin {plugin} (from {from})")]
    Load {
        /// Its path.
        plugin: String,
        /// Who named it.
        from: String,
        /// What the loader said.
        source: Box<ouro_pjrt::Error>,
    },
    /// The job was not joined.
    #[error(transparent)]
    Join(Box<ouro_cluster::Error>),
    /// The CPU plugin has no collectives across processes.
    #[error(
        "process {process} of {of} joined the job, but the XLA CPU plugin cannot run one program across processes \
         (no cross-process collectives; see docs/training.md, \"Several hosts\"); on one machine run a single \
         process with mesh.data=N instead"
    )]
    CpuAcrossProcesses {
        /// This process.
        process: usize,
        /// The job's processes.
        of: usize,
    },
    /// The plugin refused the client.
    #[error("creating a {platform} client of {plugin}")]
    Create {
        /// The platform.
        platform: Platform,
        /// The plugin's path.
        plugin: String,
        /// What the plugin said.
        source: Box<ouro_pjrt::Error>,
    },
    /// The client came up with only this process's devices.
    #[error(
        "process {process} of {of} joined the job, but the {platform} client sees only this process's {local} \
         devices: the plugin did not join the others"
    )]
    NotJoined {
        /// This process.
        process: usize,
        /// The job's processes.
        of: usize,
        /// The plugin's platform name.
        platform: String,
        /// The devices it sees.
        local: usize,
    },
}

impl ClientStart {
    /// Loads the plugin, joins the job when there is one, and creates the client; returns it
    /// with the job it joined. Everything that can be refused alone is refused before this
    /// process makes others wait for it.
    pub fn start(self) -> Result<(Client, Option<Arc<Cluster>>), StartError> {
        let ClientStart { plugin: location, platform, mut options, job, join_timeout } = self;
        let path = location.path.display().to_string();
        let api = plugin::load(&location, Purpose::Run).map_err(|source| StartError::Load {
            plugin: path.clone(),
            from: location.source.clone(),
            source: Box::new(source),
        })?;
        if platform == Platform::Tpu {
            let (limit, advice) = plugin::tpu_init_timeout();
            options = options.create_timeout(limit, advice);
        }
        let joined = match job {
            Some(spec) => {
                let cluster = join(spec, platform, join_timeout)?;
                options = store_options(options, &cluster, platform);
                Some(Arc::new(cluster))
            }
            None => None,
        };
        let client = Client::create(&api, &options).map_err(|source| StartError::Create {
            platform,
            plugin: path,
            source: Box::new(source),
        })?;
        if let Some(cluster) = &joined {
            check_spans_job(&client, cluster.spec())?;
        }
        Ok((client, joined))
    }
}

/// Joins the job of `spec`; the CPU plugin is refused once joined, so every process says so.
fn join(spec: ProcessSpec, platform: Platform, timeout: Duration) -> Result<Cluster, StartError> {
    tracing::info!(process = spec.process_id, of = spec.num_processes, coordinator = %spec.coordinator, from = spec.source, "joining a multi-process job");
    let cluster = Cluster::join(spec, timeout).map_err(|e| StartError::Join(Box::new(e)))?;
    if platform == Platform::Cpu {
        let spec = cluster.spec();
        return Err(StartError::CpuAcrossProcesses { process: spec.process_id, of: spec.num_processes });
    }
    Ok(cluster)
}

/// The options that let the client exchange its topology through the job's store: the CUDA
/// plugin also takes its place in the job from them, libtpu from its own environment.
fn store_options(options: ClientOptions, cluster: &Cluster, platform: Platform) -> ClientOptions {
    let spec = cluster.spec();
    match platform {
        Platform::Gpu => options.gpu_node(spec.process_id, spec.num_processes).key_value_store(cluster.store(), "gpu:"),
        _ => options.key_value_store(cluster.store(), "tpu:"),
    }
}

/// Refuses a client of a job that sees only this process's devices.
fn check_spans_job(client: &Client, spec: &ProcessSpec) -> Result<(), StartError> {
    let (all, local) = (client.devices().len(), client.addressable_devices().len());
    if all == local {
        return Err(StartError::NotJoined {
            process: spec.process_id,
            of: spec.num_processes,
            platform: client.platform_name().to_string(),
            local,
        });
    }
    tracing::info!(devices = all, here = local, "the client spans the job");
    Ok(())
}
