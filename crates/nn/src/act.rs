//! The ACT wrapper (`TinyRecursiveReasoningModel_ACTV1.forward`): one supervision step on a
//! carry that persists across batches. Halting, resets and exploration are `select`s on device.

use ouro_ir::random::{nth, randint, split, uniform};
use ouro_ir::tree::Named;
use ouro_ir::{DType, Tensor, TensorType, tree_struct};

use crate::trm::{InnerOutput, Trm, weight};

tree_struct! {
    /// The ACT carry: the recursion state, the steps taken and halting of each slot, and the
    /// example each slot holds.
    pub struct Carry<T> { z_h, z_l, steps, halted, inputs, labels, puzzle_ids }
}

tree_struct! {
    /// One batch from the sampler (`i32` inputs/labels `[B, S]`, puzzle ids `[B]`).
    pub struct Batch<T> { inputs, labels, puzzle_ids }
}

/// How a step decides halting.
#[derive(Clone, Copy)]
pub enum Halting<'t> {
    /// Training: Q-halting, and no slot halts before its exploration minimum (i32 `[B]`, 0 for
    /// slots not exploring; see [`Trm::exploration`]).
    Train {
        /// Each slot's minimum number of steps.
        min_steps: Tensor<'t>,
    },
    /// Evaluation: every slot runs exactly `halt_max_steps` steps.
    Eval,
}

/// What one ACT step returns besides the carry.
pub struct ActOutputs<'t> {
    /// `[B, S, V]` in the forward dtype.
    pub logits: Tensor<'t>,
    /// `[B]` f32.
    pub q_halt: Tensor<'t>,
    /// `[B]` f32.
    pub q_continue: Tensor<'t>,
    /// The Q-learning target of `q_continue` (`no_ACT_continue: false`, training only).
    pub target_q_continue: Option<Tensor<'t>>,
}

impl Trm {
    /// Types of the carry for `batch` rows.
    pub fn carry_types(&self, batch: usize) -> Carry<TensorType> {
        let state = TensorType::new(self.forward_dtype(), &[batch, self.positions(), self.cfg.hidden_size]);
        let tokens = TensorType::new(DType::I32, &[batch, self.dims.seq_len]);
        Carry {
            z_h: state.clone(),
            z_l: state,
            steps: TensorType::new(DType::I32, &[batch]),
            halted: TensorType::new(DType::Pred, &[batch]),
            inputs: tokens.clone(),
            labels: tokens,
            puzzle_ids: TensorType::new(DType::I32, &[batch]),
        }
    }

    /// Types of a batch of `batch` rows.
    pub fn batch_types(&self, batch: usize) -> Batch<TensorType> {
        let tokens = TensorType::new(DType::I32, &[batch, self.dims.seq_len]);
        Batch { inputs: tokens.clone(), labels: tokens, puzzle_ids: TensorType::new(DType::I32, &[batch]) }
    }

    /// The first carry: every slot halted, so the first step takes a whole batch.
    pub fn initial_carry<'t>(&self, tr: &'t ouro_ir::Tracer, batch: usize) -> Carry<Tensor<'t>> {
        let types = self.carry_types(batch);
        let mut carry = types.map(|_, t| tr.zeros(t));
        carry.halted = tr.full(1.0, &types.halted);
        carry
    }

    /// The official exploration for `batch` slots from a `u32[2]` key: with probability
    /// `probability` (an f32 scalar, so a schedule can move it without recompiling; officially
    /// the constant `halt_exploration_prob`) a slot must run at least `U{2..halt_max_steps}` steps
    /// (i32 `[B]`, 0 for the others). Drawn for the whole global batch, so splitting the batch
    /// (devices, micro-batches) does not change it.
    pub fn exploration<'t>(&self, key: Tensor<'t>, batch: usize, probability: Tensor<'t>) -> Tensor<'t> {
        let keys = split(key, 2);
        let explore =
            uniform(nth(keys, 0), &[batch], DType::F32, 0.0, 1.0).lt(probability.broadcast_in_dim(&[batch], &[]));
        explore.select(randint(nth(keys, 1), &[batch], 2, self.cfg.halt_max_steps as i64 + 1), 0.0)
    }

    /// Halted slots restart from `H_init`/`L_init` with step 0 and take their row of `batch`;
    /// the rows of `batch` at other slots are never seen.
    pub fn reset<'t>(
        &self,
        params: &Named<Tensor<'t>>,
        carry: &Carry<Tensor<'t>>,
        batch: &Batch<Tensor<'t>>,
    ) -> Carry<Tensor<'t>> {
        let halted = carry.halted;
        let rows = |old: Tensor<'t>, new: Tensor<'t>| {
            let shape = old.shape();
            halted.broadcast_in_dim(&shape, &[0]).select(new, old)
        };
        let state_shape = carry.z_h.shape();
        let init = |name: &str| weight(params, name).broadcast_in_dim(&state_shape, &[2]);
        Carry {
            z_h: rows(carry.z_h, init("inner.H_init")),
            z_l: rows(carry.z_l, init("inner.L_init")),
            steps: halted.select(0.0, carry.steps),
            halted,
            inputs: rows(carry.inputs, batch.inputs),
            labels: rows(carry.labels, batch.labels),
            puzzle_ids: rows(carry.puzzle_ids, batch.puzzle_ids),
        }
    }

    /// One ACT step on a reset carry, with the puzzle-embedding rows of its ids (the caller
    /// gathers them, so it can differentiate with respect to them).
    pub fn act_step<'t>(
        &self,
        params: &Named<Tensor<'t>>,
        carry: &Carry<Tensor<'t>>,
        puzzle_rows: Option<Tensor<'t>>,
        halting: Halting<'t>,
    ) -> (Carry<Tensor<'t>>, ActOutputs<'t>) {
        let InnerOutput { z_h, z_l, logits, q_halt, q_continue } =
            self.forward(params, carry.z_h, carry.z_l, carry.inputs, puzzle_rows);
        let tr = q_halt.tracer();
        let _s = tr.scope("act");
        let max_steps = self.cfg.halt_max_steps as f64;
        let steps = carry.steps + 1.0;
        let is_last = steps.ge(max_steps);
        let mut halted = is_last;
        let mut target_q_continue = None;
        if let (Halting::Train { min_steps }, true) = (halting, self.cfg.halt_max_steps > 1) {
            halted = halted.or(if self.cfg.no_act_continue { q_halt.gt(0.0) } else { q_halt.gt(q_continue) });
            halted = halted.and(steps.ge(min_steps));
            if !self.cfg.no_act_continue {
                // The bootstrapped target: another forward on the new state, without gradient.
                let frozen = params.map(|_, t| t.stop_gradient());
                let next = self.forward(&frozen, z_h, z_l, carry.inputs, puzzle_rows.map(|r| r.stop_gradient()));
                let best = is_last.select(next.q_halt, next.q_halt.max(next.q_continue));
                target_q_continue = Some(best.sigmoid().stop_gradient());
            }
        }
        let new =
            Carry { z_h, z_l, steps, halted, inputs: carry.inputs, labels: carry.labels, puzzle_ids: carry.puzzle_ids };
        (new, ActOutputs { logits, q_halt, q_continue, target_q_continue })
    }
}
