//! ouro's PJRT runtime: our own declarations of the PJRT C API ([`sys`]) and a safe layer over
//! them.
//!
//! Ownership follows the C API: a [`Client`] owns devices, buffers and executables; every
//! [`Buffer`], [`Device`] and [`LoadedExecutable`] holds the client alive, and the client holds
//! its [`Api`] (the plugin, loaded once per process and never unloaded). Every call into the
//! plugin goes through [`Api`]'s one checked path, which verifies the entry exists in the
//! plugin's table and turns a returned `PJRT_Error` into [`Error::Pjrt`] naming the function.
//!
//! ```no_run
//! use ouro_pjrt::{ClientOptions, CompileOptions, PluginChoice, Program, open_client};
//! let client = open_client(&PluginChoice::Default, ClientOptions::new())?;
//! let exe = client.compile(&Program::text("func.func @main(%x: tensor<f32>) -> tensor<f32> { return %x : tensor<f32> }"),
//!                          &CompileOptions::single_device())?;
//! let x = client.buffer_from_host(&[1.5f32], &[], &client.device(0)?)?;
//! let y = exe.execute(&[&x], &[])?;
//! assert_eq!(y[0].to_host::<f32>()?, [1.5]);
//! # Ok::<(), ouro_pjrt::Error>(())
//! ```
#![warn(missing_docs)]

mod api;
mod buffer;
mod cache;
mod client;
mod compile_options;
mod compiled;
mod device;
mod element_type;
mod error;
mod event;
mod executable;
#[cfg(all(target_os = "linux", feature = "jemalloc"))]
pub mod host_allocator;
mod kv;
pub mod plugin;
mod signature;
pub mod sys;
mod topology;
mod value;
mod wheel;

pub use api::Api;
pub use buffer::Buffer;
pub use cache::CompileCache;
pub use client::{Client, ClientOptions};
pub use compile_options::{CompileOptions, CompileOptionsProto, OptionOverrideValue};
pub use compiled::{CompiledMemoryStats, CostAnalysis, Executable};
pub use device::{Device, DeviceDescription, MemoryStats};
pub use element_type::{ElementType, NativeType};
pub use error::{Error, ErrorCode, Result};
pub use event::Event;
pub use executable::{LoadedExecutable, Program};
pub use kv::{KeyValueStore, KvBinding, KvError, KvErrorKind};
pub use plugin::{Platform, PluginChoice, PluginLocation, open_client};
pub use signature::{ArrayType, Signature};
pub use topology::Topology;
pub use value::NamedValue;
