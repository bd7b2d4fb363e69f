//! Joining the job: process 0 starts the service, every process registers under its id and
//! waits for the others, so a missing, late or duplicated process is named before any device
//! work starts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ouro_pjrt::{KeyValueStore, KvErrorKind};

use crate::discover::ProcessSpec;
use crate::error::{Error, Result};
use crate::service::{KvClient, KvServer};

/// This process's membership of a running job.
pub struct Cluster {
    spec: ProcessSpec,
    store: Arc<KvClient>,
    _server: Option<KvServer>,
}

/// How long the coordinator's process waits, as it ends, for the others to be done with the
/// service (a process that crashed never says so).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);

impl Drop for Cluster {
    /// The shutdown barrier: every other process says it is done with the service, and process
    /// 0, which serves it, ends only once each has (or after [`SHUTDOWN_TIMEOUT`]), so no
    /// process loses the service in the middle of a request.
    fn drop(&mut self) {
        match &self._server {
            None => {
                let _ = self.store.leave(&self.spec.process_id.to_string());
            }
            Some(server) => {
                let others: Vec<String> = (1..self.spec.num_processes).map(|id| id.to_string()).collect();
                let missing = server.wait_until_left(&others, SHUTDOWN_TIMEOUT);
                if !missing.is_empty() {
                    tracing::warn!(?missing, "processes did not say they were done with the coordinator");
                }
            }
        }
    }
}

/// Something that identifies this process to the others in messages.
fn identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "an unnamed host".into());
    format!("{host} (pid {})", std::process::id())
}

impl Cluster {
    /// Joins the job described by `spec`, waiting up to `timeout` for every process.
    pub fn join(spec: ProcessSpec, timeout: Duration) -> Result<Cluster> {
        let server = if spec.process_id == 0 {
            let port = spec.coordinator.rsplit_once(':').map_or("", |(_, p)| p);
            let server = KvServer::bind(&format!("0.0.0.0:{port}"))?;
            tracing::info!(address = %server.address(), "coordinator: key-value service listening");
            Some(server)
        } else {
            None
        };
        let store = Arc::new(KvClient::new(&spec.coordinator, timeout));
        let me = identity();
        let key = |id: usize| format!("ouro/join/{id}");
        let kv =
            |e: ouro_pjrt::KvError| Error::Protocol(format!("joining the job at {}: {}", spec.coordinator, e.message));
        if let Err(taken) = store.create(&key(spec.process_id), me.as_bytes()).map_err(kv)? {
            return Err(Error::Config(format!(
                "process id {} is already taken by {}; every process needs its own id (0..{})",
                spec.process_id,
                String::from_utf8_lossy(&taken),
                spec.num_processes
            )));
        }
        let deadline = Instant::now() + timeout;
        for id in 0..spec.num_processes {
            let left = deadline.saturating_duration_since(Instant::now());
            match store.get(&key(id), left) {
                Ok(_) => {}
                Err(e) if e.kind == KvErrorKind::DeadlineExceeded => {
                    let mut missing = Vec::new();
                    for other in id..spec.num_processes {
                        if store.try_get(&key(other)).map_err(kv)?.is_none() {
                            missing.push(other);
                        }
                    }
                    let (host, port) = spec.coordinator.rsplit_once(':').unwrap_or((&spec.coordinator, "?"));
                    return Err(Error::Timeout(format!(
                        "waited {:.0} s at {} for processes {missing:?} of {} to join (ids come from {}). \
                         Is each of them started, and can it reach TCP port {port} of {host}? A firewall \
                         that closes the port (a cloud VM's default rules may) stalls the join: open it \
                         between the hosts, or choose another with --coordinator {host}:PORT",
                        timeout.as_secs_f64(),
                        spec.coordinator,
                        spec.num_processes,
                        spec.source
                    )));
                }
                Err(e) => return Err(kv(e)),
            }
        }
        // The service dies with process 0: it stays until every process has seen the whole job.
        let seen = |id: usize| format!("ouro/seen/{id}");
        store.put(&seen(spec.process_id), b"").map_err(kv)?;
        if spec.process_id == 0 {
            for id in 1..spec.num_processes {
                let left = deadline.saturating_duration_since(Instant::now());
                store.get(&seen(id), left).map_err(|e| {
                    Error::Timeout(format!(
                        "process {id} joined but did not confirm within the join timeout: {}",
                        e.message
                    ))
                })?;
            }
        }
        tracing::info!(process = spec.process_id, of = spec.num_processes, coordinator = %spec.coordinator, "joined the job");
        Ok(Cluster { spec, store, _server: server })
    }

    /// This process's place.
    pub fn spec(&self) -> &ProcessSpec {
        &self.spec
    }

