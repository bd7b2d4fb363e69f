//! `PJRT_Executable`: a compiled program, whether or not it is loaded on devices. A
//! [`crate::LoadedExecutable`] owns one; [`crate::Topology::compile`] returns one on its own
//! (compiled for devices this machine does not have).

use std::ptr::NonNull;
use std::sync::Arc;

use crate::api::Api;
use crate::element_type::ElementType;
use crate::error::{Error, Result};
use crate::sys::{self, PjrtArgs};
use crate::value::{NamedValue, read_named_values, string_from_raw};

/// What the compiler says an executable needs, per device, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)] // XLA's own names, per device
pub struct CompiledMemoryStats {
    pub generated_code_size_in_bytes: i64,
    pub argument_size_in_bytes: i64,
    pub output_size_in_bytes: i64,
    /// Bytes shared between arguments and outputs (donation).
    pub alias_size_in_bytes: i64,
    /// Scratch memory for intermediates (activations).
    pub temp_size_in_bytes: i64,
    pub peak_memory_in_bytes: i64,
    pub total_size_in_bytes: i64,
}

impl CompiledMemoryStats {
    /// Outputs that do not reuse a donated argument's memory.
    pub fn unaliased_output_bytes(&self) -> i64 {
        self.output_size_in_bytes - self.alias_size_in_bytes
    }

    /// What one execution holds on a device at once: arguments, temporaries and the outputs
    /// that do not reuse a donated argument's memory (the program's code excluded).
    pub fn device_bytes(&self) -> i64 {
        self.argument_size_in_bytes + self.temp_size_in_bytes + self.unaliased_output_bytes()
    }
}

/// The compiler's cost analysis of a program: named figures (`flops`, `bytes accessed`,
/// `transcendentals`, `optimal_seconds`, ...), whatever the platform reports.
///
/// XLA counts the body of a `while` loop once, whatever its trip count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CostAnalysis {
    /// The properties, as the plugin returned them.
    pub properties: Vec<(String, NamedValue)>,
}

impl CostAnalysis {
    /// A numeric property.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.properties.iter().find(|(n, _)| n == name).and_then(|(_, v)| match v {
            NamedValue::Float(x) => Some(f64::from(*x)),
            NamedValue::Int64(x) => Some(*x as f64),
            _ => None,
        })
    }

    /// Floating-point operations per execution and device.
    pub fn flops(&self) -> Option<f64> {
        self.get("flops")
    }

    /// Bytes read and written from device memory per execution and device.
    pub fn bytes_accessed(&self) -> Option<f64> {
        self.get("bytes accessed")
    }
}

/// A compiled program. Destroyed on drop; keeps its plugin loaded.
pub struct Executable {
    api: Arc<Api>,
    raw: NonNull<sys::PJRT_Executable>,
}

// SAFETY: PJRT executables are thread-safe by contract; ouro only queries this handle.
unsafe impl Send for Executable {}
// SAFETY: see `Send`.
unsafe impl Sync for Executable {}

impl Drop for Executable {
    fn drop(&mut self) {
        let mut args = sys::PJRT_Executable_Destroy_Args::new();
        args.executable = self.raw.as_ptr();
        // Nothing useful can be done with a failure to destroy at drop time.
        let _ = self.api.call(&mut args);
    }
}

impl std::fmt::Debug for Executable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Executable({})", self.name().unwrap_or_default())
    }
}

impl Executable {
    /// Takes ownership of a handle the plugin returned.
    pub(crate) fn from_raw(api: Arc<Api>, raw: NonNull<sys::PJRT_Executable>) -> Executable {
        Executable { api, raw }
    }

    /// The module name.
    pub fn name(&self) -> Result<String> {
        let mut a = sys::PJRT_Executable_Name_Args::new();
        a.executable = self.raw.as_ptr();
        self.api.call(&mut a)?;
        // SAFETY: the name is owned by the executable and `executable_name_size` bytes long.
        Ok(unsafe { string_from_raw(a.executable_name, a.executable_name_size) })
    }

    /// Results per device.
    pub fn num_outputs(&self) -> Result<usize> {
        let mut a = sys::PJRT_Executable_NumOutputs_Args::new();
        a.executable = self.raw.as_ptr();
        self.api.call(&mut a)?;
        Ok(a.num_outputs)
    }

