//! Cosine. <https://openxla.org/stablehlo/spec#cosine>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::Tensor;

super::elementwise!(
    /// Cosine.
    Cosine, "cosine", arity: 1, accepts: Float,
    eval: |x| super::map_float(x[0], |v| v.cos()),
    differentiable: true
);

// d/dx cos x = -sin x
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![Some(-(cx.ct() * cx.x(0).sin()))]
}

pub(crate) fn cases() -> Vec<Case> {
    super::unary_float_cases(Cosine, "cosine", Domain::Normal)
}
