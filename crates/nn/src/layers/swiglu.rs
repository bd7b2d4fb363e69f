use ouro_ir::{Tensor, composite};

use super::linear;

/// How a SwiGLU forms its gate and up projections: the same values, written for what the
/// compiler fuses well (measured in docs/performance.md, "Graph forms").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateUp {
    /// One matmul with the `2I`-wide weight, its output split in halves: `x` is read once
    /// (what the TPU compiler streams best).
    Fused,
    /// Two matmuls with the weight's halves: XLA:CPU copies each half of a split output out
    /// before a library (YNNPACK) fusion can read it, while the weight's halves are small.
    Split,
}

/// `down(silu(gate) ⊙ up)` with `[gate | up] = gate_up(x)` (`gate_up: h → 2I`, first half the
/// gate), over the last axis of `x`.
#[track_caller]
pub fn swiglu<'t>(x: Tensor<'t>, gate_up_weight: Tensor<'t>, down_weight: Tensor<'t>, form: GateUp) -> Tensor<'t> {
    let (gate, up) = match form {
        GateUp::Fused => {
            let gate_up = linear(x, gate_up_weight, None);
            let last = gate_up.rank() - 1;
            let inter = gate_up.shape()[last] / 2;
            (gate_up.slice_dim(last, 0, inter), gate_up.slice_dim(last, inter, 2 * inter))
        }
        GateUp::Split => {
            let [gate_weight, up_weight] = halves(gate_up_weight);
            (linear(x, gate_weight, None), linear(x, up_weight, None))
        }
    };
    linear(composite::silu(gate) * up, down_weight, None)
}

/// The gate's rows and the up projection's rows of a `[2I, h]` weight.
#[track_caller]
pub(crate) fn halves(gate_up_weight: Tensor<'_>) -> [Tensor<'_>; 2] {
    let inter = gate_up_weight.shape()[0] / 2;
    [gate_up_weight.slice_dim(0, 0, inter), gate_up_weight.slice_dim(0, inter, 2 * inter)]
}
