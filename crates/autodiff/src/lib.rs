//! Reverse-mode automatic differentiation, as a transformation of the equations being traced.
//!
//! [`vjp`] walks the equations of the current trace backwards from some outputs and appends,
//! for each, the equations of its prim's VJP rule: the backward pass is ordinary IR, verified,
//! lowered and compiled like the forward pass. Cotangents are `Option`s, `None` being a symbolic
//! zero that is never materialised; they are only computed for values that depend on the
//! differentiated inputs (forward activity analysis) and only through prims that have
//! gradients (`stop_gradient`, comparisons, integer results carry none).
//!
//! On top of it: [`grad`] and [`value_and_grad`] over pytrees of parameters, and [`vjp_func`],
//! which turns a whole [`Func`] into its VJP function.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::panic::Location;

use ouro_ir::{Func, Tensor, TraceError, Tracer, Tree, ValueId, VjpCx};

/// Cotangents of `wrt` given cotangents `cts` of `outputs` (all tensors of the current frame).
/// `None` is a zero cotangent. Errors (a while loop on the gradient path) are recorded in the
/// tracer with the caller's location, like any trace error.
#[track_caller]
pub fn vjp<'t>(outputs: &[Tensor<'t>], cts: &[Option<Tensor<'t>>], wrt: &[Tensor<'t>]) -> Vec<Option<Tensor<'t>>> {
    let location = Location::caller();
    let Some(tr) = outputs.first().or(wrt.first()).map(Tensor::tracer) else { return vec![None; wrt.len()] };
    let report = |message: String| tr.error_at(message, location);
    if outputs.len() != cts.len() {
        report(format!("vjp: {} outputs but {} cotangents", outputs.len(), cts.len()));
        return vec![None; wrt.len()];
    }
    let id_of = |t: &Tensor<'t>, what: &str| {
        let id = tr.value_id(*t);
        if id.is_none() {
            report(format!("vjp: {what} is not a value of the function being traced (a loop body's value?)"));
        }
        id
    };
    let Some(wrt_ids) = wrt.iter().map(|t| id_of(t, "an input to differentiate")).collect::<Option<Vec<ValueId>>>()
    else {
        return vec![None; wrt.len()];
    };
    let Some(out_ids) = outputs.iter().map(|t| id_of(t, "an output")).collect::<Option<Vec<ValueId>>>() else {
        return vec![None; wrt.len()];
    };

    let num_eqns = tr.num_eqns();
    let num_values = tr.num_values();

    // Forward activity: values that depend on `wrt` through differentiable prims, float only.
    let mut active = vec![false; num_values];
    for v in &wrt_ids {
        active[v.index()] = true;
    }
    tr.with_eqns(|eqns| {
        for e in &eqns[..num_eqns] {
            if e.prim.rules().differentiable() && e.inputs.iter().any(|v| active[v.index()]) {
                for &o in &e.outputs {
                    active[o.index()] = tr.ty(tr.tensor(o)).dtype.is_float();
                }
            }
        }
    });

    let mut ct: Vec<Option<Tensor<'t>>> = vec![None; num_values];
    for (&o, c) in out_ids.iter().zip(cts) {
        if let Some(c) = c {
            accumulate(&mut ct, o, *c);
        }
    }
    let regions: Vec<Range<usize>> = tr.remat_regions().into_iter().filter(|r| r.end <= num_eqns).collect();
    // Inside a rematerialised region, the recomputed value standing for each forward value.
    let mut recomputed: HashMap<ValueId, Tensor<'t>> = HashMap::new();
    let mut replayed = vec![false; regions.len()];
    for i in (0..num_eqns).rev() {
        let e = tr.eqn(i);
        if !e.outputs.iter().any(|o| ct[o.index()].is_some()) || !e.inputs.iter().any(|v| active[v.index()]) {
            continue;
        }
        if !e.prim.rules().differentiable() {
            continue;
        }
        let region = regions.iter().position(|r| r.contains(&i));
        if let Some(r) = region
            && !replayed[r]
        {
            replayed[r] = true;
            recompute(tr, regions[r].clone(), &mut ct, &mut recomputed);
        }
        let primal = |v: &ValueId| match region {
            Some(_) => recomputed.get(v).copied().unwrap_or_else(|| tr.tensor(*v)),
            None => tr.tensor(*v),
        };
        let _scope = tr.with_scope_path(&format!("{}/vjp", tr.eqn_scope(i)));
        let cx = VjpCx {
            tr,
            inputs: e.inputs.iter().map(primal).collect(),
            outputs: e.outputs.iter().map(primal).collect(),
            cts: e.outputs.iter().map(|o| ct[o.index()].take()).collect(),
        };
        match e.prim.rules().vjp(&cx) {
            Ok(input_cts) => {
                for (&v, c) in e.inputs.iter().zip(input_cts) {
                    if let (true, Some(c)) = (active[v.index()], c) {
                        // A rule must give the operand's dtype; keep the invariant if one does not.
                        let want = tr.ty(tr.tensor(v)).dtype;
                        let c = if c.dtype() != want { c.cast(want) } else { c };
                        accumulate(&mut ct, v, c);
                    }
                }
            }
            Err(message) => {
                report(format!("{} (at {}): {message}", e.prim.name(), tr.eqn_scope(i)));
                return vec![None; wrt.len()];
            }
        }
    }
    wrt_ids.iter().map(|v| ct[v.index()]).collect()
}

