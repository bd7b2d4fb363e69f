//! `0, 1, 2, ...` along one dimension. <https://openxla.org/stablehlo/spec#iota>

use crate::lowering::LowerCx;
use crate::prim::{Rules, VjpCx};
use crate::testing::Case;
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// Each element is its index along `dimension`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iota {
    /// The result type.
    pub ty: TensorType,
    /// The counting dimension.
    pub dimension: usize,
}

impl Rules for Iota {
    fn name(&self) -> &'static str {
        "iota"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        super::arity("iota", inputs, 0)?;
        if self.dimension >= self.ty.rank() {
            return Err(TypeError::new("iota", "c1", format!("expects 0 <= iota_dimension < rank(result), got {} for {}", self.dimension, self.ty)));
        }
        if self.ty.dtype == DType::Pred {
            return Err(TypeError::other("iota", "expects an integer or floating-point result, got pred"));
        }
        Ok(vec![self.ty.clone()])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        let text = format!("{} = stablehlo.iota dim = {} : {}", cx.name, self.dimension, self.ty.mlir());
        cx.line(&text);
        Ok(vec![cx.name.to_string()])
    }

    fn eval(&self, _: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let mut v = Vec::with_capacity(self.ty.num_elements());
        super::for_each_index(&self.ty.shape, |idx| v.push(idx[self.dimension] as f64));
        Ok(vec![HostArray::from_f64(self.ty.dtype, &self.ty.shape, &v)])
    }

    fn differentiable(&self) -> bool {
        false
    }

    fn vjp<'t>(&self, _: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        Ok(Vec::new())
    }
}

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new("iota__i32_3x4_d1", Iota { ty: TensorType::new(DType::I32, &[3, 4]), dimension: 1 }, vec![], false),
        Case::new("iota__f32_5_d0", Iota { ty: TensorType::new(DType::F32, &[5]), dimension: 0 }, vec![], false),
        Case::new("iota__u32_2x3x2_d0", Iota { ty: TensorType::new(DType::U32, &[2, 3, 2]), dimension: 0 }, vec![], false),
    ]
}
