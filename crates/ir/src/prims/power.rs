//! `x^y`. <https://openxla.org/stablehlo/spec#power>

use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::{DType, Tensor};

super::elementwise!(
    /// `x^y`.
    Power, "power", arity: 2, accepts: Numeric,
    eval: |x| super::zip_with(x[0], x[1], x[0].dtype(), |a, b| a.powf(b), int_power),
    differentiable: true
);

/// Integer power; negative exponents give 0 except for bases 1 and -1.
fn int_power(a: i64, b: i64) -> i64 {
    match (a, b) {
        (_, b) if b >= 0 => a.wrapping_pow(b.min(u32::MAX as i64) as u32),
        (1, _) => 1,
        (-1, b) => if b % 2 == 0 { 1 } else { -1 },
        _ => 0,
    }
}

// d(x^y) = y x^(y-1) dx + x^y log(x) dy
fn vjp_rule<'t>(cx: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    {
        let (x, y) = (cx.x(0), cx.x(1));
        vec![Some(cx.ct() * y * x.pow(y - 1.0)), Some(cx.ct() * cx.ans() * x.log())]
    }
}

pub(crate) fn cases() -> Vec<Case> {
    super::binary_cases(Power, "power", &[DType::F64, DType::F32, DType::BF16], (Domain::Positive, Domain::Normal), true)
}
