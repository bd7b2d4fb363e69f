//! Joins operands along a dimension. <https://openxla.org/stablehlo/spec#concatenate>

use crate::lowering::LowerCx;
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// Operands of one element type and rank, equal except along `dimension`, joined along it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Concatenate {
    /// The joined dimension.
    pub dimension: usize,
}

impl Rules for Concatenate {
    fn name(&self) -> &'static str {
        "concatenate"
    }

    fn num_outputs(&self, _: usize) -> usize {
        1
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        const P: &str = "concatenate";
        let Some(first) = inputs.first() else { return Err(TypeError::new(P, "c1", "expects at least one operand")) };
        if self.dimension >= first.rank() {
            return Err(TypeError::new(P, "c4", format!("expects 0 <= dimension < rank {}, got {}", first.rank(), self.dimension)));
        }
        let mut shape = first.shape.clone();
        shape[self.dimension] = 0;
        for t in inputs {
            let same = t.dtype == first.dtype
                && t.rank() == first.rank()
                && (0..t.rank()).all(|d| d == self.dimension || t.shape[d] == first.shape[d]);
            if !same {
                return Err(TypeError::new(P, "c2", format!("expects operands equal except in dimension {}, got {first} and {t}", self.dimension)));
            }
            shape[self.dimension] += t.shape[self.dimension];
        }
        Ok(vec![TensorType::new(first.dtype, &shape)])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        Ok(cx.generic("concatenate", &format!("dimension = {} : i64", self.dimension)))
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let types: Vec<TensorType> = inputs.iter().map(|a| a.ty()).collect();
        let refs: Vec<&TensorType> = types.iter().collect();
        let out = self.infer(&refs).map_err(|e| e.to_string())?.remove(0);
        let d = self.dimension;
        let strides: Vec<Vec<usize>> = types.iter().map(|t| super::strides(&t.shape)).collect();
        Ok(vec![super::rearrange(inputs, &out, 0.0, |idx| {
            let mut offset = idx[d];
            let mut k = 0;
            while offset >= types[k].shape[d] {
                offset -= types[k].shape[d];
                k += 1;
            }
            let flat = idx.iter().enumerate().map(|(i, &v)| if i == d { offset } else { v } * strides[k][i]).sum();
            super::Source::Input(k, flat)
        })])
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        // Each operand gets its slab of the cotangent.
        let mut start = 0;
        Ok(cx
            .inputs
            .iter()
            .map(|x| {
                let n = x.shape()[self.dimension];
                start += n;
                Some(cx.ct().slice_dim(self.dimension, start - n, start))
            })
            .collect())
    }
}

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "concatenate_d1",
            Concatenate { dimension: 1 },
            vec![(TensorType::new(DType::F64, &[2, 3]), Domain::Normal), (TensorType::new(DType::F64, &[2, 1]), Domain::Normal)],
            true,
        ),
        Case::new(
            "concatenate_d0",
            Concatenate { dimension: 0 },
            vec![
                (TensorType::new(DType::I32, &[1, 2]), Domain::Normal),
                (TensorType::new(DType::I32, &[2, 2]), Domain::Normal),
                (TensorType::new(DType::I32, &[1, 2]), Domain::Normal),
            ],
            false,
        ),
    ]
}
