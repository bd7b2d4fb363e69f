//! `PJRT_NamedValue` in both directions: options we pass, attributes we read.

use std::ffi::c_char;
use std::fmt;

use crate::sys;

/// A typed value of a PJRT key-value pair.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)] // one variant per PJRT_NamedValue_Type
pub enum NamedValue {
    String(String),
    Int64(i64),
    Int64List(Vec<i64>),
    Float(f32),
    Bool(bool),
}

impl fmt::Display for NamedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamedValue::String(s) => write!(f, "{s}"),
            NamedValue::Int64(v) => write!(f, "{v}"),
            NamedValue::Int64List(v) => {
                let parts: Vec<String> = v.iter().map(i64::to_string).collect();
                write!(f, "[{}]", parts.join(","))
            }
            NamedValue::Float(v) => write!(f, "{v}"),
            NamedValue::Bool(v) => write!(f, "{v}"),
        }
    }
}

/// Copies `size` bytes at `data` into a `String` (lossy UTF-8); null gives an empty string.
///
/// # Safety
/// `data` must be null or point at `size` readable bytes.
pub(crate) unsafe fn string_from_raw(data: *const c_char, size: usize) -> String {
    if data.is_null() || size == 0 {
        return String::new();
    }
    // SAFETY: guaranteed by the caller.
    let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size) };
    String::from_utf8_lossy(bytes).into_owned()
}

/// Copies an array of `PJRT_NamedValue`s returned by a plugin.
///
/// # Safety
/// `values` must be null or point at `count` valid named values whose strings and lists are
/// alive for the duration of the call.
pub(crate) unsafe fn read_named_values(values: *const sys::PJRT_NamedValue, count: usize) -> Vec<(String, NamedValue)> {
    if values.is_null() {
        return Vec::new();
    }
    // SAFETY: guaranteed by the caller.
    let values = unsafe { std::slice::from_raw_parts(values, count) };
    values
        .iter()
        .filter_map(|v| {
            // SAFETY: a valid named value (caller); the union member read is the one `value_type`
            // names, and strings/lists have `value_size` elements.
            unsafe {
                let name = string_from_raw(v.name, v.name_size);
                let value = match v.value_type {
                    sys::PJRT_NAMED_VALUE_STRING => {
                        NamedValue::String(string_from_raw(v.value.string_value, v.value_size))
                    }
                    sys::PJRT_NAMED_VALUE_INT64 => NamedValue::Int64(v.value.int64_value),
                    sys::PJRT_NAMED_VALUE_INT64_LIST => {
                        let ptr = v.value.int64_array_value;
                        if ptr.is_null() {
                            NamedValue::Int64List(Vec::new())
                        } else {
                            NamedValue::Int64List(std::slice::from_raw_parts(ptr, v.value_size).to_vec())
                        }
                    }
                    sys::PJRT_NAMED_VALUE_FLOAT => NamedValue::Float(v.value.float_value),
                    sys::PJRT_NAMED_VALUE_BOOL => NamedValue::Bool(v.value.bool_value),
                    // A type added by a newer plugin: skip rather than misread it.
                    _ => return None,
                };
                Some((name, value))
            }
        })
        .collect()
}

/// Named values laid out for the C API; the strings and lists they point to are owned here,
/// so the raw array is valid as long as this value lives.
pub(crate) struct RawNamedValues {
    // Keeps the pointed-to data alive.
    _names: Vec<Vec<u8>>,
    _strings: Vec<Vec<u8>>,
    _lists: Vec<Vec<i64>>,
    raw: Vec<sys::PJRT_NamedValue>,
}

impl RawNamedValues {
    pub(crate) fn new(values: &[(String, NamedValue)]) -> RawNamedValues {
        let names: Vec<Vec<u8>> = values.iter().map(|(n, _)| n.as_bytes().to_vec()).collect();
        let mut strings = Vec::new();
        let mut lists = Vec::new();
        let mut raw = Vec::with_capacity(values.len());
        for ((_, value), name) in values.iter().zip(&names) {
            let (value_type, union, size) = match value {
                NamedValue::String(s) => {
                    let bytes = s.as_bytes().to_vec();
                    let v = sys::PJRT_NamedValue_Value { string_value: bytes.as_ptr().cast() };
                    let len = bytes.len();
                    strings.push(bytes);
                    (sys::PJRT_NAMED_VALUE_STRING, v, len)
                }
                NamedValue::Int64(i) => {
                    (sys::PJRT_NAMED_VALUE_INT64, sys::PJRT_NamedValue_Value { int64_value: *i }, 1)
                }
                NamedValue::Int64List(l) => {
                    let list = l.clone();
                    let v = sys::PJRT_NamedValue_Value { int64_array_value: list.as_ptr() };
                    let len = list.len();
                    lists.push(list);
                    (sys::PJRT_NAMED_VALUE_INT64_LIST, v, len)
                }
                NamedValue::Float(x) => {
                    (sys::PJRT_NAMED_VALUE_FLOAT, sys::PJRT_NamedValue_Value { float_value: *x }, 1)
                }
                NamedValue::Bool(b) => (sys::PJRT_NAMED_VALUE_BOOL, sys::PJRT_NamedValue_Value { bool_value: *b }, 1),
            };
            raw.push(sys::PJRT_NamedValue {
                struct_size: sys::PJRT_NamedValue::STRUCT_SIZE,
                extension_start: std::ptr::null_mut(),
                name: name.as_ptr().cast(),
                name_size: name.len(),
                value_type,
                value: union,
                value_size: size,
            });
        }
        // Moving the Vecs into the struct does not move their heap buffers, so the pointers stay valid.
        RawNamedValues { _names: names, _strings: strings, _lists: lists, raw }
    }

    pub(crate) fn as_ptr(&self) -> *const sys::PJRT_NamedValue {
        self.raw.as_ptr()
    }

    pub(crate) fn len(&self) -> usize {
        self.raw.len()
    }
}
