//! Raw declarations of the part of the PJRT C API that ouro uses.
//!
//! Written by hand from the facts of `xla/pjrt/c/pjrt_c_api.h` (no bindgen, no header in the
//! repository). Layout rules the plugin relies on:
//!
//! * every argument struct starts with `struct_size` and `extension_start`, and the plugin reads
//!   only the fields that `struct_size` covers; plugins refuse a struct smaller than their own
//!   (`Unexpected PJRT_..._Args size: expected N, got M`), so [`PjrtArgs::new`] always sets the
//!   size of the newest layout declared here;
//! * `struct_size` is `offsetof(last field) + sizeof(last field)` (no tail padding), which the
//!   [`args!`] macro computes with `offset_of!`;
//! * the function table in `PJRT_Api` only grows at its end, so an entry sits at a fixed slot
//!   ([`Function`]); an entry past the plugin's `struct_size` does not exist in that plugin.
//!
//! Every declaration is `#[repr(C)]` and made only of integers, bools, raw pointers and
//! `Option<extern fn>`, for all of which the all-zero bit pattern is valid: that is what makes
//! `mem::zeroed` in the constructors sound.
#![allow(non_camel_case_types, missing_docs)]

use std::ffi::{c_char, c_void};

/// The PJRT major version this crate speaks; a plugin with another major is refused.
pub const PJRT_API_MAJOR: i32 = 0;
/// The newest minor version whose layouts are declared here.
pub const PJRT_API_MINOR: i32 = 114;

// Opaque handles owned by the plugin.
macro_rules! opaque {
    ($($name:ident),* $(,)?) => {$(
        #[repr(C)]
        pub struct $name { _private: [u8; 0] }
    )*};
}
opaque!(
    PJRT_Error,
    PJRT_Event,
    PJRT_Client,
    PJRT_Device,
    PJRT_DeviceDescription,
    PJRT_Memory,
    PJRT_Executable,
    PJRT_LoadedExecutable,
    PJRT_Buffer,
    PJRT_SerializedExecutable,
    PJRT_ExecuteContext,
    PJRT_Layout,
    PJRT_TopologyDescription,
);

/// Head of every extension struct chained from `extension_start`.
#[repr(C)]
pub struct PJRT_Extension_Base {
    pub struct_size: usize,
    pub extension_type: u32,
    pub next: *mut PJRT_Extension_Base,
}

/// `PJRT_Extension_Type`, in the header's order (the value is the position).
pub const EXTENSION_NAMES: [&str; 22] = [
    "Gpu_Custom_Call",
    "Profiler",
    "Custom_Partitioner",
    "Stream",
    "Layouts",
    "FFI",
    "MemoryDescriptions",
    "Triton",
    "RawBuffer",
    "PhaseCompile",
    "Example",
    "Unknown",
    "CrossHostTransfers",
    "ExecutableMetadata",
    "Callback",
    "HostAllocator",
    "TpuTopology",
    "TpuExecutable",
    "Megascale",
    "Shardings",
    "AbiVersion",
    "Collectives",
];

/// `PJRT_Api_Version`: the version a plugin was built against.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PJRT_Api_Version {
    pub struct_size: usize,
    pub extension_start: *mut PJRT_Extension_Base,
    pub major_version: i32,
    pub minor_version: i32,
}

/// The head of `PJRT_Api`; the function table follows it.
#[repr(C)]
pub struct PJRT_Api {
    pub struct_size: usize,
    pub extension_start: *mut PJRT_Extension_Base,
    pub pjrt_api_version: PJRT_Api_Version,
}

/// Byte offset of the function table inside `PJRT_Api`.
pub const FUNCTION_TABLE_OFFSET: usize = std::mem::size_of::<PJRT_Api>();

/// Every PJRT entry point has this shape: one argument struct in, an error (null on success) out.
pub type RawFunction = unsafe extern "C" fn(args: *mut c_void) -> *mut PJRT_Error;

