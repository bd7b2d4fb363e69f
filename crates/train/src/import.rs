//! Starting a run from a weights file: `ouro ckpt import` writes a committed `step_0` whose
//! model tensors come from an official `state_dict` in safetensors (the official code's
//! `step_N` converted, or `ouro ckpt export`'s) and whose optimizer state, counters and
//! sampler position are a fresh run's. `ouro train --resume` then continues from it.

use std::path::Path;
use std::sync::Arc;

use ouro_data::sampler::{Sampler, SamplerConfig};
use ouro_data::{PuzzleDataset, total_steps};
use ouro_runtime::Runtime;

use crate::checkpoint::{MeshPlace, snapshot};
use crate::config::TrainConfig;
use crate::devices::Devices;
use crate::error::{Context, Error, Result};
use crate::init::init_state;
use crate::run::{model_of, run_record, step_config};
use crate::state::Key;
use crate::step::train_step;
use crate::weights::OfficialWeights;

/// What an import wrote.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The checkpoint location.
    pub location: String,
    /// Tensors taken from the file (`params/…` and `ema/…` both count).
    pub from_file: usize,
    /// Tensors of a fresh run (optimizer moments, counters).
    pub fresh: usize,
    /// Names in the file this model does not have.
    pub unused: Vec<String>,
}

/// Writes `step_0` of `cfg`'s run at `location` (which must hold no committed step) with the
/// model weights of `file`: both the live and, with EMA on, the EMA weights are the file's.
pub fn import_weights(runtime: &Runtime, cfg: &TrainConfig, file: &Path, location: &str) -> Result<Imported> {
    let weights = OfficialWeights::read(file)?;
    let loc =
        ouro_store::Location::open(location).with_context(|| format!("opening {}", ouro_store::redact(location)))?;
    if let Some(step) = ouro_ckpt::committed(&loc)?.first() {
        return Err(Error::Config(format!(
            "{} already holds step_{step}: import into a location without checkpoints (another run directory)",
            loc.url
        )));
    }
    let data = PuzzleDataset::open_locations(&cfg.recipe.data_paths, "train").context("opening the training data")?;
    let model = model_of(&cfg.recipe, &cfg.run, &data.metadata, runtime)?;
    let gbs = cfg.recipe.global_batch_size;
    let total = total_steps(&data.metadata, cfg.recipe.epochs as u64, gbs);
    // Checkpoints hold whole arrays whatever the mesh: one device makes the fresh state.
    let mut single = cfg.clone();
    single.recipe.mesh.data = 1;
    let step = train_step(&model, &step_config(&single.recipe, total), gbs)?;
    let init = runtime.compile(&init_state(&model, &step.layout, gbs, None)?, &single.recipe.lower_options())?;
    let dp = Devices::new(runtime, 1)?;
    let values = dp.initial_state(runtime.client(), &init, &step.layout, cfg.recipe.seed)?;
    let place = MeshPlace { devices: 1, first: 0, leader: true };
    let mut tensors = snapshot(&step.layout, &values, None, place, false)?;
    let mut used = Vec::new();
    let mut from_file = 0;
    for t in &mut tensors {
        let Some(official) = Key::parse(&t.name).and_then(|k| k.official()) else { continue };
        t.parts = vec![(0, weights.get(official, &t.dtype, &t.shape)?)];
        used.push(official);
        from_file += 1;
    }
    let unused: Vec<String> = weights.unused(&used).into_iter().map(String::from).collect();
    let epochs_per_iter = cfg.recipe.eval_interval.unwrap_or(cfg.recipe.epochs);
    let sampler =
        Sampler::new(Arc::new(data), SamplerConfig { seed: cfg.recipe.seed, global_batch_size: gbs, epochs_per_iter })?;
    let mut run = run_record(cfg, 0, sampler.state())?;
    run["imported_from"] = file.display().to_string().into();
    let fresh = tensors.len() - from_file;
    let retention = ouro_ckpt::Retention { keep_last: 1, keep_every: 0 };
    let job = ouro_ckpt::SaveJob { step: 0, tensors, run };
    ouro_ckpt::save_now(&loc, ouro_ckpt::Layout::default(), retention, job)?;
    Ok(Imported { location: loc.url, from_file, fresh, unused })
}
