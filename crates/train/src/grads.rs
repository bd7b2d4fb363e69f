//! The forward and backward of one train step: reset, one ACT step, the loss head and reverse
//! mode, over the whole batch or in micro-batches whose gradients are summed.

use ouro_autodiff::vjp;
use ouro_ir::Tensor;
use ouro_ir::tree::{Named, Tree};
use ouro_nn::{ActLoss, ActOutputs, Batch, Carry, Halting, Trm, act_loss};

use crate::state::TABLE;
use crate::step::StepConfig;

/// The model's tensors by official name, from the step's arguments.
pub(crate) fn model_params<'t>(
    params: &Named<Tensor<'t>>,
    table: Option<Tensor<'t>>,
    fixed: &Named<Tensor<'t>>,
) -> Named<Tensor<'t>> {
    let mut all = params.clone();
    if let Some(t) = table {
        all.push(TABLE, t);
    }
    for (name, &t) in fixed.iter() {
        all.push(name, t);
    }
    all
}

/// The forward and backward of one official training step.
pub struct StepGrads<'t> {
    /// The carry after resetting halted slots (its puzzle ids are the rows trained).
    pub reset: Carry<Tensor<'t>>,
    /// The carry after the ACT step.
    pub carry: Carry<Tensor<'t>>,
    /// Logits and Q logits.
    pub outputs: ActOutputs<'t>,
    /// Loss and metrics.
    pub loss: ActLoss<'t>,
    /// The gradient of `loss / global_batch` for each dense parameter, in order.
    pub grads: Vec<Tensor<'t>>,
    /// The gradient of the gathered puzzle-embedding rows `[B, ndim]`.
    pub row_grads: Option<Tensor<'t>>,
}

/// The tensors a step reads the model from.
#[derive(Clone, Copy)]
pub struct StepWeights<'a, 't> {
    /// Dense parameters by official name.
    pub params: &'a Named<Tensor<'t>>,
    /// The puzzle-embedding table, if the model has one.
    pub table: Option<Tensor<'t>>,
    /// `H_init` and `L_init`.
    pub fixed: &'a Named<Tensor<'t>>,
}

/// Reset, one ACT step with training halting (`min_steps` from [`Trm::exploration`]), the loss
/// head, and reverse mode for the dense parameters and the gathered puzzle rows (the official
/// `local_weights`).
pub fn forward_backward<'t>(
    model: &Trm,
    weights: StepWeights<'_, 't>,
    carry: &Carry<Tensor<'t>>,
    batch: &Batch<Tensor<'t>>,
    min_steps: Tensor<'t>,
    global_batch_size: usize,
    loss_scale: Option<Tensor<'t>>,
) -> StepGrads<'t> {
    let params = weights.params;
    let all = model_params(params, weights.table, weights.fixed);
    let reset = model.reset(&all, carry, batch);
    let rows = model.puzzle_rows(&all, reset.puzzle_ids);
    let (new_carry, outputs) = model.act_step(&all, &reset, rows, Halting::Train { min_steps });
    let loss = act_loss(&model.cfg.loss, &new_carry, &outputs);
    let scaled = loss.total / global_batch_size as f64;
    let mut wrt: Vec<Tensor<'t>> = params.leaves().into_iter().copied().collect();
    wrt.extend(rows);
    let seed = loss_scale.map_or_else(|| scaled.full_like(1.0), |s| s.cast(scaled.dtype()));
    let cts = vjp(&[scaled], &[Some(seed)], &wrt);
    let unscale = |g: Tensor<'t>| match loss_scale {
        Some(s) => g / s.cast(g.dtype()),
        None => g,
    };
    let mut grads: Vec<Tensor<'t>> =
        wrt.iter().zip(cts).map(|(x, g)| g.map_or_else(|| x.zeros_like(), unscale)).collect();
    let row_grads = rows.map(|_| grads.pop().expect("the rows' gradient"));
    StepGrads { reset, carry: new_carry, outputs, loss, grads, row_grads }
}

/// [`forward_backward`] over the whole batch, in `grad_accum_steps` slices of slots.
pub(crate) struct Accumulated<'t> {
    /// The puzzle rows trained (the reset carry's ids).
    pub puzzle_ids: Tensor<'t>,
    /// The carry after the ACT step.
    pub carry: Carry<Tensor<'t>>,
    /// The loss head's metrics, summed over the micro-batches.
    pub metrics: Tensor<'t>,
    /// The loss, summed over the micro-batches.
    pub total: Tensor<'t>,
    /// The dense parameters' gradients, in order.
    pub grads: Vec<Tensor<'t>>,
    /// The gathered puzzle rows' gradient.
    pub row_grads: Option<Tensor<'t>>,
}

