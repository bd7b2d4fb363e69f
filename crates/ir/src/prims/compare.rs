//! Elementwise comparison into pred. <https://openxla.org/stablehlo/spec#compare>

use crate::lowering::LowerCx;
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// A comparison direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Direction {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Direction {
    fn mlir(self) -> &'static str {
        match self {
            Direction::Eq => "EQ",
            Direction::Ne => "NE",
            Direction::Lt => "LT",
            Direction::Le => "LE",
            Direction::Gt => "GT",
            Direction::Ge => "GE",
        }
    }

    fn holds<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Direction::Eq => a == b,
            Direction::Ne => a != b,
            Direction::Lt => a < b,
            Direction::Le => a <= b,
            Direction::Gt => a > b,
            Direction::Ge => a >= b,
        }
    }
}

/// `lhs <direction> rhs`, with the float (IEEE: NaN compares unequal), signed or unsigned
/// comparison that the operand type implies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compare {
    /// The comparison.
    pub direction: Direction,
}

impl Rules for Compare {
    fn name(&self) -> &'static str {
        "compare"
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        super::arity("compare", inputs, 2)?;
        if inputs[0] != inputs[1] {
            return Err(TypeError::new("compare", "c1", format!("expects operands of the same type, got {} and {}", inputs[0], inputs[1])));
        }
        Ok(vec![inputs[0].with_dtype(DType::Pred)])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        let dtype = cx.input_types[0].dtype;
        let kind = if dtype.is_float() {
            "FLOAT"
        } else if dtype.is_unsigned() || dtype == DType::Pred {
            "UNSIGNED"
        } else {
            "SIGNED"
        };
        let text = format!("{} = stablehlo.compare {}, {}, {}, {kind} : {}", cx.name, self.direction.mlir(), cx.inputs[0], cx.inputs[1], cx.functional_type());
        cx.line(&text);
        Ok(vec![cx.name.to_string()])
    }

    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        let (a, b) = (inputs[0], inputs[1]);
        let d = self.direction;
        let dtype = a.dtype();
        let values: Vec<i64> = if dtype.is_float() {
            a.to_f64_vec().into_iter().zip(b.to_f64_vec()).map(|(x, y)| i64::from(d.holds(x, y))).collect()
        } else if dtype == DType::U64 {
            a.to_i64_vec().into_iter().zip(b.to_i64_vec()).map(|(x, y)| i64::from(d.holds(x as u64, y as u64))).collect()
        } else {
            a.to_i64_vec().into_iter().zip(b.to_i64_vec()).map(|(x, y)| i64::from(d.holds(x, y))).collect()
        };
        Ok(vec![HostArray::from_i64(DType::Pred, a.shape(), &values)])
    }

    fn differentiable(&self) -> bool {
        false
    }

    fn vjp<'t>(&self, _: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        Ok(vec![None, None])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    let ties = Domain::Values(vec![1.0, 2.0, -1.0, 0.5, f64::NAN, 3.0]);
    let other = Domain::Values(vec![1.0, 1.0, 2.0, 0.5, 1.0, -3.0]);
    let mut cases = Vec::new();
    for direction in [Direction::Eq, Direction::Ne, Direction::Lt, Direction::Le, Direction::Gt, Direction::Ge] {
        let name = format!("compare_{}", direction.mlir().to_lowercase());
        let f32 = TensorType::new(DType::F32, &[2, 3]);
        cases.push(Case::new(&name, Compare { direction }, vec![(f32.clone(), ties.clone()), (f32, other.clone())], false));
    }
    let u32 = TensorType::new(DType::U32, &[2, 3]);
    cases.push(Case::new("compare_lt", Compare { direction: Direction::Lt }, vec![(u32.clone(), Domain::Ints(0, 4_000_000_000)), (u32, Domain::Ints(0, 4_000_000_000))], false));
    let i32 = TensorType::new(DType::I32, &[2, 3]);
    cases.push(Case::new("compare_ge", Compare { direction: Direction::Ge }, vec![(i32.clone(), Domain::Normal), (i32, Domain::Normal)], false));
    cases
}