    /// The job's key-value store, for the plugin.
    pub fn store(&self) -> Arc<dyn KeyValueStore> {
        self.store.clone()
    }

    /// Waits until every process has reached the barrier `name` (unique per use: a step number,
    /// say), or `timeout` passes.
    pub fn barrier(&self, name: &str, timeout: Duration) -> Result<()> {
        self.all_gather(&format!("barrier/{name}"), b"", timeout).map(|_| ())
    }

    /// Frees this process's value of the gather `name` from the coordinator's memory, once
    /// every process has read it: in a series of gathers, when the next one completes here,
    /// every process has finished the one before.
    pub fn forget(&self, name: &str) -> Result<()> {
        self.store
            .delete(&format!("ouro/gather/{name}/{}", self.spec.process_id))
            .map_err(|e| Error::Protocol(format!("{name}: {}", e.message)))
    }

    /// Every process's `value` for `name` (unique per use), in process order, once all have
    /// given theirs; a process that does not within `timeout` is named.
    pub fn all_gather(&self, name: &str, value: &[u8], timeout: Duration) -> Result<Vec<Vec<u8>>> {
        let key = |id: usize| format!("ouro/gather/{name}/{id}");
        let kv = |e: ouro_pjrt::KvError| Error::Protocol(format!("{name}: {}", e.message));
        self.store.put(&key(self.spec.process_id), value).map_err(kv)?;
        let deadline = Instant::now() + timeout;
        let mut values = Vec::with_capacity(self.spec.num_processes);
        for id in 0..self.spec.num_processes {
            let left = deadline.saturating_duration_since(Instant::now());
            values.push(self.store.get(&key(id), left).map_err(|e| match e.kind {
                KvErrorKind::DeadlineExceeded => {
                    Error::Timeout(format!("{name}: process {id} did not arrive within {:.0} s", timeout.as_secs_f64()))
                }
                _ => kv(e),
            })?);
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    fn spec(id: usize, n: usize, port: u16) -> ProcessSpec {
        ProcessSpec {
            process_id: id,
            num_processes: n,
            coordinator: format!("127.0.0.1:{port}"),
            source: "the test",
            local_id: None,
        }
    }

    #[test]
    fn processes_join_in_any_order_meet_at_barriers_and_gather() {
        let port = free_port();
        // Process 2 first: it waits for the coordinator to come up.
        let handles: Vec<_> = [2usize, 0, 1]
            .into_iter()
            .map(|id| {
                std::thread::spawn(move || {
                    let c = Cluster::join(spec(id, 3, port), Duration::from_secs(20)).unwrap();
                    c.barrier("step_10", Duration::from_secs(20)).unwrap();
                    c.store().put(&format!("done/{id}"), b"").unwrap();
                    let all = c.all_gather("ids", format!("I am {id}").as_bytes(), Duration::from_secs(20)).unwrap();
                    assert_eq!(all, [b"I am 0", b"I am 1", b"I am 2"], "process {id}");
                    c
                })
            })
            .collect();
        let mut clusters: Vec<Cluster> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        clusters.sort_by_key(|c| c.spec().process_id);
        for c in &clusters {
            let id = c.spec().process_id;
            assert!(clusters[0].store().try_get(&format!("done/{id}")).unwrap().is_some());
            c.forget("ids").unwrap();
            assert_eq!(c.store().try_get(&format!("ouro/gather/ids/{id}")).unwrap(), None);
        }
        // The others leave first; process 0 ends only once they have.
        while let Some(c) = clusters.pop() {
            drop(c);
        }
    }

    #[test]
    fn a_missing_process_is_named_and_a_duplicate_id_refused() {
        let port = free_port();
        let first = Cluster::join(spec(0, 2, port), Duration::from_millis(300));
        let e = first.err().unwrap().to_string();
        assert!(e.contains("for processes [1] of 2 to join"), "{e}");

        let port = free_port();
        let zero = std::thread::spawn(move || Cluster::join(spec(0, 2, port), Duration::from_secs(20)));
        let one = Cluster::join(spec(1, 2, port), Duration::from_secs(20)).unwrap();
        let _zero = zero.join().unwrap().unwrap();
        let e = Cluster::join(spec(1, 2, port), Duration::from_secs(5)).err().unwrap().to_string();
        assert!(e.contains("process id 1 is already taken by"), "{e}");
        let e = one.barrier("lonely", Duration::from_millis(200)).unwrap_err().to_string();
        assert!(e.contains("barrier/lonely: process 0 did not arrive"), "{e}");
        // As the processes end: 1 leaves, then 0, which waits for it, stops serving.
        drop(one);
        drop(_zero);
    }
}
