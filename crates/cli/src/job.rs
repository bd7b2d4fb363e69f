//! A multi-process job as the checkpoint saver sees it: the hosts exchange what they wrote
//! through the job's key-value service.

use std::sync::Arc;
use std::time::Duration;

use ouro_cluster::Cluster;

/// How long a host waits for the others to finish writing their shards of a step: the gap
/// between the fastest and the slowest upload, generous for a slow store.
const SAVE_EXCHANGE_TIMEOUT: Duration = Duration::from_secs(3600);

/// The processes of a joined job, for [`ouro_ckpt::Hosts`].
#[derive(Clone)]
pub struct JobHosts {
    cluster: Arc<Cluster>,
    timeout: Duration,
}

impl JobHosts {
    /// The hosts of `cluster`, waiting up to `timeout` for each exchange (default: an hour).
    pub fn new(cluster: Arc<Cluster>, timeout: Option<Duration>) -> JobHosts {
        JobHosts { cluster, timeout: timeout.unwrap_or(SAVE_EXCHANGE_TIMEOUT) }
    }
}

impl std::fmt::Debug for JobHosts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "process {} of {}", self.cluster.spec().process_id, self.cluster.spec().num_processes)
    }
}

impl ouro_ckpt::Hosts for JobHosts {
    fn index(&self) -> usize {
        self.cluster.spec().process_id
    }

    fn count(&self) -> usize {
        self.cluster.spec().num_processes
    }

    fn all_gather(&self, name: &str, value: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        self.cluster.all_gather(name, value, self.timeout).map_err(|e| e.to_string())
    }

    fn forget(&self, name: &str) -> Result<(), String> {
        self.cluster.forget(name).map_err(|e| e.to_string())
    }
}
