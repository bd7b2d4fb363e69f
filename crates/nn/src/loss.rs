//! The ACT loss head (`ACTLossHead`): cross-entropy per sequence, halting BCE, and the metrics
//! with the official definitions (sums; the loop divides them as the official loop does).

use ouro_ir::{DType, Tensor, composite};

use crate::act::{ActOutputs, Carry};
use crate::config::{LossConfig, LossType};

/// Label of positions without supervision.
pub const IGNORE_LABEL_ID: i64 = -100;

/// The metrics one step reports, in the order of [`ActLoss::metrics`].
pub const METRICS: [&str; 8] =
    ["count", "accuracy", "exact_accuracy", "q_halt_accuracy", "steps", "lm_loss", "q_halt_loss", "q_continue_loss"];

ouro_ir::tree_struct! {
    /// One step's metrics by name, as read back from [`ActLoss::metrics`]: sums over the slots
    /// that halted at the step (the losses over every slot); `count` is how many halted.
    pub struct Metrics<T> {
        count, accuracy, exact_accuracy, q_halt_accuracy, steps, lm_loss, q_halt_loss, q_continue_loss
    }
}

impl<T: Copy> Metrics<T> {
    /// The metrics from the first [`METRICS`]`.len()` values of `values`, in that order; `None`
    /// if there are fewer.
    pub fn from_slice(values: &[T]) -> Option<Metrics<T>> {
        let &[count, accuracy, exact_accuracy, q_halt_accuracy, steps, lm_loss, q_halt_loss, q_continue_loss, ..] =
            values
        else {
            return None;
        };
        Some(Metrics { count, accuracy, exact_accuracy, q_halt_accuracy, steps, lm_loss, q_halt_loss, q_continue_loss })
    }
}

/// `s(x) = 1/(1 − x + 1e-30)` for `x < 0`, `x + 1` otherwise; `log(s(x)/Σ s(x))` over `axis`.
///
/// The reciprocal branch is evaluated on `min(x, 0)`: the same values where it is selected,
/// and a finite value and derivative where it is not. On `x` itself, `x = 1` (common once
/// logits are bf16) leaves only the `1e-30` in the denominator, whose square underflows in
/// f32 (and XLA may fold the sum to 0): the unselected branch's derivative is infinite, and
/// the select's zero cotangent times it is NaN in the gradient.
pub fn log_stablemax(x: Tensor<'_>, axis: usize) -> Tensor<'_> {
    let negative = x.min(0.0);
    let s = x.lt(0.0).select(1.0 / (1.0 - negative + 1e-30), x + 1.0);
    let shape = x.shape();
    (s / composite::keep_dims(s.sum(&[axis]), &shape, &[axis])).log()
}

/// Per-token cross-entropy `[B, S]` of `logits: [B, S, V]` computed in `dtype`, 0 where the
/// label is [`IGNORE_LABEL_ID`].
pub fn cross_entropy<'t>(kind: LossType, logits: Tensor<'t>, labels: Tensor<'t>, dtype: DType) -> Tensor<'t> {
    let x = logits.cast(dtype);
    let vocab_axis = x.rank() - 1;
    let log_probs = match kind {
        LossType::StablemaxCrossEntropy => log_stablemax(x, vocab_axis),
        LossType::SoftmaxCrossEntropy => composite::log_softmax(x, vocab_axis),
    };
    let valid = labels.ne(IGNORE_LABEL_ID as f64);
    let targets = valid.select(labels, 0.0);
    let picked = (log_probs * composite::one_hot(targets, x.shape()[vocab_axis], dtype)).sum(&[vocab_axis]);
    valid.select(picked.neg(), 0.0)
}

/// `Σ BCEWithLogits(x, z)` in the stable form `max(x, 0) − x·z + log(1 + e^{−|x|})`.
pub fn bce_with_logits_sum<'t>(logits: Tensor<'t>, targets: Tensor<'t>) -> Tensor<'t> {
    (logits.max(0.0) - logits * targets + logits.abs().neg().exp().log1p()).sum_all()
}

/// The loss of one ACT step and its metrics.
pub struct ActLoss<'t> {
    /// `lm + 0.5·(q_halt + q_continue)`, a scalar in the loss dtype; the train step divides it
    /// by the global batch size.
    pub total: Tensor<'t>,
    /// f32 `[8]` sums in [`METRICS`] order, over the slots that halted at this step (losses over
    /// every slot).
    pub metrics: Tensor<'t>,
    /// `argmax(logits)`, i32 `[B, S]`.
    pub preds: Tensor<'t>,
}

/// The official `ACTLossHead` on the carry after the step and the step's outputs.
pub fn act_loss<'t>(cfg: &LossConfig, carry: &Carry<Tensor<'t>>, out: &ActOutputs<'t>) -> ActLoss<'t> {
    let tr = out.logits.tracer();
    let _s = tr.scope("loss");
    let dtype = cfg.dtype.dtype();
    let labels = carry.labels;
    let seq_axis = 1;
    let mask = labels.ne(IGNORE_LABEL_ID as f64);
    let counts = mask.cast(DType::I32).sum(&[seq_axis]);
    let divisor = counts.max(1.0);

    let preds = composite::argmax(out.logits, 2);
    let is_correct = mask.and(preds.eq(labels));
    let seq_correct = is_correct.cast(DType::I32).sum(&[seq_axis]).eq(counts);
    let valid = carry.halted.and(counts.gt(0.0));

    let per_token = cross_entropy(cfg.loss_type, out.logits, labels, dtype);
    let lm_loss = (per_token.sum(&[seq_axis]) / divisor.cast(dtype)).sum_all();
    let q_halt_loss = bce_with_logits_sum(out.q_halt, seq_correct.cast(DType::F32));
    let q_continue_loss = match out.target_q_continue {
        Some(target) => bce_with_logits_sum(out.q_continue, target),
        None => tr.scalar(0.0, DType::F32),
    };
    let total = lm_loss + ((q_halt_loss + q_continue_loss) * 0.5).cast(dtype);

    let f32 = |t: Tensor<'t>| t.cast(DType::F32);
    let count_of = |flags: Tensor<'t>| f32(flags.cast(DType::I32).sum_all());
    let token_accuracy = f32(is_correct.cast(DType::I32).sum(&[seq_axis])) / f32(divisor);
    let metrics = [
        count_of(valid),
        valid.select(token_accuracy, 0.0).sum_all(),
        count_of(valid.and(seq_correct)),
        count_of(valid.and(out.q_halt.ge(0.0).eq(seq_correct))),
        f32(valid.select(carry.steps, 0.0).sum_all()),
        f32(lm_loss),
        q_halt_loss,
        q_continue_loss,
    ];
    let metrics = tr.concatenate(&metrics.map(|m| m.reshape(&[1])), 0).stop_gradient();
    ActLoss { total, metrics, preds }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ouro_ir::tree::Tree;

    #[test]
    fn named_metrics_follow_the_output_order() {
        let values: Vec<f64> = (0..METRICS.len()).map(|i| i as f64).collect();
        let m = Metrics::from_slice(&values).unwrap();
        assert_eq!(m.names(), METRICS);
        assert_eq!(m.leaves().into_iter().copied().collect::<Vec<_>>(), values);
        assert_eq!(m.lm_loss, 5.0);
        assert!(Metrics::from_slice(&values[1..]).is_none());
    }
}
