//! The train step and the eval step as traced functions.
//!
//! Train: `(state, constants, batch) → (state', metrics)`. The state (parameters, optimizer
//! moments, EMA, puzzle table, ACT carry, step counter, health flag) is donated every step, so
//! it never leaves the device; constants (`H_init`, `L_init`, the RNG key) and the batch are
//! read only. One call is one official `train_batch`: one ACT step, one optimizer update.

use ouro_autodiff::vjp;
use ouro_ir::random::fold_in;
use ouro_ir::tree::{Named, Tree};
use ouro_ir::{DType, Func, OutputAttrs, ParamAttrs, Sharding, Tensor, TensorType, TraceError, Tracer};
use ouro_nn::{ActLoss, ActOutputs, Batch, Carry, Halting, ParamSpec, Role, Trm, act_loss};
use ouro_optim::{Adam, AdamAtan2, AdamW, DenseRule, Lion, Schedule, ema_update, lr_traced, sparse_sign_sgd};

/// The dense optimizer.
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
    pub optimizer: OptimizerKind,
    /// Adam β1.
    pub beta1: f64,
    /// Adam β2.
    pub beta2: f64,
    /// Dense weight decay.
    pub weight_decay: f64,
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
    /// The sharding of the step value `name` of type `ty`: the batch and the carry split on
    /// their first (batch) dimension, the moments split too with ZeRO-1, the rest replicated.
    pub fn sharding(&self, name: &str, ty: &TensorType) -> Sharding {
        let rank = ty.rank();
        let batched = ["carry/", "batch/", "preds", "q_halt"].iter().any(|p| name.starts_with(p));
        let moment = self.shard_optimizer_state
            && name.starts_with("adam/")
            && ty.shape.first().is_some_and(|&d| d.is_multiple_of(self.devices));
        if (batched || moment) && rank > 0 { Sharding::split(rank, 0, &self.axis) } else { Sharding::replicated(rank) }
    }
}

/// Names and types of the step's state and constants, in argument order.
#[derive(Clone, Debug)]
pub struct StateLayout {
    /// Donated state: `params/…`, `adam/m/…`, `adam/v/…`, `ema/…`, `puzzle_emb`, `carry/…`,
    /// `step`, `healthy`, and with loss scaling `loss_scale/scale`, `loss_scale/good_steps`,
    /// `loss_scale/skipped`.
    pub state: Named<TensorType>,
    /// Read-only constants: `fixed/inner.H_init`, `fixed/inner.L_init`, `key`.
    pub constants: Named<TensorType>,
    /// The batch: `batch/inputs`, `batch/labels`, `batch/puzzle_ids`.
    pub batch: Named<TensorType>,
    /// Names of the f32 metrics output: the model's metrics, `lr`, the halting counts, with
    /// loss scaling `loss_scale` and `overflow`, then `finite`.
    pub metrics: Vec<String>,
    /// The loss scaling the state carries.
    pub loss_scale: Option<LossScale>,
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
    /// `(weights, fixed, batch) → (preds i32[B,S], q_halt f32[B], metrics f32[8])`.
    pub func: Func,
    /// Names and types of its weight arguments (`params/…` then `puzzle_emb`, `fixed/…`).
    pub weights: Named<TensorType>,
}

/// The step argument that holds the model tensor `spec`: `params/<name>`, `puzzle_emb` or
/// `fixed/<name>`.
pub fn argument_name(spec: &ParamSpec) -> String {
    match spec.role {
        Role::Trainable => format!("params/{}", spec.name),
        Role::PuzzleTable => "puzzle_emb".to_string(),
        Role::Fixed => format!("fixed/{}", spec.name),
    }
}

/// The official name of the model tensor a step argument holds (`params/…`, `ema/…`, `fixed/…`,
/// `puzzle_emb`); `None` for arguments that hold no model tensor.
pub fn official_name(argument: &str) -> Option<&str> {
    if argument == "puzzle_emb" {
        return Some("inner.puzzle_emb.weights");
    }
    ["params/", "ema/", "fixed/"].iter().find_map(|prefix| argument.strip_prefix(prefix))
}

