//! Elementwise difference. <https://openxla.org/stablehlo/spec#subtract>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::{DType, Tensor};

super::elementwise!(
    /// Elementwise difference.
    Subtract, "subtract", arity: 2, accepts: Numeric,
    eval: |x| super::zip_with(x[0], x[1], x[0].dtype(), |a, b| a - b, |a, b| a.wrapping_sub(b)),
    differentiable: true
);

// d(x-y) = dx - dy
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![Some(cx.ct()), Some(-cx.ct())]
}

pub(crate) fn cases() -> Vec<Case> {
    super::binary_cases(Subtract, "subtract", &[DType::F64, DType::F32, DType::BF16, DType::I32], (Domain::Normal, Domain::Normal), true)
}
