//! `PJRT_Client`: devices, host-to-device transfers and compilation.

use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Duration;

use crate::api::Api;
use crate::buffer::Buffer;
use crate::cache::CompileCache;
use crate::compile_options::{CompileOptions, OptionOverrideValue};
use crate::device::Device;
use crate::element_type::{ElementType, NativeType, as_bytes};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::executable::{LoadedExecutable, Program};
use crate::kv::{KeyValueStore, KvBinding};
use crate::sys::{self, PjrtArgs};
use crate::value::{NamedValue, RawNamedValues, string_from_raw};

/// Options passed to `PJRT_Client_Create`.
///
/// The names are each plugin's own: `cpu_device_count` for the XLA CPU plugin; `allocator`,
/// `memory_fraction`, `preallocate`, `visible_devices` for the CUDA plugin.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    values: Vec<(String, NamedValue)>,
    timeout: Option<(Duration, String)>,
    key_value_store: Option<KvBinding>,
    compile_overrides: Vec<(String, OptionOverrideValue)>,
}

impl ClientOptions {
    /// No options: the plugin's defaults.
    pub fn new() -> ClientOptions {
        ClientOptions::default()
    }

    /// Sets (or replaces) a named option.
    pub fn option(mut self, name: &str, value: NamedValue) -> ClientOptions {
        self.values.retain(|(n, _)| n != name);
        self.values.push((name.to_string(), value));
        self
    }

    /// XLA CPU: how many CPU devices the client exposes (data parallelism on one host).
    pub fn cpu_device_count(self, count: usize) -> ClientOptions {
        self.option("cpu_device_count", NamedValue::Int64(count as i64))
    }

    /// CUDA: the fraction of GPU memory the allocator may take (JAX's `XLA_PYTHON_CLIENT_MEM_FRACTION`).
    pub fn gpu_memory_fraction(self, fraction: f32) -> ClientOptions {
        self.option("memory_fraction", NamedValue::Float(fraction))
    }

    /// CUDA: whether to allocate the memory fraction up front (JAX's `XLA_PYTHON_CLIENT_PREALLOCATE`).
    pub fn gpu_preallocate(self, preallocate: bool) -> ClientOptions {
        self.option("preallocate", NamedValue::Bool(preallocate))
    }

    /// CUDA: `default`, `platform`, `bfc` or `cuda_async`.
    pub fn gpu_allocator(self, allocator: &str) -> ClientOptions {
        self.option("allocator", NamedValue::String(allocator.to_string()))
    }

    /// CUDA: the local device ordinals the client may use.
    pub fn visible_devices(self, devices: &[i64]) -> ClientOptions {
        self.option("visible_devices", NamedValue::Int64List(devices.to_vec()))
    }

    /// CUDA: this process's place in a multi-process job (the plugin's `node_id`/`num_nodes`);
    /// needs a [`ClientOptions::key_value_store`] shared by all processes.
    pub fn gpu_node(self, node_id: usize, num_nodes: usize) -> ClientOptions {
        self.option("node_id", NamedValue::Int64(node_id as i64))
            .option("num_nodes", NamedValue::Int64(num_nodes as i64))
    }

    /// The store a multi-process client exchanges its topology through (every process of the
    /// job must reach the same one); `prefix` keeps the plugin's keys apart from other users.
    pub fn key_value_store(mut self, store: Arc<dyn KeyValueStore>, prefix: &str) -> ClientOptions {
        self.key_value_store = Some(KvBinding::new(store, prefix));
        self
    }

    /// Gives up on client creation after `limit`, with `advice` in the error (libtpu can block
    /// for minutes waiting on a metadata server).
    pub fn create_timeout(mut self, limit: Duration, advice: &str) -> ClientOptions {
        self.timeout = Some((limit, advice.to_string()));
        self
    }

    /// An XLA option (`xla_cpu_use_onednn`, ...) every compile of the client sets, before the
    /// compile's own [`CompileOptions::env_option_overrides`] (which win on the same name).
    pub fn compile_option(mut self, name: &str, value: OptionOverrideValue) -> ClientOptions {
        self.compile_overrides.retain(|(n, _)| n != name);
        self.compile_overrides.push((name.to_string(), value));
        self
    }

