//! The compiled train and eval steps of each recursion depth a run meets (one without a
//! curriculum), compiled on first use, with each train step's matmul FLOPs for MFU.

use std::collections::BTreeMap;
use std::sync::Arc;

use ouro_nn::Trm;
use ouro_runtime::{Executable, Runtime};

use super::plan::model_of;
use crate::config::TrainConfig;
use crate::curriculum::{Depth, at_depth};
use crate::error::{Context, Result};
use crate::step::{StepConfig, eval_step, train_step};

/// The programs by depth.
pub(crate) struct DepthPrograms<'a> {
    runtime: &'a Runtime,
    cfg: &'a TrainConfig,
    meta: &'a ouro_data::Metadata,
    step_cfg: &'a StepConfig,
    pub train: BTreeMap<Depth, Arc<Executable>>,
    pub eval: BTreeMap<Depth, Arc<Executable>>,
    flops: BTreeMap<Depth, f64>,
}

impl<'a> DepthPrograms<'a> {
    pub(crate) fn new(
        runtime: &'a Runtime,
        cfg: &'a TrainConfig,
        meta: &'a ouro_data::Metadata,
        step_cfg: &'a StepConfig,
    ) -> DepthPrograms<'a> {
        DepthPrograms {
            runtime,
            cfg,
            meta,
            step_cfg,
            train: BTreeMap::new(),
            eval: BTreeMap::new(),
            flops: BTreeMap::new(),
        }
    }

    fn model(&self, depth: Depth) -> Result<Trm> {
        model_of(&at_depth(&self.cfg.recipe, depth), &self.cfg.run, self.meta, self.runtime)
            .with_context(|| format!("the model at {depth}"))
    }

    /// The train step at `depth`.
    pub(crate) fn train_program(&mut self, depth: Depth) -> Result<Arc<Executable>> {
        if let Some(exe) = self.train.get(&depth) {
            return Ok(exe.clone());
        }
        let step = train_step(&self.model(depth)?, self.step_cfg, self.cfg.recipe.global_batch_size)?;
        let exe = self.runtime.compile(&step.func, &self.cfg.recipe.lower_options())?;
        self.train.insert(depth, exe.clone());
        Ok(exe)
    }

    /// The eval step at `depth`.
    pub(crate) fn eval_program(&mut self, depth: Depth) -> Result<Arc<Executable>> {
        if let Some(exe) = self.eval.get(&depth) {
            return Ok(exe.clone());
        }
        let eval = eval_step(&self.model(depth)?, self.cfg.recipe.global_batch_size, self.step_cfg.parallel.as_ref())?;
        let exe = self.runtime.compile(&eval.func, &self.cfg.recipe.lower_options())?;
        self.eval.insert(depth, exe.clone());
        Ok(exe)
    }

    /// Matmul FLOPs of one train step at `depth`.
    pub(crate) fn flops(&mut self, depth: Depth) -> Result<f64> {
        if let Some(&f) = self.flops.get(&depth) {
            return Ok(f);
        }
        let model = self.model(depth)?;
        let f = crate::cost::train_step_flops(&at_depth(&self.cfg.recipe, depth), &model.dims)? as f64;
        self.flops.insert(depth, f);
        Ok(f)
    }
}
