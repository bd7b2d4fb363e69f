//! `PJRT_TopologyDescription` and `PJRT_Compile`: compiling for devices this machine does not
//! have. libtpu describes any TPU slice by name (`v4:2x4x4`, `v5e:16x16`) on a host without a
//! chip and compiles for it, so a pod run's memory plan is checked before the pod is rented
//! (what JAX's compile-only client and MaxText's `train_compile` do).

use std::ffi::c_char;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::api::Api;
use crate::compile_options::CompileOptions;
use crate::compiled::Executable;
use crate::device::{DeviceDescription, read_description};
use crate::error::{Error, Result};
use crate::executable::Program;
use crate::sys::{self, PjrtArgs};
use crate::value::{NamedValue, RawNamedValues, read_named_values, string_from_raw};

/// The devices of a platform's topology, described without any of them attached.
pub struct Topology {
    api: Arc<Api>,
    raw: NonNull<sys::PJRT_TopologyDescription>,
    name: String,
    platform_name: String,
    platform_version: String,
    devices: Vec<DeviceDescription>,
    attributes: Vec<(String, NamedValue)>,
}

// SAFETY: a topology description is immutable once created and the PJRT C API is thread-safe
// by contract; ouro only reads it and passes it to `PJRT_Compile`.
unsafe impl Send for Topology {}
// SAFETY: see `Send`.
unsafe impl Sync for Topology {}

impl Drop for Topology {
    fn drop(&mut self) {
        let mut args = sys::PJRT_TopologyDescription_Destroy_Args::new();
        args.topology = self.raw.as_ptr();
        // Nothing useful can be done with a failure to destroy at drop time.
        let _ = self.api.call(&mut args);
    }
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Topology({} on {}, {} devices)", self.name, self.platform_name, self.devices.len())
    }
}

impl Topology {
    /// Describes the topology `name` of `api`'s platform; `options` are the plugin's own
    /// (libtpu: `chip_config_name`, `chips_per_host_bounds`, `num_slices`, ...).
    pub fn create(api: &Arc<Api>, name: &str, options: &[(String, NamedValue)]) -> Result<Topology> {
        let raw_options = RawNamedValues::new(options);
        let mut args = sys::PJRT_TopologyDescription_Create_Args::new();
        args.topology_name = name.as_ptr().cast::<c_char>();
        args.topology_name_size = name.len();
        args.create_options = raw_options.as_ptr();
        args.num_options = raw_options.len();
        api.call(&mut args)?;
        let raw = NonNull::new(args.topology).ok_or(Error::PluginContract {
            function: "PJRT_TopologyDescription_Create",
            message: "returned no topology".into(),
        })?;
        // Owned from here: a failing query below destroys it.
        let mut topology = Topology {
            api: api.clone(),
            raw,
            name: name.to_string(),
            platform_name: String::new(),
            platform_version: String::new(),
            devices: Vec::new(),
            attributes: Vec::new(),
        };
        topology.read()?;
        Ok(topology)
    }

    fn read(&mut self) -> Result<()> {
        let raw = self.raw.as_ptr();
        let mut name = sys::PJRT_TopologyDescription_PlatformName_Args::new();
        name.topology = raw;
        self.api.call(&mut name)?;
        // SAFETY: the name is owned by the topology and `platform_name_size` bytes long.
        self.platform_name = unsafe { string_from_raw(name.platform_name, name.platform_name_size) };

        let mut version = sys::PJRT_TopologyDescription_PlatformVersion_Args::new();
        version.topology = raw;
        self.api.call(&mut version)?;
        // SAFETY: as above.
        self.platform_version = unsafe { string_from_raw(version.platform_version, version.platform_version_size) };

        let mut devices = sys::PJRT_TopologyDescription_GetDeviceDescriptions_Args::new();
        devices.topology = raw;
        self.api.call(&mut devices)?;
        if devices.num_descriptions > 0 && devices.descriptions.is_null() {
            return Err(Error::PluginContract {
                function: "PJRT_TopologyDescription_GetDeviceDescriptions",
                message: format!("{} devices but a null list", devices.num_descriptions),
            });
        }
        let list = if devices.num_descriptions == 0 {
            &[][..]
        } else {
            // SAFETY: the plugin returned `num_descriptions` pointers that live as long as the topology.
            unsafe { std::slice::from_raw_parts(devices.descriptions, devices.num_descriptions) }
        };
        self.devices = list
            .iter()
            // SAFETY: each description belongs to this live topology.
            .map(|&d| unsafe { read_description(&self.api, d) })
            .collect::<Result<_>>()?;

        let mut attributes = sys::PJRT_TopologyDescription_Attributes_Args::new();
        attributes.topology = raw;
        // Attributes are optional in the C API: a plugin without them has none to report.
        self.attributes = match self.api.call(&mut attributes) {
            // SAFETY: the attributes live as long as the topology and are copied here.
            Ok(()) => unsafe { read_named_values(attributes.attributes, attributes.num_attributes) },
            Err(e) if e.code() == Some(crate::ErrorCode::Unimplemented) => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(())
    }

    /// The name it was created with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `tpu`, `cuda`, ...
    pub fn platform_name(&self) -> &str {
        &self.platform_name
    }

    /// Platform-specific version text.
    pub fn platform_version(&self) -> &str {
        &self.platform_version
    }

    /// Every device of the topology.
    pub fn devices(&self) -> &[DeviceDescription] {
        &self.devices
    }

    /// The platform's attributes of the topology.
    pub fn attributes(&self) -> &[(String, NamedValue)] {
        &self.attributes
    }

    /// The plugin the topology belongs to.
    pub fn api(&self) -> &Arc<Api> {
        &self.api
    }

    /// Compiles `program` for this topology's devices, with no client and no device: the
    /// result can be inspected (memory, cost) but not run here.
    pub fn compile(&self, program: &Program, options: &CompileOptions) -> Result<Executable> {
        let options = options.to_bytes();
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
        let mut args = sys::PJRT_Compile_Args::new();
        args.topology = self.raw.as_ptr();
        args.program = &raw_program;
        args.compile_options = options.as_ptr().cast();
        args.compile_options_size = options.len();
        self.api.call(&mut args)?;
        let raw = NonNull::new(args.executable)
            .ok_or(Error::PluginContract { function: "PJRT_Compile", message: "returned no executable".into() })?;
        Ok(Executable::from_raw(self.api.clone(), raw))
    }
}
