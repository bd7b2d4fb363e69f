//! `PJRT_Buffer`: an array on a device.

use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::client::{ClientInner, byte_size};
use crate::device::Device;
use crate::element_type::{ElementType, NativeType};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::sys::{self, PjrtArgs};

const LIVE: u8 = 0;
const DONATED: u8 = 1;
const DELETED: u8 = 2;

/// An array on one device. Destroyed on drop; keeps its client alive.
///
/// A buffer donated to an execution (see [`crate::LoadedExecutable::execute`]) or explicitly
/// [deleted](Buffer::delete) stays a valid Rust value, but every use of it returns
/// [`Error::BufferDeleted`].
pub struct Buffer {
    client: Arc<ClientInner>,
    raw: NonNull<sys::PJRT_Buffer>,
    element_type: ElementType,
    dims: Vec<i64>,
    state: AtomicU8,
}

// SAFETY: PJRT buffers are thread-safe by contract (JAX reads, copies and donates them from any
// thread); ouro's own state is an atomic.
unsafe impl Send for Buffer {}
// SAFETY: see `Send`.
unsafe impl Sync for Buffer {}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Buffer({}{:?}", self.element_type, self.dims)?;
        match self.state.load(Ordering::Acquire) {
            DONATED => write!(f, ", donated)"),
            DELETED => write!(f, ", deleted)"),
            _ => write!(f, ")"),
        }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        let mut args = sys::PJRT_Buffer_Destroy_Args::new();
        args.buffer = self.raw.as_ptr();
        // A failed destroy at drop time cannot be reported.
        let _ = self.client.api.call(&mut args);
    }
}

impl Buffer {
    pub(crate) fn new(
        client: Arc<ClientInner>,
        raw: NonNull<sys::PJRT_Buffer>,
        element_type: ElementType,
        dims: Vec<i64>,
    ) -> Buffer {
        Buffer { client, raw, element_type, dims, state: AtomicU8::new(LIVE) }
    }

    /// Wraps a buffer returned by an execution, reading its type and shape from the plugin.
    pub(crate) fn from_output(client: Arc<ClientInner>, raw: NonNull<sys::PJRT_Buffer>) -> Result<Buffer> {
        // Wrap first so the buffer is destroyed if a query fails.
        let mut buffer = Buffer::new(client, raw, ElementType::U8, Vec::new());
        let mut et = sys::PJRT_Buffer_ElementType_Args::new();
        et.buffer = raw.as_ptr();
        buffer.client.api.call(&mut et)?;
        buffer.element_type = ElementType::from_raw(et.element_type)?;
        let mut dims = sys::PJRT_Buffer_Dimensions_Args::new();
        dims.buffer = raw.as_ptr();
        buffer.client.api.call(&mut dims)?;
        if dims.num_dims > 0 {
            if dims.dims.is_null() {
                return Err(Error::PluginContract { function: "PJRT_Buffer_Dimensions", message: "null dims".into() });
            }
            // SAFETY: the plugin returned `num_dims` dimensions owned by the buffer.
            buffer.dims = unsafe { std::slice::from_raw_parts(dims.dims, dims.num_dims) }.to_vec();
        }
        Ok(buffer)
    }

    pub(crate) fn client(&self) -> &Arc<ClientInner> {
        &self.client
    }

    /// The raw handle, after checking that the buffer can still be used.
    pub(crate) fn live_raw(&self, what: &'static str) -> Result<*mut sys::PJRT_Buffer> {
        match self.state.load(Ordering::Acquire) {
            LIVE => Ok(self.raw.as_ptr()),
            DONATED => Err(Error::BufferDeleted { what, state: "donated to an execution" }),
            _ => Err(Error::BufferDeleted { what, state: "deleted" }),
        }
    }

    /// Records that an execution took this buffer over.
    pub(crate) fn mark_donated(&self) {
        self.state.store(DONATED, Ordering::Release);
    }

    /// The element type.
    pub fn element_type(&self) -> ElementType {
        self.element_type
    }

    /// The shape.
    pub fn dims(&self) -> &[i64] {
        &self.dims
    }

    /// Number of elements.
    pub fn element_count(&self) -> usize {
        self.dims.iter().map(|&d| d as usize).product()
    }

    /// Bytes of the dense host representation.
    pub fn host_size_in_bytes(&self) -> usize {
        self.element_count() * self.element_type.size_in_bytes()
    }

    /// Whether the buffer was donated or deleted.
    pub fn is_deleted(&self) -> bool {
        if self.state.load(Ordering::Acquire) != LIVE {
            return true;
        }
        let mut args = sys::PJRT_Buffer_IsDeleted_Args::new();
        args.buffer = self.raw.as_ptr();
        self.client.api.call(&mut args).map(|()| args.is_deleted).unwrap_or(true)
    }

    /// Frees the device memory now (the handle lives until drop). Later uses are errors.
    pub fn delete(&self) -> Result<()> {
        let raw = self.live_raw("Buffer::delete")?;
        let mut args = sys::PJRT_Buffer_Delete_Args::new();
        args.buffer = raw;
        self.client.api.call(&mut args)?;
        self.state.store(DELETED, Ordering::Release);
        Ok(())
    }

    /// Releases device memory after a donation the program did not alias; the plugin keeps it
    /// alive until running computations that read it are done.
    pub(crate) fn release_after_donation(&self) {
        if self.state.load(Ordering::Acquire) == DONATED {
            let mut deleted = sys::PJRT_Buffer_IsDeleted_Args::new();
            deleted.buffer = self.raw.as_ptr();
            if self.client.api.call(&mut deleted).is_ok() && !deleted.is_deleted {
                let mut args = sys::PJRT_Buffer_Delete_Args::new();
                args.buffer = self.raw.as_ptr();
                let _ = self.client.api.call(&mut args);
            }
        }
    }

