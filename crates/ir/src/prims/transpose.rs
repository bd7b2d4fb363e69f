//! Permutes dimensions. <https://openxla.org/stablehlo/spec#transpose>

use crate::lowering::{LowerCx, dim_list};
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// Result dimension `i` is operand dimension `permutation[i]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transpose {
    /// The permutation.
    pub permutation: Vec<usize>,
}

impl Rules for Transpose {
    fn name(&self) -> &'static str {
        "transpose"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        super::arity("transpose", inputs, 1)?;
        let x = inputs[0];
        if !super::is_permutation(&self.permutation, x.rank()) {
            return Err(TypeError::new("transpose", "c2", format!("expects a permutation of 0..{}, got {:?}", x.rank(), self.permutation)));
        }
        let shape: Vec<usize> = self.permutation.iter().map(|&p| x.shape[p]).collect();
        Ok(vec![TensorType::new(x.dtype, &shape)])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        let text = format!("{} = stablehlo.transpose {}, dims = {} : {}", cx.name, cx.inputs[0], dim_list(&self.permutation), cx.functional_type());
        cx.line(&text);
        Ok(vec![cx.name.to_string()])
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let x = inputs[0];
        let st = super::strides(x.shape());
        let out = self.infer(&[&x.ty()]).map_err(|e| e.to_string())?.remove(0);
        Ok(vec![super::rearrange(inputs, &out, 0.0, |idx| {
            super::Source::Input(0, self.permutation.iter().enumerate().map(|(i, &p)| idx[i] * st[p]).sum())
        })])
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        let mut inverse = vec![0; self.permutation.len()];
        for (i, &p) in self.permutation.iter().enumerate() {
            inverse[p] = i;
        }
        Ok(vec![Some(cx.ct().transpose(&inverse))])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new("transpose_10", Transpose { permutation: vec![1, 0] }, vec![(TensorType::new(DType::F64, &[2, 3]), Domain::Normal)], true),
        Case::new("transpose_201", Transpose { permutation: vec![2, 0, 1] }, vec![(TensorType::new(DType::F64, &[2, 3, 4]), Domain::Normal)], true),
        Case::new("transpose_021", Transpose { permutation: vec![0, 2, 1] }, vec![(TensorType::new(DType::BF16, &[2, 3, 4]), Domain::Normal)], false),
    ]
}
