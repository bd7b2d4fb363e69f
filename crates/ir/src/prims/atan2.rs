//! `atan2(y, x)`. <https://openxla.org/stablehlo/spec#atan2>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::{DType, Tensor};

super::elementwise!(
    /// `atan2(y, x)`.
    Atan2, "atan2", arity: 2, accepts: Float,
    eval: |x| super::zip_with(x[0], x[1], x[0].dtype(), |a, b| a.atan2(b), |_, _| 0),
    differentiable: true
);

// d atan2(y, x) = (x dy - y dx) / (x^2 + y^2)
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    {
        let (y, x) = (cx.x(0), cx.x(1));
        let denominator = y.square() + x.square();
        vec![Some(cx.ct() * x / denominator), Some(-(cx.ct() * y / denominator))]
    }
}

pub(crate) fn cases() -> Vec<Case> {
    super::binary_cases(Atan2, "atan2", &[DType::F64, DType::F32, DType::BF16], (Domain::NonZero, Domain::NonZero), true)
}
