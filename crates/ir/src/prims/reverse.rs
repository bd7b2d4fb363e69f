//! Reverses the order of elements along dimensions. <https://openxla.org/stablehlo/spec#reverse>

use crate::lowering::{LowerCx, i64_array};
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// Reverses along each of `dimensions`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reverse {
    /// The reversed dimensions (unique).
    pub dimensions: Vec<usize>,
}

impl Rules for Reverse {
    fn name(&self) -> &'static str {
        "reverse"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        super::arity("reverse", inputs, 1)?;
        let x = inputs[0];
        if self.dimensions.iter().collect::<std::collections::BTreeSet<_>>().len() != self.dimensions.len() {
            return Err(TypeError::new("reverse", "c2", format!("expects unique dimensions, got {:?}", self.dimensions)));
        }
        if let Some(d) = self.dimensions.iter().find(|&&d| d >= x.rank()) {
            return Err(TypeError::new("reverse", "c3", format!("expects dimensions < rank {}, got {d}", x.rank())));
        }
        Ok(vec![x.clone()])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        Ok(cx.generic("reverse", &format!("dimensions = {}", i64_array(&self.dimensions))))
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let x = inputs[0];
        let st = super::strides(x.shape());
        let shape = x.shape().to_vec();
        Ok(vec![super::rearrange(inputs, &x.ty(), 0.0, |idx| {
            let flat = idx.iter().enumerate().map(|(d, &i)| if self.dimensions.contains(&d) { shape[d] - 1 - i } else { i } * st[d]).sum();
            super::Source::Input(0, flat)
        })])
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        Ok(vec![Some(cx.ct().reverse(&self.dimensions))])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new("reverse_d1", Reverse { dimensions: vec![1] }, vec![(TensorType::new(DType::F64, &[2, 3]), Domain::Normal)], true),
        Case::new("reverse_d01", Reverse { dimensions: vec![0, 1] }, vec![(TensorType::new(DType::I32, &[2, 3]), Domain::Normal)], false),
    ]
}
