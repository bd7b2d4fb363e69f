//! Logical not of pred, bitwise not of integers. <https://openxla.org/stablehlo/spec#not>

use crate::array::Elements;
use crate::prim::VjpCx;
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType};

super::elementwise!(
    /// Logical/bitwise not.
    Not, "not", arity: 1, accepts: Bitwise,
    eval: |x| match x[0].elements() {
        Elements::Int(a) => {
            let pred = x[0].dtype() == DType::Pred;
            Ok(vec![HostArray::new(x[0].dtype(), Elements::Int(a.mapv(|v| if pred { 1 - v } else { !v })))])
        }
        Elements::Float(_) => Err("not expects integers or pred".into()),
    },
    differentiable: false
);

fn vjp_rule<'t>(_: &VjpCx<'t>) -> Vec<Option<Tensor<'t>>> {
    vec![None]
}

pub(crate) fn cases() -> Vec<Case> {
    [DType::Pred, DType::I32, DType::U32, DType::U8]
        .into_iter()
        .map(|d| Case::new("not", Not, vec![(TensorType::new(d, &[2, 3]), Domain::Normal)], false))
        .collect()
}
