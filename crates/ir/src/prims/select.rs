//! `pred ? on_true : on_false`, elementwise. <https://openxla.org/stablehlo/spec#select>

use crate::lowering::LowerCx;
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// Chooses between two same-type operands by a pred of their shape (or a scalar pred).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Select;

impl Rules for Select {
    fn name(&self) -> &'static str {
        "select"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        super::arity("select", inputs, 3)?;
        let (p, t, f) = (inputs[0], inputs[1], inputs[2]);
        if p.dtype != DType::Pred {
            return Err(TypeError::other("select", format!("expects a pred first operand, got {p}")));
        }
        if p.rank() != 0 && p.shape != t.shape {
            return Err(TypeError::new("select", "c1", format!("expects a scalar pred or one of the operands' shape, got {p} for {t}")));
        }
        if t != f {
            return Err(TypeError::new("select", "c2", format!("expects on_true and on_false of the same type, got {t} and {f}")));
        }
        Ok(vec![t.clone()])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        Ok(cx.generic("select", ""))
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let pred = inputs[0].to_i64_vec();
        let scalar = inputs[0].shape().is_empty();
        let out = inputs[1].ty();
        let mut i = 0;
        Ok(vec![super::rearrange(&inputs[1..], &out, 0.0, |_| {
            let p = pred[if scalar { 0 } else { i }];
            i += 1;
            super::Source::Input(if p != 0 { 0 } else { 1 }, i - 1)
        })])
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        // The cotangent flows to whichever branch was chosen.
        let (p, ct) = (cx.x(0), cx.ct());
        let zero = ct.zeros_like();
        Ok(vec![None, Some(p.select(ct, zero)), Some(p.select(zero, ct))])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    let pred = TensorType::new(DType::Pred, &[2, 3]);
    let f64 = TensorType::new(DType::F64, &[2, 3]);
    let i32 = TensorType::new(DType::I32, &[2, 3]);
    vec![
        Case::new("select", Select, vec![(pred.clone(), Domain::Normal), (f64.clone(), Domain::Normal), (f64.clone(), Domain::Normal)], true),
        Case::new("select", Select, vec![(TensorType::scalar(DType::Pred), Domain::Values(vec![0.0])), (f64.clone(), Domain::Normal), (f64, Domain::Normal)], true),
        Case::new("select", Select, vec![(pred, Domain::Normal), (i32.clone(), Domain::Normal), (i32, Domain::Normal)], false),
    ]
}
