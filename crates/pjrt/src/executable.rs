//! Programs, `PJRT_LoadedExecutable` and execution with explicit donation.

use std::ptr::NonNull;
use std::sync::Arc;

use crate::buffer::Buffer;
use crate::client::{ClientInner, device_list};
use crate::compiled::{CompiledMemoryStats, CostAnalysis, Executable};
use crate::device::Device;
use crate::element_type::ElementType;
use crate::error::{Error, Result};
use crate::signature::Signature;
use crate::sys::{self, PjrtArgs};

/// Marks a serialized executable that carries its signature (see [`LoadedExecutable::serialize`]).
const SIGNATURE_MAGIC: &[u8; 8] = b"OUROSIG1";

/// Splits ouro's envelope into the signature and the plugin's bytes; other bytes pass through.
pub(crate) fn split_signature(bytes: &[u8]) -> (Option<Signature>, &[u8]) {
    let Some(rest) = bytes.strip_prefix(SIGNATURE_MAGIC.as_slice()) else { return (None, bytes) };
    let Some((len, rest)) = rest.split_first_chunk::<4>() else { return (None, bytes) };
    let len = u32::from_le_bytes(*len) as usize;
    if rest.len() < len {
        return (None, bytes);
    }
    let (text, raw) = rest.split_at(len);
    match std::str::from_utf8(text).ok().and_then(Signature::from_text) {
        Some(sig) => (Some(sig), raw),
        None => (None, bytes),
    }
}

/// A program to compile.
#[derive(Clone, Debug)]
pub enum Program {
    /// StableHLO (or any MLIR the plugin accepts) as text.
    StableHloText(String),
    /// Portable StableHLO bytecode (e.g. `jax.export`'s `mlir_module_serialized`).
    StableHloBytecode(Vec<u8>),
}

impl Program {
    /// A StableHLO text program.
    pub fn text(text: impl Into<String>) -> Program {
        Program::StableHloText(text.into())
    }

    /// The `PJRT_Program.format` string: both text and bytecode are `mlir`.
    pub fn format(&self) -> &'static str {
        "mlir"
    }

    /// The bytes handed to the plugin.
    pub fn code(&self) -> &[u8] {
        match self {
            Program::StableHloText(text) => text.as_bytes(),
            Program::StableHloBytecode(bytes) => bytes,
        }
    }

    /// `@main`'s types, when they can be read from the program.
    pub fn signature(&self) -> Option<Signature> {
        match self {
            Program::StableHloText(text) => Signature::from_stablehlo_text(text),
            Program::StableHloBytecode(_) => None,
        }
    }
}

/// A compiled program loaded on its devices. Destroyed on drop; keeps its client alive.
pub struct LoadedExecutable {
    client: Arc<ClientInner>,
    raw: NonNull<sys::PJRT_LoadedExecutable>,
    executable: Executable,
    name: String,
    num_outputs: usize,
    num_replicas: usize,
    num_partitions: usize,
    devices: Vec<NonNull<sys::PJRT_Device>>,
    signature: Option<Signature>,
    /// Runs across several CPU devices (see `execute_sharded`).
    cpu_collectives: bool,
}

// SAFETY: PJRT executables are thread-safe by contract (JAX executes one from many threads).
unsafe impl Send for LoadedExecutable {}
// SAFETY: see `Send`.
unsafe impl Sync for LoadedExecutable {}

impl std::fmt::Debug for LoadedExecutable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LoadedExecutable({}, {} devices, {} outputs)", self.name, self.devices.len(), self.num_outputs)
    }
}

impl Drop for LoadedExecutable {
    fn drop(&mut self) {
        // The `executable` field destroys its own handle afterwards.
        let mut loaded = sys::PJRT_LoadedExecutable_Destroy_Args::new();
        loaded.executable = self.raw.as_ptr();
        // Failures to destroy at drop time cannot be reported.
        let _ = self.client.api.call(&mut loaded);
    }
}

