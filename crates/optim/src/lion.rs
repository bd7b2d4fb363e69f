use ouro_ir::Tensor;

use crate::DenseRule;

/// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"):
/// `p ← p·(1 − lr·wd) − lr·sign(β1 m + (1−β1) g)`, then `m ← β2 m + (1−β2) g`. Its one slot is
/// the momentum `m`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lion {
    /// Interpolation of the update direction.
    pub beta1: f64,
    /// Decay of the momentum kept between steps.
    pub beta2: f64,
    /// Decoupled weight decay (multiplied by the learning rate).
    pub weight_decay: f64,
}

impl DenseRule for Lion {
    fn slots(&self) -> &'static [&'static str] {
        &["m"]
    }

    fn update<'t>(
        &self,
        p: Tensor<'t>,
        g: Tensor<'t>,
        state: &[Tensor<'t>],
        lr: Tensor<'t>,
        _t: Tensor<'t>,
    ) -> (Tensor<'t>, Vec<Tensor<'t>>) {
        let &[m] = state else { panic!("Lion keeps one slot, was given {}", state.len()) };
        let direction = (m * self.beta1 + g * (1.0 - self.beta1)).sign();
        let p = p * (1.0 - lr * self.weight_decay) - direction * lr;
        (p, vec![m * self.beta2 + g * (1.0 - self.beta2)])
    }
}
