//! Elementwise sum. <https://openxla.org/stablehlo/spec#add>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::{DType, Tensor};

super::elementwise!(
    /// Elementwise sum.
    Add, "add", arity: 2, accepts: Any,
    eval: |x| super::zip_with(x[0], x[1], x[0].dtype(), |a, b| a + b, |a, b| a.wrapping_add(b)),
    differentiable: true
);

// d(x+y) = dx + dy
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![Some(cx.ct()), Some(cx.ct())]
}

pub(crate) fn cases() -> Vec<Case> {
    super::binary_cases(Add, "add", &[DType::F64, DType::F32, DType::BF16, DType::I32, DType::U8], (Domain::Normal, Domain::Normal), true)
}
