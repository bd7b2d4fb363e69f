//! The official `evaluate`: every test batch through the eval step with the EMA weights (or the
//! raw ones), metrics summed per set and divided by the count. Over several hosts, the ARC
//! evaluator sees every host's rows of each batch, in global order.

use std::collections::BTreeMap;

use ouro_data::sampler::Sampler;
use ouro_ir::tree::Tree;
use ouro_nn::{METRICS, ParamSpec};
use ouro_pjrt::{Buffer, Client};
use ouro_runtime::{Executable, to_host};

use crate::config::Recipe;
use crate::devices::{DeviceState, Devices};
use crate::error::{Error, Result};

/// Where an evaluation runs: this host's devices, and the job's hosts the ARC evaluator
/// gathers every host's predictions from.
pub(crate) struct EvalPlace<'a> {
    pub client: &'a Client,
    pub devices: &'a Devices,
    pub hosts: &'a dyn ouro_ckpt::Hosts,
    /// The step evaluated, naming the exchanges.
    pub step: u64,
}

/// Evaluates the weights `specs` of `values` on every batch of `test` with `exe`.
pub(crate) fn evaluate(
    recipe: &Recipe,
    (exe, specs): (&Executable, &[ParamSpec]),
    values: &DeviceState,
    test: &Sampler,
    place: &EvalPlace<'_>,
) -> Result<BTreeMap<String, f64>> {
    let (client, dp) = (place.client, place.devices);
    let weights: Vec<Vec<&Buffer>> =
        (0..dp.n()).map(|d| values.eval_weights(d, specs, recipe.ema)).collect::<Result<_>>()?;
    let mut sums: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let max_batches = recipe.eval_max_batches.unwrap_or(usize::MAX);
    let mut arc = match recipe.evaluators.first() {
        Some(_) => {
            let path = ouro_data::remote::resolve(&recipe.test_paths()[0])?;
            Some(ouro_data::eval::ArcEvaluator::open(&path, 0)?)
        }
        None => None,
    };
    if let Some(a) = arc.as_mut() {
        a.begin_eval();
    }
    for (index, batch) in test.test_batches().take(max_batches).enumerate() {
        let buffers = dp.upload(client, &batch)?;
        let args: Vec<Vec<&Buffer>> = (0..dp.n())
            .map(|d| {
                let mut a = weights[d].clone();
                a.extend(buffers[d].leaves());
                a
            })
            .collect();
        let out = dp.exec(exe, &args)?;
        // The outputs are predictions, q-halt logits and the (replicated) metrics.
        let values = to_host(&out[0][2])?.to_f64_vec();
        let entry = sums.entry(batch.set.clone()).or_insert_with(|| vec![0.0; values.len()]);
        for (s, v) in entry.iter_mut().zip(values) {
            *s += v;
        }
        if let Some(a) = arc.as_mut() {
            let rows = gathered_rows(&batch, &out, place, index)?;
            a.update(&rows.inputs, &rows.preds, &rows.puzzle_identifiers, &rows.q_halt)?;
        }
    }
    let mut results = BTreeMap::new();
    for (set, values) in sums {
        let count = values[0].max(1.0);
        for (name, v) in METRICS.iter().zip(values).skip(1) {
            results.insert(format!("{set}/{name}"), v / count);
        }
        results.insert(format!("{set}/count"), count);
    }
    if let Some(a) = arc {
        for (name, v) in a.result().0 {
            results.insert(name, v);
        }
    }
    Ok(results)
}

/// Batch `index`'s rows with this host's predictions, and over several hosts every host's, in
/// global order.
fn gathered_rows(
    batch: &ouro_data::sampler::Batch,
    out: &[Vec<Buffer>],
    place: &EvalPlace<'_>,
    index: usize,
) -> Result<crate::gather::EvalRows> {
    // Predictions are split over the devices in batch order.
    let mut rows = crate::gather::EvalRows {
        seq_len: batch.seq_len,
        inputs: batch.inputs.clone(),
        puzzle_identifiers: batch.puzzle_identifiers.clone(),
        ..Default::default()
    };
    for o in out {
        rows.preds.extend(to_host(&o[0])?.to_i64_vec().into_iter().map(|v| v as i32));
        rows.q_halt.extend(to_host(&o[1])?.to_f64_vec().into_iter().map(|v| v as f32));
    }
    if place.hosts.count() > 1 {
        let name = |i: usize| format!("eval/{}/{i}", place.step);
        rows = crate::gather::gather_rows(place.hosts, &name(index), &rows)?;
        // This exchange completed, so every host has read the one before.
        if index > 0 {
            place.hosts.forget(&name(index - 1)).map_err(Error::Hosts)?;
        }
    }
    Ok(rows)
}
