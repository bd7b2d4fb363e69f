//! A loaded PJRT plugin and the one checked path through which every C function is called.

use std::collections::HashMap;
use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, ErrorCode, Result};
use crate::plugin::Platform;
use crate::sys::{self, Function, PjrtArgs};
use crate::value::{NamedValue, read_named_values};

/// A PJRT plugin, loaded once per process and never unloaded.
///
/// Plugins keep threads and static state alive for the whole process, so unloading one is
/// unsafe; the library handle is leaked on purpose and [`Api::load`] hands out the same `Api`
/// for the same path.
pub struct Api {
    table: NonNull<sys::PJRT_Api>,
    path: PathBuf,
    major: i32,
    minor: i32,
    attributes: Vec<(String, NamedValue)>,
}

// SAFETY: `table` points at the plugin's static, immutable function table, and the PJRT C API
// is thread-safe by contract (JAX calls it from many threads); `Api` holds nothing else that is
// shared mutably.
unsafe impl Send for Api {}
// SAFETY: see `Send`; every method takes `&self` and only reads the table.
unsafe impl Sync for Api {}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Api({}, PJRT {}.{})", self.path.display(), self.major, self.minor)
    }
}

fn not_found(path: &Path) -> Error {
    Error::PluginNotFound {
        path: path.to_path_buf(),
        hint: "; set OURO_PJRT_PLUGIN (or --plugin) to the path of a PJRT plugin .so, \
               or choose a platform with OURO_PLATFORM=cpu|gpu|tpu"
            .into(),
    }
}

fn loaded_plugins() -> &'static Mutex<HashMap<PathBuf, Arc<Api>>> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, Arc<Api>>>> = OnceLock::new();
    LOADED.get_or_init(Default::default)
}

