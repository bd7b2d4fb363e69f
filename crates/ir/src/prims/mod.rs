//! One file per prim. Shared helpers for the elementwise ones live here.

mod bits;

use ndarray::Zip;

use crate::array::{Elements, HostArray};
use crate::testing::{Case, Domain};
use crate::{DType, TensorType, TypeError};

macro_rules! declare {
    ($($module:ident :: $ty:ident),* $(,)?) => {
        $(mod $module; pub use $module::$ty;)*

        /// The test cases of every prim (see [`crate::testing`]).
        pub fn all_cases() -> Vec<Case> {
            let mut cases = Vec::new();
            $(cases.extend($module::cases());)*
            cases
        }
    };
}

declare! {
    constant::Constant, iota::Iota, convert::Convert, bitcast_convert::BitcastConvert,
    negate::Negate, abs::Abs, exponential::Exponential, log::Log, log_plus_one::LogPlusOne,
    sqrt::Sqrt, rsqrt::Rsqrt, tanh::Tanh, logistic::Logistic, sign::Sign, floor::Floor,
    round_nearest_even::RoundNearestEven, not::Not, sine::Sine, cosine::Cosine, is_finite::IsFinite,
    add::Add, subtract::Subtract, multiply::Multiply, divide::Divide, remainder::Remainder,
    power::Power, maximum::Maximum, minimum::Minimum, atan2::Atan2, and::And, or::Or, xor::Xor,
    shift_left::ShiftLeft, shift_right_logical::ShiftRightLogical,
    shift_right_arithmetic::ShiftRightArithmetic,
    compare::Compare, select::Select, clamp::Clamp,
    reshape::Reshape, broadcast_in_dim::BroadcastInDim, transpose::Transpose, slice::Slice,
    dynamic_slice::DynamicSlice, dynamic_update_slice::DynamicUpdateSlice,
    concatenate::Concatenate, pad::Pad, reverse::Reverse,
    dot_general::DotGeneral, reduce::Reduce, gather::Gather, scatter::Scatter,
    rng_bit_generator::RngBitGenerator, while_loop::While,
    optimization_barrier::OptimizationBarrier, stop_gradient::StopGradient,
    sharding_constraint::ShardingConstraint,
}

pub use compare::Direction;
pub use gather::GatherDims;
pub use reduce::ReduceKind;
pub use rng_bit_generator::RngAlgorithm;
pub use scatter::{ScatterDims, ScatterMode};

/// Checks the operand count.
pub(crate) fn arity(prim: &'static str, inputs: &[&TensorType], n: usize) -> Result<(), TypeError> {
    if inputs.len() == n {
        Ok(())
    } else {
        Err(TypeError::other(prim, format!("expects {n} operands, got {}", inputs.len())))
    }
}

/// Dtype classes accepted by elementwise prims.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Accepts {
    Float,
    Int,
    Bitwise,
    Numeric,
    Any,
}

impl Accepts {
    fn check(self, d: DType) -> bool {
        match self {
            Accepts::Float => d.is_float(),
            Accepts::Int => d.is_int(),
            Accepts::Bitwise => d.is_bitwise(),
            Accepts::Numeric => d != DType::Pred,
            Accepts::Any => true,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Accepts::Float => "floating-point",
            Accepts::Int => "integer",
            Accepts::Bitwise => "integer or pred",
            Accepts::Numeric => "integer or floating-point",
            Accepts::Any => "any",
        }
    }
}

/// The type rule of an elementwise op: operands of one type, which `accepts` allows; the result
/// has that type.
pub(crate) fn elementwise_infer(
    prim: &'static str,
    inputs: &[&TensorType],
    n: usize,
    accepts: Accepts,
) -> Result<Vec<TensorType>, TypeError> {
    arity(prim, inputs, n)?;
    let first = inputs[0];
    if let Some(other) = inputs.iter().find(|t| **t != first) {
        return Err(TypeError::new(prim, "c1", format!("expects operands of the same type, got {first} and {other}")));
    }
    if !accepts.check(first.dtype) {
        return Err(TypeError::other(prim, format!("expects {} operands, got {first}", accepts.describe())));
    }
    Ok(vec![first.clone()])
}

/// Applies `f` to every float element.
pub(crate) fn map_float(x: &HostArray, f: impl Fn(f64) -> f64) -> Result<Vec<HostArray>, String> {
    match x.elements() {
        Elements::Float(a) => Ok(vec![HostArray::new(x.dtype(), Elements::Float(a.mapv(f)))]),
        Elements::Int(_) => Err(format!("expects a float array, got {}", x.ty())),
    }
}

/// Applies `f` to every integer element (`f` gets the dtype for unsigned handling).
pub(crate) fn map_int(x: &HostArray, f: impl Fn(i64) -> i64) -> Result<Vec<HostArray>, String> {
    match x.elements() {
        Elements::Int(a) => Ok(vec![HostArray::new(x.dtype(), Elements::Int(a.mapv(f)))]),
        Elements::Float(_) => Err(format!("expects an integer array, got {}", x.ty())),
    }
}

