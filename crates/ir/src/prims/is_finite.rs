//! True where a float is neither infinite nor NaN. <https://openxla.org/stablehlo/spec#is_finite>

use crate::array::Elements;
use crate::lowering::LowerCx;
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// `is_finite(x)`: a pred of the operand's shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IsFinite;

impl Rules for IsFinite {
    fn name(&self) -> &'static str {
        "is_finite"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        super::arity("is_finite", inputs, 1)?;
        if !inputs[0].dtype.is_float() {
            return Err(TypeError::other("is_finite", format!("expects a floating-point operand, got {}", inputs[0])));
        }
        // is_finite_c1: shape(x) = shape(y), y is i1.
        Ok(vec![inputs[0].with_dtype(DType::Pred)])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        Ok(cx.converting("is_finite"))
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        match inputs[0].elements() {
            Elements::Float(a) => Ok(vec![HostArray::new(DType::Pred, Elements::Int(a.mapv(|v| i64::from(v.is_finite()))))]),
            Elements::Int(_) => Err("is_finite expects floats".into()),
        }
    }

    fn differentiable(&self) -> bool {
        false
    }

    fn vjp<'t>(&self, _: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        Ok(vec![None])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    let special = Domain::Values(vec![1.0, f64::INFINITY, f64::NAN, -0.0, f64::NEG_INFINITY, -3.5]);
    [DType::F32, DType::BF16, DType::F64]
        .into_iter()
        .map(|d| Case::new("is_finite", IsFinite, vec![(TensorType::new(d, &[2, 3]), special.clone())], false))
        .collect()
}