impl Api {
    /// Loads the plugin at `path` (once per process), checks its API version and initializes it.
    pub fn load(path: impl AsRef<Path>) -> Result<Arc<Api>> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(not_found(path));
        }
        let key = path.canonicalize().map_err(|e| Error::io(path, e))?;
        // The lock is held through loading so that two threads never initialize one plugin twice.
        let mut loaded = loaded_plugins().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(api) = loaded.get(&key) {
            return Ok(api.clone());
        }
        #[cfg(all(target_os = "linux", feature = "jemalloc"))]
        tracing::debug!(allocator = crate::host_allocator::describe(), "loading {}", key.display());
        let mut api = Api::open(&key)?;
        if api.minor > sys::PJRT_API_MINOR {
            // Minor versions only append, so this works; a refused call says the same.
            tracing::info!(
                "{} implements PJRT C API 0.{}; ouro's declarations follow 0.{} (the newer fields are not sent)",
                key.display(),
                api.minor,
                sys::PJRT_API_MINOR
            );
        }
        api.initialize()?;
        let api = Arc::new(api);
        loaded.insert(key, api.clone());
        Ok(api)
    }

    /// The platform of the plugin at `path`, read from its extension chain without
    /// initializing it (libtpu's initialization may wait minutes for a metadata server).
    pub fn probe_platform(path: impl AsRef<Path>) -> Result<Platform> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(not_found(path));
        }
        Ok(Api::open(path)?.platform())
    }

    fn open(path: &Path) -> Result<Api> {
        // SAFETY: loading a library runs its initializers; that is what loading a plugin means,
        // and the path was chosen by the user or by plugin discovery.
        let library = unsafe { libloading::Library::new(path) }
            .map_err(|e| Error::PluginLoad { path: path.to_path_buf(), reason: e.to_string() })?;
        type GetPjrtApi = unsafe extern "C" fn() -> *const sys::PJRT_Api;
        // SAFETY: every PJRT plugin exports `const PJRT_Api* GetPjrtApi()`; a library exporting the
        // symbol with another signature is not a PJRT plugin, which we cannot detect.
        let table = unsafe {
            let get: libloading::Symbol<GetPjrtApi> = library.get(b"GetPjrtApi\0").map_err(|e| Error::NotAPlugin {
                path: path.to_path_buf(),
                reason: format!("no GetPjrtApi symbol ({e})"),
            })?;
            get()
        };
        // Never dlclose a plugin (see the type's doc).
        std::mem::forget(library);
        let table = NonNull::new(table as *mut sys::PJRT_Api)
            .ok_or_else(|| Error::NotAPlugin { path: path.to_path_buf(), reason: "GetPjrtApi returned null".into() })?;
        // SAFETY: the plugin returned a pointer to its static PJRT_Api, whose head (struct_size,
        // extension_start, version) is the same in every API version.
        let head = unsafe { table.as_ref() };
        let (major, minor) = (head.pjrt_api_version.major_version, head.pjrt_api_version.minor_version);
        if major != sys::PJRT_API_MAJOR {
            return Err(Error::ApiMajorMismatch {
                path: path.to_path_buf(),
                major,
                minor,
                expected: sys::PJRT_API_MAJOR,
            });
        }
        if head.struct_size < sys::FUNCTION_TABLE_OFFSET {
            return Err(Error::NotAPlugin {
                path: path.to_path_buf(),
                reason: format!("its PJRT_Api table is only {} bytes", head.struct_size),
            });
        }
        Ok(Api { table, path: path.to_path_buf(), major, minor, attributes: Vec::new() })
    }

    fn initialize(&mut self) -> Result<()> {
        let mut init = sys::PJRT_Plugin_Initialize_Args::new();
        self.call(&mut init)?;
        let mut attrs = sys::PJRT_Plugin_Attributes_Args::new();
        // Plugins older than the attributes entry simply have none.
        self.attributes = match self.call(&mut attrs) {
            Ok(()) => {
                // SAFETY: the plugin returned `num_attributes` values that live as long as the process.
                unsafe { read_named_values(attrs.attributes, attrs.num_attributes) }
            }
            Err(Error::MissingFunction { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(())
    }

    /// Where the plugin was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The PJRT C API version the plugin implements, `(major, minor)`.
    pub fn version(&self) -> (i32, i32) {
        (self.major, self.minor)
    }

    /// The plugin's attributes (`xla_version`, `stablehlo_current_version`, ...).
    pub fn attributes(&self) -> &[(String, NamedValue)] {
        &self.attributes
    }

    /// One attribute by name.
    pub fn attribute(&self, name: &str) -> Option<&NamedValue> {
        self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The StableHLO versions the plugin accepts, `(minimum, current)`, each `[major, minor, patch]`.
    pub fn stablehlo_versions(&self) -> Option<(Vec<i64>, Vec<i64>)> {
        let list = |name| match self.attribute(name) {
            Some(NamedValue::Int64List(v)) => Some(v.clone()),
            _ => None,
        };
        Some((list("stablehlo_minimum_version")?, list("stablehlo_current_version")?))
    }

    /// A string that identifies this plugin build, for cache keys: the API version, the
    /// attributes, and the plugin file's size and modification time.
    pub fn identity(&self) -> String {
        let mut id = format!("pjrt {}.{}", self.major, self.minor);
        for (name, value) in &self.attributes {
            id.push_str(&format!(";{name}={value}"));
        }
        if let Ok(meta) = std::fs::metadata(&self.path) {
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            id.push_str(&format!(";file={};size={};mtime={modified}", self.path.display(), meta.len()));
        }
        id
    }

    /// The extensions the plugin chains from its `PJRT_Api` (`FFI`, `Layouts`, `TpuTopology`,
    /// ...), by the header's names; a type newer than ouro's list reads `extension N`.
    pub fn extensions(&self) -> Vec<String> {
        let mut names = Vec::new();
        // SAFETY: `table` is the plugin's static PJRT_Api; its extension chain is a static,
        // null-terminated list of `PJRT_Extension_Base` heads.
        let mut next = unsafe { self.table.as_ref().extension_start };
        // A corrupt (cyclic) chain must not hang us; no plugin has anywhere near 256.
        while !next.is_null() && names.len() < 256 {
            // SAFETY: a non-null link of the chain (see above).
            let head = unsafe { &*next };
            let kind = head.extension_type as usize;
            names.push(sys::EXTENSION_NAMES.get(kind).map_or_else(|| format!("extension {kind}"), |n| n.to_string()));
            next = head.next;
        }
        names
    }

    /// The platform the plugin is built for, from its extension chain (readable before the
    /// plugin is initialized): libtpu chains its TPU extensions, the CUDA and ROCm plugins the
    /// GPU custom-call one, XLA's CPU plugin neither. A renamed file is recognised the same.
    pub fn platform(&self) -> Platform {
        let extensions = self.extensions();
        let has = |name: &str| extensions.iter().any(|e| e == name);
        if has("TpuTopology") || has("TpuExecutable") || has("Megascale") {
            Platform::Tpu
        } else if has("Gpu_Custom_Call") {
            Platform::Gpu
        } else {
            Platform::Cpu
        }
    }

    /// Whether the plugin's table has `function`.
    pub fn has(&self, function: Function) -> bool {
        self.raw_function(function).is_some()
    }

    fn raw_function(&self, function: Function) -> Option<sys::RawFunction> {
        // SAFETY: `table` is the plugin's static PJRT_Api (see `open`).
        let size = unsafe { self.table.as_ref().struct_size };
        let offset = function.offset();
        if offset + std::mem::size_of::<usize>() > size {
            return None;
        }
        // SAFETY: the entry lies inside the table (checked against struct_size above); an entry is
        // a nullable function pointer, read as Option<fn>.
        unsafe {
            let slot = self.table.as_ptr().cast::<u8>().add(offset).cast::<Option<sys::RawFunction>>();
            slot.read()
        }
    }

    /// Calls the function that takes `A`, turning a returned `PJRT_Error` into [`Error::Pjrt`].
    ///
    /// This is the only place where ouro calls into a plugin with arguments.
    pub(crate) fn call<A: PjrtArgs>(&self, args: &mut A) -> Result<()> {
        let function = self.raw_function(A::FUNCTION).ok_or_else(|| Error::MissingFunction {
            function: A::FUNCTION.c_name(),
            path: self.path.clone(),
            minor: self.minor,
        })?;
        // SAFETY: `A` is the argument struct of `A::FUNCTION` (guaranteed by `PjrtArgs`), built by
        // `A::new()` with its struct_size, and every pointer in it was set by the caller to memory
        // that outlives this call.
        let error = unsafe { function((args as *mut A).cast::<c_void>()) };
        self.take_error(error, A::FUNCTION.c_name())
    }

    /// Converts a `PJRT_Error*` returned by `function` (null means success) and destroys it.
    pub(crate) fn take_error(&self, error: *mut sys::PJRT_Error, function: &'static str) -> Result<()> {
        if error.is_null() {
            return Ok(());
        }
        let mut message = sys::PJRT_Error_Message_Args::new();
        message.error = error;
        let mut code = sys::PJRT_Error_GetCode_Args::new();
        code.error = error;
        let text = match self.raw_function(Function::ErrorMessage) {
            Some(f) => {
                // SAFETY: `error` is a live error from this plugin; Error_Message fills a view into it.
                unsafe { f((&mut message as *mut sys::PJRT_Error_Message_Args).cast()) };
                // SAFETY: the message (if any) has `message_size` bytes and lives as long as `error`.
                unsafe { crate::value::string_from_raw(message.message, message.message_size) }
            }
            None => String::from("(the plugin cannot describe this error)"),
        };
        let code = match self.raw_function(Function::ErrorGetCode) {
            Some(f) => {
                // SAFETY: as above; GetCode only reads the error. A failure to read the code is
                // itself an error we cannot do more with, so it is destroyed and ignored.
                let nested = unsafe { f((&mut code as *mut sys::PJRT_Error_GetCode_Args).cast()) };
                self.destroy_error(nested);
                ErrorCode::from_raw(code.code)
            }
            None => ErrorCode::Unknown,
        };
        self.destroy_error(error);
        // A plugin whose argument struct outgrew ours names the sizes; say which versions differ.
        if code == ErrorCode::InvalidArgument && text.contains("Unexpected") && text.contains("_Args size") {
            return Err(Error::ApiSkew {
                function,
                plugin_minor: self.minor,
                ours: sys::PJRT_API_MINOR,
                message: text,
            });
        }
        Err(Error::Pjrt { function, code, message: text })
    }

    fn destroy_error(&self, error: *mut sys::PJRT_Error) {
        if error.is_null() {
            return;
        }
        if let Some(f) = self.raw_function(Function::ErrorDestroy) {
            let mut args = sys::PJRT_Error_Destroy_Args::new();
            args.error = error;
            // SAFETY: `error` came from this plugin and is destroyed exactly once, here.
            unsafe { f((&mut args as *mut sys::PJRT_Error_Destroy_Args).cast()) };
        }
    }
}
