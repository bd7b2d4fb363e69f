//! The run's resumable checkpoints: each save copies the state to the host (all it holds the
//! loop for, timed) and hands it to the background saver.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use crate::checkpoint::{MeshPlace, snapshot};
use crate::config::TrainConfig;
use crate::devices::DeviceState;
use crate::error::Result;
use crate::state::StateLayout;
use crate::step::DataParallel;

/// The trainer's record in a checkpoint's manifest: what `--resume` needs besides the tensors.
pub(crate) fn run_record(
    cfg: &TrainConfig,
    iteration: usize,
    position: &ouro_data::sampler::SamplerState,
) -> Result<Value> {
    Ok(json!({
        "config": cfg.to_yaml()?,
        "global_batch_size": cfg.recipe.global_batch_size,
        "mesh_data": cfg.recipe.mesh.data,
        "iteration": iteration,
        "sampler": position,
    }))
}

/// Where a save's place in the run is: the step, the iteration its batch belongs to, and the
/// sampler's position after it.
pub(crate) struct SavePoint<'a> {
    pub step: u64,
    pub iteration: usize,
    pub position: &'a ouro_data::sampler::SamplerState,
}

/// The run's saves.
pub(crate) struct Checkpoints<'a> {
    pub cfg: &'a TrainConfig,
    pub layout: &'a StateLayout,
    pub parallel: Option<&'a DataParallel>,
    pub place: MeshPlace,
    pub saver: ouro_ckpt::Saver,
    /// The location's lease on an object store: a save checks it is still this run's.
    pub lease: Option<Arc<ouro_ckpt::Lease>>,
    /// Seconds each save held the loop.
    pub held: Vec<f64>,
    /// Saves committed so far.
    pub reports: Vec<ouro_ckpt::SaveReport>,
    /// The last step handed over (or resumed from).
    pub last_saved: u64,
}

impl Checkpoints<'_> {
    /// Saves `values`, the state at `at`.
    pub(crate) fn save(&mut self, values: &DeviceState, at: SavePoint<'_>) -> Result<()> {
        // The step that produced the state may still be running: its time is the step's, not
        // the save's (the loop waits for it anyway when it reads that step's metrics).
        for state in &values.state {
            for buffer in ouro_ir::tree::Tree::leaves(state) {
                buffer.block_until_ready()?;
            }
        }
        if let Some(lease) = &self.lease {
            lease.check()?;
        }
        let started = Instant::now();
        let tensors = snapshot(self.layout, values, self.parallel, self.place, self.cfg.run.checkpoint.save_carry)?;
        self.held.push(started.elapsed().as_secs_f64());
        let run = run_record(self.cfg, at.iteration, at.position)?;
        self.reports.extend(self.saver.submit(ouro_ckpt::SaveJob { step: at.step, tensors, run })?);
        self.last_saved = at.step;
        Ok(())
    }

    /// Waits for the save in flight; every save's report.
    pub(crate) fn finish(mut self) -> Result<Vec<ouro_ckpt::SaveReport>> {
        self.reports.extend(self.saver.wait()?);
        Ok(self.reports)
    }
}
