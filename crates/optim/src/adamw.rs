use ouro_ir::Tensor;

use crate::{DenseRule, bias_correction};

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
    fn update<'t>(
        &self,
        p: Tensor<'t>,
        g: Tensor<'t>,
        m: Tensor<'t>,
        v: Tensor<'t>,
        lr: Tensor<'t>,
        t: Tensor<'t>,
    ) -> (Tensor<'t>, Tensor<'t>, Tensor<'t>) {
        let p = p * (1.0 - lr * self.weight_decay);
        let m = m * self.beta1 + g * (1.0 - self.beta1);
        let v = v * self.beta2 + g.square() * (1.0 - self.beta2);
        let step_size = lr / bias_correction(self.beta1, t);
        let denominator = v.sqrt() / bias_correction(self.beta2, t).sqrt() + self.eps;
        (p - m / denominator * step_size, m, v)
    }
}
