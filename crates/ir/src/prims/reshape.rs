//! Same elements, another shape (row-major). <https://openxla.org/stablehlo/spec#reshape>

use crate::lowering::LowerCx;
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// Reinterprets the row-major elements with a new shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reshape {
    /// The result shape.
    pub shape: Vec<usize>,
}

impl Rules for Reshape {
    fn name(&self) -> &'static str {
        "reshape"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        super::arity("reshape", inputs, 1)?;
        let out = TensorType::new(inputs[0].dtype, &self.shape);
        if out.num_elements() != inputs[0].num_elements() {
            return Err(TypeError::new("reshape", "c1", format!("expects the same number of elements, got {} to {:?}", inputs[0], self.shape)));
        }
        Ok(vec![out])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        Ok(cx.converting("reshape"))
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let out = TensorType::new(inputs[0].dtype(), &self.shape);
        let mut i = 0;
        Ok(vec![super::rearrange(inputs, &out, 0.0, |_| {
            i += 1;
            super::Source::Input(0, i - 1)
        })])
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        Ok(vec![Some(cx.ct().reshape(&cx.x(0).shape()))])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new("reshape_to_3x2", Reshape { shape: vec![3, 2] }, vec![(TensorType::new(DType::F64, &[2, 3]), Domain::Normal)], true),
        Case::new("reshape_to_scalar", Reshape { shape: vec![] }, vec![(TensorType::new(DType::F32, &[1, 1]), Domain::Normal)], false),
        Case::new("reshape_to_2x1x3", Reshape { shape: vec![2, 1, 3] }, vec![(TensorType::new(DType::I32, &[6]), Domain::Normal)], false),
    ]
}
