//! What a run costs, from its config and the shape of its data, before running it: steps,
//! matmul FLOPs (counted from the traced programs, see [`crate::flops`]) and the time they take
//! at an assumed device throughput. `ouro run --dry-run` and `ouro batch --dry-run` print it, so
//! a program's runtime is computed rather than guessed (reference/experiments.md §0.2).

use ouro_data::{Metadata, total_steps_of};
use ouro_ir::Tracer;
use ouro_nn::{DataDims, Halting, Role, Trm, count};

use crate::config::{DataShape, Recipe, TrainConfig};
use crate::curriculum::{Curriculum, Depth, at_depth};
use crate::error::{Error, Result};
use crate::flops::matmul_flops;
use crate::step::train_step;

/// A run's size and work.
#[derive(Clone, Debug, PartialEq)]
pub struct Cost {
    /// Dense trainable parameters.
    pub params: u64,
    /// Optimizer steps of the whole run.
    pub total_steps: u64,
    /// Matmul FLOPs of one training step (forward and backward of one ACT step, global batch)
    /// at the architecture's depth.
    pub train_flops_per_step: u64,
    /// Matmul FLOPs of all training steps (less than `total_steps` full steps under a
    /// recursion-depth curriculum).
    pub train_flops: f64,
    /// Under a recursion-depth curriculum, each depth with its number of steps (empty without).
    pub depths: Vec<(Depth, u64)>,
    /// Evaluations in the run.
    pub evaluations: u64,
    /// Test examples each evaluation runs (padded to whole batches).
    pub eval_examples: u64,
    /// Matmul FLOPs of evaluating one example (`halt_max_steps` forward ACT steps).
    pub eval_flops_per_example: u64,
}

impl Cost {
    /// FLOPs of all evaluations.
    pub fn eval_flops(&self) -> f64 {
        self.eval_flops_per_example as f64 * self.eval_examples as f64 * self.evaluations as f64
    }

    /// Seconds the run takes on devices delivering `flops_per_second` in total.
    pub fn seconds(&self, flops_per_second: f64) -> f64 {
        (self.train_flops + self.eval_flops()) / flops_per_second
    }
}

/// The shape of the data at its metadata (`test_examples`: the test split's size, if any).
pub fn shape_of(meta: &Metadata, test_examples: Option<usize>) -> DataShape {
    DataShape {
        seq_len: meta.seq_len,
        vocab_size: meta.vocab_size,
        num_puzzle_identifiers: meta.num_puzzle_identifiers,
        total_groups: meta.total_groups,
        mean_puzzle_examples: meta.mean_puzzle_examples,
        test_examples: test_examples.unwrap_or(0),
    }
}

/// Refuses a declared `data_shape` the data does not have, naming each difference (the test
/// split's size is an estimate for costing and is not checked).
pub fn check_shape(declared: &DataShape, meta: &Metadata) -> Result<()> {
    let actual = shape_of(meta, None);
    let mut wrong = Vec::new();
    let mut compare = |key: &str, d: f64, a: f64| {
        if (d - a).abs() > 1e-9 * a.abs().max(1.0) {
            wrong.push(format!("{key}: declared {d}, the data has {a}"));
        }
    };
    compare("seq_len", declared.seq_len as f64, actual.seq_len as f64);
    compare("vocab_size", declared.vocab_size as f64, actual.vocab_size as f64);
    compare("num_puzzle_identifiers", declared.num_puzzle_identifiers as f64, actual.num_puzzle_identifiers as f64);
    compare("total_groups", declared.total_groups as f64, actual.total_groups as f64);
    compare("mean_puzzle_examples", declared.mean_puzzle_examples, actual.mean_puzzle_examples);
    if !wrong.is_empty() {
        return Err(Error::Config(wrong.join("; ")));
    }
    Ok(())
}

/// Matmul FLOPs of one training step of `recipe` on data of `dims` (the global batch).
pub fn train_step_flops(recipe: &Recipe, dims: &DataDims) -> Result<u64> {
    let mut model = Trm::new(recipe.arch.clone(), *dims).map_err(Error::Config)?;
    // Loops are counted once; unrolled, every cycle is counted.
    model.unroll = true;
    // The schedule's length does not change the matmuls.
    let step = train_step(&model, &crate::run::step_config(recipe, 1), dims.batch_size)?;
    Ok(matmul_flops(&step.func))
}

/// Matmul FLOPs of evaluating one example of data of `dims`: `halt_max_steps` forward ACT steps.
pub fn eval_flops_per_example(recipe: &Recipe, dims: &DataDims) -> Result<u64> {
    let mut one = Trm::new(recipe.arch.clone(), DataDims { batch_size: 1, ..*dims }).map_err(Error::Config)?;
    one.unroll = true;
    let tr = Tracer::new("eval_act_step");
    let params = one.specs().iter().fold(ouro_ir::tree::Named::new(), |mut named, s| {
        named.push(s.name.clone(), tr.param(&s.name, s.ty.clone()));
        named
    });
    let batch = one.batch_types(1).map(|field, ty| tr.param(&format!("batch/{field}"), ty.clone()));
    let carry = one.reset(&params, &one.initial_carry(&tr, 1), &batch);
    let rows = one.puzzle_rows(&params, carry.puzzle_ids);
    let (_, outputs) = one.act_step(&params, &carry, rows, Halting::Eval);
    let func = tr.finish(&[outputs.logits])?;
    Ok(matmul_flops(&func) * recipe.arch.halt_max_steps as u64)
}

