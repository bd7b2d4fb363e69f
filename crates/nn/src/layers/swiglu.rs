use ouro_ir::{Tensor, composite};

use super::linear;

/// `down(silu(gate) ⊙ up)` with `[gate | up] = gate_up(x)` (`gate_up: h → 2I`, first half the
/// gate), over the last axis of `x`.
#[track_caller]
pub fn swiglu<'t>(x: Tensor<'t>, gate_up_weight: Tensor<'t>, down_weight: Tensor<'t>) -> Tensor<'t> {
    let gate_up = linear(x, gate_up_weight, None);
    let last = gate_up.rank() - 1;
    let inter = gate_up.shape()[last] / 2;
    let gate = gate_up.slice_dim(last, 0, inter);
    let up = gate_up.slice_dim(last, inter, 2 * inter);
    linear(composite::silu(gate) * up, down_weight, None)
}