    /// The options as named values.
    pub fn values(&self) -> &[(String, NamedValue)] {
        &self.values
    }

    /// The XLA options every compile sets ([`ClientOptions::compile_option`]).
    pub fn compile_overrides(&self) -> &[(String, OptionOverrideValue)] {
        &self.compile_overrides
    }
}

/// A PJRT client. Cheap to clone; every buffer, device and executable keeps its client alive.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
}

pub(crate) struct ClientInner {
    pub(crate) api: Arc<Api>,
    pub(crate) raw: NonNull<sys::PJRT_Client>,
    platform_name: String,
    platform_version: String,
    process_index: i32,
    devices: Vec<NonNull<sys::PJRT_Device>>,
    addressable: Vec<NonNull<sys::PJRT_Device>>,
    cache: Option<CompileCache>,
    /// XLA options every compile sets ([`ClientOptions::compile_option`]).
    compile_overrides: Vec<(String, OptionOverrideValue)>,
    /// The store the plugin's key-value callbacks read; it must outlive the client, which the
    /// plugin may consult long after creation (collectives set up lazily).
    _key_value_store: Option<Box<KvBinding>>,
}

// SAFETY: a PJRT client is thread-safe by contract (JAX shares one between threads); the device
// pointers are owned by the client and immutable.
unsafe impl Send for ClientInner {}
// SAFETY: see `Send`.
unsafe impl Sync for ClientInner {}

impl ClientInner {
    pub(crate) fn platform_name(&self) -> &str {
        &self.platform_name
    }
}

impl Drop for ClientInner {
    fn drop(&mut self) {
        let mut args = sys::PJRT_Client_Destroy_Args::new();
        args.client = self.raw.as_ptr();
        // Nothing useful can be done with a failure to destroy at drop time.
        let _ = self.api.call(&mut args);
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Client({} {}, {} devices)",
            self.inner.platform_name,
            self.inner.platform_version,
            self.inner.devices.len()
        )
    }
}

/// A raw client pointer moved across the creation thread.
struct SendClient(*mut sys::PJRT_Client);
// SAFETY: the pointer is only handed from the thread that created it to the caller.
unsafe impl Send for SendClient {}

/// The key-value binding's address moved across the creation thread.
#[derive(Clone, Copy)]
struct SendBinding(*const KvBinding);
// SAFETY: `KvBinding` is Sync (its store is); the pointer is only read.
unsafe impl Send for SendBinding {}

fn create_raw(api: &Api, options: &[(String, NamedValue)], kv: SendBinding) -> Result<*mut sys::PJRT_Client> {
    let raw_options = RawNamedValues::new(options);
    let mut args = sys::PJRT_Client_Create_Args::new();
    args.create_options = raw_options.as_ptr();
    args.num_options = raw_options.len();
    // SAFETY: the binding, when given, is boxed and owned by the caller past the client's life.
    if let Some(binding) = unsafe { kv.0.as_ref() } {
        binding.install(&mut args);
    }
    api.call(&mut args)?;
    Ok(args.client)
}

impl Client {
    /// Creates a client of `api` with `options`.
    pub fn create(api: &Arc<Api>, options: &ClientOptions) -> Result<Client> {
        let binding = options.key_value_store.clone().map(Box::new);
        let kv = SendBinding(binding.as_deref().map_or(std::ptr::null(), |b| b as *const KvBinding));
        let raw = match &options.timeout {
            None => create_raw(api, &options.values, kv)?,
            Some((limit, advice)) => {
                let (send, receive) = std::sync::mpsc::channel();
                let (thread_api, values) = (api.clone(), options.values.clone());
                std::thread::Builder::new()
                    .name("pjrt-client-create".into())
                    .spawn(move || {
                        let _ = send.send(create_raw(&thread_api, &values, kv).map(SendClient));
                    })
                    .map_err(|e| Error::io("<thread>", e))?;
                match receive.recv_timeout(*limit) {
                    Ok(result) => result?.0,
                    // The creating thread stays blocked inside the plugin, which may still call
                    // the store: the binding is leaked rather than freed under it. The caller
                    // is expected to give up on this plugin.
                    Err(_) => {
                        if let Some(b) = binding {
                            Box::leak(b);
                        }
                        return Err(Error::Timeout {
                            what: format!("PJRT_Client_Create of {}", api.path().display()),
                            seconds: limit.as_secs(),
                            advice: advice.clone(),
                        });
                    }
                }
            }
        };
        let raw = NonNull::new(raw)
            .ok_or(Error::PluginContract { function: "PJRT_Client_Create", message: "returned no client".into() })?;
        Client::wrap(api.clone(), raw, binding, options.compile_overrides.clone())
    }