/// Combines two same-shape arrays elementwise into an array of `out` dtype.
pub(crate) fn zip_with(
    a: &HostArray,
    b: &HostArray,
    out: DType,
    float: impl Fn(f64, f64) -> f64,
    int: impl Fn(i64, i64) -> i64,
) -> Result<Vec<HostArray>, String> {
    let elements = match (a.elements(), b.elements()) {
        (Elements::Float(x), Elements::Float(y)) => {
            Elements::Float(Zip::from(x).and(y).map_collect(|&p, &q| float(p, q)))
        }
        (Elements::Int(x), Elements::Int(y)) => Elements::Int(Zip::from(x).and(y).map_collect(|&p, &q| int(p, q))),
        _ => return Err(format!("mixed float and integer operands {} and {}", a.ty(), b.ty())),
    };
    Ok(vec![HostArray::new(out, elements)])
}

/// Generates the struct and [`crate::prim::Rules`] impl of an elementwise prim; the file adds
/// `fn vjp_rule` (and optionally overrides differentiability).
macro_rules! elementwise {
    ($(#[$doc:meta])* $name:ident, $op:literal, arity: $n:literal, accepts: $accepts:ident,
     eval: $eval:expr, differentiable: $diff:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name;

        impl $crate::prim::Rules for $name {
            fn name(&self) -> &'static str {
                $op
            }
            fn infer(&self, inputs: &[&$crate::TensorType]) -> Result<Vec<$crate::TensorType>, $crate::TypeError> {
                super::elementwise_infer($op, inputs, $n, super::Accepts::$accepts)
            }
            fn lower(&self, cx: &mut $crate::lowering::LowerCx<'_>) -> Result<Vec<String>, String> {
                Ok(cx.elementwise($op))
            }
            fn eval(&self, inputs: &[&$crate::HostArray]) -> Result<Vec<$crate::HostArray>, String> {
                let f: fn(&[&$crate::HostArray]) -> Result<Vec<$crate::HostArray>, String> = $eval;
                f(inputs)
            }
            fn differentiable(&self) -> bool {
                $diff
            }
            fn vjp<'t>(&self, cx: &$crate::prim::VjpCx<'t>) -> Result<Vec<Option<$crate::Tensor<'t>>>, String> {
                Ok(vjp_rule(cx))
            }
        }
    };
}
pub(crate) use elementwise;

/// Unary float cases: f64 for gradient checks, f32 and bf16 for lowering and agreement.
pub(crate) fn unary_float_cases(prim: impl Into<crate::Prim> + Clone, name: &str, domain: Domain) -> Vec<Case> {
    [(DType::F64, true), (DType::F32, false), (DType::BF16, false)]
        .into_iter()
        .map(|(dtype, grad)| {
            Case::new(name, prim.clone(), vec![(TensorType::new(dtype, &[2, 3]), domain.clone())], grad)
        })
        .collect()
}

/// Binary cases of one dtype class.
pub(crate) fn binary_cases(
    prim: impl Into<crate::Prim> + Clone,
    name: &str,
    dtypes: &[DType],
    domain: (Domain, Domain),
    grad: bool,
) -> Vec<Case> {
    dtypes
        .iter()
        .map(|&dtype| {
            let ty = TensorType::new(dtype, &[2, 3]);
            Case::new(
                name,
                prim.clone(),
                vec![(ty.clone(), domain.0.clone()), (ty, domain.1.clone())],
                grad && dtype == DType::F64,
            )
        })
        .collect()
}

/// Row-major strides of a shape.
pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Calls `f` with every multi-index of `shape` in row-major order.
pub(crate) fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize])) {
    if shape.contains(&0) {
        return;
    }
    let mut idx = vec![0; shape.len()];
    loop {
        f(&idx);
        let mut d = shape.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// Where an output element comes from.
pub(crate) enum Source {
    /// Input `k`, flat (row-major) index.
    Input(usize, usize),
    /// The fill value.
    Fill,
}

/// Builds an array of type `out` whose elements are copied from `inputs` (or `fill`) as `source`
/// says: the reference implementation of every data-movement prim.
pub(crate) fn rearrange(
    inputs: &[&HostArray],
    out: &TensorType,
    fill: f64,
    mut source: impl FnMut(&[usize]) -> Source,
) -> HostArray {
    let n = out.num_elements();
    if out.dtype.is_float() {
        let flat: Vec<Vec<f64>> = inputs.iter().map(|a| a.to_f64_vec()).collect();
        let mut v = Vec::with_capacity(n);
        for_each_index(&out.shape, |idx| {
            v.push(match source(idx) {
                Source::Input(k, i) => flat[k][i],
                Source::Fill => fill,
            })
        });
        HostArray::from_f64(out.dtype, &out.shape, &v)
    } else {
        let flat: Vec<Vec<i64>> = inputs.iter().map(|a| a.to_i64_vec()).collect();
        let mut v = Vec::with_capacity(n);
        for_each_index(&out.shape, |idx| {
            v.push(match source(idx) {
                Source::Input(k, i) => flat[k][i],
                Source::Fill => fill as i64,
            })
        });
        HostArray::from_i64(out.dtype, &out.shape, &v)
    }
}

/// The flat index of `idx` with `strides`.
pub(crate) fn flat_index(idx: &[usize], strides: &[usize]) -> usize {
    idx.iter().zip(strides).map(|(i, s)| i * s).sum()
}

/// Checks that `values` is a permutation of `0..n`.
pub(crate) fn is_permutation(values: &[usize], n: usize) -> bool {
    let mut seen = vec![false; n];
    values.len() == n && values.iter().all(|&v| v < n && !std::mem::replace(&mut seen[v], true))
}

/// Checks that `values` are unique and sorted ascending.
pub(crate) fn sorted_unique(values: &[usize]) -> bool {
    values.windows(2).all(|w| w[0] < w[1])
}
