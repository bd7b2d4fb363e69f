//! `log(1 + x)`. <https://openxla.org/stablehlo/spec#log_plus_one>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::Tensor;

super::elementwise!(
    /// `log(1 + x)`.
    LogPlusOne, "log_plus_one", arity: 1, accepts: Float,
    eval: |x| super::map_float(x[0], |v| v.ln_1p()),
    differentiable: true
);

// d/dx log(1+x) = 1/(1+x)
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![Some(cx.ct() / (cx.x(0) + 1.0))]
}

pub(crate) fn cases() -> Vec<Case> {
    super::unary_float_cases(LogPlusOne, "log_plus_one", Domain::Positive)
}
