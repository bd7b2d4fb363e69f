//! This process's devices of the data axis, the run's values on them, and running a program
//! on all of them at once.

use ouro_data::sampler::Batch as HostBatch;
use ouro_ir::tree::Tree;
use ouro_nn::{Batch, ParamSpec};
use ouro_pjrt::{Buffer, Client, Device};
use ouro_runtime::{Executable, Runtime};

use crate::error::{Error, Result};
use crate::init::seed_key;
use crate::state::{Constants, StateLayout, TrainState};

/// This process's devices of the data axis.
pub(crate) struct Devices {
    /// This process's devices, in mesh order.
    pub(crate) devices: Vec<Device>,
    /// This process's place among the processes that feed the mesh, `(index, count)`: host
    /// `index` holds shards `[index · n, (index + 1) · n)` and feeds that slice of every batch.
    pub(crate) host: (usize, usize),
}

/// The run's values on this process's devices: per device, the train state and the constants.
pub(crate) struct DeviceState {
    /// Per device, the state the train step donates.
    pub(crate) state: Vec<TrainState<Buffer>>,
    /// Per device, the read-only constants.
    pub(crate) constants: Vec<Constants<Buffer>>,
}

impl Devices {
    /// The `mesh`-way data axis: the runtime's mesh order, this process's part of it.
    pub(crate) fn new(runtime: &Runtime, mesh: usize) -> Result<Devices> {
        let devices = runtime.mesh_devices(mesh)?;
        let mut processes = Vec::with_capacity(devices.len());
        for d in &devices {
            processes.push(d.description()?.process_index);
        }
        let (host, local) = host_part(&processes, runtime.client().process_index())?;
        Ok(Devices { devices: local.into_iter().map(|i| devices[i].clone()).collect(), host })
    }

    /// Whether this process writes the run's files (metrics, config, weights).
    pub(crate) fn leader(&self) -> bool {
        self.host.0 == 0
    }

    /// This process's device count.
    pub(crate) fn n(&self) -> usize {
        self.devices.len()
    }

    /// Runs the init program from the seed's key on every device: each device's state and
    /// constants (the key among them).
    pub(crate) fn initial_state(
        &self,
        client: &Client,
        init: &Executable,
        layout: &StateLayout,
        seed: u64,
    ) -> Result<DeviceState> {
        let keys: Vec<Buffer> =
            self.devices.iter().map(|d| client.buffer_from_host(&seed_key(seed), &[2], d)).collect::<Result<_, _>>()?;
        let out = self.exec(init, &keys.iter().map(|k| vec![k]).collect::<Vec<_>>())?;
        let (mut state, mut constants) = (Vec::new(), Vec::new());
        for (mut leaves, key) in out.into_iter().zip(keys) {
            let count = leaves.len();
            let fixed = leaves.split_off(layout.state.leaves().len().min(count));
            let unexpected =
                || Error::Program(format!("the init program returned {count} values, not the state and fixed tensors"));
            state.push(layout.state.with_leaves(leaves).ok_or_else(unexpected)?);
            if fixed.len() != layout.constants.fixed.len() {
                return Err(unexpected());
            }
            let fixed = layout.constants.fixed.iter().map(|(name, _)| name.to_string()).zip(fixed).collect();
            constants.push(Constants { fixed, key });
        }
        Ok(DeviceState { state, constants })
    }

    /// Runs `exe` with `args[d]` on device `d`; results per device.
    pub(crate) fn exec(&self, exe: &Executable, args: &[Vec<&Buffer>]) -> Result<Vec<Vec<Buffer>>> {
        if self.n() == 1 { Ok(vec![exe.run(&args[0])?]) } else { Ok(exe.run_sharded(args)?) }
    }

