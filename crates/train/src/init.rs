//! The first state of a run, made on the device by one traced function of the seed key (as
//! `jax.jit(init)`): weights drawn with the official initialisation, zero optimizer state, the
//! EMA equal to the weights, an all-halted carry.

use ouro_ir::tree::Tree;
use ouro_ir::{DType, Func, OutputAttrs, ParamAttrs, Sharding, Tensor, TensorType, TraceError, Tracer};
use ouro_nn::Trm;

use crate::state::{Key, LossScaleState, StateLayout, TABLE, TrainState};
use crate::step::DataParallel;

/// The key argument of the init function and of the train step: `[0, seed]`.
pub fn seed_key(seed: u64) -> [u32; 2] {
    [(seed >> 32) as u32, seed as u32]
}

/// Traces `key → (state…, fixed tensors…)`: the leaves of `layout`'s state, then its constants
/// but the key.
pub fn init_state(
    model: &Trm,
    layout: &StateLayout,
    batch_size: usize,
    parallel: Option<&DataParallel>,
) -> Result<Func, TraceError> {
    let tr = Tracer::new("init_state");
    let key = tr.param_with(
        ParamAttrs {
            name: Key::RngKey.to_string(),
            donate: false,
            sharding: parallel.map(|_| Sharding::replicated(1)),
        },
        TensorType::new(DType::U32, &[2]),
    );
    let weights = ouro_nn::init(&model.specs(), key);
    let weight = |name: &str| *weights.get(name).unwrap_or_else(|| panic!("no weight {name}"));
    let carry = model.initial_carry(&tr, batch_size);
    let types = &layout.state;
    let state = TrainState {
        params: types.params.map(|name, _| weight(name)),
        opt: types.opt.map(|_, _, ty| tr.zeros(ty)),
        // The EMA starts as a distinct buffer: it is donated separately from the parameters.
        ema: types.ema.as_ref().map(|e| e.map(|name, ty| weight(name) + tr.zeros(ty))),
        table: types.table.as_ref().map(|_| weight(TABLE)),
        carry,
        step: tr.zeros(&types.step),
        healthy: tr.full(1.0, &types.healthy),
        loss_scale: types.loss_scale.as_ref().map(|ls| LossScaleState {
            scale: tr.full(layout.loss_scale.map_or(1.0, |l| l.initial), &ls.scale),
            good_steps: tr.zeros(&ls.good_steps),
            skipped: tr.zeros(&ls.skipped),
        }),
    };
    let fixed = layout.constants.fixed.map(|name, _| weight(name));
    let mut outputs: Vec<Tensor<'_>> = state.leaves().into_iter().copied().collect();
    outputs.extend(fixed.leaves().into_iter().copied());
    let mut attrs = Vec::with_capacity(outputs.len());
    let mut attr = |key: Key<'_>, ty: &TensorType| {
        attrs.push(OutputAttrs { name: key.to_string(), sharding: parallel.map(|p| p.sharding(key, ty)) })
    };
    types.visit_keys(&mut |key, ty| attr(key, ty));
    for (name, ty) in layout.constants.fixed.iter() {
        attr(Key::Fixed(name), ty);
    }
    tr.finish_with(&outputs, attrs)
}