/// Costs `recipe` on data of `shape`.
pub fn estimate(recipe: &Recipe, shape: &DataShape) -> Result<Cost> {
    let gbs = recipe.global_batch_size;
    let dims = shape.dims(gbs);
    let total_steps = total_steps_of(shape.total_groups, shape.mean_puzzle_examples, recipe.epochs as u64, gbs);
    let train_flops_per_step = train_step_flops(recipe, &dims)?;
    let depths = Curriculum::of(recipe, total_steps)?.map_or_else(Vec::new, |c| c.spans(0, total_steps));
    let mut train_flops = 0.0;
    for &(depth, steps) in &depths {
        train_flops += train_step_flops(&at_depth(recipe, depth), &dims)? as f64 * steps as f64;
    }
    if depths.is_empty() {
        train_flops = train_flops_per_step as f64 * total_steps as f64;
    }

    let eval_flops_per_example = eval_flops_per_example(recipe, &dims)?;

    let interval = recipe.eval_interval.unwrap_or(recipe.epochs).max(1);
    let iterations = (recipe.epochs / interval) as u64;
    let evaluations = iterations.saturating_sub(recipe.min_eval_interval as u64);
    let batches = shape.test_examples.div_ceil(gbs) as u64;
    let batches = recipe.eval_max_batches.map_or(batches, |m| batches.min(m as u64));
    Ok(Cost {
        params: count(&ouro_nn::param_specs(&recipe.arch, &dims), Role::Trainable) as u64,
        total_steps,
        train_flops_per_step,
        train_flops,
        depths,
        evaluations,
        eval_examples: batches * gbs as u64,
        eval_flops_per_example,
    })
}

/// Device memory of a training step, from the compiler's own accounting.
#[derive(Clone, Debug, PartialEq)]
pub struct Memory {
    /// Bytes of the step's arguments on one device: the state (parameters, moments, EMA,
    /// puzzle table, carry) and the batch, at the device's rows.
    pub state_bytes: f64,
    /// Bytes of temporaries (activations, gradients) and unaliased outputs, at one
    /// micro-batch's rows.
    pub activation_bytes: f64,
    /// Rows per device.
    pub rows: usize,
    /// Rows per micro-batch.
    pub micro_rows: usize,
}

impl Memory {
    /// Total bytes per device.
    pub fn total(&self) -> f64 {
        self.state_bytes + self.activation_bytes
    }
}

/// Rows the memory model is measured at: memory is affine in the rows, so two compilations of
/// small steps extrapolate to any batch in seconds, where compiling the real step can take
/// minutes.
const MEASURED_ROWS: [usize; 2] = [8, 16];

/// Compiles `recipe`'s train step for one device at [`MEASURED_ROWS`] rows on `runtime` and
/// extrapolates its memory to the rows each device holds (`global_batch_size / mesh.data`,
/// split into `grad_accum_steps` micro-batches). The state is counted whole on every device
/// (`shard_optimizer_state` would save part of the moments). The figures are those of the
/// runtime's compiler: the CPU plugin's for a laptop or CI, the accelerator's on its machine.
pub fn memory(runtime: &ouro_runtime::Runtime, cfg: &TrainConfig, dims: &DataDims) -> Result<Memory> {
    let rows = cfg.recipe.global_batch_size / cfg.recipe.mesh.data.max(1);
    let micro_rows = rows / cfg.recipe.grad_accum_steps.max(1);
    let mut measured = Vec::new();
    for n in MEASURED_ROWS {
        let mut one = cfg.clone();
        one.recipe.global_batch_size = n;
        one.recipe.mesh.data = 1;
        one.recipe.grad_accum_steps = 1;
        let model = crate::run::model_at(
            &one.recipe,
            &one.run,
            DataDims { batch_size: n, ..*dims },
            crate::run::compiler_of(runtime),
        )?;
        let step = train_step(&model, &crate::run::step_config(&one.recipe, 1), n)?;
        let exe = runtime.compile(&step.func, &one.recipe.lower_options())?;
        let s = exe.loaded().compiled_memory_stats()?;
        let transient = s.temp_size_in_bytes + s.output_size_in_bytes - s.alias_size_in_bytes;
        measured.push((s.argument_size_in_bytes as f64, transient as f64));
    }
    let [(a0, t0), (a1, t1)] = [measured[0], measured[1]];
    let span = (MEASURED_ROWS[1] - MEASURED_ROWS[0]) as f64;
    let at = |v0: f64, v1: f64, r: usize| v0 + (v1 - v0) / span * (r as f64 - MEASURED_ROWS[0] as f64);
    Ok(Memory { state_bytes: at(a0, a1, rows), activation_bytes: at(t0, t1, micro_rows), rows, micro_rows })
}
