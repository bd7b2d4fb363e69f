//! Elementwise product. <https://openxla.org/stablehlo/spec#multiply>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::{DType, Tensor};

super::elementwise!(
    /// Elementwise product.
    Multiply, "multiply", arity: 2, accepts: Any,
    eval: |x| super::zip_with(x[0], x[1], x[0].dtype(), |a, b| a * b, |a, b| a.wrapping_mul(b)),
    differentiable: true
);

// d(xy) = y dx + x dy
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![Some(cx.ct() * cx.x(1)), Some(cx.ct() * cx.x(0))]
}

pub(crate) fn cases() -> Vec<Case> {
    super::binary_cases(Multiply, "multiply", &[DType::F64, DType::F32, DType::BF16, DType::I32, DType::U32], (Domain::Normal, Domain::Normal), true)
}
