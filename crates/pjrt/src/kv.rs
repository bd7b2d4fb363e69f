//! The key-value store a multi-process client exchanges its topology through.
//!
//! On a TPU pod slice or a multi-node GPU job every process creates its own client, and the
//! plugin asks the framework for a store shared by all of them (`kv_get`, `kv_try_get` and
//! `kv_put` in `PJRT_Client_Create_Args`): each process puts its local topology and reads the
//! others'. ouro implements the callbacks over any [`KeyValueStore`]; the store itself (a TCP
//! service on the coordinator) lives in `ouro-cluster`.

use std::ffi::{c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use crate::sys;

/// Why a store operation failed; each maps to the status code the plugin expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvErrorKind {
    /// No such key (a `try_get` of a missing key).
    NotFound,
    /// A `get` waited its whole timeout.
    DeadlineExceeded,
    /// The store cannot be reached.
    Unavailable,
}

/// A failed store operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvError {
    /// What kind of failure.
    pub kind: KvErrorKind,
    /// What happened, for the plugin's error message.
    pub message: String,
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for KvError {}

/// A store every process of a job reaches. Implementations must be thread-safe: the plugin calls
/// from its own threads.
pub trait KeyValueStore: Send + Sync {
    /// The value of `key`, waiting up to `timeout` for another process to put it.
    fn get(&self, key: &str, timeout: Duration) -> Result<Vec<u8>, KvError>;
    /// The value of `key` if it is there now.
    fn try_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Sets `key` (visible to every process).
    fn put(&self, key: &str, value: &[u8]) -> Result<(), KvError>;
}

/// A store handed to a plugin, with the prefix that keeps its keys apart from other users of the
/// same store (the C API leaves collisions between plugins to the framework).
#[derive(Clone)]
pub struct KvBinding {
    store: Arc<dyn KeyValueStore>,
    prefix: String,
}

impl std::fmt::Debug for KvBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KvBinding(prefix {:?})", self.prefix)
    }
}

impl KvBinding {
    /// `store`, every key the plugin uses prefixed by `prefix`.
    pub fn new(store: Arc<dyn KeyValueStore>, prefix: &str) -> KvBinding {
        KvBinding { store, prefix: prefix.to_string() }
    }

    fn key(&self, raw: *const c_char, size: usize) -> String {
        // SAFETY: the plugin passes `size` bytes at `raw`, alive for the call.
        let bytes = unsafe { bytes_from_raw(raw, size) };
        format!("{}{}", self.prefix, String::from_utf8_lossy(bytes))
    }

    /// Fills the three callback pairs of `args`; `self` must outlive the client.
    pub(crate) fn install(self: &KvBinding, args: &mut sys::PJRT_Client_Create_Args) {
        let user = self as *const KvBinding as *mut c_void;
        args.kv_get_callback = Some(kv_get);
        args.kv_get_user_arg = user;
        args.kv_try_get_callback = Some(kv_try_get);
        args.kv_try_get_user_arg = user;
        args.kv_put_callback = Some(kv_put);
        args.kv_put_user_arg = user;
    }
}

/// # Safety
/// `raw` points at `size` readable bytes (or `size` is 0).
unsafe fn bytes_from_raw<'a>(raw: *const c_char, size: usize) -> &'a [u8] {
    if raw.is_null() || size == 0 {
        return &[];
    }
    // SAFETY: as the caller promises.
    unsafe { std::slice::from_raw_parts(raw.cast::<u8>(), size) }
}

const LENGTH_HEADER: usize = std::mem::size_of::<usize>();

/// Copies `value` into memory that [`free_value`] releases: the deleter receives only the
/// pointer, so the length travels in a header just before it.
fn leak_value(value: &[u8]) -> (*mut c_char, usize) {
    let mut block = Vec::with_capacity(LENGTH_HEADER + value.len());
    block.extend_from_slice(&value.len().to_ne_bytes());
    block.extend_from_slice(value);
    let block = Box::into_raw(block.into_boxed_slice()).cast::<u8>();
    // SAFETY: the block is LENGTH_HEADER + len bytes long.
    (unsafe { block.add(LENGTH_HEADER) }.cast::<c_char>(), value.len())
}

unsafe extern "C" fn free_value(value: *mut c_char) {
    if value.is_null() {
        return;
    }
    // SAFETY: `value` came from `leak_value`, whose block starts LENGTH_HEADER bytes before it
    // and holds the value's length there.
    unsafe {
        let block = value.cast::<u8>().sub(LENGTH_HEADER);
        let len = usize::from_ne_bytes(std::ptr::read_unaligned(block.cast::<[u8; LENGTH_HEADER]>()));
        drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(block, LENGTH_HEADER + len)));
    }
}

