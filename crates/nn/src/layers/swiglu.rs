use ouro_ir::{Tensor, composite};

use super::linear;

/// `down(silu(gate) ⊙ up)` with `[gate | up] = gate_up(x)` (`gate_up: h → 2I`, first half the
/// gate), over the last axis of `x`.
///
/// The gate and the up projection are two matmuls with halves of the weight rather than one
/// whose output is split: XLA:CPU would copy each half of the `2I`-wide output out before a
/// library fusion could read it, while the weight's halves are small.
#[track_caller]
pub fn swiglu<'t>(x: Tensor<'t>, gate_up_weight: Tensor<'t>, down_weight: Tensor<'t>) -> Tensor<'t> {
    let [gate_weight, up_weight] = halves(gate_up_weight);
    let (gate, up) = (linear(x, gate_weight, None), linear(x, up_weight, None));
    linear(composite::silu(gate) * up, down_weight, None)
}

/// The gate's rows and the up projection's rows of a `[2I, h]` weight.
#[track_caller]
pub(crate) fn halves(gate_up_weight: Tensor<'_>) -> [Tensor<'_>; 2] {
    let inter = gate_up_weight.shape()[0] / 2;
    [gate_up_weight.slice_dim(0, 0, inter), gate_up_weight.slice_dim(0, inter, 2 * inter)]
}
