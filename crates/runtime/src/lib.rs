//! `jit` for ouro: trace → lower → compile (cached in memory by program text, and on disk when
//! the client has a [`ouro_pjrt::CompileCache`]) → execute on device buffers.
//!
//! Results stay on the device as [`Buffer`]s; nothing comes back to the host unless asked
//! ([`to_host`]). Parameters marked `donate` in the traced function are aliased to outputs in
//! the lowered program and donated on every call.

mod job;

pub use job::{ClientStart, StartError};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ouro_ir::lowering::ShardingMode;
use ouro_ir::{DType, Func, HostArray, Tensor, TensorType, TraceError, Tracer};
use ouro_lower::{LowerError, LowerOptions, Lowered, lower};
use ouro_pjrt::{
    Buffer, Client, ClientOptions, CompileOptions, Device, ElementType, LoadedExecutable, PluginChoice, Program,
};

/// What can fail between a traced function and its results.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Tracing failed.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// Lowering failed.
    #[error(transparent)]
    Lower(#[from] LowerError),
    /// The plugin refused (compile, transfer, execute).
    #[error(transparent)]
    Pjrt(#[from] ouro_pjrt::Error),
    /// Arguments that do not match the function.
    #[error("{0}")]
    Arguments(String),
    /// The plugin cannot run what ouro emits.
    #[error("{0}")]
    Unsupported(String),
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The pjrt element type of a dtype.
pub fn element_type(dtype: DType) -> ElementType {
    match dtype {
        DType::Pred => ElementType::Pred,
        DType::I8 => ElementType::S8,
        DType::I32 => ElementType::S32,
        DType::I64 => ElementType::S64,
        DType::U8 => ElementType::U8,
        DType::U32 => ElementType::U32,
        DType::U64 => ElementType::U64,
        DType::F16 => ElementType::F16,
        DType::BF16 => ElementType::BF16,
        DType::F32 => ElementType::F32,
        DType::F64 => ElementType::F64,
    }
}

/// The dtype of a pjrt element type, if ouro has one.
pub fn dtype_of(et: ElementType) -> Option<DType> {
    DType::ALL.into_iter().find(|&d| element_type(d) == et)
}

/// Copies a host array to `device`.
pub fn to_device(client: &Client, array: &HostArray, device: &Device) -> Result<Buffer> {
    let dims: Vec<i64> = array.shape().iter().map(|&d| d as i64).collect();
    Ok(client.buffer_from_bytes(&array.to_bytes(), element_type(array.dtype()), &dims, device)?)
}

/// Copies a device buffer to the host.
pub fn to_host(buffer: &Buffer) -> Result<HostArray> {
    let dtype = dtype_of(buffer.element_type())
        .ok_or_else(|| Error::Unsupported(format!("ouro has no dtype for {}", buffer.element_type())))?;
    let shape: Vec<usize> = buffer.dims().iter().map(|&d| d as usize).collect();
    let mut bytes = vec![0u8; buffer.host_size_in_bytes()];
    buffer.to_host_bytes_into(&mut bytes)?;
    HostArray::from_bytes(&TensorType::new(dtype, &shape), &bytes)
        .ok_or_else(|| Error::Unsupported("buffer size mismatch".into()))
}

/// A compiled function, ready to run on device buffers.
pub struct Executable {
    exe: LoadedExecutable,
    lowered: Lowered,
    params: Vec<TensorType>,
    outputs: Vec<TensorType>,
    donated: Vec<usize>,
    name: String,
    compile_seconds: f64,
}

impl std::fmt::Debug for Executable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Executable({}, {} params, {} outputs)", self.name, self.params.len(), self.outputs.len())
    }
}

impl Executable {
    /// The StableHLO text it was compiled from.
    pub fn text(&self) -> &str {
        &self.lowered.text
    }

    /// The lowering result (aliases, partitions).
    pub fn lowered(&self) -> &Lowered {
        &self.lowered
    }

    /// Parameter types.
    pub fn param_types(&self) -> &[TensorType] {
        &self.params
    }

    /// Output types.
    pub fn output_types(&self) -> &[TensorType] {
        &self.outputs
    }

    /// Parameters donated on every call.
    pub fn donated(&self) -> &[usize] {
        &self.donated
    }

    /// The PJRT executable.
    pub fn loaded(&self) -> &LoadedExecutable {
        &self.exe
    }

    /// Seconds the compile took (0 for an in-memory cache hit).
    pub fn compile_seconds(&self) -> f64 {
        self.compile_seconds
    }

    /// Runs on one device. Donated parameters' buffers are consumed.
    pub fn run(&self, args: &[&Buffer]) -> Result<Vec<Buffer>> {
        Ok(self.exe.execute(args, &self.donated)?)
    }

    /// Runs on every device of the program, `args[d]` being device `d`'s shard of each argument.
    pub fn run_sharded(&self, args: &[Vec<&Buffer>]) -> Result<Vec<Vec<Buffer>>> {
        Ok(self.exe.execute_sharded(args, &self.donated)?)
    }

