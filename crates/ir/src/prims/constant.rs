//! A literal. <https://openxla.org/stablehlo/spec#constant>

use crate::lowering::{LowerCx, dense_literal};
use crate::prim::{Rules, VjpCx};
use crate::testing::Case;
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// A constant array.
#[derive(Clone, Debug, PartialEq)]
pub struct Constant {
    /// The value.
    pub value: HostArray,
}

impl Rules for Constant {
    fn name(&self) -> &'static str {
        "constant"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        super::arity("constant", inputs, 0)?;
        Ok(vec![self.value.ty()])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        let text = format!("{} = stablehlo.constant {} : {}", cx.name, dense_literal(&self.value), self.value.ty().mlir());
        cx.line(&text);
        Ok(vec![cx.name.to_string()])
    }

    fn eval(&self, _: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        Ok(vec![self.value.clone()])
    }

    fn differentiable(&self) -> bool {
        false
    }

    fn vjp<'t>(&self, _: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        Ok(Vec::new())
    }
}

pub(crate) fn cases() -> Vec<Case> {
    let small = HostArray::from_f64(DType::F32, &[2, 3], &[1.0, -2.5, 0.1, 3e-8, 1e30, -0.0]);
    let big: Vec<f64> = (0..40).map(|i| i as f64 * 0.37 - 3.0).collect();
    vec![
        Case::new("constant__f32_2x3", Constant { value: small }, vec![], false),
        Case::new("constant__bf16_40", Constant { value: HostArray::from_f64(DType::BF16, &[40], &big) }, vec![], false),
        Case::new("constant__i32_splat", Constant { value: HostArray::from_i64(DType::I32, &[3, 2], &[7; 6]) }, vec![], false),
        Case::new("constant__pred_3", Constant { value: HostArray::from_i64(DType::Pred, &[3], &[1, 0, 1]) }, vec![], false),
        Case::new("constant__u32_scalar", Constant { value: HostArray::from_i64(DType::U32, &[], &[4_000_000_000]) }, vec![], false),
        Case::new("constant__f64_inf", Constant { value: HostArray::from_f64(DType::F64, &[2], &[f64::INFINITY, 0.5]) }, vec![], false),
    ]
}
