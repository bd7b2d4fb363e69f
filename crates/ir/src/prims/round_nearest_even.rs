//! Rounds to nearest, ties to even. <https://openxla.org/stablehlo/spec#round_nearest_even>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::Tensor;

super::elementwise!(
    /// Rounds to nearest, ties to even.
    RoundNearestEven, "round_nearest_even", arity: 1, accepts: Float,
    eval: |x| super::map_float(x[0], |v| v.round_ties_even()),
    differentiable: false
);

// Piecewise constant: zero gradient.
fn vjp_rule<'t>(_: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![None]
}

pub(crate) fn cases() -> Vec<Case> {
    super::unary_float_cases(RoundNearestEven, "round_nearest_even", Domain::Normal)
}
