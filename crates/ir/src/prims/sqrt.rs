//! Square root. <https://openxla.org/stablehlo/spec#sqrt>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::Tensor;

super::elementwise!(
    /// Square root.
    Sqrt, "sqrt", arity: 1, accepts: Float,
    eval: |x| super::map_float(x[0], |v| v.sqrt()),
    differentiable: true
);

// d/dx sqrt x = 1/(2 sqrt x): reuse the forward output
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![Some(cx.ct() * 0.5 / cx.ans())]
}

pub(crate) fn cases() -> Vec<Case> {
    super::unary_float_cases(Sqrt, "sqrt", Domain::Positive)
}