/// A null-initialised table of output handles, destroyed unless taken.
struct OutputLists<'a> {
    client: &'a Arc<ClientInner>,
    lists: Vec<Vec<*mut sys::PJRT_Buffer>>,
}

impl Drop for OutputLists<'_> {
    fn drop(&mut self) {
        for &raw in self.lists.iter().flatten() {
            if let Some(raw) = NonNull::new(raw) {
                drop(Buffer::new(self.client.clone(), raw, ElementType::U8, Vec::new()));
            }
        }
    }
}

impl LoadedExecutable {
    pub(crate) fn new(client: Arc<ClientInner>, raw: NonNull<sys::PJRT_LoadedExecutable>) -> Result<LoadedExecutable> {
        let api = client.api.clone();
        let mut get = sys::PJRT_LoadedExecutable_GetExecutable_Args::new();
        get.loaded_executable = raw.as_ptr();
        if let Err(e) = api.call(&mut get) {
            let mut destroy = sys::PJRT_LoadedExecutable_Destroy_Args::new();
            destroy.executable = raw.as_ptr();
            let _ = api.call(&mut destroy);
            return Err(e);
        }
        let executable = match NonNull::new(get.executable) {
            Some(e) => Executable::from_raw(api.clone(), e),
            None => {
                let mut destroy = sys::PJRT_LoadedExecutable_Destroy_Args::new();
                destroy.executable = raw.as_ptr();
                let _ = api.call(&mut destroy);
                return Err(Error::PluginContract {
                    function: "PJRT_LoadedExecutable_GetExecutable",
                    message: "returned no executable".into(),
                });
            }
        };
        // From here on, Drop releases both handles if a query fails.
        let name = executable.name();
        let mut exe = LoadedExecutable {
            client,
            raw,
            executable,
            name: String::new(),
            num_outputs: 0,
            num_replicas: 1,
            num_partitions: 1,
            devices: Vec::new(),
            signature: None,
            cpu_collectives: false,
        };
        exe.name = name?;
        exe.num_outputs = exe.executable.num_outputs()?;
        exe.num_replicas = exe.executable.num_replicas()?;
        exe.num_partitions = exe.executable.num_partitions()?;

        let mut devices = sys::PJRT_LoadedExecutable_AddressableDevices_Args::new();
        devices.executable = raw.as_ptr();
        api.call(&mut devices)?;
        // SAFETY: the plugin returned `num_addressable_devices` device pointers owned by the client.
        exe.devices = unsafe {
            device_list(
                devices.addressable_devices,
                devices.num_addressable_devices,
                "PJRT_LoadedExecutable_AddressableDevices",
            )?
        };
        exe.cpu_collectives = exe.client.platform_name() == "cpu" && exe.devices.len() > 1;
        Ok(exe)
    }

    pub(crate) fn set_signature(&mut self, signature: Option<Signature>) {
        self.signature = signature;
    }

    /// The module name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Results per device.
    pub fn num_outputs(&self) -> usize {
        self.num_outputs
    }

    /// Replicas the program was compiled for.
    pub fn num_replicas(&self) -> usize {
        self.num_replicas
    }

    /// SPMD partitions the program was compiled for.
    pub fn num_partitions(&self) -> usize {
        self.num_partitions
    }

    /// The devices of this process the executable runs on, in argument-list order.
    pub fn addressable_devices(&self) -> Vec<Device> {
        self.devices.iter().map(|&d| Device::new(self.client.clone(), d)).collect()
    }

    /// `@main`'s types, when known (programs compiled from text).
    pub fn signature(&self) -> Option<&Signature> {
        self.signature.as_ref()
    }

    /// Runs on the executable's single device. `donate` lists the argument positions whose
    /// buffers the caller gives up: they may be reused for results (if the program aliases them)
    /// and are invalid afterwards. Every other argument is left intact.
    pub fn execute(&self, args: &[&Buffer], donate: &[usize]) -> Result<Vec<Buffer>> {
        if self.devices.len() != 1 {
            return Err(Error::ArgumentLists {
                executable: self.name.clone(),
                message: format!(
                    "runs on {} devices; use execute_sharded with one argument list per device",
                    self.devices.len()
                ),
            });
        }
        let mut results = self.execute_sharded(&[args.to_vec()], donate)?;
        Ok(results.pop().unwrap_or_default())
    }