    /// One train step on every device: the state is donated and replaced by the step's; the
    /// metrics, replicated, are device 0's copy.
    pub(crate) fn train(
        &self,
        exe: &Executable,
        layout: &StateLayout,
        values: &mut DeviceState,
        batch: &[Batch<Buffer>],
    ) -> Result<Buffer> {
        let args: Vec<Vec<&Buffer>> = (0..self.n())
            .map(|d| {
                let mut a = values.state[d].leaves();
                a.extend(values.constants[d].leaves());
                a.extend(batch[d].leaves());
                a
            })
            .collect();
        let out = self.exec(exe, &args)?;
        let mut metrics = None;
        for (mut leaves, state) in out.into_iter().zip(&mut values.state) {
            let m = leaves.pop().ok_or_else(|| Error::Program("the train step returned nothing".into()))?;
            metrics.get_or_insert(m);
            let count = leaves.len();
            // In place: the tree's names and structure stay, the buffers are the step's.
            if !state.replace_leaves(leaves) {
                return Err(Error::Program(format!(
                    "the train step returned {count} state values, the state has {}",
                    layout.state.leaves().len()
                )));
            }
        }
        metrics.ok_or_else(|| Error::Program("no device ran the train step".into()))
    }

    /// Each device's rows of `batch` (this host's part of the global batch), copied straight to
    /// that device.
    pub(crate) fn upload(&self, client: &Client, batch: &HostBatch) -> Result<Vec<Batch<Buffer>>> {
        let n = self.n();
        let mut out = Vec::with_capacity(n);
        for (d, device) in self.devices.iter().enumerate() {
            let shard = batch.shard(d, n)?;
            let (rows, seq) = (shard.rows as i64, batch.seq_len as i64);
            out.push(Batch {
                inputs: client.buffer_from_host(shard.inputs, &[rows, seq], device)?,
                labels: client.buffer_from_host(shard.labels, &[rows, seq], device)?,
                puzzle_ids: client.buffer_from_host(shard.puzzle_identifiers, &[rows], device)?,
            });
        }
        Ok(out)
    }
}

impl DeviceState {
    /// Device `d`'s buffers of the eval step's weight arguments `specs`: the EMA weights when
    /// `ema`, else the live ones, then the table and the fixed tensors as the model orders them.
    pub(crate) fn eval_weights(&self, d: usize, specs: &[ParamSpec], ema: bool) -> Result<Vec<&Buffer>> {
        crate::weights::eval_weights(specs, ema, &self.state[d], &self.constants[d])
    }
}

/// Given the owning process of each mesh position (grouped by process), this process's
/// `(index, count)` among the processes and its mesh positions.
fn host_part(processes: &[i32], me: i32) -> Result<((usize, usize), Vec<usize>)> {
    let mut hosts = processes.to_vec();
    hosts.dedup();
    let mut sorted = hosts.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != hosts.len() {
        return Err(Error::Config(format!(
            "the mesh interleaves the processes' devices ({processes:?}); each process needs a contiguous run"
        )));
    }
    let index = hosts
        .iter()
        .position(|&p| p == me)
        .ok_or_else(|| Error::Config(format!("process {me} has no device in the mesh")))?;
    let local: Vec<usize> = (0..processes.len()).filter(|&i| processes[i] == me).collect();
    if local.len() * hosts.len() != processes.len() {
        return Err(Error::Config(format!(
            "the {} devices of mesh.data are spread unevenly over {} processes ({} in process {me}); every host needs the same number",
            processes.len(),
            hosts.len(),
            local.len()
        )));
    }
    Ok(((index, hosts.len()), local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_host_owns_a_contiguous_slice_of_the_mesh() {
        assert_eq!(host_part(&[0, 0, 0, 0], 0).unwrap(), ((0, 1), vec![0, 1, 2, 3]));
        assert_eq!(host_part(&[0, 0, 1, 1], 1).unwrap(), ((1, 2), vec![2, 3]));
        // Process indices need not start at 0 or be consecutive.
        assert_eq!(host_part(&[4, 4, 7, 7, 9, 9], 7).unwrap(), ((1, 3), vec![2, 3]));
        for (processes, me, want) in [
            (vec![0, 1, 1], 1, "spread unevenly over 2 processes (2 in process 1)"),
            (vec![0, 1, 0, 1], 0, "interleaves"),
            (vec![0, 0], 3, "process 3 has no device"),
        ] {
            let e = host_part(&processes, me).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
