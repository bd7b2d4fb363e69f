use ouro_ir::{Tensor, composite};

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
    /// How its `atan2` is computed.
    pub atan2: Atan2,
}

/// How AdamATan2 computes `atan2`: the same function either way, to within 2.2 ulp in f32.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Atan2 {
    /// The `atan2` prim, lowered by the compiler to its own kernel.
    #[default]
    Prim,
    /// [`composite::atan2_polynomial`]: elementwise arithmetic, for XLA:CPU, which lowers the
    /// prim to a scalar libm call per parameter (about 2 % of the baseline's step).
    Polynomial,
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
        let angle = match self.atan2 {
            Atan2::Prim => a.m.atan2(a.root_v),
            Atan2::Polynomial => composite::atan2_polynomial(a.m, a.root_v),
        };
        (a.decayed - angle * a.step_size, vec![a.m, a.v])
    }
}
