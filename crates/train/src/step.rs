//! The train step and the eval step as traced functions.
//!
//! Train: `(state, constants, batch) → (state', metrics)`. The state (parameters, optimizer
//! state, EMA, puzzle table, ACT carry, step counter, health flag; [`TrainState`]) is donated
//! every step, so it never leaves the device; constants (`H_init`, `L_init`, the RNG key) and
//! the batch are read only. One call is one official `train_batch`: one ACT step, one
//! optimizer update.

use ouro_ir::random::fold_in;
use ouro_ir::tree::{Named, Tree};
use ouro_ir::{DType, Func, OutputAttrs, ParamAttrs, Sharding, Tensor, TensorType, TraceError, Tracer};
use ouro_nn::{Batch, Carry, Compiler, Halting, ParamSpec, Trm, act_loss};
use ouro_optim::{Atan2, Moments, OptimizerConfig, Schedule, ema_update, lr_traced, sparse_sign_sgd};

use crate::grads::{Accumulated, StepWeights, accumulate, model_params};
use crate::state::{Key, LossScaleState, StateLayout, TrainState};

/// Dynamic loss scaling (for float16 activations): the backward pass starts from the loss times
/// a scale, so small cotangents survive float16's range, and the gradients are divided by it
/// before the update. A step whose gradients overflow is skipped (the weights and moments stay,
/// the carry and the step counter move on) and halves the scale; `growth_interval` finite steps
/// in a row double it. Scales are powers of two, so scaling and unscaling round nothing. An
/// overflow at a scale of 1 is a divergence, reported like any non-finite step. Skipped steps
/// do not count as updates for the optimizer's bias correction (as PyTorch's `GradScaler`
/// skips `optimizer.step`); the learning-rate schedule follows the step counter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossScale {
    /// The first scale.
    pub initial: f64,
    /// Finite steps in a row after which the scale doubles.
    pub growth_interval: u32,
}

/// What the train step needs besides the model.
#[derive(Clone, Debug, PartialEq)]
pub struct StepConfig {
    /// The dense optimizer.
    pub optimizer: OptimizerConfig,
    /// Dense learning-rate schedule.
    pub schedule: Schedule,
    /// Puzzle-embedding learning-rate schedule (same shape, own base).
    pub puzzle_schedule: Schedule,
    /// Puzzle-embedding weight decay.
    pub puzzle_weight_decay: f64,
    /// EMA rate of the dense parameters (`None`: no EMA).
    pub ema_rate: Option<f64>,
    /// The global batch the loss is divided by.
    pub global_batch_size: usize,
    /// Steps after which updates stop (the official `total_steps` cap; EMA still moves).
    pub total_steps: usize,
    /// Halting exploration annealed linearly from the model's `halt_exploration_prob` at step 0
    /// to this at `total_steps` (`None`: constant, as official).
    pub halt_exploration_final: Option<f64>,
    /// Micro-batches per step: the global batch's slots are processed in this many equal parts
    /// whose gradients are summed before one update (the same step, less activation memory).
    pub grad_accum_steps: usize,
    /// Dynamic loss scaling; `None`: the loss is not scaled.
    pub loss_scale: Option<LossScale>,
    /// Data parallelism; `None` for one device.
    pub parallel: Option<DataParallel>,
}

/// How the step's values are laid out over the data axis of a device mesh. XLA's SPMD
/// partitioner inserts the collectives the layout implies.
#[derive(Clone, Debug, PartialEq)]
pub struct DataParallel {
    /// The mesh axis.
    pub axis: String,
    /// Devices along it.
    pub devices: usize,
    /// Split the Adam moments over the devices along their first dimension where it divides
    /// (ZeRO-1): less optimizer memory per device, an all-gather of the updated weights.
    pub shard_optimizer_state: bool,
}

/// The largest loss scale: growth stops there, far below float32's range (a scale that
/// overflowed to infinity would skip every step without ever failing).
pub const MAX_LOSS_SCALE: f64 = 18446744073709551616.0; // 2^64

impl DataParallel {
    /// The sharding of the step value `key` of type `ty`: the batch and the carry split on
    /// their first (batch) dimension, the optimizer state split too with ZeRO-1 (where the
    /// devices divide it), the rest replicated.
    pub fn sharding(&self, key: Key<'_>, ty: &TensorType) -> Sharding {
        let zero = self.shard_optimizer_state
            && matches!(key, Key::Optimizer { .. })
            && ty.shape.first().is_some_and(|&d| d.is_multiple_of(self.devices));
        if key.is_batched() || zero { self.batched(ty) } else { Sharding::replicated(ty.rank()) }
    }

