use ouro_ir::Tensor;

use crate::{ADAM_SLOTS, DenseRule, adam_parts, adam_state};

/// AdamATan2 as the official training used it (imoneoi/adam_atan2 at its latest kernel):
/// decoupled weight decay first, `p ← p·(1 − lr·wd)`; then `m ← β1 m + (1−β1) g`,
/// `v ← β2 v + (1−β2) g²`, `p ← p − lr/(1−β1^t) · atan2(m, √v / √(1−β2^t))`. No epsilon: the
/// update is invariant to the scale of the gradient and bounded by `lr·π/2/(1−β1^t)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamAtan2 {
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Decoupled weight decay (multiplied by the learning rate).
    pub weight_decay: f64,
}

impl DenseRule for AdamAtan2 {
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
        (a.decayed - a.m.atan2(a.root_v) * a.step_size, vec![a.m, a.v])
    }
}
