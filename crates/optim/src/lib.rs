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
