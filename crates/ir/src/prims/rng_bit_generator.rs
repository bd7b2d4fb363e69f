//! Random bits from a state, and the next state. <https://openxla.org/stablehlo/spec#rng_bit_generator>
//!
//! The bits are the backend's own: XLA's CPU, GPU and TPU may differ, and the reference
//! interpreter has none. ouro's samplers use the counter-based Threefry of [`crate::random`]
//! instead, which is reproducible everywhere; this prim is the backend's fast path.

use crate::lowering::LowerCx;
use crate::prim::{Rules, VjpCx};
use crate::testing::{Case, Domain};
use crate::{DType, HostArray, Tensor, TensorType, TypeError};

/// The generator algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RngAlgorithm {
    /// The backend's choice.
    Default,
    /// Threefry (state `u64[2]`).
    ThreeFry,
    /// Philox (state `u64[2]` or `u64[3]`).
    Philox,
}

/// `(state) -> (new_state, bits)`: `bits` of the given type, unsigned integers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RngBitGenerator {
    /// The algorithm.
    pub algorithm: RngAlgorithm,
    /// The type of the bits (u32 or u64).
    pub ty: TensorType,
}

impl Rules for RngBitGenerator {
    fn name(&self) -> &'static str {
        "rng_bit_generator"
    }

    fn num_outputs(&self, _: usize) -> usize {
        2
    }

    fn infer(&self, inputs: &[&TensorType]) -> Result<Vec<TensorType>, TypeError> {
        const P: &str = "rng_bit_generator";
        super::arity(P, inputs, 1)?;
        let state = inputs[0];
        let sizes: &[usize] = match self.algorithm {
            RngAlgorithm::Default => &[2],
            RngAlgorithm::ThreeFry => &[2],
            RngAlgorithm::Philox => &[2, 3],
        };
        if state.dtype != DType::U64 || state.rank() != 1 || !sizes.contains(&state.shape[0]) {
            return Err(TypeError::new(P, "c2", format!("expects a u64[{}] state for {:?}, got {state}", sizes[0], self.algorithm)));
        }
        if !matches!(self.ty.dtype, DType::U32 | DType::U64) {
            return Err(TypeError::other(P, format!("expects u32 or u64 bits, got {}", self.ty)));
        }
        Ok(vec![state.clone(), self.ty.clone()])
    }

    fn lower(&self, cx: &mut LowerCx<'_>) -> Result<Vec<String>, String> {
        let algorithm = match self.algorithm {
            RngAlgorithm::Default => "DEFAULT",
            RngAlgorithm::ThreeFry => "THREE_FRY",
            RngAlgorithm::Philox => "PHILOX",
        };
        Ok(cx.generic("rng_bit_generator", &format!("rng_algorithm = #stablehlo<rng_algorithm {algorithm}>")))
    }

    fn eval(&self, _: &[&HostArray]) -> Result<Vec<HostArray>, String> {
        Err("rng_bit_generator has no reference implementation: its bits are the backend's".into())
    }

    fn differentiable(&self) -> bool {
        false
    }

    fn vjp<'t>(&self, _: &VjpCx<'t>) -> Result<Vec<Option<Tensor<'t>>>, String> {
        Ok(vec![None])
    }
}

pub(crate) fn cases() -> Vec<Case> {
    let state = (TensorType::new(DType::U64, &[2]), Domain::Values(vec![42.0, 7.0]));
    vec![
        Case::new("rng_bit_generator_threefry", RngBitGenerator { algorithm: RngAlgorithm::ThreeFry, ty: TensorType::new(DType::U32, &[4, 8]) }, vec![state.clone()], false),
        Case::new("rng_bit_generator_default", RngBitGenerator { algorithm: RngAlgorithm::Default, ty: TensorType::new(DType::U64, &[16]) }, vec![state], false),
    ]
}
