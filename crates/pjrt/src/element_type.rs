//! Element types of device buffers and the Rust types that map onto them.

use std::fmt;

use crate::error::{Error, Result};
use crate::sys::PJRT_Buffer_Type;

/// The element type of a buffer (`PJRT_Buffer_Type`), limited to those ouro moves between host
/// and device. Variants are named as XLA names them (`S32` is a signed 32-bit integer).
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementType {
    Pred,
    S8,
    S16,
    S32,
    S64,
    U8,
    U16,
    U32,
    U64,
    F16,
    F32,
    F64,
    BF16,
}

impl ElementType {
    /// Every element type, in `PJRT_Buffer_Type` order.
    pub const ALL: [ElementType; 13] = [
        ElementType::Pred,
        ElementType::S8,
        ElementType::S16,
        ElementType::S32,
        ElementType::S64,
        ElementType::U8,
        ElementType::U16,
        ElementType::U32,
        ElementType::U64,
        ElementType::F16,
        ElementType::F32,
        ElementType::F64,
        ElementType::BF16,
    ];

    /// The `PJRT_Buffer_Type` code.
    pub fn to_raw(self) -> PJRT_Buffer_Type {
        match self {
            ElementType::Pred => 1,
            ElementType::S8 => 2,
            ElementType::S16 => 3,
            ElementType::S32 => 4,
            ElementType::S64 => 5,
            ElementType::U8 => 6,
            ElementType::U16 => 7,
            ElementType::U32 => 8,
            ElementType::U64 => 9,
            ElementType::F16 => 10,
            ElementType::F32 => 11,
            ElementType::F64 => 12,
            ElementType::BF16 => 13,
        }
    }

    /// From a `PJRT_Buffer_Type` code.
    pub fn from_raw(code: PJRT_Buffer_Type) -> Result<ElementType> {
        ElementType::ALL.into_iter().find(|t| t.to_raw() == code).ok_or(Error::UnsupportedElementType(code))
    }

    /// Bytes per element on the host (pred is one byte).
    pub fn size_in_bytes(self) -> usize {
        match self {
            ElementType::Pred | ElementType::S8 | ElementType::U8 => 1,
            ElementType::S16 | ElementType::U16 | ElementType::F16 | ElementType::BF16 => 2,
            ElementType::S32 | ElementType::U32 | ElementType::F32 => 4,
            ElementType::S64 | ElementType::U64 | ElementType::F64 => 8,
        }
    }

    /// The StableHLO spelling (`f32`, `bf16`, `i1`, `ui8`, ...).
    pub fn stablehlo_name(self) -> &'static str {
        match self {
            ElementType::Pred => "i1",
            ElementType::S8 => "i8",
            ElementType::S16 => "i16",
            ElementType::S32 => "i32",
            ElementType::S64 => "i64",
            ElementType::U8 => "ui8",
            ElementType::U16 => "ui16",
            ElementType::U32 => "ui32",
            ElementType::U64 => "ui64",
            ElementType::F16 => "f16",
            ElementType::F32 => "f32",
            ElementType::F64 => "f64",
            ElementType::BF16 => "bf16",
        }
    }

    /// Parses a StableHLO element type name.
    pub fn from_stablehlo_name(name: &str) -> Option<ElementType> {
        ElementType::ALL.into_iter().find(|t| t.stablehlo_name() == name)
    }
}

impl fmt::Display for ElementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ElementType::Pred => "pred",
            other => other.stablehlo_name(),
        })
    }
}

/// A Rust type stored bit-for-bit as a buffer element.
///
/// # Safety
/// `Self` must have the size of `ELEMENT_TYPE`, no padding, and every bit pattern of that size
/// must be a valid `Self` (device results are read straight into `Vec<Self>`). `bool` does not
/// qualify; predicates move through [`crate::Buffer::to_host_pred`] and
/// [`crate::Client::buffer_from_pred`].
pub unsafe trait NativeType: Copy + Send + Sync + 'static {
    /// The matching element type.
    const ELEMENT_TYPE: ElementType;
}

macro_rules! native {
    ($($ty:ty => $et:ident),* $(,)?) => {$(
        // SAFETY: a plain number type of the element's width, valid for every bit pattern.
        unsafe impl NativeType for $ty { const ELEMENT_TYPE: ElementType = ElementType::$et; }
    )*};
}
native!(
    i8 => S8, i16 => S16, i32 => S32, i64 => S64,
    u8 => U8, u16 => U16, u32 => U32, u64 => U64,
    half::f16 => F16, f32 => F32, f64 => F64, half::bf16 => BF16,
);

/// The bytes of a slice of native values.
pub(crate) fn as_bytes<T: NativeType>(data: &[T]) -> &[u8] {
    // SAFETY: `NativeType` values have no padding, so their memory is initialized bytes.
    unsafe { std::slice::from_raw_parts(data.as_ptr().cast::<u8>(), std::mem::size_of_val(data)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_codes_round_trip() {
        for t in ElementType::ALL {
            assert_eq!(ElementType::from_raw(t.to_raw()).unwrap(), t);
            assert_eq!(ElementType::from_stablehlo_name(t.stablehlo_name()), Some(t));
        }
        assert!(matches!(ElementType::from_raw(23), Err(Error::UnsupportedElementType(23))));
    }

    #[test]
    fn native_sizes_match() {
        fn check<T: NativeType>() {
            assert_eq!(std::mem::size_of::<T>(), T::ELEMENT_TYPE.size_in_bytes());
        }
        check::<i8>();
        check::<i64>();
        check::<half::bf16>();
        check::<half::f16>();
        check::<f64>();
        check::<u32>();
    }
}