/// Builds the plugin's error for `e` through its `callback_error`.
///
/// # Safety
/// `make` is null or the plugin's `PJRT_CallbackError` for this call.
unsafe fn plugin_error(make: *mut sys::PJRT_CallbackError, e: &KvError) -> *mut sys::PJRT_Error {
    let code = match e.kind {
        KvErrorKind::NotFound => 5,
        KvErrorKind::DeadlineExceeded => 4,
        KvErrorKind::Unavailable => 14,
    };
    if make.is_null() {
        tracing::warn!("the PJRT plugin gave no error constructor; dropping the key-value error: {e}");
        return std::ptr::null_mut();
    }
    // SAFETY: a non-null `make` points at the plugin's constructor, which copies the message.
    unsafe { (*make)(code, e.message.as_ptr().cast(), e.message.len()) }
}

/// Runs `f`, turning a panic into an error (unwinding into the plugin is undefined behaviour).
fn guarded<T>(f: impl FnOnce() -> Result<T, KvError>) -> Result<T, KvError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(KvError { kind: KvErrorKind::Unavailable, message: "the key-value store panicked".into() })
    })
}

/// Hands a get's result to the plugin: the value with its deleter, or the plugin's error.
///
/// # Safety
/// `make` is null or the plugin's `PJRT_CallbackError` for this call.
unsafe fn reply(
    result: Result<Vec<u8>, KvError>,
    value: &mut *mut c_char,
    size: &mut usize,
    deleter: &mut Option<sys::PJRT_KeyValue_ValueDeleter>,
    make: *mut sys::PJRT_CallbackError,
) -> *mut sys::PJRT_Error {
    match result {
        Ok(v) => {
            (*value, *size) = leak_value(&v);
            *deleter = Some(free_value);
            std::ptr::null_mut()
        }
        // SAFETY: as the caller promises.
        Err(e) => unsafe { plugin_error(make, &e) },
    }
}

unsafe extern "C" fn kv_get(args: *mut sys::PJRT_KeyValueGetCallback_Args) -> *mut sys::PJRT_Error {
    // SAFETY: the plugin passes valid arguments whose user_arg is the installed KvBinding.
    let args = unsafe { &mut *args };
    // SAFETY: as above.
    let binding = unsafe { &*(args.user_arg as *const KvBinding) };
    let timeout = Duration::from_millis(args.timeout_in_ms.max(0) as u64);
    let result = guarded(|| binding.store.get(&binding.key(args.key, args.key_size), timeout));
    // SAFETY: callback_error is the plugin's.
    unsafe {
        reply(result, &mut args.value, &mut args.value_size, &mut args.value_deleter_callback, args.callback_error)
    }
}

unsafe extern "C" fn kv_try_get(args: *mut sys::PJRT_KeyValueTryGetCallback_Args) -> *mut sys::PJRT_Error {
    // SAFETY: as in `kv_get`.
    let args = unsafe { &mut *args };
    // SAFETY: as in `kv_get`.
    let binding = unsafe { &*(args.user_arg as *const KvBinding) };
    let key = binding.key(args.key, args.key_size);
    let result = guarded(|| match binding.store.try_get(&key)? {
        Some(value) => Ok(value),
        None => Err(KvError { kind: KvErrorKind::NotFound, message: format!("no key {key}") }),
    });
    // SAFETY: callback_error is the plugin's.
    unsafe {
        reply(result, &mut args.value, &mut args.value_size, &mut args.value_deleter_callback, args.callback_error)
    }
}

unsafe extern "C" fn kv_put(args: *mut sys::PJRT_KeyValuePutCallback_Args) -> *mut sys::PJRT_Error {
    // SAFETY: as in `kv_get`.
    let args = unsafe { &mut *args };
    // SAFETY: as in `kv_get`.
    let binding = unsafe { &*(args.user_arg as *const KvBinding) };
    // SAFETY: the plugin passes `value_size` bytes alive for the call.
    let value = unsafe { bytes_from_raw(args.value, args.value_size) };
    match guarded(|| binding.store.put(&binding.key(args.key, args.key_size), value)) {
        Ok(()) => std::ptr::null_mut(),
        // SAFETY: callback_error is the plugin's.
        Err(e) => unsafe { plugin_error(args.callback_error, &e) },
    }
}

#[cfg(test)]
mod tests {
    //! The callbacks driven exactly as a plugin drives them: through the function pointers
    //! `install` sets, with a `PJRT_CallbackError` of our own that records what it is given.
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct MapStore(Mutex<HashMap<String, Vec<u8>>>);

