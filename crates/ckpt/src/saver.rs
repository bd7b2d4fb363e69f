//! Saving in the background: the training loop hands over host copies of the state and goes
//! on; serialisation, upload, commit and retention run on a thread. At most one save is in
//! flight: the next waits for it, and a failed save is reported when the loop next saves or
//! finishes, never dropped.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use ouro_store::Location;

use crate::error::{Error, Result};
use crate::hosts::{Hosts, OneHost, Written};
use crate::steps::{Retention, retain};
use crate::write::{Layout, TensorData, commit, write_shards};

/// What a finished save did.
#[derive(Clone, Debug)]
pub struct SaveReport {
    /// The step saved.
    pub step: u64,
    /// Tensor bytes written.
    pub bytes: u64,
    /// Seconds from hand-over to commit.
    pub seconds: f64,
    /// Steps deleted by retention.
    pub deleted: Vec<u64>,
}

/// One step's state, ready to write.
pub struct SaveJob {
    /// The step.
    pub step: u64,
    /// The tensors (this host's parts of them).
    pub tensors: Vec<TensorData>,
    /// The trainer's records for the manifest.
    pub run: serde_json::Value,
}

/// Background saves to one location.
pub struct Saver {
    location: Location,
    layout: Layout,
    retention: Retention,
    hosts: Arc<dyn Hosts>,
    in_flight: Option<JoinHandle<Result<SaveReport>>>,
}

/// Writes, commits and applies retention: one whole save by a single process.
pub fn save_now(location: &Location, layout: Layout, retention: Retention, job: SaveJob) -> Result<SaveReport> {
    save_on_hosts(location, layout, retention, &OneHost, job)
}

/// One whole save by every host of a job, each calling this with its own parts: each writes
/// its shards, the hosts exchange what they wrote (or why they failed), and host 0 then writes
/// the manifest and the marker, and applies retention. A step is committed only if every host
/// wrote its part; otherwise every host returns the error, naming the host that failed.
pub fn save_on_hosts(
    location: &Location,
    layout: Layout,
    retention: Retention,
    hosts: &dyn Hosts,
    job: SaveJob,
) -> Result<SaveReport> {
    let started = Instant::now();
    let bytes = job.tensors.iter().flat_map(|t| &t.parts).map(|(_, b)| b.len() as u64).sum();
    let me = hosts.index();
    let written = write_shards(location, job.step, me, job.tensors, layout);
    let shards = if hosts.count() == 1 {
        vec![written?]
    } else {
        let report = match &written {
            Ok(s) => Written::Shards(s.clone()),
            Err(e) => Written::Failed(e.to_string()),
        };
        let name = format!("ckpt/{}/step_{}", location.url, job.step);
        let value = serde_json::to_vec(&report).expect("a host report serialises");
        let all = hosts
            .all_gather(&name, &value)
            .map_err(|e| Error::Hosts(format!("saving step {} to {}: {e}", job.step, location.url)))?;
        written?;
        let mut shards = Vec::with_capacity(all.len());
        for (host, bytes) in all.iter().enumerate() {
            match serde_json::from_slice::<Written>(bytes) {
                Ok(Written::Shards(s)) => shards.push(s),
                Ok(Written::Failed(e)) => {
                    return Err(Error::Hosts(format!(
                        "step {} is not committed: host {host} failed to write its shards: {e}",
                        job.step
                    )));
                }
                Err(e) => {
                    return Err(Error::Hosts(format!("host {host}'s report of step {} is unreadable: {e}", job.step)));
                }
            }
        }
        shards
    };
    let mut deleted = Vec::new();
    if me == 0 {
        commit(location, job.step, shards, job.run)?;
        deleted = retain(location, retention)?;
    }
    Ok(SaveReport { step: job.step, bytes, seconds: started.elapsed().as_secs_f64(), deleted })
}

impl Saver {
    /// A saver writing to `location` from a single process.
    pub fn new(location: Location, layout: Layout, retention: Retention) -> Saver {
        Saver { location, layout, retention, hosts: Arc::new(OneHost), in_flight: None }
    }

    /// The saver of one host of a job: see [`save_on_hosts`].
    pub fn on_hosts(mut self, hosts: Arc<dyn Hosts>) -> Saver {
        self.hosts = hosts;
        self
    }

    /// Starts saving `job` once the previous save is done; returns the previous save's report.
    pub fn submit(&mut self, job: SaveJob) -> Result<Option<SaveReport>> {
        let previous = self.wait()?;
        let (location, layout, retention) = (self.location.clone(), self.layout, self.retention);
        let hosts = self.hosts.clone();
        let handle = std::thread::Builder::new()
            .name(format!("ouro-save-{}", job.step))
            .spawn(move || save_on_hosts(&location, layout, retention, hosts.as_ref(), job))
            .map_err(|e| Error::Thread(format!("cannot start the save thread: {e}")))?;
        self.in_flight = Some(handle);
        Ok(previous)
    }

    /// Waits for the save in flight, if any.
    pub fn wait(&mut self) -> Result<Option<SaveReport>> {
        match self.in_flight.take() {
            None => Ok(None),
            Some(h) => match h.join() {
                Ok(result) => result.map(Some),
                Err(_) => Err(Error::Thread("the save thread panicked".into())),
            },
        }
    }
}

impl Drop for Saver {
    fn drop(&mut self) {
        // A save is never abandoned half-way by an early return of the loop.
        if let Err(e) = self.wait() {
            tracing::error!("the last checkpoint save failed: {e}");
        }
    }
}
