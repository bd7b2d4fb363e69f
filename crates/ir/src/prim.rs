//! The closed set of primitives. Each lives in its own file under `prims/` with every rule it
//! has: parameters, type rule, StableHLO lowering, reference evaluation, VJP.
//!
//! Adding a prim means adding a file and a line to [`prims!`]; the exhaustive `match` in
//! [`Prim::rules`] is the checklist.

use std::fmt;

use crate::array::HostArray;
use crate::func::Func;
use crate::lowering::LowerCx;
use crate::prims::*;
use crate::tracer::{Tensor, Tracer};
use crate::{TensorType, TypeError};

/// The rules of one primitive.
pub trait Rules: fmt::Debug + Send + Sync {
    /// The StableHLO op name (`dot_general`), used in errors and locations.
    fn name(&self) -> &'static str;

    /// Outputs for `num_inputs` operands (used to poison outputs when the type rule fails).
    fn num_outputs(&self, _num_inputs: usize) -> usize {
        1
    }

    /// The type rule: output types from input types, or the constraint that fails.
    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError>;

    /// Writes the StableHLO for one application and returns the names of its results.
    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String>;

    /// Evaluates on host arrays (the reference interpreter, in f64 for floats).
    fn eval(&self, inputs: &[&HostArray]) -> Result<Vec<HostArray>, String>;

    /// Whether any output can carry a gradient; false for comparisons, integer results, rng,
    /// stop_gradient. Non-differentiable prims need no VJP.
    fn differentiable(&self) -> bool {
        true
    }

    /// Cotangents of the inputs given the cotangents of the outputs (`None` is a symbolic zero).
    fn vjp<'t>(&self, cx: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String>;

    /// Functions nested in this prim (loop condition and body).
    fn sub_funcs(&self) -> Vec<&Func> {
        Vec::new()
    }
}

/// What a VJP rule receives: forward inputs and outputs, and output cotangents.
pub struct VjpCx<'t> {
    /// The tracer to emit the backward equations into.
    pub tr: &'t Tracer,
    /// Forward inputs.
    pub inputs: Vec<Tensor<'t>>,
    /// Forward outputs (`ans`), reusable by rules such as `exp`.
    pub outputs: Vec<Tensor<'t>>,
    /// Cotangent of each output; `None` is zero.
    pub cts: Vec<Option<Tensor<'t>>>,
}

impl<'t> VjpCx<'t> {
    /// Input `i`.
    pub fn x(&self, i: usize) -> Tensor<'t> {
        self.inputs[i]
    }

    /// Output 0.
    pub fn ans(&self) -> Tensor<'t> {
        self.outputs[0]
    }

    /// Cotangent of output 0 (rules are only called when some output cotangent is nonzero).
    pub fn ct(&self) -> Tensor<'t> {
        self.cts[0].expect("the VJP of a one-output prim is only called with its cotangent")
    }
}

macro_rules! prims {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// A primitive with its parameters; one variant per StableHLO op ouro emits.
        #[derive(Clone, Debug)]
        #[allow(missing_docs)]
        pub enum Prim { $($variant($ty)),* }

        impl Prim {
            /// The prim's rules.
            pub fn rules(&self) -> &dyn Rules {
                match self { $(Prim::$variant(p) => p),* }
            }
        }

        $(impl From<$ty> for Prim {
            fn from(p: $ty) -> Prim { Prim::$variant(p) }
        })*
    };
}

prims! {
    Constant(Constant),
    Iota(Iota),
    Convert(Convert),
    BitcastConvert(BitcastConvert),
    Negate(Negate),
    Abs(Abs),
    Exponential(Exponential),
    Log(Log),
    LogPlusOne(LogPlusOne),
    Sqrt(Sqrt),
    Rsqrt(Rsqrt),
    Tanh(Tanh),
    Logistic(Logistic),
    Sign(Sign),
    Floor(Floor),
    RoundNearestEven(RoundNearestEven),
    Not(Not),
    Sine(Sine),
    Cosine(Cosine),
    IsFinite(IsFinite),
    Add(Add),
    Subtract(Subtract),
    Multiply(Multiply),
    Divide(Divide),
    Remainder(Remainder),
    Power(Power),
    Maximum(Maximum),
    Minimum(Minimum),
    Atan2(Atan2),
    And(And),
    Or(Or),
    Xor(Xor),
    ShiftLeft(ShiftLeft),
    ShiftRightLogical(ShiftRightLogical),
    ShiftRightArithmetic(ShiftRightArithmetic),
    Compare(Compare),
    Select(Select),
    Clamp(Clamp),
    Reshape(Reshape),
    BroadcastInDim(BroadcastInDim),
    Transpose(Transpose),
    Slice(Slice),
    DynamicSlice(DynamicSlice),
    DynamicUpdateSlice(DynamicUpdateSlice),
    Concatenate(Concatenate),
    Pad(Pad),
    Reverse(Reverse),
    DotGeneral(DotGeneral),
    Reduce(Reduce),
    Gather(Gather),
    Scatter(Scatter),
    RngBitGenerator(RngBitGenerator),
    While(While),
    OptimizationBarrier(OptimizationBarrier),
    StopGradient(StopGradient),
    ShardingConstraint(ShardingConstraint),
}

impl Prim {
    /// The StableHLO op name.
    pub fn name(&self) -> &'static str {
        self.rules().name()
    }

    /// Output types from input types.
    pub fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        self.rules().infer(inputs)
    }

    /// Nested functions.
    pub fn sub_funcs(&self) -> Vec<&Func> {
        self.rules().sub_funcs()
    }
}