    /// Replicas the program was compiled for.
    pub fn num_replicas(&self) -> Result<usize> {
        let mut a = sys::PJRT_Executable_NumReplicas_Args::new();
        a.executable = self.raw.as_ptr();
        self.api.call(&mut a)?;
        Ok(a.num_replicas)
    }

    /// SPMD partitions the program was compiled for.
    pub fn num_partitions(&self) -> Result<usize> {
        let mut a = sys::PJRT_Executable_NumPartitions_Args::new();
        a.executable = self.raw.as_ptr();
        self.api.call(&mut a)?;
        Ok(a.num_partitions)
    }

    /// The compiler's memory figures for one device.
    pub fn compiled_memory_stats(&self) -> Result<CompiledMemoryStats> {
        let mut a = sys::PJRT_Executable_GetCompiledMemoryStats_Args::new();
        a.executable = self.raw.as_ptr();
        self.api.call(&mut a)?;
        Ok(CompiledMemoryStats {
            generated_code_size_in_bytes: a.generated_code_size_in_bytes,
            argument_size_in_bytes: a.argument_size_in_bytes,
            output_size_in_bytes: a.output_size_in_bytes,
            alias_size_in_bytes: a.alias_size_in_bytes,
            temp_size_in_bytes: a.temp_size_in_bytes,
            peak_memory_in_bytes: a.peak_memory_in_bytes,
            total_size_in_bytes: a.total_size_in_bytes,
        })
    }

    /// The compiler's cost analysis (see [`CostAnalysis`]).
    pub fn cost_analysis(&self) -> Result<CostAnalysis> {
        let mut a = sys::PJRT_Executable_GetCostAnalysis_Args::new();
        a.executable = self.raw.as_ptr();
        self.api.call(&mut a)?;
        // SAFETY: the properties are owned by the executable and copied here.
        let properties = unsafe { read_named_values(a.properties, a.num_properties) };
        Ok(CostAnalysis { properties })
    }

    /// The element type of every output.
    pub fn output_element_types(&self) -> Result<Vec<ElementType>> {
        let mut a = sys::PJRT_Executable_OutputElementTypes_Args::new();
        a.executable = self.raw.as_ptr();
        self.api.call(&mut a)?;
        if a.num_output_types == 0 {
            return Ok(Vec::new());
        }
        // SAFETY: the plugin returned `num_output_types` codes owned by the executable.
        let codes = unsafe { std::slice::from_raw_parts(a.output_types, a.num_output_types) };
        codes.iter().map(|&c| ElementType::from_raw(c)).collect()
    }

    /// A fingerprint of the compiled program, if the plugin provides one.
    pub fn fingerprint(&self) -> Result<String> {
        let mut a = sys::PJRT_Executable_Fingerprint_Args::new();
        a.executable = self.raw.as_ptr();
        self.api.call(&mut a)?;
        // SAFETY: the fingerprint is owned by the executable and `executable_fingerprint_size` long.
        Ok(unsafe { string_from_raw(a.executable_fingerprint, a.executable_fingerprint_size) })
    }

    /// The plugin's own serialization of the compiled program.
    pub fn serialize(&self) -> Result<Vec<u8>> {
        let mut args = sys::PJRT_Executable_Serialize_Args::new();
        args.executable = self.raw.as_ptr();
        self.api.call(&mut args)?;
        let bytes = if args.serialized_bytes.is_null() {
            Vec::new()
        } else {
            // SAFETY: the plugin returned `serialized_bytes_size` bytes owned by `serialized_executable`.
            unsafe { std::slice::from_raw_parts(args.serialized_bytes.cast::<u8>(), args.serialized_bytes_size) }
                .to_vec()
        };
        if let Some(deleter) = args.serialized_executable_deleter {
            // SAFETY: the deleter frees the plugin's serialization result exactly once, after the copy.
            unsafe { deleter(args.serialized_executable) };
        }
        if bytes.is_empty() {
            return Err(Error::PluginContract {
                function: "PJRT_Executable_Serialize",
                message: "returned no bytes".into(),
            });
        }
        Ok(bytes)
    }
}
