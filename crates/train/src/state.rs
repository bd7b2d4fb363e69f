//! The first state of a run, made on the device by one traced function of the seed key (as
//! `jax.jit(init)`): weights drawn with the official initialisation, zero moments, the EMA equal
//! to the weights, an all-halted carry.

use ouro_ir::tree::{Named, Tree};
use ouro_ir::{DType, Func, OutputAttrs, ParamAttrs, Sharding, Tensor, TensorType, TraceError, Tracer};
use ouro_nn::Trm;

use crate::step::{DataParallel, StateLayout, official_name};

/// The key argument of the init function and of the train step: `[0, seed]`.
pub fn seed_key(seed: u64) -> [u32; 2] {
    [(seed >> 32) as u32, seed as u32]
}

/// Traces `key → (state…, constants without the key…)` in `layout` order.
pub fn init_state(
    model: &Trm,
    layout: &StateLayout,
    batch_size: usize,
    parallel: Option<&DataParallel>,
) -> Result<Func, TraceError> {
    let tr = Tracer::new("init_state");
    let key = tr.param_with(
        ParamAttrs { name: "key".into(), donate: false, sharding: parallel.map(|_| Sharding::replicated(1)) },
        TensorType::new(DType::U32, &[2]),
    );
    let specs = model.specs();
    let weights = ouro_nn::init(&specs, key);
    let carry = model.initial_carry(&tr, batch_size);
    let carry_named: Named<Tensor<'_>> = {
        let mut n = Named::new();
        carry.visit(&mut |name, &t| n.push(format!("carry/{name}"), t));
        n
    };
    let value = |name: &str, ty: &TensorType| -> Tensor<'_> {
        if let Some(official) = official_name(name) {
            let weight = *weights.get(official).unwrap_or_else(|| panic!("no weight {official}"));
            // The EMA starts as a distinct buffer: it is donated separately from the parameters.
            if name.starts_with("ema/") { weight + tr.zeros(ty) } else { weight }
        } else if let Some(t) = carry_named.get(name) {
            *t
        } else if name == "healthy" {
            tr.full(1.0, ty)
        } else if name == "loss_scale/scale" {
            tr.full(layout.loss_scale.map_or(1.0, |l| l.initial), ty)
        } else {
            // adam moments and the step counter
            tr.zeros(ty)
        }
    };
    let named: Vec<(&str, &TensorType)> =
        layout.state.iter().chain(layout.constants.iter().filter(|(n, _)| *n != "key")).collect();
    let outputs: Vec<Tensor<'_>> = named.iter().map(|(n, ty)| value(n, ty)).collect();
    let attrs = named
        .iter()
        .map(|(n, ty)| OutputAttrs { name: n.to_string(), sharding: parallel.map(|p| p.sharding(n, ty)) })
        .collect();
    tr.finish_with(&outputs, attrs)
}
