//! Host arrays: constants in the IR, values of the reference interpreter, and host data moved
//! to and from devices.
//!
//! Floats are held as `f64` and integers (and pred) as `i64`, so the interpreter computes in the
//! widest precision; [`HostArray::new`] rounds or wraps every element to its dtype, so an array
//! always holds exactly representable values.

use ndarray::{ArrayD, IxDyn};

use crate::{DType, TensorType};

/// Elements of a host array.
#[derive(Clone, Debug, PartialEq)]
pub enum Elements {
    /// Floating-point dtypes.
    Float(ArrayD<f64>),
    /// Integer dtypes and pred (0 or 1); u64 holds its bit pattern.
    Int(ArrayD<i64>),
}

/// A dense array on the host with a dtype.
#[derive(Clone, Debug, PartialEq)]
pub struct HostArray {
    dtype: DType,
    elements: Elements,
}

/// Rounds a float to the precision of `dtype`.
pub fn round_float(dtype: DType, v: f64) -> f64 {
    match dtype {
        DType::F32 => v as f32 as f64,
        DType::BF16 => half::bf16::from_f64(v).to_f64(),
        DType::F16 => half::f16::from_f64(v).to_f64(),
        _ => v,
    }
}

/// Wraps an integer to the range of `dtype` (two's complement), or maps it to 0/1 for pred.
pub fn wrap_int(dtype: DType, v: i64) -> i64 {
    match dtype {
        DType::Pred => i64::from(v != 0),
        DType::I8 => v as i8 as i64,
        DType::I32 => v as i32 as i64,
        DType::U8 => v as u8 as i64,
        DType::U32 => v as u32 as i64,
        _ => v,
    }
}

/// Converts a float to an integer of `dtype` the way XLA's convert does: truncation toward zero,
/// saturating at the type's range, NaN to 0.
pub fn float_to_int(dtype: DType, v: f64) -> i64 {
    if dtype == DType::Pred {
        return i64::from(v != 0.0);
    }
    if v.is_nan() {
        return 0;
    }
    let (lo, hi) = dtype.finite_range();
    let t = v.trunc().clamp(lo, hi);
    if dtype == DType::U64 { t as u64 as i64 } else { t as i64 }
}

/// An integer element as f64 (u64 read as unsigned).
pub fn int_to_float(dtype: DType, v: i64) -> f64 {
    if dtype == DType::U64 { v as u64 as f64 } else { v as f64 }
}

impl HostArray {
    /// An array from elements, each rounded or wrapped to `dtype`.
    ///
    /// # Panics
    /// If the element kind does not match the dtype (floats for a float dtype, integers
    /// otherwise); that is a bug in the caller, not a user error.
    pub fn new(dtype: DType, elements: Elements) -> HostArray {
        let elements = match elements {
            Elements::Float(a) => {
                assert!(dtype.is_float(), "float elements for {dtype}");
                Elements::Float(a.mapv(|v| round_float(dtype, v)))
            }
            Elements::Int(a) => {
                assert!(!dtype.is_float(), "integer elements for {dtype}");
                Elements::Int(a.mapv(|v| wrap_int(dtype, v)))
            }
        };
        HostArray { dtype, elements }
    }

    /// An array of `dtype` and `shape` from f64 values (converted for integer dtypes).
    ///
    /// # Panics
    /// If `values.len()` is not the product of `shape`.
    pub fn from_f64(dtype: DType, shape: &[usize], values: &[f64]) -> HostArray {
        assert_eq!(values.len(), shape.iter().product::<usize>(), "values for shape {shape:?}");
        let shape = IxDyn(shape);
        if dtype.is_float() {
            HostArray::new(
                dtype,
                Elements::Float(ArrayD::from_shape_vec(shape, values.to_vec()).expect("checked length")),
            )
        } else {
            let ints = values.iter().map(|&v| float_to_int(dtype, v)).collect();
            HostArray::new(dtype, Elements::Int(ArrayD::from_shape_vec(shape, ints).expect("checked length")))
        }
    }

    /// An integer (or pred) array from i64 values.
    ///
    /// # Panics
    /// If `dtype` is a float type or the length does not match the shape.
    pub fn from_i64(dtype: DType, shape: &[usize], values: &[i64]) -> HostArray {
        assert_eq!(values.len(), shape.iter().product::<usize>(), "values for shape {shape:?}");
        HostArray::new(
            dtype,
            Elements::Int(ArrayD::from_shape_vec(IxDyn(shape), values.to_vec()).expect("checked length")),
        )
    }

    /// A float array from f32 values.
    pub fn from_f32(shape: &[usize], values: &[f32]) -> HostArray {
        let v: Vec<f64> = values.iter().map(|&x| x as f64).collect();
        HostArray::from_f64(DType::F32, shape, &v)
    }

    /// Every element equal to `value`.
    pub fn full(ty: &TensorType, value: f64) -> HostArray {
        HostArray::from_f64(ty.dtype, &ty.shape, &vec![value; ty.num_elements()])
    }

