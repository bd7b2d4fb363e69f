//! Optimizers as traced functions, so a whole update runs inside the compiled train step
//! (what optax is to JAX): AdamATan2, AdamW, Adam, Lion. Every rule computes in fp32 on fp32 master weights.

mod adam;
mod adam_atan2;
mod adamw;
mod config;
mod ema;
mod lion;
mod moments;
mod schedule;
mod sign_sgd;

pub use adam::Adam;
pub use adam_atan2::{AdamAtan2, Atan2};
pub use adamw::AdamW;
pub use config::{OptimizerConfig, OptimizerKind};
pub use ema::ema_update;
pub use lion::Lion;
pub use moments::Moments;
pub use schedule::{Schedule, lr_traced};
pub use sign_sgd::sparse_sign_sgd;

use ouro_ir::Tensor;

/// A dense per-parameter rule that owns its state: the slots it keeps for every parameter
/// (Adam's `m` and `v`, Lion's `m`), each a tensor of the parameter's type.
pub trait DenseRule {
    /// The names of the slots, in the order `update` takes and returns them.
    fn slots(&self) -> &'static [&'static str];

    /// `(p', state')` from the parameter, its gradient, its state (one tensor per slot), the
    /// learning rate and the 1-based step `t` (both f32 scalars).
    fn update<'t>(
        &self,
        p: Tensor<'t>,
        g: Tensor<'t>,
        state: &[Tensor<'t>],
        lr: Tensor<'t>,
        t: Tensor<'t>,
    ) -> (Tensor<'t>, Vec<Tensor<'t>>);
}

/// The Adam family's slots: the first and second moments.
const ADAM_SLOTS: [&str; 2] = ["m", "v"];

/// Adam's `(m, v)` from its state.
fn adam_state<'t>(state: &[Tensor<'t>]) -> (Tensor<'t>, Tensor<'t>) {
    match state {
        &[m, v] => (m, v),
        _ => panic!("the Adam family keeps two slots (m, v), was given {}", state.len()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use ouro_ir::{DType, HostArray, TensorType, Tracer, interp};

    /// One update of each rule on host, in f64, the formulas as their papers/torch state them:
    /// `(p, g, m, v, lr, t) -> (p', m', v')`.
    type Reference = fn(f64, f64, f64, f64, f64, f64) -> (f64, f64, f64);

    const B1: f64 = 0.9;
    const B2: f64 = 0.99;
    const WD: f64 = 0.1;
    const EPS: f64 = 1e-8;

    fn adamw(p: f64, g: f64, m: f64, v: f64, lr: f64, t: f64) -> (f64, f64, f64) {
        let (m, v) = (B1 * m + (1.0 - B1) * g, B2 * v + (1.0 - B2) * g * g);
        let p = p * (1.0 - lr * WD);
        let (mh, vh) = (m / (1.0 - B1.powf(t)), v / (1.0 - B2.powf(t)));
        (p - lr * mh / (vh.sqrt() + EPS), m, v)
    }

    fn adam(p: f64, g: f64, m: f64, v: f64, lr: f64, t: f64) -> (f64, f64, f64) {
        let g = g + WD * p;
        let (m, v) = (B1 * m + (1.0 - B1) * g, B2 * v + (1.0 - B2) * g * g);
        let (mh, vh) = (m / (1.0 - B1.powf(t)), v / (1.0 - B2.powf(t)));
        (p - lr * mh / (vh.sqrt() + EPS), m, v)
    }

    fn lion(p: f64, g: f64, m: f64, v: f64, lr: f64, _t: f64) -> (f64, f64, f64) {
        let c = B1 * m + (1.0 - B1) * g;
        let sign = if c > 0.0 {
            1.0
        } else if c < 0.0 {
            -1.0
        } else {
            0.0
        };
        (p * (1.0 - lr * WD) - lr * sign, B2 * m + (1.0 - B2) * g, v)
    }

    fn adam_atan2(p: f64, g: f64, m: f64, v: f64, lr: f64, t: f64) -> (f64, f64, f64) {
        let (m, v) = (B1 * m + (1.0 - B1) * g, B2 * v + (1.0 - B2) * g * g);
        let p = p * (1.0 - lr * WD);
        (p - lr / (1.0 - B1.powf(t)) * m.atan2(v.sqrt() / (1.0 - B2.powf(t)).sqrt()), m, v)
    }

    #[test]
    fn each_rule_matches_its_formula() {
        let rules: [(&str, Box<dyn DenseRule>, Reference); 5] = [
            ("adamw", Box::new(AdamW { beta1: B1, beta2: B2, eps: EPS, weight_decay: WD }), adamw),
            ("adam", Box::new(Adam { beta1: B1, beta2: B2, eps: EPS, weight_decay: WD }), adam),
            ("lion", Box::new(Lion { beta1: B1, beta2: B2, weight_decay: WD }), lion),
            (
                "adam_atan2",
                Box::new(AdamAtan2 { beta1: B1, beta2: B2, weight_decay: WD, atan2: Atan2::Prim }),
                adam_atan2,
            ),
            (
                "adam_atan2_polynomial",
                Box::new(AdamAtan2 { beta1: B1, beta2: B2, weight_decay: WD, atan2: Atan2::Polynomial }),
                adam_atan2,
            ),
        ];
        // Signs of g and m disagreeing, a zero gradient, a first and a later step.
        let p = [0.5, -1.5, 2.0, 0.0];
        let g = [0.3, -0.02, 0.0, -4.0];
        let m = [0.0, 0.05, -0.1, 0.2];
        let v = [0.0, 0.01, 0.2, 1.0];
        for (name, rule, reference) in rules {
            for (lr, t) in [(1e-3, 1.0), (3e-2, 7.0)] {
                let tr = Tracer::new(name);
                let vec = TensorType::new(DType::F32, &[4]);
                let ins: Vec<_> = ["p", "g", "m", "v"].iter().map(|n| tr.param(n, vec.clone())).collect();
                let lr_t = tr.param("lr", TensorType::scalar(DType::F32));
                let t_t = tr.param("t", TensorType::scalar(DType::F32));
                let slots = rule.slots().len();
                let (p2, state) = rule.update(ins[0], ins[1], &ins[2..2 + slots], lr_t, t_t);
                let mut outputs = vec![p2];
                outputs.extend(state);
                let func = tr.finish(&outputs).unwrap();
                let host = |x: &[f64]| HostArray::from_f64(DType::F32, &[4], x);
                let args = [
                    host(&p),
                    host(&g),
                    host(&m),
                    host(&v),
                    HostArray::scalar(DType::F32, lr),
                    HostArray::scalar(DType::F32, t),
                ];
                let out = interp::eval(&func, &args).unwrap();
                for i in 0..4 {
                    let want = reference(p[i], g[i], m[i], v[i], lr, t);
                    let got: Vec<f64> = out.iter().map(|o| o.to_f64_vec()[i]).collect();
                    let want = [want.0, want.1, want.2];
                    // Lion keeps no `v`: its reference passes `v` through, and there is none to compare.
                    for ((w, o), what) in want.iter().zip(&got).zip(["p", "m", "v"]) {
                        assert!(
                            (w - o).abs() <= 1e-6 * w.abs().max(1e-3),
                            "{name} lr {lr} t {t} [{i}] {what}: {o} vs {w}"
                        );
                    }
                }
            }
        }
    }
}
