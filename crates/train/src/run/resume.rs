//! Where a run's checkpoints live, who may write them, and continuing from them: the
//! location's single writer, the newest intact committed step, and the hosts' agreement on it
//! and on when to stop.

use std::sync::Arc;
use std::time::Duration;

use ouro_pjrt::Client;

use super::RunOptions;
use crate::checkpoint::{MeshPlace, RestoreError, restore};
use crate::config::CheckpointConfig;
use crate::devices::{DeviceState, Devices};
use crate::error::{Context, Error, Result};
use crate::preempt::StopAgreement;
use crate::state::StateLayout;
use crate::step::DataParallel;

/// What keeps a checkpoint location to one writer for as long as it is held.
pub(crate) enum LocationGuard {
    /// An object store's lease.
    Lease(Arc<ouro_ckpt::Lease>),
    /// A local location outside the run directory: its own lock file, held while this lives.
    Lock { _held: crate::lock::RunLock },
    /// The run directory's `checkpoints/`: the run directory's lock covers it.
    RunDirectory,
}

impl LocationGuard {
    /// The lease, on an object store.
    pub(crate) fn lease(&self) -> Option<Arc<ouro_ckpt::Lease>> {
        match self {
            LocationGuard::Lease(lease) => Some(lease.clone()),
            _ => None,
        }
    }
}

/// Takes the checkpoint location for this run: a second writer (another machine resuming the
/// same run, say) is refused naming the first.
pub(crate) fn hold_location(
    options: &RunOptions,
    location: &ouro_store::Location,
    ckpt: &CheckpointConfig,
) -> Result<LocationGuard> {
    let Some(dir) = location.local_dir() else {
        let ttl = Duration::from_secs(ckpt.lease_seconds);
        let lease = ouro_ckpt::Lease::acquire(location, &crate::lock::this_process(), ttl)?;
        return Ok(LocationGuard::Lease(Arc::new(lease)));
    };
    let run_dir = options.run_dir.canonicalize().unwrap_or_else(|_| options.run_dir.clone());
    if dir == run_dir.join(crate::config::CHECKPOINTS_DIR) {
        return Ok(LocationGuard::RunDirectory);
    }
    Ok(LocationGuard::Lock { _held: crate::lock::RunLock::acquire(&dir)? })
}

/// The job's processes as the checkpoint writer sees them: this one alone, or the job the
/// options name, which must be the processes that feed the mesh.
pub(crate) fn saving_hosts(options: &RunOptions, (host, hosts): (usize, usize)) -> Result<Arc<dyn ouro_ckpt::Hosts>> {
    Ok(match (&options.hosts, hosts) {
        (_, 1) => Arc::new(ouro_ckpt::OneHost),
        (Some(h), n) if h.count() == n && h.index() == host => h.clone(),
        (Some(h), n) => {
            return Err(Error::Hosts(format!(
                "the mesh is fed by {n} processes with this one as {host}, but the job is {h:?}: \
             every process of the job must feed the mesh, in process order"
            )));
        }
        (None, n) => {
            return Err(Error::Hosts(format!(
                "the mesh is fed by {n} processes but this run was given no job to save checkpoints with"
            )));
        }
    })
}

/// How this process learns it is to stop: its own flag, or in a job of several processes the
/// agreement of all of them (a host stopping alone would leave the others in their next step).
pub(crate) fn stop_agreement(
    options: &RunOptions,
    hosts: &dyn ouro_ckpt::Hosts,
    run_key: &str,
) -> Result<Option<StopAgreement>> {
    let Some(flag) = options.stop.clone() else { return Ok(None) };
    if hosts.count() == 1 {
        return Ok(Some(StopAgreement::alone(flag)));
    }
    let Some(store) = options.job_store.clone() else {
        return Err(Error::Hosts(format!(
            "a job of {} processes was given a stop flag but no key-value store to agree on a stop",
            hosts.count()
        )));
    };
    let prefix = format!("ouro/stop/{run_key}");
    Ok(Some(StopAgreement::in_job(flag, store, hosts.index(), hosts.count(), &prefix)))
}

/// Every host must have restored the same step (each picks the newest step it can read, so
/// damage seen by one host only would split them).
pub(crate) fn agree_on_resumed_step(hosts: &dyn ouro_ckpt::Hosts, location: &str, step: u64) -> Result<()> {
    if hosts.count() == 1 {
        return Ok(());
    }
    let all = hosts
        .all_gather(&format!("resume/{location}"), step.to_string().as_bytes())
        .map_err(|e| Error::Hosts(format!("agreeing on the step to resume from: {e}")))?;
    let steps: Vec<String> = all.iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect();
    if steps.iter().any(|s| *s != steps[0]) {
        return Err(Error::Hosts(format!(
            "the hosts resumed from different steps of {location} ({steps:?}, by process): run `ouro ckpt verify` on it"
        )));
    }
    Ok(())
}

/// What a resumed run continues from.
pub(crate) struct Restored {
    pub step: u64,
    pub iteration: usize,
    pub sampler: ouro_data::sampler::SamplerState,
}

/// Where restored tensors go: the state's layout and this process's devices on the mesh.
pub(crate) struct Target<'a> {
    pub layout: &'a StateLayout,
    pub devices: &'a Devices,
    pub client: &'a Client,
    pub parallel: Option<&'a DataParallel>,
    pub place: MeshPlace,
    pub global_batch_size: usize,
}

/// Loads the newest intact committed step into `values`, falling back to older ones when a
/// step is damaged (and saying so). A checkpoint of another config is refused outright.
pub(crate) fn resume(
    location: &ouro_store::Location,
    target: &Target<'_>,
    values: &mut DeviceState,
) -> Result<Option<Restored>> {
    let steps = ouro_ckpt::committed(location)?;
    for (k, &number) in steps.iter().enumerate() {
        match restore_step(location, number, target, values) {
            Ok(r) => return Ok(Some(r)),
            // Damage or an unreadable store: an older step may still be good.
            Err(RestoreError::Damaged(e)) => match steps.get(k + 1) {
                Some(previous) => {
                    tracing::warn!("step_{number} cannot be restored ({e:#}); falling back to step_{previous}");
                }
                None => {
                    return Err(e.context(format!("step_{number} cannot be restored and no older step is committed")));
                }
            },
            Err(RestoreError::Refused(e)) => return Err(e),
        }
    }
    Ok(None)
}

/// Restores committed step `number`.
fn restore_step(
    location: &ouro_store::Location,
    number: u64,
    target: &Target<'_>,
    values: &mut DeviceState,
) -> Result<Restored, RestoreError> {
    let step = ouro_ckpt::Step::open(location, number).map_err(RestoreError::of_store)?;
    let run = &step.manifest.run;
    let (saved_gbs, gbs) = (run["global_batch_size"].as_u64().unwrap_or(0) as usize, target.global_batch_size);
    if saved_gbs != gbs {
        return Err(RestoreError::Refused(Error::Checkpoint(ouro_ckpt::Error::Mismatch(format!(
            "{} was saved at global_batch_size {saved_gbs}, this run's is {gbs}: the batches would differ",
            step.url()
        )))));
    }
    let sampler = serde_json::from_value(run["sampler"].clone())
        .with_context(|| format!("{}: the sampler position", step.url()))
        .map_err(RestoreError::Refused)?;
    let iteration = run["iteration"].as_u64().unwrap_or(0) as usize;
    let on = (target.devices.devices.as_slice(), target.client);
    restore(&step, target.layout, values, on, target.parallel, target.place)?;
    Ok(Restored { step: number, iteration, sampler })
}
