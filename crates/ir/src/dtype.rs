//! Element types.

use std::fmt;

/// The element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// Boolean (`i1` in StableHLO).
    Pred,
    /// Signed 8-bit integer.
    I8,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
    /// Unsigned 8-bit integer.
    U8,
    /// Unsigned 32-bit integer.
    U32,
    /// Unsigned 64-bit integer (the state of `rng_bit_generator`).
    U64,
    /// IEEE half precision.
    F16,
    /// bfloat16.
    BF16,
    /// IEEE single precision.
    F32,
    /// IEEE double precision.
    F64,
}

impl DType {
    /// Every dtype.
    pub const ALL: [DType; 11] = [
        DType::Pred,
        DType::I8,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::U32,
        DType::U64,
        DType::F16,
        DType::BF16,
        DType::F32,
        DType::F64,
    ];

    /// Floating point.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }

    /// Signed or unsigned integer (not pred).
    pub fn is_int(self) -> bool {
        matches!(self, DType::I8 | DType::I32 | DType::I64 | DType::U8 | DType::U32 | DType::U64)
    }

    /// Unsigned integer.
    pub fn is_unsigned(self) -> bool {
        matches!(self, DType::U8 | DType::U32 | DType::U64)
    }

    /// Integer or pred: the types bitwise ops accept.
    pub fn is_bitwise(self) -> bool {
        self.is_int() || self == DType::Pred
    }

    /// Bits per element.
    pub fn bits(self) -> u32 {
        match self {
            DType::Pred => 1,
            DType::I8 | DType::U8 => 8,
            DType::F16 | DType::BF16 => 16,
            DType::I32 | DType::U32 | DType::F32 => 32,
            DType::I64 | DType::U64 | DType::F64 => 64,
        }
    }

    /// Bytes per element in memory (pred takes a byte).
    pub fn size_in_bytes(self) -> usize {
        (self.bits() as usize).div_ceil(8)
    }

    /// The StableHLO spelling.
    pub fn mlir(self) -> &'static str {
        match self {
            DType::Pred => "i1",
            DType::I8 => "i8",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::U8 => "ui8",
            DType::U32 => "ui32",
            DType::U64 => "ui64",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }

    /// Parses a name as written in configs and by [`fmt::Display`] (`f32`, `bfloat16`, `pred`, ...).
    pub fn parse(name: &str) -> Option<DType> {
        Some(match name {
            "pred" | "bool" | "i1" => DType::Pred,
            "i8" | "int8" => DType::I8,
            "i32" | "int32" => DType::I32,
            "i64" | "int64" => DType::I64,
            "u8" | "ui8" | "uint8" => DType::U8,
            "u32" | "ui32" | "uint32" => DType::U32,
            "u64" | "ui64" | "uint64" => DType::U64,
            "f16" | "float16" => DType::F16,
            "bf16" | "bfloat16" => DType::BF16,
            "f32" | "float32" => DType::F32,
            "f64" | "float64" => DType::F64,
            _ => return None,
        })
    }

    /// The smallest and largest finite values, as f64.
    pub fn finite_range(self) -> (f64, f64) {
        match self {
            DType::Pred => (0.0, 1.0),
            DType::I8 => (i8::MIN as f64, i8::MAX as f64),
            DType::I32 => (i32::MIN as f64, i32::MAX as f64),
            DType::I64 => (i64::MIN as f64, i64::MAX as f64),
            DType::U8 => (0.0, u8::MAX as f64),
            DType::U32 => (0.0, u32::MAX as f64),
            DType::U64 => (0.0, u64::MAX as f64),
            DType::F16 => (-65504.0, 65504.0),
            DType::BF16 => (-3.3895313892515355e38, 3.3895313892515355e38),
            DType::F32 => (f32::MIN as f64, f32::MAX as f64),
            DType::F64 => (f64::MIN, f64::MAX),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::Pred => "pred",
            DType::U8 => "u8",
            DType::U32 => "u32",
            DType::U64 => "u64",
            other => other.mlir(),
        })
    }
}
