//! The train step's values as typed trees: the donated [`TrainState`], the read-only
//! [`Constants`], the batch. A value's role is its place in the tree, named by a [`Key`]; its
//! name (the checkpoint key, the program's argument name) is made from the key in one place.
//! The step's inputs and outputs are the leaves of the same tree, so output `i` is the new
//! value of input `i` by construction.

use std::fmt;

use ouro_ir::tree::{Named, Tree};
use ouro_ir::{DType, TensorType};
use ouro_nn::{Batch, Carry, ParamSpec, Role, Trm};
use ouro_optim::Moments;

use crate::step::{LossScale, StepConfig};

/// The official name of the puzzle-embedding table.
pub const TABLE: &str = "inner.puzzle_emb.weights";

/// The namespace of the dense optimizer's state in checkpoint keys (`adam/m/…`). It predates
/// the other rules and stays: the keys are the checkpoint format.
const OPTIMIZER: &str = "adam";

/// What one value of the step is, and so what it is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key<'a> {
    /// A dense parameter, by official name: `params/<name>`.
    Param(&'a str),
    /// One slot of the optimizer's state of a parameter: `adam/<slot>/<name>`.
    Optimizer {
        /// The rule's slot (`m`, `v`).
        slot: &'a str,
        /// The parameter.
        param: &'a str,
    },
    /// The EMA of a dense parameter: `ema/<name>`.
    Ema(&'a str),
    /// The puzzle-embedding table: `puzzle_emb`.
    Table,
    /// A field of the ACT carry: `carry/<field>`.
    Carry(&'a str),
    /// The step counter: `step`.
    Step,
    /// Whether every step so far was finite: `healthy`.
    Healthy,
    /// A field of the loss scaling: `loss_scale/<field>`.
    LossScale(&'a str),
    /// A fixed model tensor (`H_init`, `L_init`): `fixed/<name>`.
    Fixed(&'a str),
    /// The random key: `key`.
    RngKey,
    /// A field of the batch: `batch/<field>`.
    Batch(&'a str),
}

impl<'a> Key<'a> {
    /// The key a value called `name` has (a checkpoint's tensor, say); `None` for a name no
    /// step value has.
    pub fn parse(name: &'a str) -> Option<Key<'a>> {
        match name {
            "puzzle_emb" => return Some(Key::Table),
            "step" => return Some(Key::Step),
            "healthy" => return Some(Key::Healthy),
            "key" => return Some(Key::RngKey),
            _ => {}
        }
        let (space, rest) = name.split_once('/')?;
        Some(match space {
            "params" => Key::Param(rest),
            "ema" => Key::Ema(rest),
            "carry" => Key::Carry(rest),
            "loss_scale" => Key::LossScale(rest),
            "fixed" => Key::Fixed(rest),
            "batch" => Key::Batch(rest),
            OPTIMIZER => {
                let (slot, param) = rest.split_once('/')?;
                Key::Optimizer { slot, param }
            }
            _ => return None,
        })
    }

    /// The key of the step argument that holds the model tensor `spec`.
    pub fn of_spec(spec: &'a ParamSpec) -> Key<'a> {
        match spec.role {
            Role::Trainable => Key::Param(&spec.name),
            Role::PuzzleTable => Key::Table,
            Role::Fixed => Key::Fixed(&spec.name),
        }
    }

    /// The official name of the model tensor the value holds (`params`, `ema`, `fixed`, the
    /// table); `None` for values that hold none.
    pub fn official(&self) -> Option<&'a str> {
        match *self {
            Key::Param(name) | Key::Ema(name) | Key::Fixed(name) => Some(name),
            Key::Table => Some(TABLE),
            _ => None,
        }
    }

    /// Whether the value has a row per batch slot (the carry and the batch).
    pub fn is_batched(&self) -> bool {
        matches!(self, Key::Carry(_) | Key::Batch(_))
    }
}

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Param(name) => write!(f, "params/{name}"),
            Key::Optimizer { slot, param } => write!(f, "{OPTIMIZER}/{slot}/{param}"),
            Key::Ema(name) => write!(f, "ema/{name}"),
            Key::Table => f.write_str("puzzle_emb"),
            Key::Carry(field) => write!(f, "carry/{field}"),
            Key::Step => f.write_str("step"),
            Key::Healthy => f.write_str("healthy"),
            Key::LossScale(field) => write!(f, "loss_scale/{field}"),
            Key::Fixed(name) => write!(f, "fixed/{name}"),
            Key::RngKey => f.write_str("key"),
            Key::Batch(field) => write!(f, "batch/{field}"),
        }
    }
}

ouro_ir::tree_struct! {
    /// The dynamic loss scaling's state (see [`LossScale`]).
    pub struct LossScaleState<T> {
        /// The scale the loss is multiplied by.
        scale,
        /// Finite steps in a row.
        good_steps,
        /// Steps whose update an overflow skipped.
        skipped,
    }
}

/// Everything the train step donates and returns anew. Leaves are visited in field order
/// (parameters, optimizer state slot by slot, EMA, table, carry, counter, health, loss scaling):
/// the step's argument order and its outputs' order.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState<T> {
    /// The dense parameters by official name.
    pub params: Named<T>,
    /// The dense optimizer's state, owned by its rule.
    pub opt: Moments<T>,
    /// The EMA of the parameters, if the run keeps one.
    pub ema: Option<Named<T>>,
    /// The puzzle-embedding table, if the model has one (trained by sparse SignSGD).
    pub table: Option<T>,
    /// The ACT carry.
    pub carry: Carry<T>,
    /// Steps taken.
    pub step: T,
    /// Whether every step so far was finite.
    pub healthy: T,
    /// Loss scaling's state, if the loss is scaled.
    pub loss_scale: Option<LossScaleState<T>>,
}

impl<T> TrainState<T> {
    /// Calls `f` with every leaf and its key, in order.
    pub fn visit_keys<'a>(&'a self, f: &mut dyn FnMut(Key<'a>, &'a T)) {
        for (name, t) in self.params.iter() {
            f(Key::Param(name), t);
        }
        self.opt.visit(&mut |slot, param, t| f(Key::Optimizer { slot, param }, t));
        for (name, t) in self.ema.iter().flat_map(|e| e.iter()) {
            f(Key::Ema(name), t);
        }
        if let Some(t) = &self.table {
            f(Key::Table, t);
        }
        for (&field, t) in Carry::<T>::fields().iter().zip(self.carry.leaves()) {
            f(Key::Carry(field), t);
        }
        f(Key::Step, &self.step);
        f(Key::Healthy, &self.healthy);
        if let Some(ls) = &self.loss_scale {
            for (&field, t) in LossScaleState::<T>::fields().iter().zip(ls.leaves()) {
                f(Key::LossScale(field), t);
            }
        }
    }

    /// The same tree with every leaf mapped by `f(key, leaf)`, in order.
    pub fn map<U>(&self, mut f: impl FnMut(Key<'_>, &T) -> U) -> TrainState<U> {
        TrainState {
            params: self.params.map(|name, t| f(Key::Param(name), t)),
            opt: self.opt.map(|slot, param, t| f(Key::Optimizer { slot, param }, t)),
            ema: self.ema.as_ref().map(|e| e.map(|name, t| f(Key::Ema(name), t))),
            table: self.table.as_ref().map(|t| f(Key::Table, t)),
            carry: self.carry.map(|field, t| f(Key::Carry(field), t)),
            step: f(Key::Step, &self.step),
            healthy: f(Key::Healthy, &self.healthy),
            loss_scale: self.loss_scale.as_ref().map(|ls| ls.map(|field, t| f(Key::LossScale(field), t))),
        }
    }

    /// This tree's shape with `leaves` (in order); `None` unless there are exactly as many.
    pub fn with_leaves<U>(&self, leaves: Vec<U>) -> Option<TrainState<U>> {
        with_leaves(self.leaves().len(), leaves, |next| self.map(|_, _| next()))
    }

    /// The leaves in order, to replace in place.
    pub fn leaves_mut(&mut self) -> Vec<&mut T> {
        let mut out: Vec<&mut T> = self.params.values_mut().collect();
        out.extend(self.opt.leaves_mut());
        out.extend(self.ema.iter_mut().flat_map(|e| e.values_mut()));
        out.extend(self.table.as_mut());
        let Carry { z_h, z_l, steps, halted, inputs, labels, puzzle_ids } = &mut self.carry;
        out.extend([z_h, z_l, steps, halted, inputs, labels, puzzle_ids, &mut self.step, &mut self.healthy]);
        if let Some(LossScaleState { scale, good_steps, skipped }) = &mut self.loss_scale {
            out.extend([scale, good_steps, skipped]);
        }
        out
    }

    /// Replaces every leaf by `leaves` (in order), the names and structure kept; `false`, and
    /// nothing replaced, unless there are exactly as many.
    pub fn replace_leaves(&mut self, leaves: Vec<T>) -> bool {
        let mut slots = self.leaves_mut();
        if slots.len() != leaves.len() {
            return false;
        }
        for (slot, leaf) in slots.iter_mut().zip(leaves) {
            **slot = leaf;
        }
        true
    }

    /// The leaves, in order, by value.
    pub fn into_leaves(self) -> Vec<T> {
        let mut out: Vec<T> = self.params.into_entries().into_iter().map(|(_, t)| t).collect();
        out.extend(self.opt.into_leaves());
        out.extend(self.ema.into_iter().flat_map(|e| e.into_entries().into_iter().map(|(_, t)| t)));
        out.extend(self.table);
        let Carry { z_h, z_l, steps, halted, inputs, labels, puzzle_ids } = self.carry;
        out.extend([z_h, z_l, steps, halted, inputs, labels, puzzle_ids, self.step, self.healthy]);
        if let Some(LossScaleState { scale, good_steps, skipped }) = self.loss_scale {
            out.extend([scale, good_steps, skipped]);
        }
        out
    }
}

impl<T> Tree<T> for TrainState<T> {
    fn visit<'a>(&'a self, f: &mut dyn FnMut(&str, &'a T)) {
        self.visit_keys(&mut |key, t| f(&key.to_string(), t));
    }

    fn rebuild(&self, leaves: &mut dyn Iterator<Item = T>) -> Option<TrainState<T>> {
        let count = self.leaves().len();
        self.with_leaves(leaves.take(count).collect())
    }
}

/// Builds a tree of `count` leaves from `leaves` through `build`, which takes them one by one.
fn with_leaves<U, R>(count: usize, leaves: Vec<U>, build: impl FnOnce(&mut dyn FnMut() -> U) -> R) -> Option<R> {
    if leaves.len() != count {
        return None;
    }
    let mut it = leaves.into_iter();
    Some(build(&mut || it.next().expect("counted")))
}

/// The step's read-only inputs besides the batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Constants<T> {
    /// The fixed model tensors (`H_init`, `L_init`) by official name.
    pub fixed: Named<T>,
    /// The run's random key (`[0, seed]`, see [`crate::init::seed_key`]).
    pub key: T,
}

impl<T> Constants<T> {
    /// The same tree with every leaf mapped by `f(key, leaf)`, in order (fixed tensors, key).
    pub fn map<U>(&self, mut f: impl FnMut(Key<'_>, &T) -> U) -> Constants<U> {
        Constants { fixed: self.fixed.map(|name, t| f(Key::Fixed(name), t)), key: f(Key::RngKey, &self.key) }
    }

    /// The leaves, in order.
    pub fn leaves(&self) -> Vec<&T> {
        let mut out: Vec<&T> = self.fixed.iter().map(|(_, t)| t).collect();
        out.push(&self.key);
        out
    }
}

/// Names and types of the train step's values, in argument order.
#[derive(Clone, Debug)]
pub struct StateLayout {
    /// The donated state.
    pub state: TrainState<TensorType>,
    /// The read-only constants.
    pub constants: Constants<TensorType>,
    /// The batch.
    pub batch: Batch<TensorType>,
    /// The metrics output.
    pub metrics: crate::step_metrics::MetricsLayout,
    /// The loss scaling the state carries.
    pub loss_scale: Option<LossScale>,
}

impl StateLayout {
    /// The layout of `model`'s train step under `cfg` on `batch_size` rows.
    pub fn new(model: &Trm, cfg: &StepConfig, batch_size: usize) -> StateLayout {
        let specs = model.specs();
        let of_role = |role: Role| specs.iter().filter(move |s| s.role == role);
        let params: Named<TensorType> = of_role(Role::Trainable).map(|s| (s.name.clone(), s.ty.clone())).collect();
        let scalar = TensorType::scalar;
        let state = TrainState {
            opt: Moments::new(cfg.optimizer.rule().slots(), &params, |_, _, ty| ty.clone()),
            ema: cfg.ema_rate.map(|_| params.clone()),
            table: of_role(Role::PuzzleTable).next().map(|s| s.ty.clone()),
            carry: model.carry_types(batch_size),
            step: scalar(DType::I32),
            healthy: scalar(DType::Pred),
            loss_scale: cfg.loss_scale.map(|_| LossScaleState {
                scale: scalar(DType::F32),
                good_steps: scalar(DType::I32),
                skipped: scalar(DType::I32),
            }),
            params,
        };
        let constants = Constants {
            fixed: of_role(Role::Fixed).map(|s| (s.name.clone(), s.ty.clone())).collect(),
            key: TensorType::new(DType::U32, &[2]),
        };
        let metrics = crate::step_metrics::MetricsLayout {
            halt_max_steps: model.cfg.halt_max_steps,
            loss_scale: cfg.loss_scale.is_some(),
        };
        StateLayout { state, constants, batch: model.batch_types(batch_size), metrics, loss_scale: cfg.loss_scale }
    }
}
