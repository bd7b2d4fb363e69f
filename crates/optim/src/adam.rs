use ouro_ir::Tensor;

use crate::{ADAM_SLOTS, DenseRule, adam_parts, adam_state};

/// Adam as `torch.optim.Adam`: weight decay is an L2 term added to the gradient (`g + wd·p`,
/// coupled, unlike AdamW's), then `p ← p − lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
}

impl DenseRule for Adam {
    fn slots(&self) -> &'static [&'static str] {
        &ADAM_SLOTS
    }

    fn update<'t>(
        &self,
        p: Tensor<'t>,
        g: Tensor<'t>,
        state: &[Tensor<'t>],
        lr: Tensor<'t>,
        t: Tensor<'t>,
    ) -> (Tensor<'t>, Vec<Tensor<'t>>) {
        let (m, v) = adam_state(state);
        let g = g + p * self.weight_decay;
        let a = adam_parts((self.beta1, self.beta2, 0.0), p, g, m, v, lr, t);
        (p - a.m / (a.root_v + self.eps) * a.step_size, vec![a.m, a.v])
    }
}
