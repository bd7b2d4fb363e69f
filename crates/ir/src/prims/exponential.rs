//! `e^x`. <https://openxla.org/stablehlo/spec#exponential>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::Tensor;

super::elementwise!(
    /// `e^x`.
    Exponential, "exponential", arity: 1, accepts: Float,
    eval: |x| super::map_float(x[0], |v| v.exp()),
    differentiable: true
);

// d/dx e^x = e^x: reuse the forward output
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![Some(cx.ct() * cx.ans())]
}

pub(crate) fn cases() -> Vec<Case> {
    super::unary_float_cases(Exponential, "exponential", Domain::Normal)
}
