//! The dense optimizer as a config declares it, and the one place its rule is made.

use crate::{Adam, AdamAtan2, AdamW, Atan2, DenseRule, Lion};

/// Which dense rule, with what only it takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimizerKind {
    /// AdamATan2 (official).
    AdamAtan2,
    /// AdamW with this epsilon.
    AdamW {
        /// Added to the denominator.
        eps: f64,
    },
    /// Adam (L2 weight decay in the gradient) with this epsilon.
    Adam {
        /// Added to the denominator.
        eps: f64,
    },
    /// Lion (`beta1` interpolates the update's sign, `beta2` decays the momentum).
    Lion,
}

/// The dense optimizer: its kind and the settings every kind shares.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimizerConfig {
    /// The rule.
    pub kind: OptimizerKind,
    /// First-moment decay (Lion: the interpolation of the update's sign).
    pub beta1: f64,
    /// Second-moment decay (Lion: the momentum's decay).
    pub beta2: f64,
    /// Weight decay (decoupled, except Adam's L2 term).
    pub weight_decay: f64,
}

impl OptimizerConfig {
    /// The rule this config describes.
    pub fn rule(&self) -> Box<dyn DenseRule> {
        self.rule_with(Atan2::Prim)
    }

    /// The rule this config describes, AdamATan2 computing its `atan2` as `atan2` says.
    pub fn rule_with(&self, atan2: Atan2) -> Box<dyn DenseRule> {
        let (beta1, beta2, weight_decay) = (self.beta1, self.beta2, self.weight_decay);
        match self.kind {
            OptimizerKind::AdamAtan2 => Box::new(AdamAtan2 { beta1, beta2, weight_decay, atan2 }),
            OptimizerKind::AdamW { eps } => Box::new(AdamW { beta1, beta2, eps, weight_decay }),
            OptimizerKind::Adam { eps } => Box::new(Adam { beta1, beta2, eps, weight_decay }),
            OptimizerKind::Lion => Box::new(Lion { beta1, beta2, weight_decay }),
        }
    }
}
