use ouro_ir::Tensor;

use crate::{ADAM_SLOTS, DenseRule, adam_parts, adam_state};

/// AdamW as `torch.optim.AdamW`: `p ← p·(1 − lr·wd)`, then
/// `p ← p − lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamW {
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// Decoupled weight decay (multiplied by the learning rate).
    pub weight_decay: f64,
}

impl DenseRule for AdamW {
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
        let a = adam_parts((self.beta1, self.beta2, self.weight_decay), p, g, m, v, lr, t);
        (a.decayed - a.m / (a.root_v + self.eps) * a.step_size, vec![a.m, a.v])
    }
}
