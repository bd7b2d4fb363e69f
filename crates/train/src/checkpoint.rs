//! The training state in and out of checkpoints.
//!
//! Every state tensor and constant of the step is saved as its full logical array. A tensor
//! split over the data axis (the carry, ZeRO-1 moments) is saved by each device as its byte
//! range, a replicated one once, by the first device of host 0; restoring reads each device's
//! range for the mesh at hand, so a run resumes on another device count.

use ouro_ckpt::{Step, TensorData};
use ouro_ir::TensorType;
use ouro_ir::tree::Tree;
use ouro_pjrt::{Buffer, Client, Device};

use crate::devices::DeviceState;
use crate::error::{Context, Error, Result};
use crate::state::{Key, StateLayout};
use crate::step::DataParallel;

/// Whether the value `key` of type `ty` is split over the data axis (rather than replicated).
fn is_split(parallel: Option<&DataParallel>, key: Key<'_>, ty: &TensorType) -> bool {
    parallel.is_some_and(|p| !p.sharding(key, ty).is_replicated())
}

/// Where a saved tensor's buffer is among a device's values.
#[derive(Clone, Copy)]
enum Slot {
    /// The `i`-th leaf of the state.
    State(usize),
    /// The `i`-th fixed tensor.
    Fixed(usize),
}

/// The tensors the checkpoint holds: the state (without the carry unless `with_carry`) and
/// the fixed tensors (not the random key: the seed in the saved config makes it again).
fn saved(layout: &StateLayout, with_carry: bool) -> Vec<(Key<'_>, &TensorType, Slot)> {
    let mut out = Vec::new();
    let mut i = 0;
    layout.state.visit_keys(&mut |key, ty| {
        if with_carry || !matches!(key, Key::Carry(_)) {
            out.push((key, ty, Slot::State(i)));
        }
        i += 1;
    });
    out.extend(layout.constants.fixed.iter().enumerate().map(|(i, (name, ty))| (Key::Fixed(name), ty, Slot::Fixed(i))));
    out
}

/// One device's buffers of the saved slots.
struct OnDevice<'a> {
    state: Vec<&'a Buffer>,
    fixed: Vec<&'a Buffer>,
}

impl<'a> OnDevice<'a> {
    fn at(&self, slot: Slot) -> &'a Buffer {
        match slot {
            Slot::State(i) => self.state[i],
            Slot::Fixed(i) => self.fixed[i],
        }
    }
}

/// Each device's buffers.
fn buffers(values: &DeviceState) -> Vec<OnDevice<'_>> {
    values
        .state
        .iter()
        .zip(&values.constants)
        .map(|(s, c)| OnDevice { state: s.leaves(), fixed: c.fixed.leaves() })
        .collect()
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
pub(crate) fn snapshot(
    layout: &StateLayout,
    values: &DeviceState,
    parallel: Option<&DataParallel>,
    place: MeshPlace,
    with_carry: bool,
) -> Result<Vec<TensorData>> {
    let on_device = buffers(values);
    let mut out = Vec::new();
    for (key, ty, slot) in saved(layout, with_carry) {
        let name = key.to_string();
        // Device `d`'s buffer of the tensor, copied to the host.
        let copy = |d: usize| -> Result<Vec<u8>> {
            let b = on_device[d].at(slot);
            let mut bytes = vec![0u8; b.host_size_in_bytes()];
            b.to_host_bytes_into(&mut bytes).with_context(|| format!("copying {name} from device {d}"))?;
            Ok(bytes)
        };
        let full = ty.size_in_bytes() as u64;
        let mut parts = Vec::new();
        if is_split(parallel, key, ty) {
            let per = full / place.devices as u64;
            for d in 0..on_device.len() {
                parts.push(((place.first + d) as u64 * per, copy(d)?));
            }
        } else if place.leader {
            parts.push((0, copy(0)?));
        }
        out.push(TensorData {
            name: name.clone(),
            dtype: ty.dtype.to_string(),
            shape: ty.shape.clone(),
            bytes: full,
            parts,
        });
    }
    Ok(out)
}

