//! `PJRT_Event`: completion of asynchronous work (transfers, executions).

use std::ptr::NonNull;
use std::sync::Arc;

use crate::api::Api;
use crate::error::Result;
use crate::sys::{self, PjrtArgs};

/// An event the plugin signals when some asynchronous work is done. Destroyed on drop.
pub struct Event {
    api: Arc<Api>,
    raw: NonNull<sys::PJRT_Event>,
}

// SAFETY: PJRT events are thread-safe by contract (they are awaited from any thread).
unsafe impl Send for Event {}
// SAFETY: see `Send`.
unsafe impl Sync for Event {}

impl Event {
    /// Wraps a raw event; `None` for a null pointer (no event to wait on).
    pub(crate) fn from_raw(api: Arc<Api>, raw: *mut sys::PJRT_Event) -> Option<Event> {
        NonNull::new(raw).map(|raw| Event { api, raw })
    }

    /// Whether the work is done (successfully or not).
    pub fn is_ready(&self) -> Result<bool> {
        let mut args = sys::PJRT_Event_IsReady_Args::new();
        args.event = self.raw.as_ptr();
        self.api.call(&mut args)?;
        Ok(args.is_ready)
    }

    /// Blocks until the work is done and returns its status.
    pub fn wait(&self) -> Result<()> {
        let mut args = sys::PJRT_Event_Await_Args::new();
        args.event = self.raw.as_ptr();
        self.api.call(&mut args)
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        let mut args = sys::PJRT_Event_Destroy_Args::new();
        args.event = self.raw.as_ptr();
        // A failed destroy at drop time cannot be reported.
        let _ = self.api.call(&mut args);
    }
}
