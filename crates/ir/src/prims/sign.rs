//! -1, 0 or 1. <https://openxla.org/stablehlo/spec#sign>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::{DType, Tensor, TensorType};

super::elementwise!(
    /// -1, 0 or 1.
    Sign, "sign", arity: 1, accepts: Numeric,
    eval: |x| match x[0].elements() {
        crate::Elements::Float(_) => super::map_float(x[0], |v| if v.is_nan() { v } else if v == 0.0 { 0.0 } else { v.signum() }),
        crate::Elements::Int(_) => super::map_int(x[0], |v| v.signum()),
    },
    differentiable: false
);

// Piecewise constant: zero gradient.
fn vjp_rule<'t>(_: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![None]
}

pub(crate) fn cases() -> Vec<Case> {
    {
        let mut cases = super::unary_float_cases(Sign, "sign", Domain::NonZero);
        cases.push(Case::new("sign", Sign, vec![(TensorType::new(DType::I32, &[2, 3]), Domain::Normal)], false));
        cases
    }
}
