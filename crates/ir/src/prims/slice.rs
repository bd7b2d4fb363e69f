//! A static, strided slice. <https://openxla.org/stablehlo/spec#slice>

use crate::lowering::{LowerCx, i64_array};
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// Elements `start, start + stride, ...` below `limit` in each dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slice {
    /// First index per dimension.
    pub start_indices: Vec<usize>,
    /// Exclusive end per dimension.
    pub limit_indices: Vec<usize>,
    /// Step per dimension (>= 1).
    pub strides: Vec<usize>,
}

impl Rules for Slice {
    fn name(&self) -> &'static str {
        "slice"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        super::arity("slice", inputs, 1)?;
        let x = inputs[0];
        let r = x.rank();
        if self.start_indices.len() != r || self.limit_indices.len() != r || self.strides.len() != r {
            return Err(TypeError::new("slice", "c2", format!("expects start, limit and strides of rank {r}, got {:?}, {:?}, {:?}", self.start_indices, self.limit_indices, self.strides)));
        }
        let mut shape = Vec::with_capacity(r);
        for d in 0..r {
            let (s, l, k) = (self.start_indices[d], self.limit_indices[d], self.strides[d]);
            if s > l || l > x.shape[d] {
                return Err(TypeError::new("slice", "c3", format!("expects 0 <= start <= limit <= {} in dimension {d}, got {s}..{l}", x.shape[d])));
            }
            if k == 0 {
                return Err(TypeError::new("slice", "c4", format!("expects strides > 0, got 0 in dimension {d}")));
            }
            shape.push((l - s).div_ceil(k));
        }
        Ok(vec![TensorType::new(x.dtype, &shape)])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        let attrs = format!(
            "start_indices = {}, limit_indices = {}, strides = {}",
            i64_array(&self.start_indices),
            i64_array(&self.limit_indices),
            i64_array(&self.strides)
        );
        Ok(cx.generic("slice", &attrs))
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let x = inputs[0];
        let st = super::strides(x.shape());
        let out = self.infer(&[&x.ty()]).map_err(|e| e.to_string())?.remove(0);
        Ok(vec![super::rearrange(inputs, &out, 0.0, |idx| {
            super::Source::Input(0, idx.iter().enumerate().map(|(d, &i)| (self.start_indices[d] + i * self.strides[d]) * st[d]).sum())
        })])
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        // The transpose of a slice pads the cotangent back into place with zeros.
        let x_shape = cx.x(0).shape();
        let ct = cx.ct();
        let out_shape = ct.shape();
        let (mut low, mut high, mut interior) = (Vec::new(), Vec::new(), Vec::new());
        for d in 0..x_shape.len() {
            let n = out_shape[d];
            let covered = self.start_indices[d] + if n == 0 { 0 } else { n + (n - 1) * (self.strides[d] - 1) };
            low.push(self.start_indices[d] as i64);
            high.push(x_shape[d] as i64 - covered as i64);
            interior.push(self.strides[d] - 1);
        }
        Ok(vec![Some(ct.pad(0.0, &low, &high, &interior))])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    let s = |start: &[usize], limit: &[usize], strides: &[usize]| Slice { start_indices: start.to_vec(), limit_indices: limit.to_vec(), strides: strides.to_vec() };
    vec![
        Case::new("slice_inner", s(&[1, 0], &[3, 4], &[1, 2]), vec![(TensorType::new(DType::F64, &[4, 5]), Domain::Normal)], true),
        Case::new("slice_strided", s(&[0, 1], &[4, 5], &[3, 2]), vec![(TensorType::new(DType::F64, &[4, 5]), Domain::Normal)], true),
        Case::new("slice_row", s(&[2, 0], &[3, 5], &[1, 1]), vec![(TensorType::new(DType::I32, &[4, 5]), Domain::Normal)], false),
    ]
}