    /// Runs on every addressable device: `args[d]` are device `d`'s arguments (in
    /// [`LoadedExecutable::addressable_devices`] order), and the result is each device's outputs.
    /// `donate` applies to the same positions on every device.
    pub fn execute_sharded(&self, args: &[Vec<&Buffer>], donate: &[usize]) -> Result<Vec<Vec<Buffer>>> {
        let num_args = self.check_arguments(args, donate)?;
        if self.cpu_collectives {
            // The XLA CPU plugin deadlocks in a collective's rendezvous when a multi-device
            // execution is enqueued before its inputs are computed (on a 2-core machine, 4
            // devices hang in the all-reduce of the second step). Waiting for the inputs first
            // avoids it; CPU devices share the host's cores, so little overlap is lost.
            for buffer in args.iter().flatten() {
                buffer.block_until_ready()?;
            }
        }
        let raw_args: Vec<Vec<*mut sys::PJRT_Buffer>> = args
            .iter()
            .map(|list| list.iter().map(|b| b.live_raw("execute")).collect::<Result<Vec<_>>>())
            .collect::<Result<_>>()?;
        let arg_ptrs: Vec<*const *mut sys::PJRT_Buffer> = raw_args.iter().map(|l| l.as_ptr()).collect();
        let mut outputs =
            OutputLists { client: &self.client, lists: vec![vec![std::ptr::null_mut(); self.num_outputs]; args.len()] };
        let output_ptrs: Vec<*mut *mut sys::PJRT_Buffer> = outputs.lists.iter_mut().map(|l| l.as_mut_ptr()).collect();
        let keep: Vec<i64> = (0..num_args).filter(|i| !donate.contains(i)).map(|i| i as i64).collect();

        let mut options = sys::PJRT_ExecuteOptions::new();
        options.non_donatable_input_indices = keep.as_ptr();
        options.num_non_donatable_input_indices = keep.len();
        let mut call = sys::PJRT_LoadedExecutable_Execute_Args::new();
        call.executable = self.raw.as_ptr();
        call.options = &mut options;
        call.argument_lists = arg_ptrs.as_ptr();
        call.num_devices = args.len();
        call.num_args = num_args;
        call.output_lists = output_ptrs.as_ptr();
        let result = self.client.api.call(&mut call);

        for list in args {
            for &index in donate {
                let buffer = list[index];
                if result.is_ok() || buffer.is_deleted() {
                    buffer.mark_donated();
                    buffer.release_after_donation();
                }
            }
        }
        result?;

        let lists = std::mem::take(&mut outputs.lists);
        let mut pending = OutputLists { client: &self.client, lists };
        let mut results = Vec::with_capacity(args.len());
        for list in &mut pending.lists {
            let mut device_results = Vec::with_capacity(list.len());
            for slot in list.iter_mut() {
                let raw = NonNull::new(std::mem::replace(slot, std::ptr::null_mut())).ok_or(Error::PluginContract {
                    function: "PJRT_LoadedExecutable_Execute",
                    message: "left an output empty".into(),
                })?;
                device_results.push(Buffer::from_output(self.client.clone(), raw)?);
            }
            results.push(device_results);
        }
        Ok(results)
    }