    /// A scalar.
    pub fn scalar(dtype: DType, value: f64) -> HostArray {
        HostArray::from_f64(dtype, &[], &[value])
    }

    /// The dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match &self.elements {
            Elements::Float(a) => a.shape(),
            Elements::Int(a) => a.shape(),
        }
    }

    /// The tensor type.
    pub fn ty(&self) -> TensorType {
        TensorType::new(self.dtype, self.shape())
    }

    /// The elements.
    pub fn elements(&self) -> &Elements {
        &self.elements
    }

    /// Consumes the array into its elements.
    pub fn into_elements(self) -> Elements {
        self.elements
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape().iter().product()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements as f64 in row-major order.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match &self.elements {
            Elements::Float(a) => a.iter().copied().collect(),
            Elements::Int(a) => a.iter().map(|&v| int_to_float(self.dtype, v)).collect(),
        }
    }

    /// Elements as i64 in row-major order (floats truncated).
    pub fn to_i64_vec(&self) -> Vec<i64> {
        match &self.elements {
            Elements::Float(a) => a.iter().map(|&v| v as i64).collect(),
            Elements::Int(a) => a.iter().copied().collect(),
        }
    }

    /// Whether every element is the same (a splat constant).
    pub fn is_splat(&self) -> bool {
        match &self.elements {
            Elements::Float(a) => a.iter().all(|v| v.to_bits() == a.iter().next().map_or(0, |f| f.to_bits())),
            Elements::Int(a) => a.iter().all(|v| Some(v) == a.iter().next()),
        }
    }

    /// The dense little-endian bytes of the dtype, row-major (pred: one byte per element).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len() * self.dtype.size_in_bytes());
        match &self.elements {
            Elements::Float(a) => {
                for &v in a.iter() {
                    match self.dtype {
                        DType::F64 => out.extend(v.to_le_bytes()),
                        DType::F32 => out.extend((v as f32).to_le_bytes()),
                        DType::BF16 => out.extend(half::bf16::from_f64(v).to_le_bytes()),
                        DType::F16 => out.extend(half::f16::from_f64(v).to_le_bytes()),
                        _ => unreachable!("float elements hold a float dtype"),
                    }
                }
            }
            Elements::Int(a) => {
                let width = self.dtype.size_in_bytes();
                for &v in a.iter() {
                    out.extend_from_slice(&v.to_le_bytes()[..width]);
                }
            }
        }
        out
    }

    /// Reads dense little-endian bytes of `ty`; `None` if the length does not match.
    pub fn from_bytes(ty: &TensorType, bytes: &[u8]) -> Option<HostArray> {
        let width = ty.dtype.size_in_bytes();
        if bytes.len() != ty.num_elements() * width {
            return None;
        }
        let shape = IxDyn(&ty.shape);
        let chunks = bytes.chunks_exact(width);
        let elements = if ty.dtype.is_float() {
            let v: Vec<f64> = match ty.dtype {
                DType::F64 => chunks.map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect(),
                DType::F32 => chunks.map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64).collect(),
                DType::BF16 => chunks.map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f64()).collect(),
                _ => chunks.map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f64()).collect(),
            };
            Elements::Float(ArrayD::from_shape_vec(shape, v).ok()?)
        } else {
            let signed = !ty.dtype.is_unsigned() && ty.dtype != DType::Pred;
            let v: Vec<i64> = chunks
                .map(|c| {
                    let mut b = [0u8; 8];
                    b[..width].copy_from_slice(c);
                    let raw = i64::from_le_bytes(b);
                    // Sign-extend signed types narrower than 64 bits.
                    if signed && width < 8 {
                        let shift = 64 - 8 * width as u32;
                        (raw << shift) >> shift
                    } else {
                        raw
                    }
                })
                .collect();
            Elements::Int(ArrayD::from_shape_vec(shape, v).ok()?)
        };
        Some(HostArray::new(ty.dtype, elements))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_rounded_and_wrapped_to_their_dtype() {
        let a = HostArray::from_f64(DType::BF16, &[2], &[1.0 + 1e-4, 3.0]);
        assert_eq!(a.to_f64_vec(), [1.0, 3.0]);
        let b = HostArray::from_i64(DType::U8, &[3], &[256, -1, 7]);
        assert_eq!(b.to_i64_vec(), [0, 255, 7]);
        let c = HostArray::from_f64(DType::I32, &[3], &[2.9, -2.9, 1e20]);
        assert_eq!(c.to_i64_vec(), [2, -2, i32::MAX as i64]);
    }

    #[test]
    fn bytes_round_trip_for_every_dtype() {
        for dtype in DType::ALL {
            let values = [0.0, 1.0, -1.0, 5.0];
            let a = HostArray::from_f64(dtype, &[2, 2], &values);
            let b = HostArray::from_bytes(&a.ty(), &a.to_bytes()).unwrap();
            assert_eq!(a, b, "{dtype}");
        }
        assert!(HostArray::from_bytes(&TensorType::new(DType::F32, &[2]), &[0; 7]).is_none());
    }
}