fn specs_with(specs: &[ParamSpec], role: Role) -> Vec<&ParamSpec> {
    specs.iter().filter(|s| s.role == role).collect()
}

/// The model's tensors by official name, from the step's arguments.
fn model_params<'t>(
    params: &Named<Tensor<'t>>,
    table: Option<Tensor<'t>>,
    fixed: &Named<Tensor<'t>>,
) -> Named<Tensor<'t>> {
    let mut all = params.clone();
    if let Some(t) = table {
        all.push("inner.puzzle_emb.weights", t);
    }
    for (name, &t) in fixed.iter() {
        all.push(name, t);
    }
    all
}

/// The prefix of the metrics counting the sequences that halted after `k` ACT steps.
pub const HALTED_AFTER: &str = "halted_after/";

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
struct Accumulated<'t> {
    puzzle_ids: Tensor<'t>,
    carry: Carry<Tensor<'t>>,
    metrics: Tensor<'t>,
    total: Tensor<'t>,
    grads: Vec<Tensor<'t>>,
    row_grads: Option<Tensor<'t>>,
}

fn accumulate<'t>(
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

/// Traces one official training step of `model` on `batch_size` rows.
pub fn train_step(model: &Trm, cfg: &StepConfig, batch_size: usize) -> Result<TrainStep, TraceError> {
    let tr = Tracer::new("train_step");
    let specs = model.specs();
    let mut state = Named::new();
    let parallel = cfg.parallel.as_ref();
    let layout_of = |name: &str, ty: &TensorType| parallel.map(|p| p.sharding(name, ty));
    let donated = |name: String, ty: &TensorType, state: &mut Named<TensorType>| {
        state.push(name.clone(), ty.clone());
        let sharding = layout_of(&name, ty);
        tr.param_with(ParamAttrs { name, donate: true, sharding }, ty.clone())
    };
    let read_only = |name: String, ty: &TensorType| {
        let sharding = layout_of(&name, ty);
        tr.param_with(ParamAttrs { name, donate: false, sharding }, ty.clone())
    };

    let dense = specs_with(&specs, Role::Trainable);
    let mut params = Named::new();
    for s in &dense {
        params.push(s.name.clone(), donated(argument_name(s), &s.ty, &mut state));
    }
    let mut m = Named::new();
    let mut v = Named::new();
    for s in &dense {
        m.push(s.name.clone(), donated(format!("adam/m/{}", s.name), &s.ty, &mut state));
    }
    for s in &dense {
        v.push(s.name.clone(), donated(format!("adam/v/{}", s.name), &s.ty, &mut state));
    }
    let mut ema = Named::new();
    if cfg.ema_rate.is_some() {
        for s in &dense {
            ema.push(s.name.clone(), donated(format!("ema/{}", s.name), &s.ty, &mut state));
        }
    }
    let table = specs_with(&specs, Role::PuzzleTable).first().map(|s| donated(argument_name(s), &s.ty, &mut state));
    let carry_types = model.carry_types(batch_size);
    let carry = carry_types.map(|field, ty| donated(format!("carry/{field}"), ty, &mut state));
    let step = donated("step".into(), &TensorType::scalar(DType::I32), &mut state);
    let healthy = donated("healthy".into(), &TensorType::scalar(DType::Pred), &mut state);
    let scaling = cfg.loss_scale.map(|_| {
        let scale = donated("loss_scale/scale".into(), &TensorType::scalar(DType::F32), &mut state);
        let good_steps = donated("loss_scale/good_steps".into(), &TensorType::scalar(DType::I32), &mut state);
        let skipped = donated("loss_scale/skipped".into(), &TensorType::scalar(DType::I32), &mut state);
        (scale, good_steps, skipped)
    });

    let mut constants = Named::new();
    let mut fixed = Named::new();
    for s in specs_with(&specs, Role::Fixed) {
        constants.push(argument_name(s), s.ty.clone());
        fixed.push(s.name.clone(), read_only(argument_name(s), &s.ty));
    }
    let key_type = TensorType::new(DType::U32, &[2]);
    constants.push("key", key_type.clone());
    let key = read_only("key".into(), &key_type);
    let batch_types = model.batch_types(batch_size);
    let mut batch_layout = Named::new();
    let batch: Batch<Tensor<'_>> = batch_types.map(|field, ty| {
        batch_layout.push(format!("batch/{field}"), ty.clone());
        read_only(format!("batch/{field}"), ty)
    });

    let new_step = step + 1.0;
    let t = new_step.cast(DType::F32);
    let step_key = fold_in(key, new_step.cast(DType::U32));
    let start = model.cfg.halt_exploration_prob;
    let exploration = match cfg.halt_exploration_final {
        // A runtime value computed from the step counter: one compiled step for the whole anneal.
        Some(end) => (t / cfg.total_steps.max(1) as f64).min(1.0) * (end - start) + start,
        None => tr.scalar(start, DType::F32),
    };
    let min_steps = model.exploration(step_key, batch_size, exploration);
    let weights = StepWeights { params: &params, table, fixed: &fixed };
    let Accumulated { puzzle_ids, carry: new_carry, metrics: loss_metrics, total, grads, row_grads } =
        accumulate(model, weights, &carry, &batch, min_steps, cfg, scaling.map(|(scale, _, _)| scale));
    let _s = tr.scope("update");
    let mut checked = grads.clone();
    checked.extend(row_grads);
    let grads_finite = all_finite(&checked);
    let loss_finite = all_finite(&[total]);
    let active = new_step.le(cfg.total_steps as f64);
    // `finite`: the step is sound. Without loss scaling that needs every gradient finite; with
    // it an overflow only skips the update, unless the scale cannot shrink any more.
    let finite = match scaling {
        Some((scale, _, _)) => loss_finite.and(grads_finite.or(scale.gt(1.0))),
        None => loss_finite.and(grads_finite),
    };
    // `advance`: the step counts (carry and counter move); `update`: the weights move too.
    let advance = healthy.and(finite).and(active);
    let update = advance.and(grads_finite);
    let keep = |updated, old| update.select(updated, old);

    let lr = lr_traced(&cfg.schedule, t);
    // The optimizer's count of updates: steps, less those loss scaling skipped.
    let updates = scaling.map_or(t, |(_, _, skipped)| (new_step - skipped).cast(DType::F32));
    let rule: Box<dyn DenseRule> = match cfg.optimizer {
        OptimizerKind::AdamAtan2 => {
            Box::new(AdamAtan2 { beta1: cfg.beta1, beta2: cfg.beta2, weight_decay: cfg.weight_decay })
        }
        OptimizerKind::AdamW { eps } => {
            Box::new(AdamW { beta1: cfg.beta1, beta2: cfg.beta2, eps, weight_decay: cfg.weight_decay })
        }
        OptimizerKind::Adam { eps } => {
            Box::new(Adam { beta1: cfg.beta1, beta2: cfg.beta2, eps, weight_decay: cfg.weight_decay })
        }
        OptimizerKind::Lion => Box::new(Lion { beta1: cfg.beta1, beta2: cfg.beta2, weight_decay: cfg.weight_decay }),
    };
    let (mut new_params, mut new_m, mut new_v) = (Vec::new(), Vec::new(), Vec::new());
    for (i, (name, &p)) in params.iter().enumerate() {
        let (p2, m2, v2) = rule.update(p, grads[i], *m.get(name).expect("m"), *v.get(name).expect("v"), lr, updates);
        new_params.push(keep(p2, p));
        new_m.push(keep(m2, *m.get(name).expect("m")));
        new_v.push(keep(v2, *v.get(name).expect("v")));
    }
    let mut outputs_list = new_params.clone();
    outputs_list.extend(new_m);
    outputs_list.extend(new_v);
    if let Some(rate) = cfg.ema_rate {
        // The official loop moves the EMA after every batch, also past `total_steps` (and after
        // a skipped update, towards the unchanged weights).
        let moves = healthy.and(finite);
        for ((_, &shadow), &p) in ema.iter().zip(&new_params) {
            outputs_list.push(moves.select(ema_update(shadow, p, rate), shadow));
        }
    }
    if let (Some(table), Some(row_grads)) = (table, row_grads) {
        let lr_puzzle = lr_traced(&cfg.puzzle_schedule, t);
        let updated = sparse_sign_sgd(table, puzzle_ids, row_grads, lr_puzzle, cfg.puzzle_weight_decay);
        outputs_list.push(keep(updated, table));
    }
    let new_carry_list: Vec<Tensor<'_>> = new_carry.leaves().into_iter().copied().collect();
    for (new, old) in new_carry_list.into_iter().zip(carry.leaves()) {
        outputs_list.push(advance.select(new, *old));
    }
    outputs_list.push(advance.select(new_step, step));
    outputs_list.push(healthy.and(finite));
    let mut extra = vec![loss_metrics, lr.reshape(&[1]), halt_step_counts(&new_carry, model.cfg.halt_max_steps)];
    if let (Some((scale, good_steps, skipped)), Some(ls)) = (scaling, cfg.loss_scale) {
        let (new_scale, new_good) = next_loss_scale(scale, good_steps, grads_finite, ls.growth_interval);
        let overflow = advance.and(grads_finite.not());
        outputs_list.push(advance.select(new_scale, scale));
        outputs_list.push(advance.select(new_good, good_steps));
        outputs_list.push(overflow.select(skipped + 1.0, skipped));
        extra.extend([scale.reshape(&[1]), overflow.cast(DType::F32).reshape(&[1])]);
    }
    extra.push(finite.cast(DType::F32).reshape(&[1]));
    outputs_list.push(tr.concatenate(&extra, 0));

    let mut attrs: Vec<OutputAttrs> =
        state.iter().map(|(name, ty)| OutputAttrs { name: name.to_string(), sharding: layout_of(name, ty) }).collect();
    attrs.push(OutputAttrs { name: "metrics".into(), sharding: parallel.map(|_| Sharding::replicated(1)) });
    let func = tr.finish_with(&outputs_list, attrs)?;
    let mut metrics: Vec<String> = ouro_nn::METRICS.iter().map(|s| s.to_string()).collect();
    metrics.push("lr".to_string());
    metrics.extend((1..=model.cfg.halt_max_steps).map(|k| format!("{HALTED_AFTER}{k}")));
    if cfg.loss_scale.is_some() {
        metrics.extend(["loss_scale".to_string(), "overflow".to_string()]);
    }
    metrics.push("finite".to_string());
    let layout = StateLayout { state, constants, batch: batch_layout, metrics, loss_scale: cfg.loss_scale };
    Ok(TrainStep { func, layout })
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
    let mut weights = Named::new();
    let mut params = Named::new();
    let mut table = None;
    let mut fixed = Named::new();
    for s in &specs {
        let name = argument_name(s);
        weights.push(name.clone(), s.ty.clone());
        let sharding = parallel.map(|p| p.sharding(&name, &s.ty));
        let t = tr.param_with(ParamAttrs { name, donate: false, sharding }, s.ty.clone());
        match s.role {
            Role::Trainable => params.push(s.name.clone(), t),
            Role::PuzzleTable => table = Some(t),
            Role::Fixed => fixed.push(s.name.clone(), t),
        }
    }
    let batch: Batch<Tensor<'_>> = model.batch_types(batch_size).map(|field, ty| {
        let name = format!("batch/{field}");
        let sharding = parallel.map(|p| p.sharding(&name, ty));
        tr.param_with(ParamAttrs { name, donate: false, sharding }, ty.clone())
    });
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
    let results = [("preds", loss.preds), ("q_halt", outputs.q_halt), ("metrics", loss.metrics)];
    let attrs = results
        .map(|(name, t)| OutputAttrs { name: name.into(), sharding: parallel.map(|p| p.sharding(name, &t.ty())) });
    let func = tr.finish_with(&[loss.preds, outputs.q_halt, loss.metrics], attrs.to_vec())?;
    Ok(EvalStep { func, weights })
}
