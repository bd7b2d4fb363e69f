//! Elementwise maximum (NaN propagates). <https://openxla.org/stablehlo/spec#maximum>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::{DType, Tensor};

super::elementwise!(
    /// Elementwise maximum (NaN propagates).
    Maximum, "maximum", arity: 2, accepts: Numeric,
    eval: |x| super::zip_with(x[0], x[1], x[0].dtype(), |a, b| if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }, |a, b| a.max(b)),
    differentiable: true
);

// The cotangent goes to the larger operand
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    {
        // Ties split the cotangent evenly, as JAX does.
        let (x, y) = (cx.x(0), cx.x(1));
        let to_x = x.gt(y).cast(x.dtype()) + x.eq(y).cast(x.dtype()) * 0.5;
        vec![Some(cx.ct() * to_x), Some(cx.ct() * (1.0 - to_x))]
    }
}

pub(crate) fn cases() -> Vec<Case> {
    super::binary_cases(Maximum, "maximum", &[DType::F64, DType::F32, DType::BF16, DType::I32], (Domain::Normal, Domain::Normal), true)
}
