//! Optimizers as traced functions, so a whole update runs inside the compiled train step
//! (what optax is to JAX). Every rule computes in fp32 on fp32 master weights.

mod adam_atan2;
mod adamw;
mod ema;
mod schedule;
mod sign_sgd;

pub use adam_atan2::AdamAtan2;
pub use adamw::AdamW;
pub use ema::ema_update;
pub use schedule::{Schedule, lr_traced};
pub use sign_sgd::sparse_sign_sgd;

use ouro_ir::Tensor;

/// A dense per-parameter rule with Adam-shaped state (`m`, `v`).
pub trait DenseRule {
    /// `(p', m', v')` from the parameter, its gradient, the moments, the learning rate and the
    /// 1-based step `t` (both f32 scalars).
    fn update<'t>(
        &self,
        p: Tensor<'t>,
        g: Tensor<'t>,
        m: Tensor<'t>,
        v: Tensor<'t>,
        lr: Tensor<'t>,
        t: Tensor<'t>,
    ) -> (Tensor<'t>, Tensor<'t>, Tensor<'t>);
}

/// `1 − β^t` for a traced `t`.
fn bias_correction<'t>(beta: f64, t: Tensor<'t>) -> Tensor<'t> {
    1.0 - t.tracer().scalar(beta, t.dtype()).pow(t)
}

/// What the Adam family shares: the decoupled weight decay and the moment updates.
struct AdamParts<'t> {
    /// `p·(1 − lr·wd)`.
    decayed: Tensor<'t>,
    /// `β1 m + (1−β1) g`.
    m: Tensor<'t>,
    /// `β2 v + (1−β2) g²`.
    v: Tensor<'t>,
    /// `lr / (1−β1^t)`.
    step_size: Tensor<'t>,
    /// `√v / √(1−β2^t)`.
    root_v: Tensor<'t>,
}

fn adam_parts<'t>(
    (beta1, beta2, weight_decay): (f64, f64, f64),
    p: Tensor<'t>,
    g: Tensor<'t>,
    m: Tensor<'t>,
    v: Tensor<'t>,
    lr: Tensor<'t>,
    t: Tensor<'t>,
) -> AdamParts<'t> {
    let m = m * beta1 + g * (1.0 - beta1);
    let v = v * beta2 + g.square() * (1.0 - beta2);
    AdamParts {
        decayed: p * (1.0 - lr * weight_decay),
        step_size: lr / bias_correction(beta1, t),
        root_v: v.sqrt() / bias_correction(beta2, t).sqrt(),
        m,
        v,
    }
}