/// Why a committed step was not restored.
#[derive(Debug)]
pub enum RestoreError {
    /// The step is damaged or its store unreadable: an older step may still be good.
    Damaged(Error),
    /// The step is of another config, or this run cannot take it: no older step will do.
    Refused(Error),
}

impl RestoreError {
    /// A store's error: a mismatch refuses the step, anything else is damage.
    pub fn of_store(e: ouro_ckpt::Error) -> RestoreError {
        match e {
            ouro_ckpt::Error::Mismatch(_) => RestoreError::Refused(e.into()),
            e => RestoreError::Damaged(e.into()),
        }
    }
}

/// Replaces the buffers of `values` (fresh from the init step) by the checkpoint's. A tensor
/// the checkpoint lacks keeps its initial value only if it is the carry (saved optionally); any
/// other absence or a different dtype or shape is refused, naming the tensor.
///
/// Nothing is replaced unless every tensor reads back intact.
pub(crate) fn restore(
    step: &Step,
    layout: &StateLayout,
    values: &mut DeviceState,
    (devices, client): (&[Device], &Client),
    parallel: Option<&DataParallel>,
    place: MeshPlace,
) -> Result<(), RestoreError> {
    let refuse = |message: String| RestoreError::Refused(Error::Checkpoint(ouro_ckpt::Error::Mismatch(message)));
    let on_device = buffers(values);
    let mut replacements: Vec<(Slot, usize, Buffer)> = Vec::new();
    for (key, ty, slot) in saved(layout, true) {
        let name = key.to_string();
        let Some(entry) = step.manifest.tensor(&name) else {
            if matches!(key, Key::Carry(_)) {
                continue;
            }
            return Err(refuse(format!(
                "{} has no tensor {name}: it was saved by a different model or optimizer",
                step.url()
            )));
        };
        if entry.dtype != ty.dtype.to_string() || entry.shape != ty.shape {
            return Err(refuse(format!(
                "{}: tensor {name} is {}{:?} but this run's is {}{:?}: the checkpoint is of a different config",
                step.url(),
                entry.dtype,
                entry.shape,
                ty.dtype,
                ty.shape
            )));
        }
        let full = ty.size_in_bytes() as u64;
        let whole = if is_split(parallel, key, ty) {
            None
        } else {
            Some(step.read_all(&name).map_err(RestoreError::of_store)?)
        };
        for (d, device) in devices.iter().enumerate() {
            let like = on_device[d].at(slot);
            let bytes = match &whole {
                Some(b) => b.clone(),
                None => {
                    let per = full / place.devices as u64;
                    step.read(&name, (place.first + d) as u64 * per, per).map_err(RestoreError::of_store)?
                }
            };
            let buffer = client
                .buffer_from_bytes(&bytes, like.element_type(), like.dims(), device)
                .with_context(|| format!("placing {name} on device {d}"))
                .map_err(RestoreError::Refused)?;
            replacements.push((slot, d, buffer));
        }
    }
    drop(on_device);
    replace(values, replacements);
    Ok(())
}

/// Puts `replacements` in place of the buffers they name.
fn replace(values: &mut DeviceState, replacements: Vec<(Slot, usize, Buffer)>) {
    let mut slots: Vec<(Vec<&mut Buffer>, Vec<&mut Buffer>)> = values
        .state
        .iter_mut()
        .zip(&mut values.constants)
        .map(|(s, c)| (s.leaves_mut(), c.fixed.values_mut().collect()))
        .collect();
    for (slot, d, buffer) in replacements {
        let (state, fixed) = &mut slots[d];
        match slot {
            Slot::State(i) => *state[i] = buffer,
            Slot::Fixed(i) => *fixed[i] = buffer,
        }
    }
}
