//! Step throughput without a dataset: a config's train (or eval) step compiled for its mesh,
//! its state initialised on the devices, and one synthetic batch of the data's shape uploaded
//! once, so a measurement sees the device work and the dispatch, nothing of the input
//! pipeline. `ouro bench` and the criterion benchmarks run it.

use std::sync::Arc;
use std::time::Instant;

use ouro_data::sampler::Batch as HostBatch;
use ouro_ir::tree::Tree;
use ouro_nn::{Batch, DataDims, ParamSpec};
use ouro_pjrt::Buffer;
use ouro_runtime::{Executable, Runtime};

use crate::config::TrainConfig;
use crate::devices::{DeviceState, Devices};
use crate::error::Result;
use crate::init::init_state;
use crate::run::{compiler_of, model_at, step_config};
use crate::state::StateLayout;
use crate::step::{eval_step, train_step};

/// Which step is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// The train step: forward, backward and update of one ACT step.
    Train,
    /// The eval step: `halt_max_steps` forward ACT steps.
    Eval,
}

/// A compiled step with its state and a batch on the devices, ready to run.
pub struct StepBench {
    exe: Arc<Executable>,
    devices: Devices,
    which: Which,
    layout: StateLayout,
    /// The eval step's weight arguments, read from the state.
    eval_weights: Option<Vec<ParamSpec>>,
    ema: bool,
    /// The state (donated to each train step) and constants on the devices.
    values: DeviceState,
    batch: Vec<Batch<Buffer>>,
    /// The outputs of the last eval step (what `sync` waits for).
    last_eval: Vec<Vec<Buffer>>,
    /// Seconds the step took to compile.
    pub compile_seconds: f64,
    /// Matmul FLOPs of one step over the global batch.
    pub flops: f64,
    /// Rows of the global batch.
    pub rows: usize,
}

impl StepBench {
    /// Compiles `cfg`'s `which` step on `runtime` for data of `dims` (its `batch_size` is
    /// ignored: the config's global batch is used) and gets everything onto the devices.
    pub fn new(runtime: &Runtime, cfg: &TrainConfig, dims: DataDims, which: Which) -> Result<StepBench> {
        let gbs = cfg.recipe.global_batch_size;
        let dims = DataDims { batch_size: gbs, ..dims };
        let model = model_at(&cfg.recipe, &cfg.run, dims, compiler_of(runtime))?;
        let step_cfg = step_config(&cfg.recipe, 1_000_000);
        let parallel = step_cfg.parallel.as_ref();
        let options = cfg.recipe.lower_options();
        let step = train_step(&model, &step_cfg, gbs)?;
        let init = runtime.compile(&init_state(&model, &step.layout, gbs, parallel)?, &options)?;
        let devices = Devices::new(runtime, cfg.recipe.mesh.data)?;
        let values = devices.initial_state(runtime.client(), &init, &step.layout, cfg.recipe.seed)?;
        let started = Instant::now();
        let (exe, eval_weights, flops) = match which {
            Which::Train => {
                let exe = runtime.compile(&step.func, &options)?;
                (exe, None, crate::cost::train_step_flops(&cfg.recipe, &dims)? as f64)
            }
            Which::Eval => {
                let eval = eval_step(&model, gbs, parallel)?;
                let exe = runtime.compile(&eval.func, &options)?;
                let flops = crate::cost::eval_flops_per_example(&cfg.recipe, &dims)? as f64 * gbs as f64;
                (exe, Some(eval.weights), flops)
            }
        };
        let compile_seconds = started.elapsed().as_secs_f64();
        let batch = devices.upload(runtime.client(), &synthetic_batch(&dims, cfg.recipe.seed))?;
        Ok(StepBench {
            exe,
            devices,
            which,
            layout: step.layout,
            eval_weights,
            ema: cfg.recipe.ema,
            values,
            batch,
            last_eval: Vec::new(),
            compile_seconds,
            flops,
            rows: gbs,
        })
    }

    /// Dispatches one step (the train state is donated and replaced; eval outputs dropped).
    pub fn step(&mut self) -> Result<()> {
        let Some(weights) = &self.eval_weights else {
            self.devices.train(&self.exe, &self.layout, &mut self.values, &self.batch)?;
            return Ok(());
        };
        let mut args: Vec<Vec<&Buffer>> = Vec::with_capacity(self.devices.n());
        for (d, batch) in self.batch.iter().enumerate() {
            let mut a = self.values.eval_weights(d, weights, self.ema)?;
            a.extend(batch.leaves());
            args.push(a);
        }
        self.last_eval = self.devices.exec(&self.exe, &args)?;
        Ok(())
    }

    /// Waits until every dispatched step has finished.
    pub fn sync(&self) -> Result<()> {
        let outputs: Vec<&Buffer> = match self.which {
            Which::Eval => self.last_eval.iter().flatten().collect(),
            Which::Train => self.values.state.iter().flat_map(|s| s.leaves()).collect(),
        };
        for b in outputs {
            b.block_until_ready()?;
        }
        Ok(())
    }

    /// Runs `steps` steps back to back and waits for them: the seconds per step.
    pub fn time(&mut self, steps: usize) -> Result<f64> {
        let started = Instant::now();
        for _ in 0..steps {
            self.step()?;
        }
        self.sync()?;
        Ok(started.elapsed().as_secs_f64() / steps.max(1) as f64)
    }

    /// The step's StableHLO, as compiled (for XLA's dumps, or to run elsewhere).
    pub fn stablehlo(&self) -> &str {
        &self.exe.lowered().text
    }

    /// The compiled step's memory per device: arguments, temporaries and unaliased outputs.
    pub fn compiled_bytes(&self) -> Result<u64> {
        let s = self.exe.loaded().compiled_memory_stats()?;
        Ok((s.argument_size_in_bytes + s.temp_size_in_bytes + s.output_size_in_bytes - s.alias_size_in_bytes) as u64)
    }
}

/// One batch of random tokens and labels of `dims`' shape (the step's cost does not depend on
/// the values).
pub fn synthetic_batch(dims: &DataDims, seed: u64) -> HostBatch {
    let (rows, seq) = (dims.batch_size, dims.seq_len);
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = |below: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) % below.max(1) as u64) as i32
    };
    let vocab = dims.vocab_size.max(2);
    let inputs: Vec<i32> = (0..rows * seq).map(|_| 1 + next(vocab - 1)).collect();
    let labels: Vec<i32> = (0..rows * seq).map(|_| 1 + next(vocab - 1)).collect();
    let puzzle_identifiers: Vec<i32> = (0..rows).map(|_| next(dims.num_puzzle_identifiers)).collect();
    HostBatch {
        set: "synthetic".into(),
        rows,
        seq_len: seq,
        inputs,
        labels,
        puzzle_identifiers,
        effective: rows,
        puzzles: (0..rows as u32).collect(),
        state_after: None,
    }
}