    fn wrap(
        api: Arc<Api>,
        raw: NonNull<sys::PJRT_Client>,
        kv: Option<Box<KvBinding>>,
        compile_overrides: Vec<(String, OptionOverrideValue)>,
    ) -> Result<Client> {
        // Build the inner value first so the client is destroyed if a query below fails.
        let mut inner = ClientInner {
            api,
            raw,
            platform_name: String::new(),
            platform_version: String::new(),
            process_index: 0,
            devices: Vec::new(),
            addressable: Vec::new(),
            cache: None,
            compile_overrides,
            _key_value_store: kv,
        };
        let api = inner.api.clone();

        let mut name = sys::PJRT_Client_PlatformName_Args::new();
        name.client = raw.as_ptr();
        api.call(&mut name)?;
        // SAFETY: the name is owned by the client and `platform_name_size` bytes long.
        inner.platform_name = unsafe { string_from_raw(name.platform_name, name.platform_name_size) };

        let mut version = sys::PJRT_Client_PlatformVersion_Args::new();
        version.client = raw.as_ptr();
        api.call(&mut version)?;
        // SAFETY: as above.
        inner.platform_version = unsafe { string_from_raw(version.platform_version, version.platform_version_size) };

        let mut process = sys::PJRT_Client_ProcessIndex_Args::new();
        process.client = raw.as_ptr();
        api.call(&mut process)?;
        inner.process_index = process.process_index;

        let mut devices = sys::PJRT_Client_Devices_Args::new();
        devices.client = raw.as_ptr();
        api.call(&mut devices)?;
        // SAFETY: the plugin returned `num_devices` device pointers owned by the client.
        inner.devices = unsafe { device_list(devices.devices, devices.num_devices, "PJRT_Client_Devices")? };

        let mut addressable = sys::PJRT_Client_AddressableDevices_Args::new();
        addressable.client = raw.as_ptr();
        api.call(&mut addressable)?;
        // SAFETY: as above.
        inner.addressable = unsafe {
            device_list(
                addressable.addressable_devices,
                addressable.num_addressable_devices,
                "PJRT_Client_AddressableDevices",
            )?
        };
        Ok(Client { inner: Arc::new(inner) })
    }

