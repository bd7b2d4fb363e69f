//! The identity with no gradient. Not a StableHLO op: it lowers to nothing.

use crate::lowering::LowerCx;
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// Marks a value as a constant for differentiation (`jax.lax.stop_gradient`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StopGradient;

impl Rules for StopGradient {
    fn name(&self) -> &'static str {
        "stop_gradient"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        super::arity("stop_gradient", inputs, 1)?;
        Ok(vec![inputs[0].clone()])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        // The result is the operand itself.
        Ok(vec![cx.inputs[0].clone()])
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        Ok(vec![inputs[0].clone()])
    }

    fn differentiable(&self) -> bool {
        false
    }

    fn vjp<'t>(&self, _: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        Ok(vec![None])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    vec![Case::new("stop_gradient", StopGradient, vec![(TensorType::new(DType::F32, &[2, 3]), Domain::Normal)], false)]
}