    /// The sharding of a value with a row per batch slot: split on its first dimension.
    pub fn batched(&self, ty: &TensorType) -> Sharding {
        let rank = ty.rank();
        if rank > 0 { Sharding::split(rank, 0, &self.axis) } else { Sharding::replicated(rank) }
    }
}

/// The traced train step.
pub struct TrainStep {
    /// The function: state, constants, batch → state', metrics.
    pub func: Func,
    /// Its argument layout.
    pub layout: StateLayout,
}

/// The traced eval step.
pub struct EvalStep {
    /// `(weights, batch) → (preds i32[B,S], q_halt f32[B], metrics f32[8])`.
    pub func: Func,
    /// Its weight arguments: the model's tensors in the model's order (dense parameters, the
    /// puzzle table and the fixed tensors).
    pub weights: Vec<ParamSpec>,
}

/// How many sequences halted in this step after exactly `k` ACT steps, `k = 1..=max` (f32
/// `[max]`): the distribution of halting contrib02 tracks.
fn halt_step_counts<'t>(carry: &Carry<Tensor<'t>>, max: usize) -> Tensor<'t> {
    let tr = carry.steps.tracer();
    let batch = carry.steps.shape()[0];
    let grid = TensorType::new(DType::I32, &[batch, max]);
    let k = tr.iota(&grid, 1) + 1.0;
    let at_k = carry.steps.broadcast_in_dim(&[batch, max], &[0]).eq(k);
    let halted = carry.halted.broadcast_in_dim(&[batch, max], &[0]);
    at_k.and(halted).cast(DType::F32).sum(&[0])
}

/// Every tensor finite (a pred scalar).
fn all_finite<'t>(values: &[Tensor<'t>]) -> Tensor<'t> {
    let tr = values[0].tracer();
    values.iter().fold(tr.full(1.0, &TensorType::scalar(DType::Pred)), |acc, v| {
        let axes: Vec<usize> = (0..v.rank()).collect();
        acc.and(v.is_finite().all(&axes))
    })
}
/// The gradients, for XLA:CPU materialised before their consumers. A weight used at every
/// recursion gets its gradient as a sum of one product per use, and XLA:CPU fuses that sum into
/// each consumer (the finite check, the moments, the update): each re-reads every partial
/// product. Behind a barrier the sum is computed once. Other compilers get them as they are.
fn summed_once<'t>(model: &Trm, grads: Vec<Tensor<'t>>) -> Vec<Tensor<'t>> {
    match (model.compiler, grads.first()) {
        (Compiler::Cpu, Some(g)) => g.tracer().optimization_barrier(&grads),
        _ => grads,
    }
}

/// Traces one official training step of `model` on `batch_size` rows.
pub fn train_step(model: &Trm, cfg: &StepConfig, batch_size: usize) -> Result<TrainStep, TraceError> {
    let tr = Tracer::new("train_step");
    let layout = StateLayout::new(model, cfg, batch_size);
    let sharding = |key: Key<'_>, ty: &TensorType| cfg.parallel.as_ref().map(|p| p.sharding(key, ty));
    let argument = |key: Key<'_>, ty: &TensorType, donate: bool| {
        tr.param_with(ParamAttrs { name: key.to_string(), donate, sharding: sharding(key, ty) }, ty.clone())
    };
    let state = layout.state.map(|key, ty| argument(key, ty, true));
    let constants = layout.constants.map(|key, ty| argument(key, ty, false));
    let batch = layout.batch.map(|field, ty| argument(Key::Batch(field), ty, false));

    let new_step = state.step + 1.0;
    let t = new_step.cast(DType::F32);
    let step_key = fold_in(constants.key, new_step.cast(DType::U32));
    let min_steps = model.exploration(step_key, batch_size, exploration(model, cfg, t));
    let weights = StepWeights { params: &state.params, table: state.table, fixed: &constants.fixed };
    let scale = state.loss_scale.as_ref().map(|s| s.scale);
    let forward = accumulate(model, weights, &state.carry, &batch, min_steps, cfg, scale);
    let _s = tr.scope("update");
    let (next, metrics) = next_state(model, cfg, &state, forward, (new_step, t));
    assert_eq!(next.names(), layout.state.names(), "the step returns the state's tree");

    let mut outputs: Vec<Tensor<'_>> = next.leaves().into_iter().copied().collect();
    outputs.push(metrics);
    let mut attrs = Vec::with_capacity(outputs.len());
    layout
        .state
        .visit_keys(&mut |key, ty| attrs.push(OutputAttrs { name: key.to_string(), sharding: sharding(key, ty) }));
    attrs
        .push(OutputAttrs { name: "metrics".into(), sharding: cfg.parallel.as_ref().map(|_| Sharding::replicated(1)) });
    let func = tr.finish_with(&outputs, attrs)?;
    Ok(TrainStep { func, layout })
}

