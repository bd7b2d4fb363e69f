//! Element type conversion. <https://openxla.org/stablehlo/spec#convert>

use crate::array::{Elements, float_to_int, int_to_float};
use crate::lowering::LowerCx;
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// Converts each element to `dtype`: floats round to nearest even, float-to-integer truncates
/// toward zero and saturates, anything to pred tests `!= 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Convert {
    /// The result dtype.
    pub dtype: DType,
}

impl Rules for Convert {
    fn name(&self) -> &'static str {
        "convert"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        super::arity("convert", inputs, 1)?;
        // convert_c1: shape(operand) = shape(result).
        Ok(vec![inputs[0].with_dtype(self.dtype)])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        Ok(cx.converting("convert"))
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let x = inputs[0];
        let to = self.dtype;
        let elements = match (x.elements(), to.is_float()) {
            (Elements::Float(a), true) => Elements::Float(a.clone()),
            (Elements::Float(a), false) => Elements::Int(a.mapv(|v| float_to_int(to, v))),
            (Elements::Int(a), true) => Elements::Float(a.mapv(|v| int_to_float(x.dtype(), v))),
            (Elements::Int(a), false) => Elements::Int(a.clone()),
        };
        Ok(vec![HostArray::new(to, elements)])
    }

    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        // Linear between float types: the cotangent converts back.
        let from = cx.x(0).dtype();
        Ok(vec![(from.is_float() && self.dtype.is_float()).then(|| cx.ct().cast(from))])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    let ty = |d| TensorType::new(d, &[2, 3]);
    let mut cases = vec![
        Case::new("convert_to_f32", Convert { dtype: DType::F32 }, vec![(ty(DType::F64), Domain::Normal)], true),
        Case::new("convert_to_f64", Convert { dtype: DType::F64 }, vec![(ty(DType::F32), Domain::Normal)], false),
        Case::new("convert_to_bf16", Convert { dtype: DType::BF16 }, vec![(ty(DType::F32), Domain::Normal)], false),
        Case::new("convert_to_f32", Convert { dtype: DType::F32 }, vec![(ty(DType::BF16), Domain::Normal)], false),
        Case::new("convert_to_f32", Convert { dtype: DType::F32 }, vec![(ty(DType::I32), Domain::Normal)], false),
        Case::new("convert_to_i32", Convert { dtype: DType::I32 }, vec![(ty(DType::F32), Domain::Values(vec![2.7, -2.7, 0.0, 1e10, -1e10, 0.5]))], false),
        Case::new("convert_to_pred", Convert { dtype: DType::Pred }, vec![(ty(DType::F32), Domain::Values(vec![0.0, -0.0, 1.0, 0.25, -3.0, 0.0]))], false),
        Case::new("convert_to_f32", Convert { dtype: DType::F32 }, vec![(ty(DType::Pred), Domain::Normal)], false),
        Case::new("convert_to_u8", Convert { dtype: DType::U8 }, vec![(ty(DType::I32), Domain::Ints(-3, 300))], false),
        Case::new("convert_to_i64", Convert { dtype: DType::I64 }, vec![(ty(DType::U32), Domain::Ints(0, 4_000_000_000))], false),
    ];
    cases.push(Case::new("convert_to_f16", Convert { dtype: DType::F16 }, vec![(ty(DType::F32), Domain::Normal)], false));
    cases
}