/// Entries of the `PJRT_Api` function table that ouro calls, at their slot in declaration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Function {
    ErrorDestroy = 0,
    ErrorMessage = 1,
    ErrorGetCode = 2,
    PluginInitialize = 3,
    PluginAttributes = 4,
    EventDestroy = 5,
    EventIsReady = 6,
    EventError = 7,
    EventAwait = 8,
    ClientCreate = 10,
    ClientDestroy = 11,
    ClientPlatformName = 12,
    ClientProcessIndex = 13,
    ClientPlatformVersion = 14,
    ClientDevices = 15,
    ClientAddressableDevices = 16,
    ClientCompile = 20,
    ClientBufferFromHostBuffer = 22,
    DeviceDescriptionId = 23,
    DeviceDescriptionProcessIndex = 24,
    DeviceDescriptionAttributes = 25,
    DeviceDescriptionKind = 26,
    DeviceDescriptionDebugString = 27,
    DeviceGetDescription = 29,
    DeviceIsAddressable = 30,
    DeviceLocalHardwareId = 31,
    DeviceMemoryStats = 34,
    ExecutableDestroy = 40,
    ExecutableName = 41,
    ExecutableNumReplicas = 42,
    ExecutableNumPartitions = 43,
    ExecutableNumOutputs = 44,
    ExecutableSizeOfGeneratedCodeInBytes = 45,
    ExecutableGetCostAnalysis = 46,
    ExecutableSerialize = 49,
    LoadedExecutableDestroy = 50,
    LoadedExecutableGetExecutable = 51,
    LoadedExecutableAddressableDevices = 52,
    LoadedExecutableDelete = 53,
    LoadedExecutableIsDeleted = 54,
    LoadedExecutableExecute = 55,
    ExecutableDeserializeAndLoad = 56,
    BufferDestroy = 58,
    BufferElementType = 59,
    BufferDimensions = 60,
    BufferOnDeviceSizeInBytes = 64,
    BufferDevice = 65,
    BufferDelete = 67,
    BufferIsDeleted = 68,
    BufferCopyToDevice = 69,
    BufferToHostBuffer = 70,
    BufferReadyEvent = 72,
    BufferUnsafePointer = 73,
    TopologyDescriptionCreate = 82,
    TopologyDescriptionDestroy = 83,
    TopologyDescriptionPlatformName = 84,
    TopologyDescriptionPlatformVersion = 85,
    TopologyDescriptionGetDeviceDescriptions = 86,
    TopologyDescriptionAttributes = 88,
    Compile = 89,
    ExecutableOutputElementTypes = 90,
    ExecutableOutputDimensions = 91,
    ExecutableFingerprint = 94,
    ExecutableGetCompiledMemoryStats = 96,
}

impl Function {
    /// The C name, for error messages and the coverage list.
    pub const fn c_name(self) -> &'static str {
        use Function::*;
        match self {
            ErrorDestroy => "PJRT_Error_Destroy",
            ErrorMessage => "PJRT_Error_Message",
            ErrorGetCode => "PJRT_Error_GetCode",
            PluginInitialize => "PJRT_Plugin_Initialize",
            PluginAttributes => "PJRT_Plugin_Attributes",
            EventDestroy => "PJRT_Event_Destroy",
            EventIsReady => "PJRT_Event_IsReady",
            EventError => "PJRT_Event_Error",
            EventAwait => "PJRT_Event_Await",
            ClientCreate => "PJRT_Client_Create",
            ClientDestroy => "PJRT_Client_Destroy",
            ClientPlatformName => "PJRT_Client_PlatformName",
            ClientProcessIndex => "PJRT_Client_ProcessIndex",
            ClientPlatformVersion => "PJRT_Client_PlatformVersion",
            ClientDevices => "PJRT_Client_Devices",
            ClientAddressableDevices => "PJRT_Client_AddressableDevices",
            ClientCompile => "PJRT_Client_Compile",
            ClientBufferFromHostBuffer => "PJRT_Client_BufferFromHostBuffer",
            DeviceDescriptionId => "PJRT_DeviceDescription_Id",
            DeviceDescriptionProcessIndex => "PJRT_DeviceDescription_ProcessIndex",
            DeviceDescriptionAttributes => "PJRT_DeviceDescription_Attributes",
            DeviceDescriptionKind => "PJRT_DeviceDescription_Kind",
            DeviceDescriptionDebugString => "PJRT_DeviceDescription_DebugString",
            DeviceGetDescription => "PJRT_Device_GetDescription",
            DeviceIsAddressable => "PJRT_Device_IsAddressable",
            DeviceLocalHardwareId => "PJRT_Device_LocalHardwareId",
            DeviceMemoryStats => "PJRT_Device_MemoryStats",
            ExecutableDestroy => "PJRT_Executable_Destroy",
            ExecutableName => "PJRT_Executable_Name",
            ExecutableNumReplicas => "PJRT_Executable_NumReplicas",
            ExecutableNumPartitions => "PJRT_Executable_NumPartitions",
            ExecutableNumOutputs => "PJRT_Executable_NumOutputs",
            ExecutableSizeOfGeneratedCodeInBytes => "PJRT_Executable_SizeOfGeneratedCodeInBytes",
            ExecutableGetCostAnalysis => "PJRT_Executable_GetCostAnalysis",
            ExecutableSerialize => "PJRT_Executable_Serialize",
            LoadedExecutableDestroy => "PJRT_LoadedExecutable_Destroy",
            LoadedExecutableGetExecutable => "PJRT_LoadedExecutable_GetExecutable",
            LoadedExecutableAddressableDevices => "PJRT_LoadedExecutable_AddressableDevices",
            LoadedExecutableDelete => "PJRT_LoadedExecutable_Delete",
            LoadedExecutableIsDeleted => "PJRT_LoadedExecutable_IsDeleted",
            LoadedExecutableExecute => "PJRT_LoadedExecutable_Execute",
            ExecutableDeserializeAndLoad => "PJRT_Executable_DeserializeAndLoad",
            BufferDestroy => "PJRT_Buffer_Destroy",
            BufferElementType => "PJRT_Buffer_ElementType",
            BufferDimensions => "PJRT_Buffer_Dimensions",
            BufferOnDeviceSizeInBytes => "PJRT_Buffer_OnDeviceSizeInBytes",
            BufferDevice => "PJRT_Buffer_Device",
            BufferDelete => "PJRT_Buffer_Delete",
            BufferIsDeleted => "PJRT_Buffer_IsDeleted",
            BufferCopyToDevice => "PJRT_Buffer_CopyToDevice",
            BufferToHostBuffer => "PJRT_Buffer_ToHostBuffer",
            BufferReadyEvent => "PJRT_Buffer_ReadyEvent",
            BufferUnsafePointer => "PJRT_Buffer_UnsafePointer",
            TopologyDescriptionCreate => "PJRT_TopologyDescription_Create",
            TopologyDescriptionDestroy => "PJRT_TopologyDescription_Destroy",
            TopologyDescriptionPlatformName => "PJRT_TopologyDescription_PlatformName",
            TopologyDescriptionPlatformVersion => "PJRT_TopologyDescription_PlatformVersion",
            TopologyDescriptionGetDeviceDescriptions => "PJRT_TopologyDescription_GetDeviceDescriptions",
            TopologyDescriptionAttributes => "PJRT_TopologyDescription_Attributes",
            Compile => "PJRT_Compile",
            ExecutableOutputElementTypes => "PJRT_Executable_OutputElementTypes",
            ExecutableOutputDimensions => "PJRT_Executable_OutputDimensions",
            ExecutableFingerprint => "PJRT_Executable_Fingerprint",
            ExecutableGetCompiledMemoryStats => "PJRT_Executable_GetCompiledMemoryStats",
        }
    }

    /// Byte offset of this entry's pointer inside `PJRT_Api`.
    pub const fn offset(self) -> usize {
        FUNCTION_TABLE_OFFSET + (self as usize) * std::mem::size_of::<usize>()
    }
}

