//! Keeps XLA from moving work across a point. <https://openxla.org/stablehlo/spec#optimization_barrier>

use crate::lowering::LowerCx;
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// The identity on any number of values, opaque to XLA's optimizations (used for
/// rematerialisation boundaries).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OptimizationBarrier;

impl Rules for OptimizationBarrier {
    fn name(&self) -> &'static str {
        "optimization_barrier"
    }

    fn num_outputs(&self, num_inputs: usize) -> usize {
        num_inputs
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        Ok(inputs.iter().map(|&t| t.clone()).collect())
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        if cx.inputs.is_empty() {
            return Ok(Vec::new());
        }
        let (def, uses) = cx.results(cx.inputs.len());
        let types: Vec<String> = cx.input_types.iter().map(TensorType::mlir).collect();
        let text = format!("{def} = stablehlo.optimization_barrier {} : {}", cx.inputs.join(", "), types.join(", "));
        cx.line(&text);
        Ok(uses)
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        Ok(inputs.iter().map(|&a| a.clone()).collect())
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        // The identity: cotangents pass through.
        Ok(cx.cts.clone())
    }
}

pub(crate) fn cases() -> Vec<Case> {
    vec![Case::new(
        "optimization_barrier",
        OptimizationBarrier,
        vec![(TensorType::new(DType::F64, &[2, 3]), Domain::Normal), (TensorType::new(DType::I32, &[2]), Domain::Normal)],
        true,
    )]
}