    /// Uses `cache` for every later [`Client::compile`]. Call before sharing the client.
    pub fn with_compile_cache(mut self, cache: CompileCache) -> Result<Client> {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => {
                inner.cache = Some(cache);
                Ok(self)
            }
            None => Err(Error::PluginContract {
                function: "Client::with_compile_cache",
                message: "the client is already shared; set the cache right after creating it".into(),
            }),
        }
    }

    /// The compile cache, if one was set.
    pub fn compile_cache(&self) -> Option<&CompileCache> {
        self.inner.cache.as_ref()
    }

    /// The plugin behind this client.
    pub fn api(&self) -> &Arc<Api> {
        &self.inner.api
    }

    /// `cpu`, `cuda`, `tpu`, ...
    pub fn platform_name(&self) -> &str {
        &self.inner.platform_name
    }

    /// Platform-specific version text (CUDA version, libtpu version, ...).
    pub fn platform_version(&self) -> &str {
        &self.inner.platform_version
    }

    /// This process's index among the processes of a multi-host client (0 on one host).
    pub fn process_index(&self) -> i32 {
        self.inner.process_index
    }

    /// Every device of the client, including those of other processes.
    pub fn devices(&self) -> Vec<Device> {
        self.inner.devices.iter().map(|&raw| Device::new(self.inner.clone(), raw)).collect()
    }

    /// The devices this process can use.
    pub fn addressable_devices(&self) -> Vec<Device> {
        self.inner.addressable.iter().map(|&raw| Device::new(self.inner.clone(), raw)).collect()
    }

    /// Addressable device number `index`.
    pub fn device(&self, index: usize) -> Result<Device> {
        let count = self.inner.addressable.len();
        let raw = *self.inner.addressable.get(index).ok_or(Error::NoSuchDevice { index, count })?;
        Ok(Device::new(self.inner.clone(), raw))
    }

    /// Copies `data` into a new buffer of shape `dims` on `device`.
    pub fn buffer_from_host<T: NativeType>(&self, data: &[T], dims: &[i64], device: &Device) -> Result<Buffer> {
        self.buffer_from_bytes(as_bytes(data), T::ELEMENT_TYPE, dims, device)
    }

    /// Copies predicates into a new `pred` buffer.
    pub fn buffer_from_pred(&self, data: &[bool], dims: &[i64], device: &Device) -> Result<Buffer> {
        let bytes: Vec<u8> = data.iter().map(|&b| u8::from(b)).collect();
        self.buffer_from_bytes(&bytes, ElementType::Pred, dims, device)
    }

    /// Copies raw host bytes (dense, row-major) into a new buffer.
    pub fn buffer_from_bytes(
        &self,
        bytes: &[u8],
        element_type: ElementType,
        dims: &[i64],
        device: &Device,
    ) -> Result<Buffer> {
        let expected = byte_size(element_type, dims)?;
        if bytes.len() != expected {
            return Err(Error::HostDataSize { element_type, dims: dims.to_vec(), expected, actual: bytes.len() });
        }
        device.check_client(&self.inner, "buffer_from_host")?;
        let mut args = sys::PJRT_Client_BufferFromHostBuffer_Args::new();
        args.client = self.inner.raw.as_ptr();
        args.data = bytes.as_ptr().cast();
        args.element_type = element_type.to_raw();
        args.dims = dims.as_ptr();
        args.num_dims = dims.len();
        // The plugin copies the data before returning, so `bytes` may be freed afterwards.
        args.host_buffer_semantics = sys::PJRT_HOST_BUFFER_IMMUTABLE_ONLY_DURING_CALL;
        args.device = device.raw();
        self.inner.api.call(&mut args)?;
        // With these semantics the plugin is done with the host data already; the event (if any)
        // only needs to be released.
        drop(Event::from_raw(self.inner.api.clone(), args.done_with_host_buffer));
        let raw = NonNull::new(args.buffer).ok_or(Error::PluginContract {
            function: "PJRT_Client_BufferFromHostBuffer",
            message: "returned no buffer".into(),
        })?;
        Ok(Buffer::new(self.inner.clone(), raw, element_type, dims.to_vec()))
    }

    /// Compiles `program`, through the compile cache if one is set.
    pub fn compile(&self, program: &Program, options: &CompileOptions) -> Result<LoadedExecutable> {
        let options_bytes = self.with_client_overrides(options).to_bytes();
        let key = self.inner.cache.as_ref().map(|cache| cache.key(&self.inner.api, program, &options_bytes));
        if let (Some(cache), Some(key)) = (&self.inner.cache, &key)
            && let Some(serialized) = cache.lookup(key)
        {
            match self.deserialize_executable(&serialized) {
                Ok(exe) => {
                    cache.count_hit();
                    return Ok(exe);
                }
                Err(e) => cache.discard(key, &e),
            }
        }
        let exe = self.compile_uncached(program, &options_bytes)?;
        if let (Some(cache), Some(key)) = (&self.inner.cache, &key) {
            cache.count_miss();
            // A cache that cannot be written must not fail the compile; it is logged instead.
            if let Err(e) = exe.serialize().and_then(|bytes| cache.store(key, &bytes)) {
                tracing::warn!("compile cache: could not store an executable: {e}");
            }
        }
        Ok(exe)
    }

    /// `options` after the client's own XLA options (which the compile's may override).
    fn with_client_overrides(&self, options: &CompileOptions) -> CompileOptions {
        let mut merged = options.clone();
        merged.env_option_overrides =
            self.inner.compile_overrides.iter().chain(&options.env_option_overrides).cloned().collect();
        merged
    }

    /// The XLA options every compile of this client sets.
    pub fn compile_overrides(&self) -> &[(String, OptionOverrideValue)] {
        &self.inner.compile_overrides
    }

    fn compile_uncached(&self, program: &Program, options_bytes: &[u8]) -> Result<LoadedExecutable> {
        let format = program.format();
        let code = program.code();
        let raw_program = sys::PJRT_Program {
            struct_size: sys::PJRT_Program::STRUCT_SIZE,
            extension_start: std::ptr::null_mut(),
            code: code.as_ptr().cast(),
            code_size: code.len(),
            format: format.as_ptr().cast(),
            format_size: format.len(),
        };
        let mut args = sys::PJRT_Client_Compile_Args::new();
        args.client = self.inner.raw.as_ptr();
        args.program = &raw_program;
        args.compile_options = options_bytes.as_ptr().cast();
        args.compile_options_size = options_bytes.len();
        self.inner.api.call(&mut args)?;
        let raw = NonNull::new(args.executable).ok_or(Error::PluginContract {
            function: "PJRT_Client_Compile",
            message: "returned no executable".into(),
        })?;
        let mut exe = LoadedExecutable::new(self.inner.clone(), raw)?;
        exe.set_signature(program.signature());
        Ok(exe)
    }

    /// Loads an executable serialized by [`LoadedExecutable::serialize`] (or the plugin's raw
    /// bytes, without a signature) with the same plugin.
    pub fn deserialize_executable(&self, serialized: &[u8]) -> Result<LoadedExecutable> {
        let (signature, serialized) = crate::executable::split_signature(serialized);
        let mut exe = self.deserialize_raw(serialized)?;
        exe.set_signature(signature);
        Ok(exe)
    }

    fn deserialize_raw(&self, serialized: &[u8]) -> Result<LoadedExecutable> {
        let mut args = sys::PJRT_Executable_DeserializeAndLoad_Args::new();
        args.client = self.inner.raw.as_ptr();
        args.serialized_executable = serialized.as_ptr().cast();
        args.serialized_executable_size = serialized.len();
        self.inner.api.call(&mut args)?;
        let raw = NonNull::new(args.loaded_executable).ok_or(Error::PluginContract {
            function: "PJRT_Executable_DeserializeAndLoad",
            message: "returned no executable".into(),
        })?;
        LoadedExecutable::new(self.inner.clone(), raw)
    }
}

