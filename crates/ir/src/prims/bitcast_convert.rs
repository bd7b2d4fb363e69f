//! Reinterprets bits as another element type of the same width.
//! <https://openxla.org/stablehlo/spec#bitcast_convert>

use crate::lowering::LowerCx;
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// Same bits, another dtype of the same width (ouro does not change the rank).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BitcastConvert {
    /// The result dtype.
    pub dtype: DType,
}

impl Rules for BitcastConvert {
    fn name(&self) -> &'static str {
        "bitcast_convert"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        super::arity("bitcast_convert", inputs, 1)?;
        let from = inputs[0].dtype;
        if from.bits() != self.dtype.bits() || from == DType::Pred || self.dtype == DType::Pred {
            return Err(TypeError::other(
                "bitcast_convert",
                format!("expects element types of equal bit width (not pred), got {from} to {}", self.dtype),
            ));
        }
        Ok(vec![inputs[0].with_dtype(self.dtype)])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        Ok(cx.converting("bitcast_convert"))
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let ty = inputs[0].ty().with_dtype(self.dtype);
        HostArray::from_bytes(&ty, &inputs[0].to_bytes()).map(|a| vec![a]).ok_or_else(|| "byte size mismatch".to_string())
    }

    fn differentiable(&self) -> bool {
        false
    }

    fn vjp<'t>(&self, _: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        Ok(vec![None])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    vec![
        Case::new("bitcast_convert_to_u32", BitcastConvert { dtype: DType::U32 }, vec![(TensorType::new(DType::F32, &[2, 3]), Domain::Normal)], false),
        Case::new("bitcast_convert_to_f32", BitcastConvert { dtype: DType::F32 }, vec![(TensorType::new(DType::U32, &[4]), Domain::Values(vec![0x3f80_0000 as f64, 0.0, 0x4049_0fdb as f64, 0xbf00_0000u32 as f64]))], false),
        Case::new("bitcast_convert_to_i32", BitcastConvert { dtype: DType::I32 }, vec![(TensorType::new(DType::U32, &[3]), Domain::Values(vec![4_294_967_295.0, 1.0, 2_147_483_648.0]))], false),
    ]
}
