//! The one error type of this crate.

use std::fmt;
use std::path::PathBuf;

use crate::ElementType;

/// `PJRT_Error_Code`: the absl status codes a plugin reports.
#[allow(missing_docs)] // the absl names say it all
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Cancelled,
    Unknown,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    Unavailable,
    DataLoss,
    Unauthenticated,
    /// A code this crate does not know (a newer plugin).
    Other(u32),
}

impl ErrorCode {
    pub(crate) fn from_raw(code: u32) -> ErrorCode {
        use ErrorCode::*;
        match code {
            1 => Cancelled,
            2 => Unknown,
            3 => InvalidArgument,
            4 => DeadlineExceeded,
            5 => NotFound,
            6 => AlreadyExists,
            7 => PermissionDenied,
            8 => ResourceExhausted,
            9 => FailedPrecondition,
            10 => Aborted,
            11 => OutOfRange,
            12 => Unimplemented,
            13 => Internal,
            14 => Unavailable,
            15 => DataLoss,
            16 => Unauthenticated,
            other => Other(other),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorCode::*;
        let name = match self {
            Cancelled => "CANCELLED",
            Unknown => "UNKNOWN",
            InvalidArgument => "INVALID_ARGUMENT",
            DeadlineExceeded => "DEADLINE_EXCEEDED",
            NotFound => "NOT_FOUND",
            AlreadyExists => "ALREADY_EXISTS",
            PermissionDenied => "PERMISSION_DENIED",
            ResourceExhausted => "RESOURCE_EXHAUSTED",
            FailedPrecondition => "FAILED_PRECONDITION",
            Aborted => "ABORTED",
            OutOfRange => "OUT_OF_RANGE",
            Unimplemented => "UNIMPLEMENTED",
            Internal => "INTERNAL",
            Unavailable => "UNAVAILABLE",
            DataLoss => "DATA_LOSS",
            Unauthenticated => "UNAUTHENTICATED",
            Other(code) => return write!(f, "code {code}"),
        };
        f.write_str(name)
    }
}

/// Everything that can go wrong between ouro and a PJRT plugin.
///
/// Variant fields are the values named in each variant's message.
#[allow(missing_docs)]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // === Errors reported by the plugin ===
    /// A PJRT function returned an error.
    #[error("{function} failed ({code}): {message}")]
    Pjrt { function: &'static str, code: ErrorCode, message: String },

    // === Finding and loading a plugin ===
    /// The plugin file does not exist.
    #[error("PJRT plugin not found at {path}{hint}")]
    PluginNotFound { path: PathBuf, hint: String },
    /// The file exists but the dynamic loader refused it.
    #[error("cannot load {path} as a shared library: {reason}")]
    PluginLoad { path: PathBuf, reason: String },
    /// The library has no `GetPjrtApi` or it returned nothing.
    #[error("{path} is not a PJRT plugin: {reason}")]
    NotAPlugin { path: PathBuf, reason: String },
    /// The plugin speaks another major version of the C API.
    #[error(
        "{path} implements PJRT C API {major}.{minor}, but ouro speaks major version {expected}; \
         use a plugin built for PJRT API {expected}.x"
    )]
    ApiMajorMismatch { path: PathBuf, major: i32, minor: i32, expected: i32 },
    /// The plugin refused an argument struct laid out by an older header than its own.
    #[error(
        "{function} was refused by a plugin of PJRT C API 0.{plugin_minor}, newer than the 0.{ours} \
         layouts ouro declares: {message}. Update crates/pjrt/src/sys.rs from the plugin's header, \
         or use a plugin of API 0.{ours}"
    )]
    ApiSkew { function: &'static str, plugin_minor: i32, ours: i32, message: String },
    /// The plugin's function table ends before an entry ouro needs.
    #[error("{function} is not provided by the plugin (PJRT API 0.{minor} at {path}); a newer plugin is needed")]
    MissingFunction { function: &'static str, path: PathBuf, minor: i32 },
    /// The plugin could not be located for a platform.
    #[error("no PJRT plugin for platform '{platform}': {reason}")]
    NoPluginForPlatform { platform: String, reason: String },
    /// A platform name that is not cpu, gpu (cuda) or tpu.
    #[error("unknown platform '{0}': expected cpu, gpu, cuda or tpu")]
    UnknownPlatform(String),
    /// Client creation took longer than allowed (libtpu waiting on a metadata server).
    #[error("{what} did not finish within {seconds} s. {advice}")]
    Timeout { what: String, seconds: u64, advice: String },

    // === Provisioning a pinned plugin ===
    /// Fetching or unpacking a pinned plugin failed.
    #[error("could not provision {what}: {message}")]
    Provision { what: String, message: String },

    // === Misuse caught before calling the plugin ===
    /// Host data whose length does not match the buffer's shape.
    #[error("host data for a {element_type} buffer of shape {dims:?} must be {expected} bytes, got {actual}")]
    HostDataSize { element_type: ElementType, dims: Vec<i64>, expected: usize, actual: usize },
    /// A negative dimension.
    #[error("invalid buffer shape {dims:?}: dimensions must be >= 0")]
    InvalidShape { dims: Vec<i64> },
    /// The Rust element type does not match the buffer.
    #[error("buffer holds {actual} but {expected} was requested")]
    ElementTypeMismatch { expected: ElementType, actual: ElementType },
    /// A PJRT element type ouro does not handle.
    #[error("unsupported element type (PJRT_Buffer_Type {0})")]
    UnsupportedElementType(u32),
    /// The buffer was donated to an execution or deleted.
    #[error("{what}: the buffer was {state} and can no longer be used")]
    BufferDeleted { what: &'static str, state: &'static str },
    /// Wrong number of arguments for an executable.
    #[error("{executable}: expects {expected} arguments, got {actual}")]
    ArgumentCount { executable: String, expected: usize, actual: usize },
    /// An argument whose type differs from the program's parameter.
    #[error("{executable}: argument {index} must be {expected}, got {actual}")]
    ArgumentType { executable: String, index: usize, expected: String, actual: String },
    /// Wrong number of per-device argument lists, or lists of different lengths.
    #[error("{executable}: {message}")]
    ArgumentLists { executable: String, message: String },
    /// A donation request that cannot be honoured.
    #[error("{executable}: {message}")]
    Donation { executable: String, message: String },
    /// A buffer or device that belongs to another client.
    #[error("{0}: belongs to another PJRT client")]
    ForeignObject(&'static str),
    /// A device index outside the client's addressable devices.
    #[error("device {index} does not exist: the client has {count} addressable devices")]
    NoSuchDevice { index: usize, count: usize },
    /// A plugin returned something the C API does not allow (a null handle, a bad count).
    #[error("{function} returned an invalid result: {message}")]
    PluginContract { function: &'static str, message: String },

    // === Files ===
    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), source }
    }

    /// The PJRT code, if the plugin reported this error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Pjrt { code, .. } => Some(*code),
            _ => None,
        }
    }
}