/// Replays the equations of `region` for the backward pass, from its inputs passed through an
/// optimisation barrier together with the cotangents reaching the region: XLA can neither
/// reuse the forward values (CSE) nor compute the replay before the backward pass gets there,
/// so the region's intermediate values need not live from the forward pass to the backward.
fn recompute<'t>(
    tr: &'t Tracer,
    region: Range<usize>,
    ct: &mut [Option<Tensor<'t>>],
    recomputed: &mut HashMap<ValueId, Tensor<'t>>,
) {
    let eqns: Vec<ouro_ir::Eqn> = region.clone().map(|i| tr.eqn(i)).collect();
    let defined: HashSet<ValueId> = eqns.iter().flat_map(|e| e.outputs.iter().copied()).collect();
    let mut inputs: Vec<ValueId> = Vec::new();
    for e in &eqns {
        for v in &e.inputs {
            if !defined.contains(v) && !inputs.contains(v) {
                inputs.push(*v);
            }
        }
    }
    let reaching: Vec<ValueId> =
        eqns.iter().flat_map(|e| e.outputs.iter().copied()).filter(|v| ct[v.index()].is_some()).collect();
    let mut through: Vec<Tensor<'t>> = inputs.iter().map(|&v| tr.tensor(v)).collect();
    through.extend(reaching.iter().map(|v| ct[v.index()].expect("a cotangent")));
    let _scope = tr.with_scope_path(&format!("{}/remat", tr.eqn_scope(region.start)));
    let barrier = tr.emit(ouro_ir::prims::OptimizationBarrier, &through);
    let (fresh_inputs, fresh_cts) = barrier.split_at(inputs.len());
    for (v, &t) in inputs.iter().zip(fresh_inputs) {
        recomputed.insert(*v, t);
    }
    for (v, &c) in reaching.iter().zip(fresh_cts) {
        ct[v.index()] = Some(c);
    }
    for (i, e) in region.zip(&eqns) {
        let args: Vec<Tensor<'t>> = e.inputs.iter().map(|v| recomputed[v]).collect();
        let _scope = tr.with_scope_path(&format!("{}/remat", tr.eqn_scope(i)));
        for (&o, t) in e.outputs.iter().zip(tr.emit(e.prim.clone(), &args)) {
            recomputed.insert(o, t);
        }
    }
}

fn accumulate<'t>(ct: &mut [Option<Tensor<'t>>], v: ValueId, c: Tensor<'t>) {
    let slot = &mut ct[v.index()];
    *slot = Some(match *slot {
        Some(existing) => existing + c,
        None => c,
    });
}

