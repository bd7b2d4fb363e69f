//! The training state in and out of checkpoints.
//!
//! Every state tensor and constant of the step is saved as its full logical array. A tensor
//! split over the data axis (the carry, ZeRO-1 moments) is saved by each device as its byte
//! range, a replicated one once, by the first device of host 0; restoring reads each device's
//! range for the mesh at hand, so a run resumes on another device count.

use anyhow::{Context, Result, bail};
use ouro_ckpt::{Step, TensorData};
use ouro_ir::{Named, TensorType};
use ouro_pjrt::{Buffer, Client, Device};

use crate::step::DataParallel;

/// Whether `name` of type `ty` is split over the data axis (rather than replicated).
fn is_split(parallel: Option<&DataParallel>, name: &str, ty: &TensorType) -> bool {
    parallel.is_some_and(|p| !p.sharding(name, ty).is_replicated())
}

/// The tensors the checkpoint holds: the state (without the carry unless `with_carry`) and
/// the constants but the random key (the seed in the saved config makes it again).
fn saved<'a>(
    state: &'a Named<TensorType>,
    constants: &'a Named<TensorType>,
    with_carry: bool,
) -> impl Iterator<Item = (usize, usize, &'a str, &'a TensorType)> {
    let s = state.iter().enumerate().map(|(i, (n, t))| (0, i, n, t));
    let c = constants.iter().enumerate().map(|(i, (n, t))| (1, i, n, t));
    s.chain(c).filter(move |(_, _, n, _)| (with_carry || !n.starts_with("carry/")) && *n != "key")
}

/// Where this process sits on the data axis.
#[derive(Clone, Copy, Debug)]
pub struct MeshPlace {
    /// Devices on the axis, all hosts together.
    pub devices: usize,
    /// Mesh position of this process's first device.
    pub first: usize,
    /// Whether this process writes the replicated tensors.
    pub leader: bool,
}

/// Host copies of this process's share of the state: the device-to-host copy a save costs the
/// training loop.
#[allow(clippy::too_many_arguments)]
pub fn snapshot(
    state_types: &Named<TensorType>,
    constant_types: &Named<TensorType>,
    state: &[Vec<Buffer>],
    constants: &[Vec<Buffer>],
    parallel: Option<&DataParallel>,
    place: MeshPlace,
    with_carry: bool,
) -> Result<Vec<TensorData>> {
    let mut out = Vec::new();
    for (group, index, name, ty) in saved(state_types, constant_types, with_carry) {
        // Device `d`'s buffer of the tensor, copied to the host.
        let copy = |d: usize| -> Result<Vec<u8>> {
            let b = if group == 0 { &state[d][index] } else { &constants[d][index] };
            let mut bytes = vec![0u8; b.host_size_in_bytes()];
            b.to_host_bytes_into(&mut bytes).with_context(|| format!("copying {name} from device {d}"))?;
            Ok(bytes)
        };
        let full = ty.size_in_bytes() as u64;
        let mut parts = Vec::new();
        if is_split(parallel, name, ty) {
            let per = full / place.devices as u64;
            for d in 0..state.len() {
                parts.push(((place.first + d) as u64 * per, copy(d)?));
            }
        } else if place.leader {
            parts.push((0, copy(0)?));
        }
        out.push(TensorData {
            name: name.to_string(),
            dtype: ty.dtype.to_string(),
            shape: ty.shape.clone(),
            bytes: full,
            parts,
        });
    }
    Ok(out)
}

/// Replaces the buffers of `state` and `constants` (one list per local device, fresh from the
/// init step) by the checkpoint's. A tensor the checkpoint lacks keeps its initial value only
/// if it is the carry (saved optionally); any other absence or a different dtype or shape is
/// refused, naming the tensor.
///
/// Nothing is replaced unless every tensor reads back intact.
#[allow(clippy::too_many_arguments)]
pub fn restore(
    step: &Step,
    state_types: &Named<TensorType>,
    constant_types: &Named<TensorType>,
    state: &mut [Vec<Buffer>],
    constants: &mut [Vec<Buffer>],
    devices: &[Device],
    client: &Client,
    parallel: Option<&DataParallel>,
    place: MeshPlace,
) -> Result<()> {
    let mut replacements: Vec<(usize, usize, usize, Buffer)> = Vec::new();
    for (group, index, name, ty) in saved(state_types, constant_types, true) {
        let Some(entry) = step.manifest.tensor(name) else {
            if name.starts_with("carry/") {
                continue;
            }
            bail!("{} has no tensor {name}: it was saved by a different model or optimizer", step.url());
        };
        if entry.dtype != ty.dtype.to_string() || entry.shape != ty.shape {
            bail!(
                "{}: tensor {name} is {}{:?} but this run's is {}{:?}: the checkpoint is of a different config",
                step.url(),
                entry.dtype,
                entry.shape,
                ty.dtype,
                ty.shape
            );
        }
        let full = ty.size_in_bytes() as u64;
        let split = is_split(parallel, name, ty);
        let whole = if split { None } else { Some(step.read_all(name)?) };
        for (d, device) in devices.iter().enumerate() {
            let like = if group == 0 { &state[d][index] } else { &constants[d][index] };
            let bytes = match &whole {
                Some(b) => b.clone(),
                None => {
                    let per = full / place.devices as u64;
                    step.read(name, (place.first + d) as u64 * per, per)?
                }
            };
            let buffer = client
                .buffer_from_bytes(&bytes, like.element_type(), like.dims(), device)
                .with_context(|| format!("placing {name} on device {d}"))?;
            replacements.push((group, index, d, buffer));
        }
    }
    for (group, index, d, buffer) in replacements {
        if group == 0 {
            state[d][index] = buffer;
        } else {
            constants[d][index] = buffer;
        }
    }
    Ok(())
}
