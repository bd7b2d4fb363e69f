//! Hyperbolic tangent. <https://openxla.org/stablehlo/spec#tanh>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::Tensor;

super::elementwise!(
    /// Hyperbolic tangent.
    Tanh, "tanh", arity: 1, accepts: Float,
    eval: |x| super::map_float(x[0], |v| v.tanh()),
    differentiable: true
);

// d/dx tanh x = 1 - tanh^2 x
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![Some(cx.ct() * (1.0 - cx.ans().square()))]
}

pub(crate) fn cases() -> Vec<Case> {
    super::unary_float_cases(Tanh, "tanh", Domain::Normal)
}
