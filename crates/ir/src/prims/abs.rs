//! `|x|`. <https://openxla.org/stablehlo/spec#abs>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::{DType, Tensor, TensorType};

super::elementwise!(
    /// `|x|`.
    Abs, "abs", arity: 1, accepts: Numeric,
    eval: |x| match x[0].elements() {
        crate::Elements::Float(_) => super::map_float(x[0], |v| v.abs()),
        crate::Elements::Int(_) => super::map_int(x[0], |v| v.wrapping_abs()),
    },
    differentiable: true
);

// d/dx |x| = sign(x)
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![Some(cx.ct() * cx.x(0).sign())]
}

pub(crate) fn cases() -> Vec<Case> {
    {
        let mut cases = super::unary_float_cases(Abs, "abs", Domain::NonZero);
        cases.push(Case::new("abs", Abs, vec![(TensorType::new(DType::I32, &[2, 3]), Domain::Normal)], false));
        cases
    }
}