    /// Runs on one device from host arrays and returns host arrays (tests, small programs).
    pub fn run_host(&self, client: &Client, args: &[HostArray]) -> Result<Vec<HostArray>> {
        if args.len() != self.params.len() {
            return Err(Error::Arguments(format!(
                "{} expects {} arguments, got {}",
                self.name,
                self.params.len(),
                args.len()
            )));
        }
        for (i, (a, t)) in args.iter().zip(&self.params).enumerate() {
            if &a.ty() != t {
                return Err(Error::Arguments(format!("{}: argument {i} must be {t}, got {}", self.name, a.ty())));
            }
        }
        let device =
            self.exe.addressable_devices().into_iter().next().ok_or_else(|| Error::Unsupported("no device".into()))?;
        let buffers: Vec<Buffer> = args.iter().map(|a| to_device(client, a, &device)).collect::<Result<_>>()?;
        let refs: Vec<&Buffer> = buffers.iter().collect();
        self.run(&refs)?.iter().map(to_host).collect()
    }
}

/// A PJRT client with an in-memory cache of compiled functions.
pub struct Runtime {
    client: Client,
    cache: Mutex<HashMap<(String, bool), Arc<Executable>>>,
}

impl Runtime {
    /// A runtime over `client`; checks the plugin accepts the StableHLO ouro emits.
    pub fn new(client: Client) -> Result<Runtime> {
        if let Some((_, current)) = client.api().stablehlo_versions() {
            ouro_lower::check_stablehlo_range(&current).map_err(Error::Unsupported)?;
        }
        Ok(Runtime { client, cache: Mutex::new(HashMap::new()) })
    }

    /// The pinned CPU plugin (or whatever `OURO_PJRT_PLUGIN`/`OURO_PLATFORM` choose) with `cpu_devices` devices.
    pub fn open_default(cpu_devices: usize) -> Result<Runtime> {
        Runtime::new(ouro_pjrt::open_client(
            &PluginChoice::Default,
            ClientOptions::new().cpu_device_count(cpu_devices),
        )?)
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Lowers and compiles `func` (cached by its StableHLO text).
    pub fn compile(&self, func: &Func, options: &LowerOptions) -> Result<Arc<Executable>> {
        let lowered = lower(func, options)?;
        let shardy = matches!(options.sharding, ShardingMode::Shardy(_));
        let key = (lowered.text.clone(), shardy);
        if let Some(hit) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(hit.clone());
        }
        let compile_options = if lowered.num_partitions > 1 {
            let devices = self
                .mesh_devices(lowered.num_partitions)
                .map_err(|e| Error::Unsupported(format!("{}: {e}", func.name)))?;
            let ids: Vec<i64> = devices.iter().map(|d| d.id().map(i64::from)).collect::<Result<_, _>>()?;
            CompileOptions::spmd(&ids, shardy)
        } else {
            CompileOptions::single_device()
        };
        let started = Instant::now();
        let exe = self.client.compile(&Program::text(lowered.text.clone()), &compile_options)?;
        let compile_seconds = started.elapsed().as_secs_f64();
        tracing::debug!(func = %func.name, compile_seconds, "compiled");
        let donated =
            lowered.aliases.iter().map(|&(p, _)| p).chain(lowered.unaliased_donations.iter().copied()).collect();
        let executable = Arc::new(Executable {
            exe,
            params: func.param_types(),
            outputs: func.output_types(),
            donated,
            name: func.name.clone(),
            lowered,
            compile_seconds,
        });
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(key, executable.clone());
        Ok(executable)
    }

    /// The devices of an `n`-way mesh, in mesh order (position `i` holds shard `i`).
    ///
    /// In a single process: its first `n` devices. When the client sees other processes'
    /// devices too (a TPU pod slice, a multi-node GPU job), the mesh spans every device, grouped
    /// by process in process order, so each process's devices hold a contiguous run of shards
    /// and each host feeds one contiguous slice of the global batch.
    pub fn mesh_devices(&self, n: usize) -> Result<Vec<Device>> {
        let all = self.client.devices();
        let local = self.client.addressable_devices();
        if all.len() == local.len() {
            if local.len() < n {
                return Err(Error::Unsupported(format!("a mesh of {n} devices but the client has {}", local.len())));
            }
            return Ok(local[..n].to_vec());
        }
        if n != all.len() {
            return Err(Error::Unsupported(format!(
                "a mesh of {n} devices over several processes must span all {} devices of the job \
                 ({} in this process)",
                all.len(),
                local.len()
            )));
        }
        let mut keyed: Vec<(i32, usize, Device)> = Vec::with_capacity(all.len());
        for (position, device) in all.into_iter().enumerate() {
            keyed.push((device.description()?.process_index, position, device));
        }
        keyed.sort_by_key(|(process, position, _)| (*process, *position));
        Ok(keyed.into_iter().map(|(_, _, d)| d).collect())
    }

    /// Traces `f` and compiles it for one device.
    pub fn jit(&self, name: &str, f: impl for<'t> FnOnce(&'t Tracer) -> Vec<Tensor<'t>>) -> Result<Arc<Executable>> {
        let func = ouro_ir::trace(name, f)?;
        self.compile(&func, &LowerOptions::default())
    }

    /// Copies a host array to addressable device `device`.
    pub fn to_device(&self, array: &HostArray, device: usize) -> Result<Buffer> {
        to_device(&self.client, array, &self.client.device(device)?)
    }
}
