//! `PJRT_Device` and its description.

use std::ptr::NonNull;
use std::sync::Arc;

use crate::api::Api;
use crate::client::ClientInner;
use crate::error::{Error, Result};
use crate::sys::{self, PjrtArgs};
use crate::value::{NamedValue, read_named_values, string_from_raw};

/// A device of a client. Cheap to clone; keeps the client alive.
#[derive(Clone)]
pub struct Device {
    client: Arc<ClientInner>,
    raw: NonNull<sys::PJRT_Device>,
}

// SAFETY: a device handle is owned by its (thread-safe) client and never mutated by ouro.
unsafe impl Send for Device {}
// SAFETY: see `Send`.
unsafe impl Sync for Device {}

impl PartialEq for Device {
    fn eq(&self, other: &Device) -> bool {
        self.raw == other.raw
    }
}
impl Eq for Device {}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.description() {
            Ok(d) => write!(f, "Device({} #{})", d.kind, d.id),
            Err(_) => write!(f, "Device({:p})", self.raw),
        }
    }
}

/// What a device says about itself.
#[derive(Clone, Debug)]
pub struct DeviceDescription {
    /// Globally unique id among all devices of the client.
    pub id: i32,
    /// The process that owns the device.
    pub process_index: i32,
    /// e.g. `cpu`, `NVIDIA H100 80GB HBM3`, `TPU v4`.
    pub kind: String,
    /// A longer human-readable description.
    pub debug_string: String,
    /// Platform attributes (`coords`, `core_on_chip`, ...).
    pub attributes: Vec<(String, NamedValue)>,
}

/// `PJRT_Device_MemoryStats`: the allocator's view of a device's memory, in bytes.
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)] // the allocator's own names; `None` where the plugin does not track one
pub struct MemoryStats {
    pub bytes_in_use: i64,
    pub peak_bytes_in_use: Option<i64>,
    pub num_allocs: Option<i64>,
    pub largest_alloc_size: Option<i64>,
    pub bytes_limit: Option<i64>,
    pub bytes_reserved: Option<i64>,
    pub peak_bytes_reserved: Option<i64>,
    pub largest_free_block_bytes: Option<i64>,
}

/// Reads a device description the plugin owns.
///
/// # Safety
/// `desc` must be a live description of `api`'s plugin (a device's, or a topology's).
pub(crate) unsafe fn read_description(api: &Api, desc: *mut sys::PJRT_DeviceDescription) -> Result<DeviceDescription> {
    let mut id = sys::PJRT_DeviceDescription_Id_Args::new();
    id.device_description = desc;
    api.call(&mut id)?;

    let mut process = sys::PJRT_DeviceDescription_ProcessIndex_Args::new();
    process.device_description = desc;
    api.call(&mut process)?;

    let mut kind = sys::PJRT_DeviceDescription_Kind_Args::new();
    kind.device_description = desc;
    api.call(&mut kind)?;

    let mut debug = sys::PJRT_DeviceDescription_DebugString_Args::new();
    debug.device_description = desc;
    api.call(&mut debug)?;

    let mut attrs = sys::PJRT_DeviceDescription_Attributes_Args::new();
    attrs.device_description = desc;
    api.call(&mut attrs)?;

    // SAFETY: strings and attributes are owned by the description (alive, by the caller's
    // contract) and copied before this function returns.
    unsafe {
        Ok(DeviceDescription {
            id: id.id,
            process_index: process.process_index,
            kind: string_from_raw(kind.device_kind, kind.device_kind_size),
            debug_string: string_from_raw(debug.debug_string, debug.debug_string_size),
            attributes: read_named_values(attrs.attributes, attrs.num_attributes),
        })
    }
}

impl Device {
    pub(crate) fn new(client: Arc<ClientInner>, raw: NonNull<sys::PJRT_Device>) -> Device {
        Device { client, raw }
    }

    pub(crate) fn raw(&self) -> *mut sys::PJRT_Device {
        self.raw.as_ptr()
    }

    pub(crate) fn check_client(&self, client: &Arc<ClientInner>, what: &'static str) -> Result<()> {
        if Arc::ptr_eq(&self.client, client) { Ok(()) } else { Err(Error::ForeignObject(what)) }
    }

    fn description_raw(&self) -> Result<*mut sys::PJRT_DeviceDescription> {
        let mut args = sys::PJRT_Device_GetDescription_Args::new();
        args.device = self.raw.as_ptr();
        self.client.api.call(&mut args)?;
        Ok(args.device_description)
    }

    /// The device's id, kind and attributes.
    pub fn description(&self) -> Result<DeviceDescription> {
        // SAFETY: the description belongs to this device, which the client keeps alive.
        unsafe { read_description(&self.client.api, self.description_raw()?) }
    }

    /// The globally unique id.
    pub fn id(&self) -> Result<i32> {
        let mut id = sys::PJRT_DeviceDescription_Id_Args::new();
        id.device_description = self.description_raw()?;
        self.client.api.call(&mut id)?;
        Ok(id.id)
    }

    /// Whether this process can use the device.
    pub fn is_addressable(&self) -> Result<bool> {
        let mut args = sys::PJRT_Device_IsAddressable_Args::new();
        args.device = self.raw.as_ptr();
        self.client.api.call(&mut args)?;
        Ok(args.is_addressable)
    }

    /// The device's hardware id on its host (e.g. the CUDA ordinal), -1 if not applicable.
    pub fn local_hardware_id(&self) -> Result<i32> {
        let mut args = sys::PJRT_Device_LocalHardwareId_Args::new();
        args.device = self.raw.as_ptr();
        self.client.api.call(&mut args)?;
        Ok(args.local_hardware_id)
    }

    /// The allocator's statistics. Plugins without an allocator report `UNIMPLEMENTED`.
    pub fn memory_stats(&self) -> Result<MemoryStats> {
        let mut a = sys::PJRT_Device_MemoryStats_Args::new();
        a.device = self.raw.as_ptr();
        self.client.api.call(&mut a)?;
        let opt = |value: i64, set: bool| set.then_some(value);
        Ok(MemoryStats {
            bytes_in_use: a.bytes_in_use,
            peak_bytes_in_use: opt(a.peak_bytes_in_use, a.peak_bytes_in_use_is_set),
            num_allocs: opt(a.num_allocs, a.num_allocs_is_set),
            largest_alloc_size: opt(a.largest_alloc_size, a.largest_alloc_size_is_set),
            bytes_limit: opt(a.bytes_limit, a.bytes_limit_is_set),
            bytes_reserved: opt(a.bytes_reserved, a.bytes_reserved_is_set),
            peak_bytes_reserved: opt(a.peak_bytes_reserved, a.peak_bytes_reserved_is_set),
            largest_free_block_bytes: opt(a.largest_free_block_bytes, a.largest_free_block_bytes_is_set),
        })
    }
}
