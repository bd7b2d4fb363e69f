//! Saving in the background: the training loop hands over host copies of the state and goes
//! on; serialisation, upload, commit and retention run on a thread. At most one save is in
//! flight: the next waits for it, and a failed save is reported when the loop next saves or
//! finishes, never dropped.

use std::thread::JoinHandle;
use std::time::Instant;

use ouro_store::Location;

use crate::error::{Error, Result};
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

/// One step's state, ready to write (single host).
pub struct SaveJob {
    /// The step.
    pub step: u64,
    /// The tensors.
    pub tensors: Vec<TensorData>,
    /// The trainer's records for the manifest.
    pub run: serde_json::Value,
}

/// Background saves to one location.
pub struct Saver {
    location: Location,
    layout: Layout,
    retention: Retention,
    in_flight: Option<JoinHandle<Result<SaveReport>>>,
}

/// Writes, commits and applies retention: one whole save.
pub fn save_now(location: &Location, layout: Layout, retention: Retention, job: SaveJob) -> Result<SaveReport> {
    let started = Instant::now();
    let bytes = job.tensors.iter().flat_map(|t| &t.parts).map(|(_, b)| b.len() as u64).sum();
    let shards = write_shards(location, job.step, 0, job.tensors, layout)?;
    commit(location, job.step, vec![shards], job.run)?;
    let deleted = retain(location, retention)?;
    Ok(SaveReport { step: job.step, bytes, seconds: started.elapsed().as_secs_f64(), deleted })
}

impl Saver {
    /// A saver writing to `location`.
    pub fn new(location: Location, layout: Layout, retention: Retention) -> Saver {
        Saver { location, layout, retention, in_flight: None }
    }

    /// Starts saving `job` once the previous save is done; returns the previous save's report.
    pub fn submit(&mut self, job: SaveJob) -> Result<Option<SaveReport>> {
        let previous = self.wait()?;
        let (location, layout, retention) = (self.location.clone(), self.layout, self.retention);
        let handle = std::thread::Builder::new()
            .name(format!("ouro-save-{}", job.step))
            .spawn(move || save_now(&location, layout, retention, job))
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
