//! Rounds down. <https://openxla.org/stablehlo/spec#floor>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::Tensor;

super::elementwise!(
    /// Rounds down.
    Floor, "floor", arity: 1, accepts: Float,
    eval: |x| super::map_float(x[0], |v| v.floor()),
    differentiable: false
);

// Piecewise constant: zero gradient.
fn vjp_rule<'t>(_: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![None]
}

pub(crate) fn cases() -> Vec<Case> {
    super::unary_float_cases(Floor, "floor", Domain::Normal)
}