pub(crate) fn accumulate<'t>(
    model: &Trm,
    weights: StepWeights<'_, 't>,
    carry: &Carry<Tensor<'t>>,
    batch: &Batch<Tensor<'t>>,
    min_steps: Tensor<'t>,
    cfg: &StepConfig,
    loss_scale: Option<Tensor<'t>>,
) -> Accumulated<'t> {
    let k = cfg.grad_accum_steps.max(1);
    if k == 1 {
        let g = forward_backward(model, weights, carry, batch, min_steps, cfg.global_batch_size, loss_scale);
        return Accumulated {
            puzzle_ids: g.reset.puzzle_ids,
            carry: g.carry,
            metrics: g.loss.metrics,
            total: g.loss.total,
            grads: g.grads,
            row_grads: g.row_grads,
        };
    }
    // Micro-batches are unrolled, and chained: micro-batch j+1 reads its rows through an
    // optimization barrier with the gradients summed so far, so it cannot start before j's
    // backward has finished and j's activations are dead. Without the chain a compiler may
    // schedule them side by side (the TPU compiler did: grad_accum_steps 4 took 4 micro-batches'
    // memory). Micro-batch j takes the j-th k-th of every device's rows (rows [n, k, m] → [n, m]
    // at j), so all devices work on every micro-batch and no row moves between devices.
    let n = cfg.parallel.as_ref().map_or(1, |p| p.devices);
    let m = min_steps.shape()[0] / (n * k);
    let tr = min_steps.tracer();
    let split = |t: &Tensor<'t>| {
        let shape = t.shape();
        let mut grouped = vec![n, k, m];
        grouped.extend_from_slice(&shape[1..]);
        t.reshape(&grouped)
    };
    let mut parts: Vec<StepGrads<'t>> = Vec::with_capacity(k);
    let mut summed: Vec<Tensor<'t>> = Vec::new();
    for j in 0..k {
        let _s = tr.scope(&format!("micro_batch{j}"));
        let slice = |t: &Tensor<'t>| {
            let mut shape = vec![n * m];
            shape.extend_from_slice(&t.shape()[1..]);
            split(t).slice_dim(1, j, j + 1).reshape(&shape)
        };
        let mut rows_carry = carry.map(|_, t| slice(t));
        let mut rows_batch = batch.map(|_, t| slice(t));
        let mut rows_min = slice(&min_steps);
        if j > 0 {
            let mut values: Vec<Tensor<'t>> = summed.clone();
            values.extend(rows_carry.leaves().into_iter().copied());
            values.extend(rows_batch.leaves().into_iter().copied());
            values.push(rows_min);
            let mut out = tr.optimization_barrier(&values).into_iter();
            summed = out.by_ref().take(summed.len()).collect();
            rows_carry = rows_carry.rebuild(&mut out).expect("the carry's leaves");
            rows_batch = rows_batch.rebuild(&mut out).expect("the batch's leaves");
            rows_min = out.next().expect("min_steps");
        }
        let g = forward_backward(model, weights, &rows_carry, &rows_batch, rows_min, cfg.global_batch_size, loss_scale);
        summed = if j == 0 { g.grads.clone() } else { summed.iter().zip(&g.grads).map(|(&a, &b)| a + b).collect() };
        parts.push(g);
    }
    let join =
        |pick: &dyn Fn(&StepGrads<'t>) -> Tensor<'t>| tr.concatenate(&parts.iter().map(pick).collect::<Vec<_>>(), 0);
    let carry_leaves: Vec<Tensor<'t>> = (0..7).map(|i| join(&|g: &StepGrads<'t>| *g.carry.leaves()[i])).collect();
    let sum = |pick: &dyn Fn(&StepGrads<'t>) -> Tensor<'t>| {
        parts.iter().skip(1).fold(pick(&parts[0]), |acc, g| acc + pick(g))
    };
    Accumulated {
        puzzle_ids: join(&|g| g.reset.puzzle_ids),
        carry: carry.rebuild(&mut carry_leaves.into_iter()).expect("the carry's leaves"),
        metrics: sum(&|g| g.loss.metrics),
        total: sum(&|g| g.loss.total),
        grads: summed,
        row_grads: parts[0].row_grads.map(|_| join(&|g| g.row_grads.expect("rows"))),
    }
}