    impl KeyValueStore for MapStore {
        fn get(&self, key: &str, timeout: Duration) -> Result<Vec<u8>, KvError> {
            self.0.lock().unwrap().get(key).cloned().ok_or_else(|| KvError {
                kind: KvErrorKind::DeadlineExceeded,
                message: format!("{key} not set within {timeout:?}"),
            })
        }
        fn try_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
            Ok(self.0.lock().unwrap().get(key).cloned())
        }
        fn put(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
            self.0.lock().unwrap().insert(key.to_string(), value.to_vec());
            Ok(())
        }
    }

    /// The "plugin's" errors: a leaked (code, message), returned as the opaque pointer.
    unsafe extern "C" fn record_error(code: u32, message: *const c_char, size: usize) -> *mut sys::PJRT_Error {
        // SAFETY: the callback passes `size` bytes.
        let text = String::from_utf8(unsafe { bytes_from_raw(message, size) }.to_vec()).unwrap();
        Box::into_raw(Box::new((code, text))).cast()
    }

    fn take_error(e: *mut sys::PJRT_Error) -> (u32, String) {
        assert!(!e.is_null(), "expected an error");
        // SAFETY: made by `record_error`.
        *unsafe { Box::from_raw(e.cast::<(u32, String)>()) }
    }

    fn installed(store: Arc<MapStore>) -> (Box<KvBinding>, sys::PJRT_Client_Create_Args) {
        let binding = Box::new(KvBinding::new(store, "gpu:"));
        let mut args = <sys::PJRT_Client_Create_Args as sys::PjrtArgs>::new();
        binding.install(&mut args);
        (binding, args)
    }

    #[test]
    fn put_then_get_round_trips_through_the_callbacks_with_the_prefix() {
        let store = Arc::new(MapStore::default());
        let (_binding, create) = installed(store.clone());
        let mut make_error: sys::PJRT_CallbackError = record_error;
        let (key, value) = ("node:1", b"topology \x00 bytes".as_slice());
        let mut put = sys::PJRT_KeyValuePutCallback_Args {
            struct_size: std::mem::size_of::<sys::PJRT_KeyValuePutCallback_Args>(),
            extension_start: std::ptr::null_mut(),
            key: key.as_ptr().cast(),
            key_size: key.len(),
            value: value.as_ptr().cast(),
            value_size: value.len(),
            callback_error: &mut make_error,
            user_arg: create.kv_put_user_arg,
        };
        // SAFETY: the arguments are valid for the call, as a plugin's are.
        assert!(unsafe { create.kv_put_callback.unwrap()(&mut put) }.is_null());
        assert_eq!(store.0.lock().unwrap().get("gpu:node:1").unwrap(), value);

        let mut get = sys::PJRT_KeyValueGetCallback_Args {
            struct_size: std::mem::size_of::<sys::PJRT_KeyValueGetCallback_Args>(),
            extension_start: std::ptr::null_mut(),
            key: key.as_ptr().cast(),
            key_size: key.len(),
            timeout_in_ms: 1000,
            callback_error: &mut make_error,
            user_arg: create.kv_get_user_arg,
            value: std::ptr::null_mut(),
            value_size: 0,
            value_deleter_callback: None,
        };
        // SAFETY: as above.
        assert!(unsafe { create.kv_get_callback.unwrap()(&mut get) }.is_null());
        // SAFETY: the callback returned value_size bytes at value.
        assert_eq!(unsafe { bytes_from_raw(get.value, get.value_size) }, value);
        // SAFETY: the plugin frees the value with the deleter it was given, once.
        unsafe { get.value_deleter_callback.unwrap()(get.value) };
    }

    #[test]
    fn missing_keys_become_the_plugin_s_not_found_and_deadline_errors() {
        let (_binding, create) = installed(Arc::new(MapStore::default()));
        let mut make_error: sys::PJRT_CallbackError = record_error;
        let key = "absent";
        let mut try_get = sys::PJRT_KeyValueTryGetCallback_Args {
            struct_size: std::mem::size_of::<sys::PJRT_KeyValueTryGetCallback_Args>(),
            extension_start: std::ptr::null_mut(),
            key: key.as_ptr().cast(),
            key_size: key.len(),
            callback_error: &mut make_error,
            user_arg: create.kv_try_get_user_arg,
            value: std::ptr::null_mut(),
            value_size: 0,
            value_deleter_callback: None,
        };
        // SAFETY: valid arguments.
        let (code, message) = take_error(unsafe { create.kv_try_get_callback.unwrap()(&mut try_get) });
        assert_eq!((code, message.as_str()), (5, "no key gpu:absent"));
        assert!(try_get.value.is_null());

        let mut get = sys::PJRT_KeyValueGetCallback_Args {
            struct_size: std::mem::size_of::<sys::PJRT_KeyValueGetCallback_Args>(),
            extension_start: std::ptr::null_mut(),
            key: key.as_ptr().cast(),
            key_size: key.len(),
            timeout_in_ms: 20,
            callback_error: &mut make_error,
            user_arg: create.kv_get_user_arg,
            value: std::ptr::null_mut(),
            value_size: 0,
            value_deleter_callback: None,
        };
        // SAFETY: valid arguments.
        let (code, message) = take_error(unsafe { create.kv_get_callback.unwrap()(&mut get) });
        assert_eq!(code, 4);
        assert!(message.contains("gpu:absent not set within 20ms"), "{message}");
    }
}