/// The halting exploration probability at step `t`: annealed linearly from the model's
/// `halt_exploration_prob` to `halt_exploration_final` over the run, or constant as official.
fn exploration<'t>(model: &Trm, cfg: &StepConfig, t: Tensor<'t>) -> Tensor<'t> {
    let start = model.cfg.halt_exploration_prob;
    match cfg.halt_exploration_final {
        // A runtime value computed from the step counter: one compiled step for the whole anneal.
        Some(end) => (t / cfg.total_steps.max(1) as f64).min(1.0) * (end - start) + start,
        None => t.tracer().scalar(start, DType::F32),
    }
}

/// The state after the step and the metrics output. The step counts (carry and counter move)
/// while the run is healthy, the step sound and within `total_steps`; the weights move too
/// when the gradients are finite.
fn next_state<'t>(
    model: &Trm,
    cfg: &StepConfig,
    state: &TrainState<Tensor<'t>>,
    forward: Accumulated<'t>,
    (new_step, t): (Tensor<'t>, Tensor<'t>),
) -> (TrainState<Tensor<'t>>, Tensor<'t>) {
    let Accumulated { puzzle_ids, carry: new_carry, metrics: loss_metrics, total, grads, row_grads } = forward;
    let grads = summed_once(model, grads);
    let mut checked = grads.clone();
    checked.extend(row_grads);
    let grads_finite = all_finite(&checked);
    let loss_finite = all_finite(&[total]);
    let active = new_step.le(cfg.total_steps as f64);
    // `finite`: the step is sound. Without loss scaling that needs every gradient finite; with
    // it an overflow only skips the update, unless the scale cannot shrink any more.
    let finite = match &state.loss_scale {
        Some(s) => loss_finite.and(grads_finite.or(s.scale.gt(1.0))),
        None => loss_finite.and(grads_finite),
    };
    let advance = state.healthy.and(finite).and(active);
    let update = advance.and(grads_finite);
    let keep = |updated: Tensor<'t>, old: Tensor<'t>| update.select(updated, old);

    let lr = lr_traced(&cfg.schedule, t);
    // The optimizer's count of updates: steps, less those loss scaling skipped.
    let updates = state.loss_scale.as_ref().map_or(t, |s| (new_step - s.skipped).cast(DType::F32));
    // XLA:CPU lowers the atan2 prim to a scalar libm call per parameter.
    let atan2 = if model.compiler == Compiler::Cpu { Atan2::Polynomial } else { Atan2::Prim };
    let (params, opt) = dense_update(&cfg.optimizer, atan2, state, &grads, (lr, updates), keep);
    let ema = state.ema.as_ref().zip(cfg.ema_rate).map(|(shadow, rate)| {
        // The official loop moves the EMA after every batch, also past `total_steps` (and after
        // a skipped update, towards the unchanged weights).
        let moves = state.healthy.and(finite);
        shadow.map(|name, &s| moves.select(ema_update(s, *params.get(name).expect("an EMA per parameter"), rate), s))
    });
    let table = match (state.table, row_grads) {
        (Some(table), Some(rows)) => {
            let lr_puzzle = lr_traced(&cfg.puzzle_schedule, t);
            Some(keep(sparse_sign_sgd(table, puzzle_ids, rows, lr_puzzle, cfg.puzzle_weight_decay), table))
        }
        (table, _) => table,
    };
    let moved: Vec<Tensor<'t>> =
        new_carry.leaves().into_iter().zip(state.carry.leaves()).map(|(&new, &old)| advance.select(new, old)).collect();
    let carry = state.carry.rebuild(&mut moved.into_iter()).expect("the carry's leaves");
    let step = advance.select(new_step, state.step);
    let healthy = state.healthy.and(finite);
    let mut metrics = vec![loss_metrics, lr.reshape(&[1]), halt_step_counts(&new_carry, model.cfg.halt_max_steps)];
    let loss_scale = state.loss_scale.as_ref().zip(cfg.loss_scale).map(|(s, ls)| {
        let (new_scale, new_good) = next_loss_scale(s.scale, s.good_steps, grads_finite, ls.growth_interval);
        let overflow = advance.and(grads_finite.not());
        let next = LossScaleState {
            scale: advance.select(new_scale, s.scale),
            good_steps: advance.select(new_good, s.good_steps),
            skipped: overflow.select(s.skipped + 1.0, s.skipped),
        };
        metrics.extend([s.scale.reshape(&[1]), overflow.cast(DType::F32).reshape(&[1])]);
        next
    });
    metrics.push(finite.cast(DType::F32).reshape(&[1]));
    let metrics = t.tracer().concatenate(&metrics, 0);
    (TrainState { params, opt, ema, table, carry, step, healthy, loss_scale }, metrics)
}

