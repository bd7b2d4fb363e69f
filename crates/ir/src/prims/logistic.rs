//! `1/(1+e^-x)`. <https://openxla.org/stablehlo/spec#logistic>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::Tensor;

super::elementwise!(
    /// `1/(1+e^-x)`.
    Logistic, "logistic", arity: 1, accepts: Float,
    eval: |x| super::map_float(x[0], |v| 1.0 / (1.0 + (-v).exp())),
    differentiable: true
);

// d/dx s(x) = s(x)(1 - s(x))
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![Some(cx.ct() * cx.ans() * (1.0 - cx.ans()))]
}

pub(crate) fn cases() -> Vec<Case> {
    super::unary_float_cases(Logistic, "logistic", Domain::Normal)
}
