//! Reduction over dimensions with a fixed monoid. <https://openxla.org/stablehlo/spec#reduce>

use crate::lowering::{LowerCx, dim_list, float_literal};
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// The reduction monoid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceKind {
    /// Sum (init 0).
    Sum,
    /// Maximum (init -inf or the type's minimum).
    Max,
    /// Minimum (init +inf or the type's maximum).
    Min,
    /// Logical/bitwise and (init all ones).
    And,
    /// Logical/bitwise or (init 0).
    Or,
}

impl ReduceKind {
    fn op(self) -> &'static str {
        match self {
            ReduceKind::Sum => "add",
            ReduceKind::Max => "maximum",
            ReduceKind::Min => "minimum",
            ReduceKind::And => "and",
            ReduceKind::Or => "or",
        }
    }

    /// The identity of the monoid in `dtype`.
    fn init(self, dtype: DType) -> f64 {
        let (lo, hi) = dtype.finite_range();
        match (self, dtype.is_float()) {
            (ReduceKind::Sum | ReduceKind::Or, _) => 0.0,
            (ReduceKind::Max, true) => f64::NEG_INFINITY,
            (ReduceKind::Max, false) => lo,
            (ReduceKind::Min, true) => f64::INFINITY,
            (ReduceKind::Min, false) => hi,
            (ReduceKind::And, _) => if dtype == DType::Pred { 1.0 } else { -1.0 },
        }
    }
}

/// Reduces `dimensions` (sorted, unique) away with `kind`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reduce {
    /// The monoid.
    pub kind: ReduceKind,
    /// The reduced dimensions.
    pub dimensions: Vec<usize>,
}

impl Rules for Reduce {
    fn name(&self) -> &'static str {
        "reduce"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        super::arity("reduce", inputs, 1)?;
        let x = inputs[0];
        if !super::sorted_unique(&self.dimensions) {
            return Err(TypeError::new("reduce", "c4", format!("expects unique dimensions, got {:?}", self.dimensions)));
        }
        if let Some(d) = self.dimensions.iter().find(|&&d| d >= x.rank()) {
            return Err(TypeError::new("reduce", "c4", format!("expects dimensions < rank {}, got {d} for {x}", x.rank())));
        }
        let ok = match self.kind {
            ReduceKind::Sum | ReduceKind::Max | ReduceKind::Min => x.dtype != DType::Pred,
            ReduceKind::And | ReduceKind::Or => x.dtype.is_bitwise(),
        };
        if !ok {
            return Err(TypeError::other("reduce", format!("a {:?} reduction does not apply to {x}", self.kind)));
        }
        let shape: Vec<usize> = (0..x.rank()).filter(|d| !self.dimensions.contains(d)).map(|d| x.shape[d]).collect();
        Ok(vec![TensorType::new(x.dtype, &shape)])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        let dtype = cx.input_types[0].dtype;
        let init = cx.regions.fresh();
        let value = self.kind.init(dtype);
        let literal = if dtype.is_float() {
            float_literal(dtype, value)
        } else if dtype == DType::Pred {
            (if value != 0.0 { "true" } else { "false" }).to_string()
        } else if self.kind == ReduceKind::And || (dtype.is_unsigned() && self.kind == ReduceKind::Min) {
            // All ones: -1, or the largest value of an unsigned type.
            if dtype.is_unsigned() { (u64::MAX >> (64 - dtype.bits())).to_string() } else { "-1".to_string() }
        } else {
            (value as i64).to_string()
        };
        let scalar = TensorType::scalar(dtype).mlir();
        cx.line(&format!("{init} = stablehlo.constant dense<{literal}> : {scalar}"));
        let text = format!(
            "{} = stablehlo.reduce({} init: {init}) applies stablehlo.{} across dimensions = {} : ({}, {scalar}) -> {}",
            cx.name,
            cx.inputs[0],
            self.kind.op(),
            dim_list(&self.dimensions),
            cx.input_types[0].mlir(),
            cx.output_types[0].mlir()
        );
        cx.line(&text);
        Ok(vec![cx.name.to_string()])
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let x = inputs[0];
        let out = self.infer(&[&x.ty()]).map_err(|e| e.to_string())?.remove(0);
        let kept: Vec<usize> = (0..x.shape().len()).filter(|d| !self.dimensions.contains(d)).collect();
        let out_strides = super::strides(&out.shape);
        let n = out.num_elements();
        let dtype = x.dtype();
        if dtype.is_float() {
            let mut acc = vec![self.kind.init(dtype); n];
            let values = x.to_f64_vec();
            let mut i = 0;
            super::for_each_index(x.shape(), |idx| {
                let o: usize = kept.iter().zip(&out_strides).map(|(&d, &s)| idx[d] * s).sum();
                let v = values[i];
                i += 1;
                acc[o] = match self.kind {
                    ReduceKind::Sum => acc[o] + v,
                    ReduceKind::Max => if v.is_nan() || acc[o].is_nan() { f64::NAN } else { acc[o].max(v) },
                    _ => if v.is_nan() || acc[o].is_nan() { f64::NAN } else { acc[o].min(v) },
                };
            });
            Ok(vec![HostArray::from_f64(dtype, &out.shape, &acc)])
        } else {
            let init = match (self.kind, dtype) {
                (ReduceKind::Min, DType::U64) => -1,
                (ReduceKind::And, _) => if dtype == DType::Pred { 1 } else { -1 },
                (kind, _) => kind.init(dtype) as i64,
            };
            let mut acc = vec![init; n];
            let values = x.to_i64_vec();
            let unsigned = dtype == DType::U64;
            let mut i = 0;
            super::for_each_index(x.shape(), |idx| {
                let o: usize = kept.iter().zip(&out_strides).map(|(&d, &s)| idx[d] * s).sum();
                let v = values[i];
                i += 1;
                acc[o] = match self.kind {
                    ReduceKind::Sum => acc[o].wrapping_add(v),
                    ReduceKind::Max if unsigned => (acc[o] as u64).max(v as u64) as i64,
                    ReduceKind::Min if unsigned => (acc[o] as u64).min(v as u64) as i64,
                    ReduceKind::Max => acc[o].max(v),
                    ReduceKind::Min => acc[o].min(v),
                    ReduceKind::And => acc[o] & v,
                    ReduceKind::Or => acc[o] | v,
                };
            });
            Ok(vec![HostArray::from_i64(dtype, &out.shape, &acc)])
        }
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        let x = cx.x(0);
        let shape = x.shape();
        let kept: Vec<usize> = (0..shape.len()).filter(|d| !self.dimensions.contains(d)).collect();
        let back = |t: Tensor<'t>| t.broadcast_in_dim(&shape, &kept);
        match self.kind {
            // d/dx_i Σ x = 1: the cotangent is repeated over the reduced dimensions.
            ReduceKind::Sum => Ok(vec![Some(back(cx.ct()))]),
            // The cotangent goes to the extremal elements, split evenly between ties.
            ReduceKind::Max | ReduceKind::Min => {
                let hit = x.eq(back(cx.ans())).cast(x.dtype());
                let count = hit.sum(&self.dimensions);
                Ok(vec![Some(back(cx.ct() / count) * hit)])
            }
            ReduceKind::And | ReduceKind::Or => Ok(vec![None]),
        }
    }
}

