//! Shift right filling the sign bit. <https://openxla.org/stablehlo/spec#shift_right_arithmetic>

use super::bits::{Shift, shift};
use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::{DType, Tensor};

super::elementwise!(
    /// Shift right filling the sign bit.
    ShiftRightArithmetic, "shift_right_arithmetic", arity: 2, accepts: Int,
    eval: |x| { let dtype = x[0].dtype(); super::zip_with(x[0], x[1], dtype, |_, _| f64::NAN, |a, b| shift(dtype, a, b, Shift::Arithmetic)) },
    differentiable: false
);

fn vjp_rule<'t>(_: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![None, None]
}

pub(crate) fn cases() -> Vec<Case> {
    super::binary_cases(ShiftRightArithmetic, "shift_right_arithmetic", &[DType::I32, DType::U32, DType::U8], (Domain::Normal, Domain::Ints(0, 40)), false)
}
