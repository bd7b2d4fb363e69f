//! Natural logarithm. <https://openxla.org/stablehlo/spec#log>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::Tensor;

super::elementwise!(
    /// Natural logarithm.
    Log, "log", arity: 1, accepts: Float,
    eval: |x| super::map_float(x[0], |v| v.ln()),
    differentiable: true
);

// d/dx log x = 1/x
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![Some(cx.ct() / cx.x(0))]
}

pub(crate) fn cases() -> Vec<Case> {
    super::unary_float_cases(Log, "log", Domain::Positive)
}
