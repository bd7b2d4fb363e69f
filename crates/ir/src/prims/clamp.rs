//! Clamps an operand between bounds. <https://openxla.org/stablehlo/spec#clamp>

use crate::lowering::LowerCx;
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// `min(max(operand, lo), hi)`; operands `(lo, operand, hi)`, bounds scalar or operand-shaped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clamp;

impl Rules for Clamp {
    fn name(&self) -> &'static str {
        "clamp"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        super::arity("clamp", inputs, 3)?;
        let (lo, x, hi) = (inputs[0], inputs[1], inputs[2]);
        for (name, bound) in [("min", lo), ("max", hi)] {
            if bound.rank() != 0 && bound.shape != x.shape {
                return Err(TypeError::new("clamp", "c1", format!("expects a scalar {name} or one of the operand's shape, got {bound} for {x}")));
            }
            if bound.dtype != x.dtype {
                return Err(TypeError::new("clamp", "c2", format!("expects {name} of the operand's element type, got {bound} for {x}")));
            }
        }
        Ok(vec![x.clone()])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        Ok(cx.generic("clamp", ""))
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let (lo, x, hi) = (inputs[0].to_f64_vec(), inputs[1].to_f64_vec(), inputs[2].to_f64_vec());
        let pick = |v: &[f64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
        let out: Vec<f64> = x.iter().enumerate().map(|(i, &v)| v.max(pick(&lo, i)).min(pick(&hi, i))).collect();
        Ok(vec![HostArray::from_f64(inputs[1].dtype(), inputs[1].shape(), &out)])
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        // Inside the bounds the cotangent goes to the operand, outside to the active bound.
        let (lo, x, hi, ct) = (cx.x(0), cx.x(1), cx.x(2), cx.ct());
        let zero = ct.zeros_like();
        let below = x.lt(lo);
        let above = x.gt(hi);
        let reduce_to = |t: Tensor<'t>, bound: Tensor<'t>| if bound.rank() == 0 { t.sum_all() } else { t };
        Ok(vec![
            Some(reduce_to(below.select(ct, zero), lo)),
            Some(below.or(above).select(zero, ct)),
            Some(reduce_to(above.select(ct, zero), hi)),
        ])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    let f64 = TensorType::new(DType::F64, &[2, 3]);
    let scalar = TensorType::scalar(DType::F64);
    vec![
        Case::new("clamp", Clamp, vec![(scalar.clone(), Domain::Values(vec![-0.5])), (f64.clone(), Domain::Normal), (scalar, Domain::Values(vec![0.7]))], true),
        Case::new("clamp", Clamp, vec![(f64.clone(), Domain::Values(vec![-1.0, 0.0, -0.3, 0.2, -2.0, 0.0])), (f64.clone(), Domain::Values(vec![-1.5, 0.5, 0.1, 0.1, 3.0, -0.4])), (f64, Domain::Values(vec![1.0, 0.25, 0.3, 0.5, 2.0, 1.0]))], true),
        Case::new("clamp", Clamp, vec![(TensorType::scalar(DType::I32), Domain::Values(vec![-2.0])), (TensorType::new(DType::I32, &[2, 3]), Domain::Normal), (TensorType::scalar(DType::I32), Domain::Values(vec![3.0]))], false),
    ]
}