/// The gradient of scalar `loss` with respect to every leaf of `params` (zeros where the loss
/// does not depend on a leaf), with `params`' structure.
#[track_caller]
pub fn grad<'t, P: Tree<Tensor<'t>>>(loss: Tensor<'t>, params: &P) -> P {
    let tr = loss.tracer();
    if loss.rank() != 0 || !loss.dtype().is_float() {
        tr.error(format!("grad: expects a floating-point scalar loss, got {}", loss.ty()));
    }
    let leaves: Vec<Tensor<'t>> = params.leaves().into_iter().copied().collect();
    let seed = loss.full_like(1.0);
    let cts = vjp(&[loss], &[Some(seed)], &leaves);
    let grads = leaves.iter().zip(cts).map(|(x, c)| c.unwrap_or_else(|| x.zeros_like()));
    match params.rebuild(&mut grads.collect::<Vec<_>>().into_iter()) {
        Some(g) => g,
        None => unreachable!("rebuilt from as many leaves as the tree has"),
    }
}

/// `(f(params), ∇f(params))` for a scalar-valued `f`, within the current trace.
#[track_caller]
pub fn value_and_grad<'t, P: Tree<Tensor<'t>>>(f: impl FnOnce(&P) -> Tensor<'t>, params: &P) -> (Tensor<'t>, P) {
    let loss = f(params);
    let g = grad(loss, params);
    (loss, g)
}

/// The VJP of a whole function: a new function taking `func`'s parameters followed by one
/// cotangent per output, and returning `func`'s outputs followed by the cotangents of the
/// parameters listed in `wrt` (zeros where there is no dependence).
#[track_caller]
pub fn vjp_func(func: &Func, wrt: &[usize]) -> Result<Func, TraceError> {
    let tr = Tracer::new(&format!("{}_vjp", func.name));
    let params: Vec<Tensor<'_>> =
        func.params.iter().zip(&func.param_attrs).map(|(&p, a)| tr.param(&a.name, func.ty(p).clone())).collect();
    let outputs = inline(&tr, func, &params);
    let cts: Vec<Option<Tensor<'_>>> =
        outputs.iter().enumerate().map(|(i, o)| Some(tr.param(&format!("ct{i}"), o.ty()))).collect();
    let mut wrt_tensors = Vec::with_capacity(wrt.len());
    for &w in wrt {
        match params.get(w) {
            Some(&p) => wrt_tensors.push(p),
            None => tr.error(format!(
                "vjp_func: {} has {} parameters, cannot differentiate parameter {w}",
                func.name,
                params.len()
            )),
        }
    }
    let grads = vjp(&outputs, &cts, &wrt_tensors);
    let mut results = outputs.clone();
    results.extend(wrt_tensors.iter().zip(grads).map(|(x, g)| g.unwrap_or_else(|| x.zeros_like())));
    tr.finish(&results)
}

/// Replays `func`'s equations into `tr` on `args`, returning its outputs.
#[track_caller]
pub fn inline<'t>(tr: &'t Tracer, func: &Func, args: &[Tensor<'t>]) -> Vec<Tensor<'t>> {
    let mut values: Vec<Option<Tensor<'t>>> = vec![None; func.values.len()];
    for (&p, &a) in func.params.iter().zip(args) {
        values[p.index()] = Some(a);
    }
    for e in &func.eqns {
        let inputs: Vec<Tensor<'t>> =
            e.inputs.iter().map(|v| values[v.index()].unwrap_or_else(|| tr.poison(func.ty(*v)))).collect();
        let _scope = tr.with_scope_path(func.scope(e));
        let outs = tr.emit(e.prim.clone(), &inputs);
        for (&o, t) in e.outputs.iter().zip(outs) {
            values[o.index()] = Some(t);
        }
    }
    func.outputs.iter().map(|v| values[v.index()].unwrap_or_else(|| tr.poison(func.ty(*v)))).collect()
}
