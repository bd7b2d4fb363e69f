//! Sine. <https://openxla.org/stablehlo/spec#sine>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::Tensor;

super::elementwise!(
    /// Sine.
    Sine, "sine", arity: 1, accepts: Float,
    eval: |x| super::map_float(x[0], |v| v.sin()),
    differentiable: true
);

// d/dx sin x = cos x
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![Some(cx.ct() * cx.x(0).cos())]
}

pub(crate) fn cases() -> Vec<Case> {
    super::unary_float_cases(Sine, "sine", Domain::Normal)
}