/// The dense parameters and the optimizer's state after its rule's update, each kept as it was
/// where `keep` says so.
fn dense_update<'t>(
    optimizer: &OptimizerConfig,
    atan2: Atan2,
    state: &TrainState<Tensor<'t>>,
    grads: &[Tensor<'t>],
    (lr, updates): (Tensor<'t>, Tensor<'t>),
    keep: impl Fn(Tensor<'t>, Tensor<'t>) -> Tensor<'t>,
) -> (Named<Tensor<'t>>, Moments<Tensor<'t>>) {
    let rule = optimizer.rule_with(atan2);
    let mut params = Named::new();
    let mut slots = Vec::with_capacity(grads.len());
    for ((name, &p), &g) in state.params.iter().zip(grads) {
        let old: Vec<Tensor<'t>> = state.opt.of(name).expect("a state per parameter").into_iter().copied().collect();
        let (new_p, new_state) = rule.update(p, g, &old, lr, updates);
        params.push(name, keep(new_p, p));
        slots.push((name.to_string(), new_state.into_iter().zip(old).map(|(new, old)| keep(new, old)).collect()));
    }
    (params, Moments::from_params(rule.slots(), slots))
}

/// The loss scale and the count of finite steps in a row after a step whose gradients were
/// `finite` or not: halve and restart on an overflow, double after `growth_interval` in a row.
fn next_loss_scale<'t>(
    scale: Tensor<'t>,
    good_steps: Tensor<'t>,
    finite: Tensor<'t>,
    growth_interval: u32,
) -> (Tensor<'t>, Tensor<'t>) {
    let good = good_steps + 1.0;
    let grow = good.ge(growth_interval as f64);
    let on_finite = grow.select((scale * 2.0).min(MAX_LOSS_SCALE), scale);
    let new_scale = finite.select(on_finite, (scale * 0.5).max(scale.full_like(1.0)));
    let new_good = finite.and(grow.not()).select(good, good_steps.zeros_like());
    (new_scale, new_good)
}

/// Traces the official evaluation of one batch: a fresh carry, exactly `halt_max_steps` ACT
/// steps, and the last step's predictions, q-halt logits and metrics.
pub fn eval_step(model: &Trm, batch_size: usize, parallel: Option<&DataParallel>) -> Result<EvalStep, TraceError> {
    let tr = Tracer::new("eval_step");
    let specs = model.specs();
    let argument = |key: Key<'_>, ty: &TensorType| {
        let sharding = parallel.map(|p| p.sharding(key, ty));
        tr.param_with(ParamAttrs { name: key.to_string(), donate: false, sharding }, ty.clone())
    };
    let (mut params, mut table, mut fixed) = (Named::new(), None, Named::new());
    for s in &specs {
        let t = argument(Key::of_spec(s), &s.ty);
        match Key::of_spec(s) {
            Key::Table => table = Some(t),
            Key::Fixed(name) => fixed.push(name, t),
            _ => params.push(s.name.clone(), t),
        }
    }
    let batch: Batch<Tensor<'_>> = model.batch_types(batch_size).map(|field, ty| argument(Key::Batch(field), ty));
    let all = model_params(&params, table, &fixed);
    let carry = model.reset(&all, &model.initial_carry(&tr, batch_size), &batch);
    let rows = model.puzzle_rows(&all, carry.puzzle_ids);
    let leaves: Vec<Tensor<'_>> = carry.leaves().into_iter().copied().collect();
    let steps = model.cfg.halt_max_steps - 1;
    let looped = tr.fori_loop(steps, &leaves, |_, c| {
        let carry = carry.rebuild(&mut c.iter().copied()).expect("carry leaves");
        let (next, _) = model.act_step(&all, &carry, rows, Halting::Eval);
        next.leaves().into_iter().copied().collect()
    });
    let carry = carry.rebuild(&mut looped.into_iter()).expect("carry leaves");
    let (last, outputs) = model.act_step(&all, &carry, rows, Halting::Eval);
    let loss = act_loss(&model.cfg.loss, &last, &outputs);
    // Predictions and q-halt logits have a row per slot; the metrics are sums.
    let results = [("preds", loss.preds, true), ("q_halt", outputs.q_halt, true), ("metrics", loss.metrics, false)];
    let attrs = results.map(|(name, t, batched)| OutputAttrs {
        name: name.into(),
        sharding: parallel.map(|p| if batched { p.batched(&t.ty()) } else { Sharding::replicated(t.rank()) }),
    });
    let func = tr.finish_with(&[loss.preds, outputs.q_halt, loss.metrics], attrs.to_vec())?;
    Ok(EvalStep { func, weights: specs })
}
