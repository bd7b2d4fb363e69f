//! Writes a block at run-time start indices. <https://openxla.org/stablehlo/spec#dynamic_update_slice>

use super::dynamic_slice::{check_starts, clamped_starts};
use crate::lowering::LowerCx;
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// The operand with `update` written at the start indices (clamped so it fits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DynamicUpdateSlice;

impl Rules for DynamicUpdateSlice {
    fn name(&self) -> &'static str {
        "dynamic_update_slice"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        const P: &str = "dynamic_update_slice";
        if inputs.len() < 2 {
            return Err(TypeError::other(P, "expects an operand and an update"));
        }
        let (x, update) = (inputs[0], inputs[1]);
        check_starts(P, x, &inputs[2..])?;
        if update.dtype != x.dtype || update.rank() != x.rank() || update.shape.iter().zip(&x.shape).any(|(u, d)| u > d) {
            return Err(TypeError::new(P, "c3", format!("expects an update of the operand's element type and rank, no larger, got {update} for {x}")));
        }
        Ok(vec![x.clone()])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        Ok(cx.generic("dynamic_update_slice", ""))
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let (x, update) = (inputs[0], inputs[1]);
        let start = clamped_starts(&inputs[2..], x.shape(), update.shape());
        let (sx, su) = (super::strides(x.shape()), super::strides(update.shape()));
        let ushape = update.shape().to_vec();
        Ok(vec![super::rearrange(&inputs[..2], &x.ty(), 0.0, |idx| {
            let inside = idx.iter().enumerate().all(|(d, &i)| i >= start[d] && i < start[d] + ushape[d]);
            if inside {
                super::Source::Input(1, idx.iter().enumerate().map(|(d, &i)| (i - start[d]) * su[d]).sum())
            } else {
                super::Source::Input(0, super::flat_index(idx, &sx))
            }
        })])
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        // The overwritten block's cotangent goes to the update, the rest to the operand.
        let starts = &cx.inputs[2..];
        let (update, ct) = (cx.x(1), cx.ct());
        let mut result = vec![Some(ct.dynamic_update_slice(update.zeros_like(), starts)), Some(ct.dynamic_slice(starts, &update.shape()))];
        result.extend(starts.iter().map(|_| None));
        Ok(result)
    }
}

pub(crate) fn cases() -> Vec<Case> {
    let idx = |v: f64| (TensorType::scalar(DType::I32), Domain::Values(vec![v]));
    vec![
        Case::new(
            "dynamic_update_slice",
            DynamicUpdateSlice,
            vec![(TensorType::new(DType::F64, &[4, 3]), Domain::Normal), (TensorType::new(DType::F64, &[2, 2]), Domain::Normal), idx(1.0), idx(3.0)],
            true,
        ),
        Case::new(
            "dynamic_update_slice",
            DynamicUpdateSlice,
            vec![(TensorType::new(DType::I32, &[5]), Domain::Normal), (TensorType::new(DType::I32, &[2]), Domain::Normal), idx(2.0)],
            false,
        ),
    ]
}
