//! `-x`. <https://openxla.org/stablehlo/spec#negate>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::{DType, Tensor, TensorType};

super::elementwise!(
    /// `-x`.
    Negate, "negate", arity: 1, accepts: Numeric,
    eval: |x| match x[0].elements() {
        crate::Elements::Float(_) => super::map_float(x[0], |v| -v),
        crate::Elements::Int(_) => super::map_int(x[0], |v| v.wrapping_neg()),
    },
    differentiable: true
);

// d/dx -x = -1
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![Some(-cx.ct())]
}

pub(crate) fn cases() -> Vec<Case> {
    {
        let mut cases = super::unary_float_cases(Negate, "negate", Domain::Normal);
        cases.push(Case::new("negate", Negate, vec![(TensorType::new(DType::I32, &[2, 3]), Domain::Normal)], false));
        cases
    }
}