pub(crate) fn cases() -> Vec<Case> {
    let r = |kind, dims: &[usize]| Reduce { kind, dimensions: dims.to_vec() };
    let t = |d, s: &[usize]| (TensorType::new(d, s), Domain::Normal);
    vec![
        Case::new("reduce_sum_d1", r(ReduceKind::Sum, &[1]), vec![t(DType::F64, &[2, 3])], true),
        Case::new("reduce_sum_d02", r(ReduceKind::Sum, &[0, 2]), vec![t(DType::F64, &[2, 3, 2])], true),
        Case::new("reduce_max_d0", r(ReduceKind::Max, &[0]), vec![t(DType::F64, &[3, 2])], true),
        Case::new("reduce_min_all", r(ReduceKind::Min, &[0, 1]), vec![t(DType::F64, &[2, 3])], true),
        Case::new("reduce_sum_d1", r(ReduceKind::Sum, &[1]), vec![t(DType::F32, &[4, 5])], false),
        Case::new("reduce_max_d1", r(ReduceKind::Max, &[1]), vec![t(DType::BF16, &[4, 5])], false),
        Case::new("reduce_sum_d0", r(ReduceKind::Sum, &[0]), vec![t(DType::I32, &[4, 3])], false),
        Case::new("reduce_max_d0", r(ReduceKind::Max, &[0]), vec![t(DType::I32, &[4, 3])], false),
        Case::new("reduce_min_d0", r(ReduceKind::Min, &[0]), vec![(TensorType::new(DType::U32, &[3, 2]), Domain::Ints(0, 4_000_000_000))], false),
        Case::new("reduce_and_d1", r(ReduceKind::And, &[1]), vec![t(DType::Pred, &[3, 2])], false),
        Case::new("reduce_or_d1", r(ReduceKind::Or, &[1]), vec![t(DType::Pred, &[3, 2])], false),
    ]
}
