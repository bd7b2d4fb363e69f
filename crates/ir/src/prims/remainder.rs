//! Remainder with the dividend's sign. <https://openxla.org/stablehlo/spec#remainder>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::{DType, Tensor};

super::elementwise!(
    /// Remainder with the dividend's sign.
    Remainder, "remainder", arity: 2, accepts: Numeric,
    eval: |x| super::zip_with(x[0], x[1], x[0].dtype(), |a, b| a % b, |a, b| if b == 0 { a } else { a.wrapping_rem(b) }),
    differentiable: true
);

// x rem y = x - trunc(x/y) y, so d/dx = 1 and d/dy = -trunc(x/y)
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    {
        // trunc(x/y) is a float here (remainder is only differentiated on floats).
        let q = cx.x(0) / cx.x(1);
        let trunc = q.sign() * q.abs().floor();
        vec![Some(cx.ct()), Some(-(cx.ct() * trunc))]
    }
}

pub(crate) fn cases() -> Vec<Case> {
    super::binary_cases(Remainder, "remainder", &[DType::F64, DType::F32, DType::BF16, DType::I32], (Domain::Normal, Domain::NonZero), true)
}