/// Bytes of a dense buffer of `element_type` and shape `dims`.
pub(crate) fn byte_size(element_type: ElementType, dims: &[i64]) -> Result<usize> {
    let mut elements: usize = 1;
    for &d in dims {
        let d = usize::try_from(d).map_err(|_| Error::InvalidShape { dims: dims.to_vec() })?;
        elements = elements.checked_mul(d).ok_or(Error::InvalidShape { dims: dims.to_vec() })?;
    }
    elements.checked_mul(element_type.size_in_bytes()).ok_or(Error::InvalidShape { dims: dims.to_vec() })
}

/// Copies a plugin-owned array of device pointers.
///
/// # Safety
/// `devices` must be null (with `count == 0`) or point at `count` device pointers.
pub(crate) unsafe fn device_list(
    devices: *const *mut sys::PJRT_Device,
    count: usize,
    function: &'static str,
) -> Result<Vec<NonNull<sys::PJRT_Device>>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if devices.is_null() {
        return Err(Error::PluginContract { function, message: format!("{count} devices but a null list") });
    }
    // SAFETY: guaranteed by the caller.
    let list = unsafe { std::slice::from_raw_parts(devices, count) };
    list.iter()
        .map(|&d| NonNull::new(d).ok_or(Error::PluginContract { function, message: "a null device".into() }))
        .collect()
}