    /// The device holding the buffer.
    pub fn device(&self) -> Result<Device> {
        let mut args = sys::PJRT_Buffer_Device_Args::new();
        args.buffer = self.live_raw("Buffer::device")?;
        self.client.api.call(&mut args)?;
        let raw = NonNull::new(args.device)
            .ok_or(Error::PluginContract { function: "PJRT_Buffer_Device", message: "returned no device".into() })?;
        Ok(Device::new(self.client.clone(), raw))
    }

    /// Bytes the buffer occupies on the device (may include padding).
    pub fn on_device_size_in_bytes(&self) -> Result<usize> {
        let mut args = sys::PJRT_Buffer_OnDeviceSizeInBytes_Args::new();
        args.buffer = self.live_raw("Buffer::on_device_size_in_bytes")?;
        self.client.api.call(&mut args)?;
        Ok(args.on_device_size_in_bytes)
    }

    /// An event that fires when the buffer's contents are computed.
    pub fn ready_event(&self) -> Result<Option<Event>> {
        let mut args = sys::PJRT_Buffer_ReadyEvent_Args::new();
        args.buffer = self.live_raw("Buffer::ready_event")?;
        self.client.api.call(&mut args)?;
        Ok(Event::from_raw(self.client.api.clone(), args.event))
    }

    /// Blocks until the buffer's contents are computed; returns the error of the computation
    /// that produces it, if it failed.
    pub fn block_until_ready(&self) -> Result<()> {
        match self.ready_event()? {
            Some(event) => event.wait(),
            None => Ok(()),
        }
    }

    /// Copies the contents into `dst`, whose length must be the buffer's element count.
    pub fn to_host_into<T: NativeType>(&self, dst: &mut [T]) -> Result<()> {
        if T::ELEMENT_TYPE != self.element_type {
            return Err(Error::ElementTypeMismatch { expected: T::ELEMENT_TYPE, actual: self.element_type });
        }
        let size = std::mem::size_of_val(dst);
        // SAFETY: `dst` is valid for `size` bytes, and `NativeType` accepts any bit pattern.
        let bytes = unsafe { std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<u8>(), size) };
        self.to_host_bytes_into(bytes)
    }

    /// Copies the contents into a new vector.
    pub fn to_host<T: NativeType>(&self) -> Result<Vec<T>> {
        if T::ELEMENT_TYPE != self.element_type {
            return Err(Error::ElementTypeMismatch { expected: T::ELEMENT_TYPE, actual: self.element_type });
        }
        let count = self.element_count();
        let mut out: Vec<T> = Vec::with_capacity(count);
        // SAFETY: the spare capacity is `count` elements long; it is fully written by the
        // transfer (checked to have the exact byte size) before `set_len`.
        unsafe {
            let bytes = std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u8>(), count * std::mem::size_of::<T>());
            self.to_host_bytes_into(bytes)?;
            out.set_len(count);
        }
        Ok(out)
    }

    /// Copies a `pred` buffer into booleans.
    pub fn to_host_pred(&self) -> Result<Vec<bool>> {
        if self.element_type != ElementType::Pred {
            return Err(Error::ElementTypeMismatch { expected: ElementType::Pred, actual: self.element_type });
        }
        let mut bytes = vec![0u8; self.element_count()];
        self.to_host_bytes_into(&mut bytes)?;
        Ok(bytes.into_iter().map(|b| b != 0).collect())
    }

    /// Copies the contents (dense, row-major) into `dst`, which must be exactly
    /// [`Buffer::host_size_in_bytes`] long. Blocks until the copy is done.
    pub fn to_host_bytes_into(&self, dst: &mut [u8]) -> Result<()> {
        let expected = byte_size(self.element_type, &self.dims)?;
        if dst.len() != expected {
            return Err(Error::HostDataSize {
                element_type: self.element_type,
                dims: self.dims.clone(),
                expected,
                actual: dst.len(),
            });
        }
        let mut args = sys::PJRT_Buffer_ToHostBuffer_Args::new();
        args.src = self.live_raw("Buffer::to_host")?;
        args.dst = dst.as_mut_ptr().cast();
        args.dst_size = dst.len();
        self.client.api.call(&mut args)?;
        // The copy is asynchronous; `dst` must not be released before the event fires.
        match Event::from_raw(self.client.api.clone(), args.event) {
            Some(event) => event.wait(),
            None => Ok(()),
        }
    }

    /// Copies the buffer to another device of the same client.
    pub fn copy_to_device(&self, device: &Device) -> Result<Buffer> {
        device.check_client(&self.client, "Buffer::copy_to_device")?;
        let mut args = sys::PJRT_Buffer_CopyToDevice_Args::new();
        args.buffer = self.live_raw("Buffer::copy_to_device")?;
        args.dst_device = device.raw();
        self.client.api.call(&mut args)?;
        let raw = NonNull::new(args.dst_buffer).ok_or(Error::PluginContract {
            function: "PJRT_Buffer_CopyToDevice",
            message: "returned no buffer".into(),
        })?;
        Ok(Buffer::new(self.client.clone(), raw, self.element_type, self.dims.clone()))
    }

    /// The device address of the data (for aliasing checks in tests and debugging).
    pub fn unsafe_pointer(&self) -> Result<usize> {
        let mut args = sys::PJRT_Buffer_UnsafePointer_Args::new();
        args.buffer = self.live_raw("Buffer::unsafe_pointer")?;
        self.client.api.call(&mut args)?;
        Ok(args.buffer_pointer)
    }
}
