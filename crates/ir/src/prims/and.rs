//! Logical (pred) or bitwise and. <https://openxla.org/stablehlo/spec#and>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::{DType, Tensor};

super::elementwise!(
    /// Logical (pred) or bitwise and.
    And, "and", arity: 2, accepts: Bitwise,
    eval: |x| super::zip_with(x[0], x[1], x[0].dtype(), |_, _| f64::NAN, |a, b| a & b),
    differentiable: false
);

fn vjp_rule<'t>(_: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![None, None]
}

pub(crate) fn cases() -> Vec<Case> {
    super::binary_cases(And, "and", &[DType::Pred, DType::I32, DType::U32], (Domain::Normal, Domain::Normal), false)
}
