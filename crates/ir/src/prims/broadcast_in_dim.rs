//! Expands an operand to a larger shape. <https://openxla.org/stablehlo/spec#broadcast_in_dim>

use crate::lowering::{LowerCx, dim_list};
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// Operand dimension `i` becomes result dimension `broadcast_dimensions[i]` (size 1 may grow);
/// the other result dimensions repeat the operand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BroadcastInDim {
    /// The result shape.
    pub shape: Vec<usize>,
    /// Where each operand dimension goes.
    pub broadcast_dimensions: Vec<usize>,
}

impl Rules for BroadcastInDim {
    fn name(&self) -> &'static str {
        "broadcast_in_dim"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        const P: &str = "broadcast_in_dim";
        super::arity(P, inputs, 1)?;
        let (x, dims) = (inputs[0], &self.broadcast_dimensions);
        if dims.len() != x.rank() {
            return Err(TypeError::new(P, "c2", format!("expects one broadcast dimension per operand dimension, got {dims:?} for {x}")));
        }
        if let Some(&d) = dims.iter().find(|&&d| d >= self.shape.len()) {
            return Err(TypeError::new(P, "c4", format!("expects broadcast dimensions < rank(result) = {}, got {d}", self.shape.len())));
        }
        if dims.iter().collect::<std::collections::BTreeSet<_>>().len() != dims.len() {
            return Err(TypeError::new(P, "c3", format!("expects unique broadcast dimensions, got {dims:?}")));
        }
        for (i, &d) in dims.iter().enumerate() {
            if x.shape[i] != 1 && x.shape[i] != self.shape[d] {
                return Err(TypeError::new(
                    P,
                    "c5",
                    format!("expects operand dimension {i} (size {}) to be 1 or {}, got {x} to {:?}", x.shape[i], self.shape[d], self.shape),
                ));
            }
        }
        Ok(vec![TensorType::new(x.dtype, &self.shape)])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        let text = format!("{} = stablehlo.broadcast_in_dim {}, dims = {} : {}", cx.name, cx.inputs[0], dim_list(&self.broadcast_dimensions), cx.functional_type());
        cx.line(&text);
        Ok(vec![cx.name.to_string()])
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let x = inputs[0];
        let in_shape = x.shape().to_vec();
        let st = super::strides(&in_shape);
        let out = TensorType::new(x.dtype(), &self.shape);
        Ok(vec![super::rearrange(inputs, &out, 0.0, |idx| {
            let flat = self.broadcast_dimensions.iter().enumerate().map(|(i, &d)| if in_shape[i] == 1 { 0 } else { idx[d] * st[i] }).sum();
            super::Source::Input(0, flat)
        })])
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        // Sum over every result dimension that repeated the operand, then restore its shape.
        let x_shape = cx.x(0).shape();
        let summed: Vec<usize> = (0..self.shape.len())
            .filter(|d| match self.broadcast_dimensions.iter().position(|b| b == d) {
                None => true,
                Some(i) => x_shape[i] == 1 && self.shape[*d] != 1,
            })
            .collect();
        Ok(vec![Some(cx.ct().sum(&summed).reshape(&x_shape))])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new("broadcast_in_dim_rows", BroadcastInDim { shape: vec![4, 3], broadcast_dimensions: vec![1] }, vec![(TensorType::new(DType::F64, &[3]), Domain::Normal)], true),
        Case::new("broadcast_in_dim_grow", BroadcastInDim { shape: vec![2, 4, 3], broadcast_dimensions: vec![0, 1, 2] }, vec![(TensorType::new(DType::F64, &[2, 1, 3]), Domain::Normal)], true),
        Case::new("broadcast_in_dim_scalar", BroadcastInDim { shape: vec![2, 2], broadcast_dimensions: vec![] }, vec![(TensorType::scalar(DType::I32), Domain::Normal)], false),
        Case::new("broadcast_in_dim_permuted", BroadcastInDim { shape: vec![3, 5, 2], broadcast_dimensions: vec![2, 0] }, vec![(TensorType::new(DType::F32, &[2, 3]), Domain::Normal)], false),
    ]
}