/// An argument struct of one PJRT function.
///
/// # Safety
/// `FUNCTION` must be the entry that takes `Self` as its argument struct, and `Self` must be a
/// `#[repr(C)]` struct, valid when all-zero, laid out as the C header declares it.
pub unsafe trait PjrtArgs: Sized {
    /// The entry this struct is the argument of.
    const FUNCTION: Function;
    /// `offsetof(last field) + sizeof(last field)`.
    const STRUCT_SIZE: usize;

    /// All fields zero (null, false, 0) and `struct_size` set.
    fn new() -> Self;
}

/// Declares an argument struct (with `struct_size` and `extension_start` first) and its
/// [`PjrtArgs`] impl.
macro_rules! args {
    ($name:ident => $function:ident { $($(#[$doc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        #[repr(C)]
        pub struct $name {
            pub struct_size: usize,
            pub extension_start: *mut PJRT_Extension_Base,
            $($(#[$doc])* pub $field: $ty,)*
        }

        // SAFETY: the struct is #[repr(C)], made of integers, bools, raw pointers and optional
        // function pointers (all valid when zero), and it is the argument of `$function`.
        unsafe impl PjrtArgs for $name {
            const FUNCTION: Function = Function::$function;
            const STRUCT_SIZE: usize = {
                #[allow(unused_mut)]
                let mut end = std::mem::offset_of!($name, extension_start)
                    + std::mem::size_of::<*mut PJRT_Extension_Base>();
                $(
                    let field_end = std::mem::offset_of!($name, $field) + std::mem::size_of::<$ty>();
                    if field_end > end { end = field_end; }
                )*
                end
            };

            fn new() -> Self {
                // SAFETY: every field is valid when all-zero (see the impl's comment).
                let mut args: Self = unsafe { std::mem::zeroed() };
                args.struct_size = Self::STRUCT_SIZE;
                args
            }
        }
    };
}

// ---------------------------------------------------------------- errors

/// `PJRT_Error_Code`: absl status codes.
pub type PJRT_Error_Code = u32;

args!(PJRT_Error_Destroy_Args => ErrorDestroy { error: *mut PJRT_Error });
args!(PJRT_Error_Message_Args => ErrorMessage {
    error: *const PJRT_Error,
    message: *const c_char,
    message_size: usize,
});
args!(PJRT_Error_GetCode_Args => ErrorGetCode { error: *const PJRT_Error, code: PJRT_Error_Code });

// ---------------------------------------------------------------- named values

pub type PJRT_NamedValue_Type = u32;
pub const PJRT_NAMED_VALUE_STRING: PJRT_NamedValue_Type = 0;
pub const PJRT_NAMED_VALUE_INT64: PJRT_NamedValue_Type = 1;
pub const PJRT_NAMED_VALUE_INT64_LIST: PJRT_NamedValue_Type = 2;
pub const PJRT_NAMED_VALUE_FLOAT: PJRT_NamedValue_Type = 3;
pub const PJRT_NAMED_VALUE_BOOL: PJRT_NamedValue_Type = 4;

/// The value union of `PJRT_NamedValue`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union PJRT_NamedValue_Value {
    pub string_value: *const c_char,
    pub int64_value: i64,
    pub int64_array_value: *const i64,
    pub float_value: f32,
    pub bool_value: bool,
}

/// `PJRT_NamedValue`: a key-value pair (create options, attributes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PJRT_NamedValue {
    pub struct_size: usize,
    pub extension_start: *mut PJRT_Extension_Base,
    pub name: *const c_char,
    pub name_size: usize,
    pub value_type: PJRT_NamedValue_Type,
    pub value: PJRT_NamedValue_Value,
    /// Elements for a list or string, 1 for a scalar.
    pub value_size: usize,
}

impl PJRT_NamedValue {
    pub const STRUCT_SIZE: usize = std::mem::offset_of!(PJRT_NamedValue, value_size) + std::mem::size_of::<usize>();
}

// ---------------------------------------------------------------- plugin

args!(PJRT_Plugin_Initialize_Args => PluginInitialize {});
args!(PJRT_Plugin_Attributes_Args => PluginAttributes {
    attributes: *const PJRT_NamedValue,
    num_attributes: usize,
});

// ---------------------------------------------------------------- events

args!(PJRT_Event_Destroy_Args => EventDestroy { event: *mut PJRT_Event });
args!(PJRT_Event_IsReady_Args => EventIsReady { event: *mut PJRT_Event, is_ready: bool });
args!(PJRT_Event_Error_Args => EventError { event: *mut PJRT_Event });
args!(PJRT_Event_Await_Args => EventAwait { event: *mut PJRT_Event });

// ---------------------------------------------------------------- client

// The key-value store a multi-process client exchanges its topology through. The framework
// implements the callbacks; the plugin calls them, from any of its threads.

/// `PJRT_CallbackError`: made by the plugin, called by a callback to build its error.
pub type PJRT_CallbackError =
    unsafe extern "C" fn(code: PJRT_Error_Code, message: *const c_char, message_size: usize) -> *mut PJRT_Error;

/// Frees a value a get callback returned.
pub type PJRT_KeyValue_ValueDeleter = unsafe extern "C" fn(value: *mut c_char);

#[repr(C)]
pub struct PJRT_KeyValueGetCallback_Args {
    pub struct_size: usize,
    pub extension_start: *mut PJRT_Extension_Base,
    pub key: *const c_char,
    pub key_size: usize,
    pub timeout_in_ms: i32,
    pub callback_error: *mut PJRT_CallbackError,
    pub user_arg: *mut c_void,
    pub value: *mut c_char,
    pub value_size: usize,
    pub value_deleter_callback: Option<PJRT_KeyValue_ValueDeleter>,
}

#[repr(C)]
pub struct PJRT_KeyValueTryGetCallback_Args {
    pub struct_size: usize,
    pub extension_start: *mut PJRT_Extension_Base,
    pub key: *const c_char,
    pub key_size: usize,
    pub callback_error: *mut PJRT_CallbackError,
    pub user_arg: *mut c_void,
    pub value: *mut c_char,
    pub value_size: usize,
    pub value_deleter_callback: Option<PJRT_KeyValue_ValueDeleter>,
}

#[repr(C)]
pub struct PJRT_KeyValuePutCallback_Args {
    pub struct_size: usize,
    pub extension_start: *mut PJRT_Extension_Base,
    pub key: *const c_char,
    pub key_size: usize,
    pub value: *const c_char,
    pub value_size: usize,
    pub callback_error: *mut PJRT_CallbackError,
    pub user_arg: *mut c_void,
}

pub type PJRT_KeyValueGetCallback = unsafe extern "C" fn(args: *mut PJRT_KeyValueGetCallback_Args) -> *mut PJRT_Error;
pub type PJRT_KeyValueTryGetCallback =
    unsafe extern "C" fn(args: *mut PJRT_KeyValueTryGetCallback_Args) -> *mut PJRT_Error;
pub type PJRT_KeyValuePutCallback = unsafe extern "C" fn(args: *mut PJRT_KeyValuePutCallback_Args) -> *mut PJRT_Error;

args!(PJRT_Client_Create_Args => ClientCreate {
    create_options: *const PJRT_NamedValue,
    num_options: usize,
    kv_get_callback: Option<PJRT_KeyValueGetCallback>,
    kv_get_user_arg: *mut c_void,
    kv_put_callback: Option<PJRT_KeyValuePutCallback>,
    kv_put_user_arg: *mut c_void,
    client: *mut PJRT_Client,
    kv_try_get_callback: Option<PJRT_KeyValueTryGetCallback>,
    kv_try_get_user_arg: *mut c_void,
});
args!(PJRT_Client_Destroy_Args => ClientDestroy { client: *mut PJRT_Client });
args!(PJRT_Client_PlatformName_Args => ClientPlatformName {
    client: *mut PJRT_Client,
    platform_name: *const c_char,
    platform_name_size: usize,
});
args!(PJRT_Client_ProcessIndex_Args => ClientProcessIndex { client: *mut PJRT_Client, process_index: i32 });
args!(PJRT_Client_PlatformVersion_Args => ClientPlatformVersion {
    client: *mut PJRT_Client,
    platform_version: *const c_char,
    platform_version_size: usize,
});
args!(PJRT_Client_Devices_Args => ClientDevices {
    client: *mut PJRT_Client,
    devices: *const *mut PJRT_Device,
    num_devices: usize,
});
args!(PJRT_Client_AddressableDevices_Args => ClientAddressableDevices {
    client: *mut PJRT_Client,
    addressable_devices: *const *mut PJRT_Device,
    num_addressable_devices: usize,
});

/// `PJRT_Program`: code plus its format (`"mlir"` for StableHLO text or bytecode, `"hlo"`).
#[repr(C)]
pub struct PJRT_Program {
    pub struct_size: usize,
    pub extension_start: *mut PJRT_Extension_Base,
    pub code: *const c_char,
    pub code_size: usize,
    pub format: *const c_char,
    pub format_size: usize,
}

impl PJRT_Program {
    pub const STRUCT_SIZE: usize = std::mem::offset_of!(PJRT_Program, format_size) + std::mem::size_of::<usize>();
}

args!(PJRT_Client_Compile_Args => ClientCompile {
    client: *mut PJRT_Client,
    program: *const PJRT_Program,
    compile_options: *const c_char,
    compile_options_size: usize,
    executable: *mut PJRT_LoadedExecutable,
});

/// `PJRT_Buffer_Type`.
pub type PJRT_Buffer_Type = u32;

/// `PJRT_HostBufferSemantics`.
pub type PJRT_HostBufferSemantics = u32;
/// The plugin copies the host data before the call returns.
pub const PJRT_HOST_BUFFER_IMMUTABLE_ONLY_DURING_CALL: PJRT_HostBufferSemantics = 0;
/// The host data must stay alive until `done_with_host_buffer` fires.
pub const PJRT_HOST_BUFFER_IMMUTABLE_UNTIL_TRANSFER_COMPLETES: PJRT_HostBufferSemantics = 1;

args!(PJRT_Client_BufferFromHostBuffer_Args => ClientBufferFromHostBuffer {
    client: *mut PJRT_Client,
    data: *const c_void,
    element_type: PJRT_Buffer_Type,
    dims: *const i64,
    num_dims: usize,
    byte_strides: *const i64,
    num_byte_strides: usize,
    host_buffer_semantics: PJRT_HostBufferSemantics,
    device: *mut PJRT_Device,
    memory: *mut PJRT_Memory,
    device_layout: *mut PJRT_Layout,
    done_with_host_buffer: *mut PJRT_Event,
    buffer: *mut PJRT_Buffer,
});

// ---------------------------------------------------------------- devices

args!(PJRT_DeviceDescription_Id_Args => DeviceDescriptionId {
    device_description: *mut PJRT_DeviceDescription,
    id: i32,
});
args!(PJRT_DeviceDescription_ProcessIndex_Args => DeviceDescriptionProcessIndex {
    device_description: *mut PJRT_DeviceDescription,
    process_index: i32,
});
args!(PJRT_DeviceDescription_Attributes_Args => DeviceDescriptionAttributes {
    device_description: *mut PJRT_DeviceDescription,
    num_attributes: usize,
    attributes: *const PJRT_NamedValue,
});
args!(PJRT_DeviceDescription_Kind_Args => DeviceDescriptionKind {
    device_description: *mut PJRT_DeviceDescription,
    device_kind: *const c_char,
    device_kind_size: usize,
});
args!(PJRT_DeviceDescription_DebugString_Args => DeviceDescriptionDebugString {
    device_description: *mut PJRT_DeviceDescription,
    debug_string: *const c_char,
    debug_string_size: usize,
});
args!(PJRT_Device_GetDescription_Args => DeviceGetDescription {
    device: *mut PJRT_Device,
    device_description: *mut PJRT_DeviceDescription,
});
args!(PJRT_Device_IsAddressable_Args => DeviceIsAddressable { device: *mut PJRT_Device, is_addressable: bool });
args!(PJRT_Device_LocalHardwareId_Args => DeviceLocalHardwareId {
    device: *mut PJRT_Device,
    local_hardware_id: i32,
});
args!(PJRT_Device_MemoryStats_Args => DeviceMemoryStats {
    device: *mut PJRT_Device,
    bytes_in_use: i64,
    peak_bytes_in_use: i64,
    peak_bytes_in_use_is_set: bool,
    num_allocs: i64,
    num_allocs_is_set: bool,
    largest_alloc_size: i64,
    largest_alloc_size_is_set: bool,
    bytes_limit: i64,
    bytes_limit_is_set: bool,
    bytes_reserved: i64,
    bytes_reserved_is_set: bool,
    peak_bytes_reserved: i64,
    peak_bytes_reserved_is_set: bool,
    bytes_reservable_limit: i64,
    bytes_reservable_limit_is_set: bool,
    largest_free_block_bytes: i64,
    largest_free_block_bytes_is_set: bool,
    pool_bytes: i64,
    pool_bytes_is_set: bool,
    peak_pool_bytes: i64,
    peak_pool_bytes_is_set: bool,
    peak_allocated_bytes: i64,
    peak_allocated_bytes_is_set: bool,
});

// ---------------------------------------------------------------- executables

args!(PJRT_Executable_Destroy_Args => ExecutableDestroy { executable: *mut PJRT_Executable });
args!(PJRT_Executable_Name_Args => ExecutableName {
    executable: *mut PJRT_Executable,
    executable_name: *const c_char,
    executable_name_size: usize,
});
args!(PJRT_Executable_NumReplicas_Args => ExecutableNumReplicas {
    executable: *mut PJRT_Executable,
    num_replicas: usize,
});
args!(PJRT_Executable_NumPartitions_Args => ExecutableNumPartitions {
    executable: *mut PJRT_Executable,
    num_partitions: usize,
});
args!(PJRT_Executable_NumOutputs_Args => ExecutableNumOutputs {
    executable: *mut PJRT_Executable,
    num_outputs: usize,
});
args!(PJRT_Executable_SizeOfGeneratedCodeInBytes_Args => ExecutableSizeOfGeneratedCodeInBytes {
    executable: *mut PJRT_Executable,
    size_in_bytes: i64,
});

/// Frees the bytes returned by `PJRT_Executable_Serialize`.
pub type PJRT_SerializedExecutableDeleter = Option<unsafe extern "C" fn(executable: *mut PJRT_SerializedExecutable)>;

args!(PJRT_Executable_GetCostAnalysis_Args => ExecutableGetCostAnalysis {
    executable: *mut PJRT_Executable,
    num_properties: usize,
    properties: *const PJRT_NamedValue,
});

args!(PJRT_Executable_Serialize_Args => ExecutableSerialize {
    executable: *const PJRT_Executable,
    serialized_bytes: *const c_char,
    serialized_bytes_size: usize,
    serialized_executable: *mut PJRT_SerializedExecutable,
    serialized_executable_deleter: PJRT_SerializedExecutableDeleter,
});
args!(PJRT_Executable_DeserializeAndLoad_Args => ExecutableDeserializeAndLoad {
    client: *mut PJRT_Client,
    serialized_executable: *const c_char,
    serialized_executable_size: usize,
    loaded_executable: *mut PJRT_LoadedExecutable,
    overridden_serialized_compile_options: *const c_char,
    overridden_serialized_compile_options_size: usize,
    load_options: *const c_void,
});
args!(PJRT_Executable_OutputElementTypes_Args => ExecutableOutputElementTypes {
    executable: *mut PJRT_Executable,
    output_types: *const PJRT_Buffer_Type,
    num_output_types: usize,
});
args!(PJRT_Executable_OutputDimensions_Args => ExecutableOutputDimensions {
    executable: *mut PJRT_Executable,
    num_outputs: usize,
    dims: *const i64,
    dim_sizes: *const usize,
});
args!(PJRT_Executable_Fingerprint_Args => ExecutableFingerprint {
    executable: *mut PJRT_Executable,
    executable_fingerprint: *const c_char,
    executable_fingerprint_size: usize,
});
args!(PJRT_Executable_GetCompiledMemoryStats_Args => ExecutableGetCompiledMemoryStats {
    executable: *mut PJRT_Executable,
    generated_code_size_in_bytes: i64,
    argument_size_in_bytes: i64,
    output_size_in_bytes: i64,
    alias_size_in_bytes: i64,
    temp_size_in_bytes: i64,
    host_generated_code_size_in_bytes: i64,
    host_argument_size_in_bytes: i64,
    host_output_size_in_bytes: i64,
    host_alias_size_in_bytes: i64,
    host_temp_size_in_bytes: i64,
    peak_memory_in_bytes: i64,
    total_size_in_bytes: i64,
    total_allocation_bytes: i64,
    indefinite_allocations: i64,
    peak_unpadded_heap_bytes: i64,
});

args!(PJRT_LoadedExecutable_Destroy_Args => LoadedExecutableDestroy { executable: *mut PJRT_LoadedExecutable });
args!(PJRT_LoadedExecutable_GetExecutable_Args => LoadedExecutableGetExecutable {
    loaded_executable: *mut PJRT_LoadedExecutable,
    executable: *mut PJRT_Executable,
});
args!(PJRT_LoadedExecutable_AddressableDevices_Args => LoadedExecutableAddressableDevices {
    executable: *mut PJRT_LoadedExecutable,
    addressable_devices: *const *mut PJRT_Device,
    num_addressable_devices: usize,
});
args!(PJRT_LoadedExecutable_Delete_Args => LoadedExecutableDelete { executable: *mut PJRT_LoadedExecutable });
args!(PJRT_LoadedExecutable_IsDeleted_Args => LoadedExecutableIsDeleted {
    executable: *mut PJRT_LoadedExecutable,
    is_deleted: bool,
});

/// `PJRT_ExecuteOptions` (not itself a function's argument struct).
#[repr(C)]
pub struct PJRT_ExecuteOptions {
    pub struct_size: usize,
    pub extension_start: *mut PJRT_Extension_Base,
    pub send_callbacks: *mut c_void,
    pub recv_callbacks: *mut c_void,
    pub num_send_ops: usize,
    pub num_recv_ops: usize,
    pub launch_id: i32,
    pub non_donatable_input_indices: *const i64,
    pub num_non_donatable_input_indices: usize,
    pub context: *mut PJRT_ExecuteContext,
    pub call_location: *const c_char,
    pub num_tasks: usize,
    pub task_ids: *mut i32,
    pub incarnation_ids: *mut i64,
    pub multi_slice_config: *mut c_void,
    pub use_major_to_minor_data_layout_for_callbacks: bool,
    pub hlo_output_callbacks: *mut c_void,
    pub num_hlo_output_callbacks: usize,
}

impl Default for PJRT_ExecuteOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl PJRT_ExecuteOptions {
    pub const STRUCT_SIZE: usize =
        std::mem::offset_of!(PJRT_ExecuteOptions, num_hlo_output_callbacks) + std::mem::size_of::<usize>();

    pub fn new() -> Self {
        // SAFETY: integers, bools and raw pointers only; all valid when zero.
        let mut options: Self = unsafe { std::mem::zeroed() };
        options.struct_size = Self::STRUCT_SIZE;
        options
    }
}

args!(PJRT_LoadedExecutable_Execute_Args => LoadedExecutableExecute {
    executable: *mut PJRT_LoadedExecutable,
    options: *mut PJRT_ExecuteOptions,
    /// `[num_devices][num_args]`
    argument_lists: *const *const *mut PJRT_Buffer,
    num_devices: usize,
    num_args: usize,
    /// `[num_devices][num_outputs]`, allocated by the caller, filled by the plugin.
    output_lists: *const *mut *mut PJRT_Buffer,
    /// `[num_devices]`, optional.
    device_complete_events: *mut *mut PJRT_Event,
    execute_device: *mut PJRT_Device,
});

// ---------------------------------------------------------------- topologies (compiling without devices)

args!(PJRT_TopologyDescription_Create_Args => TopologyDescriptionCreate {
    topology_name: *const c_char,
    topology_name_size: usize,
    create_options: *const PJRT_NamedValue,
    num_options: usize,
    topology: *mut PJRT_TopologyDescription,
});
args!(PJRT_TopologyDescription_Destroy_Args => TopologyDescriptionDestroy { topology: *mut PJRT_TopologyDescription });
args!(PJRT_TopologyDescription_PlatformName_Args => TopologyDescriptionPlatformName {
    topology: *const PJRT_TopologyDescription,
    platform_name: *const c_char,
    platform_name_size: usize,
});
args!(PJRT_TopologyDescription_PlatformVersion_Args => TopologyDescriptionPlatformVersion {
    topology: *mut PJRT_TopologyDescription,
    platform_version: *const c_char,
    platform_version_size: usize,
});
args!(PJRT_TopologyDescription_GetDeviceDescriptions_Args => TopologyDescriptionGetDeviceDescriptions {
    topology: *const PJRT_TopologyDescription,
    descriptions: *const *mut PJRT_DeviceDescription,
    num_descriptions: usize,
});
args!(PJRT_TopologyDescription_Attributes_Args => TopologyDescriptionAttributes {
    topology: *mut PJRT_TopologyDescription,
    attributes: *const PJRT_NamedValue,
    num_attributes: usize,
});
args!(PJRT_Compile_Args => Compile {
    topology: *const PJRT_TopologyDescription,
    program: *const PJRT_Program,
    compile_options: *const c_char,
    compile_options_size: usize,
    /// Optional: a client for performance-guided optimizations (null when compiling without one).
    client: *mut PJRT_Client,
    executable: *mut PJRT_Executable,
});

// ---------------------------------------------------------------- buffers

args!(PJRT_Buffer_Destroy_Args => BufferDestroy { buffer: *mut PJRT_Buffer });
args!(PJRT_Buffer_ElementType_Args => BufferElementType { buffer: *mut PJRT_Buffer, element_type: PJRT_Buffer_Type });
args!(PJRT_Buffer_Dimensions_Args => BufferDimensions {
    buffer: *mut PJRT_Buffer,
    dims: *const i64,
    num_dims: usize,
});
args!(PJRT_Buffer_OnDeviceSizeInBytes_Args => BufferOnDeviceSizeInBytes {
    buffer: *mut PJRT_Buffer,
    on_device_size_in_bytes: usize,
});
args!(PJRT_Buffer_Device_Args => BufferDevice { buffer: *mut PJRT_Buffer, device: *mut PJRT_Device });
args!(PJRT_Buffer_Delete_Args => BufferDelete { buffer: *mut PJRT_Buffer });
args!(PJRT_Buffer_IsDeleted_Args => BufferIsDeleted { buffer: *mut PJRT_Buffer, is_deleted: bool });
args!(PJRT_Buffer_CopyToDevice_Args => BufferCopyToDevice {
    buffer: *mut PJRT_Buffer,
    dst_device: *mut PJRT_Device,
    dst_buffer: *mut PJRT_Buffer,
});
args!(PJRT_Buffer_ToHostBuffer_Args => BufferToHostBuffer {
    src: *mut PJRT_Buffer,
    host_layout: *mut PJRT_Layout,
    dst: *mut c_void,
    dst_size: usize,
    event: *mut PJRT_Event,
});
args!(PJRT_Buffer_ReadyEvent_Args => BufferReadyEvent { buffer: *mut PJRT_Buffer, event: *mut PJRT_Event });
args!(PJRT_Buffer_UnsafePointer_Args => BufferUnsafePointer { buffer: *mut PJRT_Buffer, buffer_pointer: usize });

#[cfg(test)]
mod tests {
    use super::*;

    // Sizes from the C header's PJRT_STRUCT_SIZE of each struct (API 0.114).
    #[test]
    fn struct_sizes_match_the_header() {
        assert_eq!(std::mem::size_of::<PJRT_Api_Version>(), 24);
        assert_eq!(FUNCTION_TABLE_OFFSET, 40);
        assert_eq!(PJRT_NamedValue::STRUCT_SIZE, 56);
        assert_eq!(PJRT_Program::STRUCT_SIZE, 48);
        assert_eq!(PJRT_ExecuteOptions::STRUCT_SIZE, 144);
        assert_eq!(PJRT_Error_GetCode_Args::STRUCT_SIZE, 28);
        assert_eq!(PJRT_Event_IsReady_Args::STRUCT_SIZE, 25);
        assert_eq!(PJRT_Client_Create_Args::STRUCT_SIZE, 88);
        assert_eq!(PJRT_Client_Compile_Args::STRUCT_SIZE, 56);
        assert_eq!(PJRT_Client_BufferFromHostBuffer_Args::STRUCT_SIZE, 120);
        assert_eq!(PJRT_DeviceDescription_Attributes_Args::STRUCT_SIZE, 40);
        assert_eq!(PJRT_Device_MemoryStats_Args::STRUCT_SIZE, 201);
        assert_eq!(PJRT_Executable_Serialize_Args::STRUCT_SIZE, 56);
        assert_eq!(PJRT_Executable_DeserializeAndLoad_Args::STRUCT_SIZE, 72);
        assert_eq!(PJRT_Executable_OutputDimensions_Args::STRUCT_SIZE, 48);
        assert_eq!(PJRT_Executable_GetCompiledMemoryStats_Args::STRUCT_SIZE, 144);
        assert_eq!(PJRT_LoadedExecutable_Execute_Args::STRUCT_SIZE, 80);
        assert_eq!(PJRT_Buffer_ToHostBuffer_Args::STRUCT_SIZE, 56);
        assert_eq!(PJRT_Buffer_IsDeleted_Args::STRUCT_SIZE, 25);
        assert_eq!(PJRT_Plugin_Initialize_Args::STRUCT_SIZE, 16);
        assert_eq!(PJRT_Executable_GetCostAnalysis_Args::STRUCT_SIZE, 40);
        assert_eq!(PJRT_TopologyDescription_Create_Args::STRUCT_SIZE, 56);
        assert_eq!(PJRT_TopologyDescription_GetDeviceDescriptions_Args::STRUCT_SIZE, 40);
        assert_eq!(PJRT_Compile_Args::STRUCT_SIZE, 64);
    }

    #[test]
    fn function_offsets_follow_the_table_order() {
        assert_eq!(Function::ErrorDestroy.offset(), 40);
        assert_eq!(Function::LoadedExecutableExecute.offset(), 40 + 55 * 8);
        assert_eq!(Function::ExecutableGetCompiledMemoryStats.offset(), 40 + 96 * 8);
        assert_eq!(Function::TopologyDescriptionCreate.offset(), 40 + 82 * 8);
        assert_eq!(Function::Compile.offset(), 40 + 89 * 8);
    }
}
