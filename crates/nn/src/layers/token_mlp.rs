use ouro_ir::{DotDims, Tensor, composite};

use super::swiglu::halves;

/// The `mlp_t` token mixer: the official SwiGLU over positions, applied to a position-major
/// state `h: [T, B, D]` (weights `gate_up: [2I, T]`, `down: [T, I]`), giving `[T, B, D]`.
///
/// The official code transposes `[B, T, D]` to `[B, D, T]` and runs its SwiGLU over the last
/// axis: matmuls `[B·D, T] × [T, 2I]` and `[B·D, I] × [I, T]` whose output rows are `T` wide
/// (97 on Sudoku, an odd vector width), plus two transposes per block. Position-major, the
/// same products are `[I, T] × [T, B·D]` (the gate, then the up projection: two matmuls on the
/// weight's halves, [`super::GateUp::Split`]) and `[T, I] × [I, B·D]`: `B·D` is the wide axis
/// and no block transposes. This is the form for XLA:CPU ([`crate::trm::Compiler::Cpu`]).
#[track_caller]
pub fn token_mlp<'t>(h: Tensor<'t>, gate_up_weight: Tensor<'t>, down_weight: Tensor<'t>) -> Tensor<'t> {
    let shape = h.shape();
    let (t, rest) = (shape[0], shape[1..].iter().product::<usize>());
    let dtype = h.dtype();
    let x = h.reshape(&[t, rest]);
    let [gate, up] = halves(gate_up_weight).map(|w| weight_times(w.cast(dtype), x));
    weight_times(down_weight.cast(dtype), composite::silu(gate) * up).reshape(&shape)
}

/// `w · x` for a weight `w: [R, K]` and `x: [K, N]`, with `w` carried as `[R, K, 1]`. The input
/// cotangent is `wᵀ · ct`, a product whose lhs is contracted on its first axis: as a plain 2-D
/// product XLA:CPU takes no bf16 matmul for it and multiplies in f32, both operands converted.
/// With the size-1 axis its dot canonicalisation transposes the weight into a row-major copy
/// instead, and the product stays a bf16 one.
fn weight_times<'t>(w: Tensor<'t>, x: Tensor<'t>) -> Tensor<'t> {
    let (shape, n) = (w.shape(), x.shape()[1]);
    let dims = DotDims { lhs_contract: vec![1], rhs_contract: vec![0], ..DotDims::default() };
    w.reshape(&[shape[0], shape[1], 1]).dot_general(x, dims).reshape(&[shape[0], n])
}
