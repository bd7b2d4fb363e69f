//! A slice at run-time start indices. <https://openxla.org/stablehlo/spec#dynamic_slice>

use crate::lowering::{LowerCx, i64_array};
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// A `slice_sizes` block at the start indices given as scalar operands, each clamped into
/// `[0, dim - size]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynamicSlice {
    /// The block's shape.
    pub slice_sizes: Vec<usize>,
}

/// Checks scalar integer start indices, one per dimension (`dynamic_slice`'s and
/// `dynamic_update_slice`'s shared constraints).
pub(crate) fn check_starts(prim: &'static str, x: &TensorType, starts: &[&TensorType]) -> Result<(), TypeError> {
    if starts.len() != x.rank() {
        return Err(TypeError::new(prim, "c2", format!("expects {} start indices for {x}, got {}", x.rank(), starts.len())));
    }
    if let Some(s) = starts.iter().find(|s| s.rank() != 0 || !s.dtype.is_int()) {
        return Err(TypeError::new(prim, "c3", format!("expects scalar integer start indices, got {s}")));
    }
    if starts.iter().any(|s| s.dtype != starts[0].dtype) {
        return Err(TypeError::new(prim, "c3", "expects start indices of one element type"));
    }
    Ok(())
}

/// Start indices clamped so a block of `sizes` fits in `shape`.
pub(crate) fn clamped_starts(starts: &[&HostArray], shape: &[usize], sizes: &[usize]) -> Vec<usize> {
    starts.iter().zip(shape.iter().zip(sizes)).map(|(s, (&d, &k))| s.to_i64_vec()[0].clamp(0, (d - k) as i64) as usize).collect()
}

impl Rules for DynamicSlice {
    fn name(&self) -> &'static str {
        "dynamic_slice"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        let Some((x, starts)) = inputs.split_first() else { return Err(TypeError::other("dynamic_slice", "expects an operand")) };
        check_starts("dynamic_slice", x, starts)?;
        if self.slice_sizes.len() != x.rank() || self.slice_sizes.iter().zip(&x.shape).any(|(k, d)| k > d) {
            return Err(TypeError::new("dynamic_slice", "c4", format!("expects 0 <= slice_sizes <= shape {:?}, got {:?}", x.shape, self.slice_sizes)));
        }
        Ok(vec![TensorType::new(x.dtype, &self.slice_sizes)])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        Ok(cx.generic("dynamic_slice", &format!("slice_sizes = {}", i64_array(&self.slice_sizes))))
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let x = inputs[0];
        let start = clamped_starts(&inputs[1..], x.shape(), &self.slice_sizes);
        let st = super::strides(x.shape());
        let out = TensorType::new(x.dtype(), &self.slice_sizes);
        Ok(vec![super::rearrange(&inputs[..1], &out, 0.0, |idx| {
            super::Source::Input(0, idx.iter().enumerate().map(|(d, &i)| (start[d] + i) * st[d]).sum())
        })])
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        // The block's cotangent goes back to where the (clamped) block was read.
        let starts = &cx.inputs[1..];
        let x = cx.x(0);
        let mut result = vec![Some(x.zeros_like().dynamic_update_slice(cx.ct(), starts))];
        result.extend(starts.iter().map(|_| None));
        Ok(result)
    }
}

pub(crate) fn cases() -> Vec<Case> {
    let idx = |v: f64| (TensorType::scalar(DType::I32), Domain::Values(vec![v]));
    vec![
        Case::new("dynamic_slice", DynamicSlice { slice_sizes: vec![2, 2] }, vec![(TensorType::new(DType::F64, &[4, 3]), Domain::Normal), idx(1.0), idx(1.0)], true),
        Case::new("dynamic_slice_clamped", DynamicSlice { slice_sizes: vec![2, 2] }, vec![(TensorType::new(DType::F64, &[4, 3]), Domain::Normal), idx(5.0), idx(-2.0)], true),
        Case::new("dynamic_slice", DynamicSlice { slice_sizes: vec![1, 3] }, vec![(TensorType::new(DType::F32, &[4, 3]), Domain::Normal), idx(2.0), idx(0.0)], false),
    ]
}
