//! `1/sqrt(x)`. <https://openxla.org/stablehlo/spec#rsqrt>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::Tensor;

super::elementwise!(
    /// `1/sqrt(x)`.
    Rsqrt, "rsqrt", arity: 1, accepts: Float,
    eval: |x| super::map_float(x[0], |v| 1.0 / v.sqrt()),
    differentiable: true
);

// d/dx x^(-1/2) = -x^(-3/2)/2 = -rsqrt(x)/(2x)
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![Some(cx.ct() * cx.ans() / cx.x(0) * -0.5)]
}

pub(crate) fn cases() -> Vec<Case> {
    super::unary_float_cases(Rsqrt, "rsqrt", Domain::Positive)
}