    /// Checks list shapes, client, donation and (when known) types; returns the argument count.
    fn check_arguments(&self, args: &[Vec<&Buffer>], donate: &[usize]) -> Result<usize> {
        let lists_error = |message: String| Error::ArgumentLists { executable: self.name.clone(), message };
        if args.len() != self.devices.len() {
            return Err(lists_error(format!(
                "runs on {} devices but got {} argument lists",
                self.devices.len(),
                args.len()
            )));
        }
        let num_args = args.first().map_or(0, Vec::len);
        if let Some((d, list)) = args.iter().enumerate().find(|(_, l)| l.len() != num_args) {
            return Err(lists_error(format!("device 0 got {num_args} arguments but device {d} got {}", list.len())));
        }
        if let Some(sig) = &self.signature {
            if sig.parameters.len() != num_args {
                return Err(Error::ArgumentCount {
                    executable: self.name.clone(),
                    expected: sig.parameters.len(),
                    actual: num_args,
                });
            }
            // Under SPMD each device holds a shard, so only the element type is comparable.
            let compare_dims = self.num_partitions == 1;
            for list in args {
                for (index, (buffer, param)) in list.iter().zip(&sig.parameters).enumerate() {
                    let dims_differ = compare_dims && buffer.dims() != param.dims.as_slice();
                    if buffer.element_type() != param.element_type || dims_differ {
                        let actual =
                            crate::ArrayType { element_type: buffer.element_type(), dims: buffer.dims().to_vec() };
                        return Err(Error::ArgumentType {
                            executable: self.name.clone(),
                            index,
                            expected: param.to_string(),
                            actual: actual.to_string(),
                        });
                    }
                }
            }
        }
        for list in args {
            for buffer in list {
                if !Arc::ptr_eq(buffer.client(), &self.client) {
                    return Err(Error::ForeignObject("an execute argument"));
                }
            }
        }
        let donation_error = |message: String| Error::Donation { executable: self.name.clone(), message };
        for (k, &index) in donate.iter().enumerate() {
            if index >= num_args {
                return Err(donation_error(format!("cannot donate argument {index}: there are {num_args} arguments")));
            }
            if donate[..k].contains(&index) {
                return Err(donation_error(format!("argument {index} is listed twice in the donation")));
            }
            // A donated buffer must not also be read through another position.
            for list in args {
                let donated = list[index] as *const Buffer;
                if let Some(other) = list.iter().enumerate().position(|(i, b)| i != index && std::ptr::eq(*b, donated))
                {
                    return Err(donation_error(format!(
                        "argument {index} is donated but the same buffer is also passed as argument {other}"
                    )));
                }
            }
        }
        Ok(num_args)
    }

    /// Serializes the compiled program with its signature, to be loaded by
    /// [`crate::Client::deserialize_executable`] with the same plugin.
    ///
    /// Plugins do not check element types when running a deserialized executable, so the
    /// signature travels with the bytes: `OUROSIG1`, its length (u32 LE), its text, then the
    /// plugin's own serialization ([`LoadedExecutable::serialize_raw`]).
    pub fn serialize(&self) -> Result<Vec<u8>> {
        let raw = self.serialize_raw()?;
        let Some(signature) = &self.signature else { return Ok(raw) };
        let text = signature.to_text();
        let mut out = Vec::with_capacity(raw.len() + text.len() + 12);
        out.extend_from_slice(SIGNATURE_MAGIC);
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(&raw);
        Ok(out)
    }

    /// The plugin's own serialization, without ouro's signature envelope.
    pub fn serialize_raw(&self) -> Result<Vec<u8>> {
        self.executable.serialize()
    }

    /// The compiled program, whose figures (memory, cost) do not depend on it being loaded.
    pub fn executable(&self) -> &Executable {
        &self.executable
    }

    /// The compiler's memory figures for one device.
    pub fn compiled_memory_stats(&self) -> Result<CompiledMemoryStats> {
        self.executable.compiled_memory_stats()
    }

    /// The compiler's cost analysis.
    pub fn cost_analysis(&self) -> Result<CostAnalysis> {
        self.executable.cost_analysis()
    }

    /// The element type of every output.
    pub fn output_element_types(&self) -> Result<Vec<ElementType>> {
        self.executable.output_element_types()
    }

    /// A fingerprint of the compiled program, if the plugin provides one.
    pub fn fingerprint(&self) -> Result<String> {
        self.executable.fingerprint()
    }
}
