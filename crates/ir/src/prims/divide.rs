//! Elementwise quotient (integers truncate toward zero). <https://openxla.org/stablehlo/spec#divide>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::{DType, Tensor};

super::elementwise!(
    /// Elementwise quotient (integers truncate toward zero).
    Divide, "divide", arity: 2, accepts: Numeric,
    eval: |x| super::zip_with(x[0], x[1], x[0].dtype(), |a, b| a / b, int_divide),
    differentiable: true
);

/// XLA's integer division: truncates toward zero; `x / 0` is -1 and `MIN / -1` wraps.
fn int_divide(a: i64, b: i64) -> i64 {
    if b == 0 { -1 } else { a.wrapping_div(b) }
}

// d(x/y) = dx/y - (x/y) dy/y: reuse the forward output
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![Some(cx.ct() / cx.x(1)), Some(-(cx.ct() * cx.ans() / cx.x(1)))]
}

pub(crate) fn cases() -> Vec<Case> {
    super::binary_cases(Divide, "divide", &[DType::F64, DType::F32, DType::BF16, DType::I32], (Domain::Normal, Domain::NonZero), true)
}
