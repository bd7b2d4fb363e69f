//! The training config: the official `PretrainConfig` keys (so official configs port as they
//! are), composed from YAML files with overrides (`ouro-config`), every unknown key refused
//! naming where it came from, and the Python program's own keys honoured or refused.

use std::path::{Path, PathBuf};

use ouro_data::build::recipe::SudokuRecipe;
use ouro_nn::TrmConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

/// The dense optimizer's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerName {
    /// AdamATan2 (official).
    AdamAtan2,
    /// AdamW (`adam_eps` in the denominator).
    Adamw,
    /// Adam with L2 weight decay (`adam_eps` in the denominator).
    Adam,
    /// Lion (sign of the interpolated momentum; `beta1`, `beta2`).
    Lion,
}

/// How the loss is scaled before the backward pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossScaling {
    /// Not scaled (float32 and bfloat16 need none).
    #[default]
    None,
    /// Dynamic loss scaling for float16 (exp07c): scale up while gradients stay finite, halve
    /// and skip the step when they overflow.
    Dynamic,
}

/// An evaluator of the test set (`arc@ARC` for ARC datasets).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluatorConfig {
    /// Its name.
    pub name: String,
}

/// What a dataset holds, declared in the catalog's data files so that a run can be costed
/// (`ouro run NAME --dry-run`) before its data is built; checked against the data's metadata
/// when it exists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataShape {
    /// Tokens per example.
    pub seq_len: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Puzzle identifiers (rows of the puzzle-embedding table).
    pub num_puzzle_identifiers: usize,
    /// Training groups (one epoch samples one puzzle of each).
    pub total_groups: usize,
    /// Mean examples per training puzzle.
    pub mean_puzzle_examples: f64,
    /// Examples in the test split (an estimate is enough: it only costs the evaluations).
    pub test_examples: usize,
}

impl DataShape {
    /// The model's view of this data at `batch_size` rows.
    pub fn dims(&self, batch_size: usize) -> ouro_nn::DataDims {
        ouro_nn::DataDims {
            batch_size,
            seq_len: self.seq_len,
            vocab_size: self.vocab_size,
            num_puzzle_identifiers: self.num_puzzle_identifiers,
        }
    }
}

/// A success criterion of a study, checked by `ouro report` against the measured runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// What it says, as the guide would.
    pub text: String,
    /// The metric (a key of the eval records, e.g. `all/exact_accuracy`).
    pub metric: String,
    /// The run it is about (a config name); the group's best run when absent.
    #[serde(default)]
    pub config: Option<String>,
    /// Passes when the final value is at least this.
    #[serde(default)]
    pub at_least: Option<f64>,
    /// Passes when the final value is at most this.
    #[serde(default)]
    pub at_most: Option<f64>,
}

/// What an experiment group sets out to show: `ouro report` fills the guide's overview and
/// success criteria from it. Not part of a run's recipe (the run cache ignores it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Study {
    /// The experiment's name.
    #[serde(default)]
    pub title: String,
    /// One sentence.
    #[serde(default)]
    pub hypothesis: String,
    /// The config keys the group varies (dotted); found from the runs' configs when empty.
    #[serde(default)]
    pub variables: Vec<String>,
    /// What the group expects to observe.
    #[serde(default)]
    pub expected: String,
    /// Checks of the measured values.
    #[serde(default)]
    pub criteria: Vec<Criterion>,
}

/// The name of the mesh axis the batch is split over.
pub const DATA_AXIS: &str = "data";

/// Which sharding annotations the partitioned programs carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Partitioner {
    /// Shardy (`sdy.sharding`), XLA's current partitioner.
    Shardy,
    /// GSPMD (`mhlo.sharding`), for plugins without Shardy.
    Gspmd,
}

/// The device mesh.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshConfig {
    /// Devices along the data axis: the global batch and the ACT carry are split over them,
    /// everything else is replicated.
    #[serde(default = "one_device")]
    pub data: usize,
    /// The annotations' dialect.
    #[serde(default = "shardy")]
    pub partitioner: Partitioner,
    /// Split the Adam moments over the data axis (ZeRO-1).
    #[serde(default)]
    pub shard_optimizer_state: bool,
}

/// Resumable checkpoints of the whole training state (see docs/checkpoints.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Save every this many optimizer steps (0: only at the end of the run).
    #[serde(default)]
    pub every_steps: u64,
    /// Keep the newest this many.
    #[serde(default = "two")]
    pub keep_last: usize,
    /// Also keep every step that is a multiple of this (0: none).
    #[serde(default)]
    pub keep_every: u64,
    /// Where the `step_N/` directories go: a path, `file://`, `s3://` or `gs://` URL (default:
    /// `checkpoints/` in the run directory).
    #[serde(default)]
    pub location: Option<String>,
    /// Save the ACT carry, so a resumed run continues exactly (without it, the sequences in
    /// flight restart from the initial state).
    #[serde(default = "yes")]
    pub save_carry: bool,
    /// On an object store, how long the writer's lease on the location lasts past each renewal
    /// (renewed every quarter of it): a second writer is refused while it is renewed, and a
    /// writer that died is taken over from once it expires.
    #[serde(default = "lease_seconds", skip_serializing_if = "is_lease_seconds")]
    pub lease_seconds: u64,
}

impl Default for CheckpointConfig {
    fn default() -> CheckpointConfig {
        CheckpointConfig {
            every_steps: 0,
            keep_last: 2,
            keep_every: 0,
            location: None,
            save_carry: true,
            lease_seconds: lease_seconds(),
        }
    }
}

fn lease_seconds() -> u64 {
    90
}

fn is_lease_seconds(s: &u64) -> bool {
    *s == lease_seconds()
}

fn two() -> usize {
    2
}

fn yes() -> bool {
    true
}

fn shardy() -> Partitioner {
    Partitioner::Shardy
}

impl MeshConfig {
    /// How to lower the programs for this mesh.
    pub fn lower_options(&self) -> ouro_lower::LowerOptions {
        let mesh = ouro_ir::Mesh::new(DATA_AXIS, self.data);
        let sharding = match (self.data, self.partitioner) {
            (1, _) => ouro_ir::lowering::ShardingMode::None,
            (_, Partitioner::Shardy) => ouro_ir::lowering::ShardingMode::Shardy(mesh),
            (_, Partitioner::Gspmd) => ouro_ir::lowering::ShardingMode::Gspmd(mesh),
        };
        ouro_lower::LowerOptions { sharding, ..ouro_lower::LowerOptions::default() }
    }
}

fn one_device() -> usize {
    1
}

fn one_step() -> usize {
    1
}

impl Default for MeshConfig {
    fn default() -> MeshConfig {
        MeshConfig { data: 1, partitioner: Partitioner::Shardy, shard_optimizer_state: false }
    }
}

/// The `matmul_precision` key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatmulPrecision {
    /// One bf16 pass on TPU, TF32 on GPU.
    Default,
    /// Three bf16 passes on TPU.
    High,
    /// Float32.
    #[default]
    Highest,
}

impl MatmulPrecision {
    fn is_highest(&self) -> bool {
        *self == MatmulPrecision::Highest
    }

    /// The lowering's setting.
    pub fn lowering(self) -> ouro_ir::lowering::MatmulPrecision {
        match self {
            MatmulPrecision::Default => ouro_ir::lowering::MatmulPrecision::Default,
            MatmulPrecision::High => ouro_ir::lowering::MatmulPrecision::High,
            MatmulPrecision::Highest => ouro_ir::lowering::MatmulPrecision::Highest,
        }
    }
}

/// A training run, read from the official flat keys: what it trains, where it runs and what it
/// belongs to, as three parts. The keys are shared out by name (`ouro_config::Config::deserialize_part`),
/// so every config file reads as it always has.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// What is trained and measured.
    pub recipe: Recipe,
    /// Where and how this run executes.
    pub run: RunConfig,
    /// The experiment it belongs to.
    pub study: StudyConfig,
}

/// What a run trains and measures: two runs of one recipe on the same data give the same
/// results (weights, metrics and the weights kept at evaluations), to the bit. Its hash is a
/// run's identity (`ouro_lab::recipe_hash`). The mesh is part of it because the split of the
/// batch decides the order in which gradients are summed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// The model.
    pub arch: TrmConfig,
    /// Training dataset directories (or gs:// / s3:// URLs), merged.
    pub data_paths: Vec<String>,
    /// Test dataset directories (default: `data_paths`).
    #[serde(default)]
    pub data_paths_test: Vec<String>,
    /// Evaluators run on the test predictions.
    #[serde(default)]
    pub evaluators: Vec<EvaluatorConfig>,
    /// Examples per optimizer step, over all devices.
    pub global_batch_size: usize,
    /// The device mesh.
    #[serde(default)]
    pub mesh: MeshConfig,
    /// Micro-batches per step on each device (gradients summed before one update).
    #[serde(default = "one_step")]
    pub grad_accum_steps: usize,
    /// The precision of matrix products on accelerators, as JAX's
    /// `jax_default_matmul_precision`: `highest` (the default) keeps float32 operands float32 on
    /// TPU and GPU, `high` takes three bf16 passes on TPU, `default` one bf16 pass (TF32 on GPU).
    /// bf16 operands are multiplied exactly at every setting; the CPU ignores it.
    #[serde(default, skip_serializing_if = "MatmulPrecision::is_highest")]
    pub matmul_precision: MatmulPrecision,
    /// Epochs (one epoch = one sampled puzzle per group).
    pub epochs: usize,
    /// Epochs between evaluations (must divide `epochs`; default: all).
    #[serde(default)]
    pub eval_interval: Option<usize>,
    /// The first iteration that evaluates.
    #[serde(default)]
    pub min_eval_interval: usize,
    /// Evaluate on at most this many test batches (development runs; default: all).
    #[serde(default)]
    pub eval_max_batches: Option<usize>,
    /// Dense learning rate.
    pub lr: f64,
    /// Final LR as a fraction of `lr` (1: constant after warm-up).
    #[serde(default = "one")]
    pub lr_min_ratio: f64,
    /// Warm-up steps.
    #[serde(default = "warmup")]
    pub lr_warmup_steps: usize,
    /// Dense weight decay.
    pub weight_decay: f64,
    /// Adam β1.
    #[serde(default = "beta1")]
    pub beta1: f64,
    /// Adam β2.
    #[serde(default = "beta2")]
    pub beta2: f64,
    /// The dense optimizer.
    #[serde(default = "adam_atan2")]
    pub optimizer: OptimizerName,
    /// AdamW's epsilon.
    #[serde(default = "adam_eps")]
    pub adam_eps: f64,
    /// Loss scaling of the backward pass.
    #[serde(default)]
    pub loss_scaling: LossScaling,
    /// Dynamic loss scaling's first scale (a power of two).
    #[serde(default = "loss_scale_initial", skip_serializing_if = "is_default_loss_scale")]
    pub loss_scale_initial: f64,
    /// Finite steps in a row after which dynamic loss scaling doubles the scale.
    #[serde(default = "loss_scale_growth_interval", skip_serializing_if = "is_default_growth_interval")]
    pub loss_scale_growth_interval: u32,
    /// Puzzle-embedding learning rate (SignSGD).
    pub puzzle_emb_lr: f64,
    /// Puzzle-embedding weight decay.
    pub puzzle_emb_weight_decay: f64,
    /// Keep an EMA of the weights and evaluate with it.
    #[serde(default)]
    pub ema: bool,
    /// EMA rate.
    #[serde(default = "ema_rate")]
    pub ema_rate: f64,
    /// Seed of the sampler and of the weights.
    #[serde(default)]
    pub seed: u64,
    /// Anneal the halting exploration linearly from `arch.halt_exploration_prob` to
    /// `halt_exploration_final` over the run (contrib02).
    #[serde(default)]
    pub use_adaptive_halting: bool,
    /// Where the annealed exploration ends.
    #[serde(default)]
    pub halt_exploration_final: Option<f64>,
    /// Grow the recursion depth over the first epochs (contrib01).
    #[serde(default)]
    pub use_curriculum_recursion: bool,
    /// The curriculum's first `L_cycles`.
    #[serde(default)]
    pub curriculum_start_l_cycles: Option<usize>,
    /// The curriculum's first `H_cycles`.
    #[serde(default)]
    pub curriculum_start_h_cycles: Option<usize>,
    /// The epoch at which the depth reaches `arch.H_cycles`/`arch.L_cycles`.
    #[serde(default)]
    pub curriculum_end_epoch: Option<usize>,
    /// Save the evaluated (EMA) weights at every evaluation as `step_<N>.safetensors` in the run
    /// directory (they are always saved at the last one).
    #[serde(default)]
    pub checkpoint_every_eval: bool,
    /// Build this dataset at `data_paths[0]` if it does not exist.
    #[serde(default)]
    pub generate_sudoku: Option<SudokuRecipe>,
}

/// Where and how a run executes: its names and directories, its checkpoints, the data's
/// location and the compilation choices that give the same values (recomputing activations,
/// unrolled loops, the slice it is planned for). None of it changes the results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The directory (or bucket URL) the catalog's data files name their datasets under, as
    /// `${data_root}/<dataset>`: one override moves every run to a mirror.
    #[serde(default)]
    pub data_root: Option<String>,
    /// What the dataset holds (for costing a run before its data exists; checked against it).
    #[serde(default)]
    pub data_shape: Option<DataShape>,
    /// Resumable checkpoints.
    #[serde(default)]
    pub checkpoint: CheckpointConfig,
    /// The TPU slice the run is planned for (`v4-64`): what `ouro compile` and the dry runs
    /// compile it for when no `--target` is given. Placement, not part of the recipe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Recompute the activations of the cycle with gradient in the backward pass instead of
    /// keeping them: less device memory for about a third more FLOPs of that cycle.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remat: bool,
    /// Emit the `H_cycles − 1` cycles without gradient (and their `L_cycles` loops) unrolled
    /// instead of as `while` loops: the same values, a larger program.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unroll_cycles: bool,
    /// Run name (default: derived from the data path and the time).
    #[serde(default)]
    pub run_name: Option<String>,
    /// Where the run directory goes (default `runs/<project>/<run>`).
    #[serde(default)]
    pub checkpoint_path: Option<String>,
}

/// What a run belongs to: the project and the experiment group it is compared within, its
/// labels, and the group's hypothesis.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyConfig {
    /// Project (groups runs).
    #[serde(default)]
    pub project_name: Option<String>,
    /// The experiment group: `ouro run`/`ouro batch` put the run at
    /// `{output_root}/{experiment_group}/{config name}/`, and `ouro report` compares a group.
    #[serde(default)]
    pub experiment_group: Option<String>,
    /// Free-form labels carried into the run's metadata and reports.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The group's hypothesis and success criteria, for `ouro report` (the `study` key).
    #[serde(default, rename = "study")]
    pub design: Option<Study>,
}

/// The order of the keys in a written config: the order they have always had, so saved configs
/// read as before and recipe hashes (taken over the written form) stay what they were.
const LAYOUT: [&str; 48] = [
    "arch",
    "data_paths",
    "data_root",
    "data_shape",
    "data_paths_test",
    "evaluators",
    "global_batch_size",
    "mesh",
    "checkpoint",
    "target",
    "grad_accum_steps",
    "matmul_precision",
    "remat",
    "unroll_cycles",
    "epochs",
    "eval_interval",
    "min_eval_interval",
    "eval_max_batches",
    "lr",
    "lr_min_ratio",
    "lr_warmup_steps",
    "weight_decay",
    "beta1",
    "beta2",
    "optimizer",
    "adam_eps",
    "loss_scaling",
    "loss_scale_initial",
    "loss_scale_growth_interval",
    "puzzle_emb_lr",
    "puzzle_emb_weight_decay",
    "ema",
    "ema_rate",
    "seed",
    "project_name",
    "experiment_group",
    "tags",
    "study",
    "use_adaptive_halting",
    "halt_exploration_final",
    "use_curriculum_recursion",
    "curriculum_start_l_cycles",
    "curriculum_start_h_cycles",
    "curriculum_end_epoch",
    "run_name",
    "checkpoint_path",
    "checkpoint_every_eval",
    "generate_sudoku",
];

fn one() -> f64 {
    1.0
}
fn warmup() -> usize {
    2000
}
fn beta1() -> f64 {
    0.9
}
fn beta2() -> f64 {
    0.95
}
fn adam_atan2() -> OptimizerName {
    OptimizerName::AdamAtan2
}
fn adam_eps() -> f64 {
    1e-8
}
/// Dynamic loss scaling's default first scale (PyTorch's `GradScaler`'s).
pub const LOSS_SCALE_INITIAL: f64 = 65536.0;
/// Dynamic loss scaling's default growth interval (PyTorch's `GradScaler`'s).
pub const LOSS_SCALE_GROWTH_INTERVAL: u32 = 2000;
fn loss_scale_initial() -> f64 {
    LOSS_SCALE_INITIAL
}
fn loss_scale_growth_interval() -> u32 {
    LOSS_SCALE_GROWTH_INTERVAL
}
// Defaults are not written out, so configs (and recipe hashes) from before these keys read
// the same.
fn is_default_loss_scale(v: &f64) -> bool {
    *v == loss_scale_initial()
}
fn is_default_growth_interval(v: &u32) -> bool {
    *v == loss_scale_growth_interval()
}
fn ema_rate() -> f64 {
    0.999
}

/// The run directory's folder of checkpoints, unless `checkpoint.location` names another place.
pub const CHECKPOINTS_DIR: &str = "checkpoints";

/// Refuses a name that becomes one path component of a run's place (its group, project or
/// run name under an output root or a bucket prefix) unless it is one: letters, digits, `.`,
/// `_` and `-`, not starting with `.` (so never `..`), at most 128 characters.
pub fn check_path_name(key: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        return Err(Error::Config(format!(
            "{key} {name:?} cannot name a directory: use 1 to 128 letters, digits, '.', '_' or '-', not starting \
             with '.' (it becomes one path component under the output root)"
        )));
    }
    Ok(())
}

/// Refuses a config with credentials in a URL anywhere under `key` (they would be printed and
/// written to `config.yaml`, the TensorBoard events and checkpoint manifests), naming the key.
fn refuse_credentials(key: &str, value: &serde_json::Value) -> Result<()> {
    match value {
        serde_json::Value::String(s) => {
            ouro_store::refuse_credentials(s).with_context(|| format!("config key {key}"))?;
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                refuse_credentials(&format!("{key}[{i}]"), item)?;
            }
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                refuse_credentials(&if key.is_empty() { k.clone() } else { format!("{key}.{k}") }, v)?;
            }
        }
        _ => {}
    }
    Ok(())
}

impl TrainConfig {
    /// Composes the config at `path` (its `defaults:` list, see `ouro-config`) with
    /// `overrides` (`key=value`, `+key=value`, `~key`, `group=name`).
    pub fn load(path: &Path, overrides: &[String]) -> Result<TrainConfig> {
        TrainConfig::typed(ouro_config::compose(path, overrides)?)
    }

    /// [`TrainConfig::load`] for YAML `text` named `source` in messages (no defaults files).
    pub fn parse(text: &str, source: &str, overrides: &[String]) -> Result<TrainConfig> {
        TrainConfig::typed(ouro_config::compose_str(text, source, None, overrides)?)
    }

    /// The typed config of a composed one, after bringing the Python program's keys over.
    fn typed(mut composed: ouro_config::Config) -> Result<TrainConfig> {
        for note in adopt_python_keys(&mut composed)? {
            tracing::info!("{note}");
        }
        refuse_credentials("", &composed.value)?;
        composed.refuse_unknown_keys(&LAYOUT)?;
        let config = TrainConfig {
            recipe: composed.deserialize_part()?,
            run: composed.deserialize_part()?,
            study: composed.deserialize_part()?,
        };
        config.check()?;
        Ok(config)
    }

    /// Checks what serde cannot.
    pub fn check(&self) -> Result<()> {
        self.recipe.check()?;
        self.run.check()?;
        self.study.check()
    }

    /// The run directory: `checkpoint_path`, else `runs/<project>/<run>`.
    pub fn run_dir(&self) -> PathBuf {
        match &self.run.checkpoint_path {
            Some(p) => PathBuf::from(p),
            None => {
                let project = self.study.project_name.clone().unwrap_or_else(|| "ouro".into());
                let run = self.run.run_name.clone().unwrap_or_else(|| "run".into());
                PathBuf::from("runs").join(project).join(run)
            }
        }
    }

    /// The config as flat keys in the [`LAYOUT`] order (what a config file holds).
    pub fn to_json(&self) -> Result<serde_json::Value> {
        let mut keys = serde_json::Map::new();
        for part in
            [serde_json::to_value(&self.recipe)?, serde_json::to_value(&self.run)?, serde_json::to_value(&self.study)?]
        {
            if let serde_json::Value::Object(m) = part {
                keys.extend(m);
            }
        }
        let mut out = serde_json::Map::new();
        for key in LAYOUT {
            if let Some(v) = keys.shift_remove(key) {
                out.insert(key.to_string(), v);
            }
        }
        // A key the layout does not list yet (a test keeps it complete) is written last, not lost.
        out.extend(keys);
        Ok(serde_json::Value::Object(out))
    }

    /// The config as YAML (what the run directory keeps).
    pub fn to_yaml(&self) -> Result<String> {
        serde_saphyr::to_string(&self.to_json()?).map_err(|e| Error::Config(format!("writing the config as YAML: {e}")))
    }
}

impl Recipe {
    /// Checks what serde cannot.
    pub fn check(&self) -> Result<()> {
        self.arch.check_names().map_err(Error::Config)?;
        if self.data_paths.is_empty() {
            return Err(Error::Config("data_paths is empty: name at least one dataset directory".into()));
        }
        if self.global_batch_size == 0 {
            return Err(Error::Config("global_batch_size must be at least 1".into()));
        }
        let parts = self.mesh.data * self.grad_accum_steps;
        if parts == 0 || !self.global_batch_size.is_multiple_of(parts) {
            return Err(Error::Config(format!(
                "global_batch_size ({}) must split evenly into mesh.data ({}) × grad_accum_steps ({}) parts",
                self.global_batch_size, self.mesh.data, self.grad_accum_steps
            )));
        }
        let interval = self.eval_interval.unwrap_or(self.epochs);
        if interval == 0 || !self.epochs.is_multiple_of(interval) {
            return Err(Error::Config(format!("eval_interval ({interval}) must divide epochs ({})", self.epochs)));
        }
        if !(0.0..1.0).contains(&self.ema_rate) {
            return Err(Error::Config(format!("ema_rate must be in [0, 1), got {}", self.ema_rate)));
        }
        if self.use_adaptive_halting {
            match self.halt_exploration_final {
                Some(p) if (0.0..=1.0).contains(&p) => {}
                Some(p) => return Err(Error::Config(format!("halt_exploration_final must be in [0, 1], got {p}"))),
                None => {
                    return Err(Error::Config(
                        "use_adaptive_halting needs halt_exploration_final (where the anneal ends)".into(),
                    ));
                }
            }
        }
        self.check_loss_scaling()?;
        // The bounds of the curriculum (its steps depend on the data, known at run time).
        crate::curriculum::Curriculum::of(self, 1)?;
        for e in &self.evaluators {
            if e.name != "arc@ARC" {
                return Err(Error::Config(format!("unknown evaluator {:?} (ouro has arc@ARC)", e.name)));
            }
        }
        Ok(())
    }

    fn check_loss_scaling(&self) -> Result<()> {
        let scale = self.loss_scale_initial;
        let max = crate::step::MAX_LOSS_SCALE;
        if !(1.0..=max).contains(&scale) || scale.log2().fract() != 0.0 {
            return Err(Error::Config(format!(
                "loss_scale_initial must be a power of two from 1 to 2^64 (so scaling is exact), got {scale}"
            )));
        }
        if self.loss_scale_growth_interval == 0 {
            return Err(Error::Config("loss_scale_growth_interval must be at least 1".into()));
        }
        Ok(())
    }

    /// The recipe with what cannot change a result taken out: the data's locations (the data
    /// is identified by its contents instead) and the settings of switches that are off.
    pub fn canonical(&self) -> Recipe {
        let mut recipe = self.clone();
        recipe.data_paths.clear();
        recipe.data_paths_test.clear();
        if !recipe.use_adaptive_halting {
            recipe.halt_exploration_final = None;
        }
        if !recipe.use_curriculum_recursion {
            recipe.curriculum_start_h_cycles = None;
            recipe.curriculum_start_l_cycles = None;
            recipe.curriculum_end_epoch = None;
        }
        if !recipe.ema {
            recipe.ema_rate = 0.0;
        }
        if recipe.loss_scaling == LossScaling::None {
            recipe.loss_scale_initial = LOSS_SCALE_INITIAL;
            recipe.loss_scale_growth_interval = LOSS_SCALE_GROWTH_INTERVAL;
        }
        recipe
    }

    /// How to lower the run's programs: its mesh's sharding and its matmul precision.
    pub fn lower_options(&self) -> ouro_lower::LowerOptions {
        ouro_lower::LowerOptions { matmul_precision: self.matmul_precision.lowering(), ..self.mesh.lower_options() }
    }

    /// The test dataset locations.
    pub fn test_paths(&self) -> &[String] {
        if self.data_paths_test.is_empty() { &self.data_paths } else { &self.data_paths_test }
    }

    /// The dense optimizer the config's flat keys (`optimizer`, `adam_eps`, `beta1`, `beta2`,
    /// `weight_decay`) describe.
    pub fn optimizer_config(&self) -> ouro_optim::OptimizerConfig {
        use ouro_optim::OptimizerKind;
        let kind = match self.optimizer {
            OptimizerName::AdamAtan2 => OptimizerKind::AdamAtan2,
            OptimizerName::Adamw => OptimizerKind::AdamW { eps: self.adam_eps },
            OptimizerName::Adam => OptimizerKind::Adam { eps: self.adam_eps },
            OptimizerName::Lion => OptimizerKind::Lion,
        };
        ouro_optim::OptimizerConfig { kind, beta1: self.beta1, beta2: self.beta2, weight_decay: self.weight_decay }
    }
}

impl RunConfig {
    /// Checks what serde cannot.
    pub fn check(&self) -> Result<()> {
        if let Some(name) = &self.run_name {
            check_path_name("run_name", name)?;
        }
        if self.checkpoint.lease_seconds < 2 {
            return Err(Error::Config(
                "checkpoint.lease_seconds must be at least 2 (the lease is renewed every quarter of it)".into(),
            ));
        }
        Ok(())
    }

    /// Where a run in `run_dir` keeps its checkpoints: `checkpoint.location`, else
    /// [`CHECKPOINTS_DIR`] in the run directory.
    pub fn checkpoint_location(&self, run_dir: &Path) -> String {
        self.checkpoint.location.clone().unwrap_or_else(|| run_dir.join(CHECKPOINTS_DIR).display().to_string())
    }
}

impl StudyConfig {
    /// Checks what serde cannot.
    pub fn check(&self) -> Result<()> {
        for (key, name) in [("experiment_group", &self.experiment_group), ("project_name", &self.project_name)] {
            if let Some(name) = name {
                check_path_name(key, name)?;
            }
        }
        Ok(())
    }
}

/// Brings the keys of the Python program's configs (reference/experiments.md) to ouro's, so
/// their files load unchanged: each is honoured, listed as meaningless here, or refused with
/// what to do instead, never silently dropped. Returns what was done, for the log.
fn adopt_python_keys(c: &mut ouro_config::Config) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    let at = |o: &Option<ouro_config::Origin>| o.as_ref().map_or_else(String::new, |o| format!(" ({o})"));
    // Hydra's package for their arch group.
    if c.value.get("arch").is_none() && c.rename("arch_config", "arch") {
        notes.push("config: arch_config read as arch".to_string());
    }
    for key in ["use_tpu", "num_workers"] {
        if let Some((value, origin)) = c.take(key) {
            let why = if key == "use_tpu" {
                "the plugin is chosen by --platform"
            } else {
                "ouro's data loading has no workers"
            };
            notes.push(format!("config: {key}: {value}{} means nothing to ouro ({why}); ignored", at(&origin)));
        }
    }
    if let Some((value, origin)) = c.take("save_checkpoint_steps") {
        let moved = match c.value.get_mut("checkpoint") {
            Some(serde_json::Value::Object(m)) if m.contains_key("every_steps") => false,
            Some(serde_json::Value::Object(m)) => {
                m.insert("every_steps".into(), value.clone());
                true
            }
            _ => c.set_if_absent("checkpoint", serde_json::json!({ "every_steps": value.clone() }), origin.clone()),
        };
        if moved {
            notes.push(format!("config: save_checkpoint_steps: {value}{} read as checkpoint.every_steps", at(&origin)));
        } else {
            return Err(Error::Config(format!(
                "save_checkpoint_steps{} and checkpoint.every_steps are both set: keep one",
                at(&origin)
            )));
        }
    }
    let refused: [(&str, serde_json::Value, &str); 3] = [
        ("freeze_weights", false.into(), "ouro trains every weight"),
        ("load_checkpoint", serde_json::Value::Null, "start from weights with `ouro ckpt import FILE --config ...`"),
        ("eval_save_outputs", serde_json::json!([]), "ouro does not save eval outputs yet"),
    ];
    for (key, default, instead) in refused {
        if let Some((value, origin)) = c.take(key) {
            if value != default {
                return Err(Error::Config(format!("{key}: {value}{} is not supported: {instead}", at(&origin))));
            }
            notes.push(format!("config: {key}: {value}{} is the default; ignored", at(&origin)));
        }
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "arch:\n  hidden_size: 64\n  num_heads: 2\ndata_paths: [data/x]\nglobal_batch_size: 8\n\
        epochs: 10\neval_interval: 5\nlr: 1.0e-3\nweight_decay: 0.1\npuzzle_emb_lr: 1.0e-2\npuzzle_emb_weight_decay: 0.1\n";

    #[test]
    fn the_layout_lists_each_key_of_the_three_parts_once() {
        let mut parts = [
            ouro_config::fields_of::<Recipe>().unwrap(),
            ouro_config::fields_of::<RunConfig>().unwrap(),
            ouro_config::fields_of::<StudyConfig>().unwrap(),
        ]
        .concat();
        parts.sort();
        let mut layout = LAYOUT.to_vec();
        layout.sort();
        assert_eq!(parts, layout);
        // Written in the layout's order, whatever part a key is in.
        let written = TrainConfig::parse(SMALL, "x.yaml", &["+run_name=r".to_string()]).unwrap().to_yaml().unwrap();
        let keys: Vec<&str> =
            written.lines().filter(|l| !l.starts_with([' ', '-'])).filter_map(|l| l.split(':').next()).collect();
        let mut in_layout = keys.clone();
        in_layout.sort_by_key(|k| LAYOUT.iter().position(|l| l == k));
        assert_eq!(keys, in_layout);
        assert!(keys.contains(&"run_name") && keys.contains(&"lr"), "{written}");
    }

    #[test]
    fn an_unknown_key_is_named_with_its_file_and_line() {
        let text = SMALL.replace("lr: 1.0e-3", "lr: 1.0e-3\nlearning_rate: 3");
        let err = TrainConfig::parse(&text, "configs/x.yaml", &[]).unwrap_err().to_string();
        assert!(err.starts_with("learning_rate (configs/x.yaml:9)"), "{err}");
    }

    #[test]
    fn an_official_arch_of_another_model_is_refused() {
        let hrm = "arch.name=recursive_reasoning.hrm@HierarchicalReasoningModel_ACTV1".to_string();
        let err = TrainConfig::parse(SMALL, "x.yaml", &[hrm]).unwrap_err().to_string();
        assert!(
            err.contains("arch.name \"recursive_reasoning.hrm@") && err.contains("TinyRecursiveReasoningModel_ACTV1")
        );
        let loss = "arch.loss.name=losses@OtherHead".to_string();
        let err = TrainConfig::parse(SMALL, "x.yaml", &[loss]).unwrap_err().to_string();
        assert!(err.contains("arch.loss.name \"losses@OtherHead\" is not a loss head"), "{err}");
    }

    #[test]
    fn names_that_become_paths_stay_one_component() {
        for bad in ["../../x", "/abs", "a/b", "..", ".hidden", "", "sp ace", "é"] {
            let o = vec![format!("+experiment_group={bad:?}")];
            let err = TrainConfig::parse(SMALL, "x.yaml", &o).unwrap_err().to_string();
            assert!(err.contains("experiment_group") && err.contains("cannot name a directory"), "{bad}: {err}");
        }
        let o = vec!["+run_name=../escape".to_string()];
        assert!(TrainConfig::parse(SMALL, "x.yaml", &o).unwrap_err().to_string().contains("run_name"));
        for good in ["exp01-model-scaling", "TRM-Scaling-Research", "exp02a_01_lcycles2", "v1.2"] {
            let o = vec![format!("+experiment_group={good}"), format!("+project_name={good}")];
            TrainConfig::parse(SMALL, "x.yaml", &o).unwrap();
        }
    }

    #[test]
    fn float32_matmuls_are_float32_unless_asked_otherwise() {
        use ouro_ir::lowering::MatmulPrecision as Lowered;
        let parse = |o: &[&str]| {
            let o: Vec<String> = o.iter().map(|s| s.to_string()).collect();
            TrainConfig::parse(SMALL, "x.yaml", &o)
        };
        assert_eq!(parse(&[]).unwrap().recipe.lower_options().matmul_precision, Lowered::Highest);
        assert_eq!(parse(&["+matmul_precision=high"]).unwrap().recipe.lower_options().matmul_precision, Lowered::High);
        assert_eq!(
            parse(&["+matmul_precision=default"]).unwrap().recipe.lower_options().matmul_precision,
            Lowered::Default
        );
        let err = parse(&["+matmul_precision=fast"]).unwrap_err().to_string();
        assert!(err.contains("matmul_precision") && err.contains("highest"), "{err}");
        // The default is left out of the resolved config, as every default of its kind.
        assert!(!parse(&[]).unwrap().to_yaml().unwrap().contains("matmul_precision"));
    }

    #[test]
    fn a_wrong_type_is_named_with_its_line() {
        let text = SMALL.replace("global_batch_size: 8", "global_batch_size: lots");
        let err = TrainConfig::parse(&text, "x.yaml", &[]).unwrap_err().to_string();
        assert!(err.starts_with("global_batch_size (x.yaml:5)"), "{err}");
    }

    #[test]
    fn overrides_set_nested_keys_and_refuse_unknown_ones() {
        let o = |s: &str| vec![s.to_string()];
        let c = TrainConfig::parse(SMALL, "x.yaml", &o("arch.L_cycles=2")).unwrap();
        assert_eq!(c.recipe.arch.l_cycles, 2);
        let c = TrainConfig::parse(SMALL, "x.yaml", &o("lr=3e-4")).unwrap();
        assert_eq!(c.recipe.lr, 3e-4);
        let err = TrainConfig::parse(SMALL, "x.yaml", &o("arch.L_cycle=2")).unwrap_err().to_string();
        assert!(err.contains("L_cycle"), "{err}");
        let err = TrainConfig::parse(SMALL, "x.yaml", &o("arch.bogus.x=2")).unwrap_err().to_string();
        assert!(err.contains("arch.bogus"), "{err}");
        let err = TrainConfig::parse(SMALL, "x.yaml", &o("epochs=many")).unwrap_err().to_string();
        assert!(err.contains("epochs=many"), "{err}");
    }

    #[test]
    fn a_loss_scale_must_be_a_power_of_two_within_range() {
        for bad in ["3", "0.5", "1.0e+30"] {
            let e = TrainConfig::parse(SMALL, "x.yaml", &[format!("+loss_scale_initial={bad}")]).unwrap_err();
            assert!(e.to_string().contains("loss_scale_initial must be a power of two from 1 to 2^64"), "{e}");
        }
        let c = TrainConfig::parse(SMALL, "x.yaml", &["+loss_scale_initial=1024".to_string()]).unwrap();
        assert_eq!(c.recipe.loss_scale_initial, 1024.0);
        // Defaults are left out of the saved config.
        assert!(!TrainConfig::parse(SMALL, "x.yaml", &[]).unwrap().to_yaml().unwrap().contains("loss_scale_initial"));
    }

    #[test]
    fn eval_interval_must_divide_epochs() {
        let err = TrainConfig::parse(SMALL, "x.yaml", &["eval_interval=3".to_string()]).unwrap_err().to_string();
        assert!(err.contains("eval_interval (3)"), "{err}");
    }

    #[test]
    fn the_python_programs_keys_are_honoured_listed_or_refused() {
        let python = SMALL.replace("arch:", "arch_config:")
            + "use_tpu: true\nnum_workers: 8\nsave_checkpoint_steps: 1000\nfreeze_weights: false\nload_checkpoint: null\neval_save_outputs: []\n";
        let c = TrainConfig::parse(&python, "baseline.yaml", &[]).unwrap();
        assert_eq!(c.recipe.arch.hidden_size, 64);
        assert_eq!(c.run.checkpoint.every_steps, 1000);
        let err = |text: &str| TrainConfig::parse(text, "b.yaml", &[]).unwrap_err().to_string();
        let e = err(&python.replace("freeze_weights: false", "freeze_weights: true"));
        assert!(e.contains("freeze_weights: true (b.yaml:") && e.contains("not supported"), "{e}");
        let e = err(&python.replace("load_checkpoint: null", "load_checkpoint: gs://b/step_10"));
        assert!(e.contains("ouro ckpt import"), "{e}");
        let e = err(&(python.clone() + "checkpoint:\n  every_steps: 5\n"));
        assert!(e.contains("both set"), "{e}");
    }

    #[test]
    fn interpolation_and_the_add_and_delete_overrides_reach_the_typed_config() {
        let text = SMALL.replace("  num_heads: 2", "  num_heads: 2\n  puzzle_emb_ndim: ${.hidden_size}");
        let c = TrainConfig::parse(&text, "x.yaml", &["arch.hidden_size=128".to_string()]).unwrap();
        assert_eq!(c.recipe.arch.puzzle_emb_ndim, Some(128));
        let c = TrainConfig::parse(SMALL, "x.yaml", &["+seed=7".to_string(), "~eval_interval".to_string()]).unwrap();
        assert_eq!((c.recipe.seed, c.recipe.eval_interval), (7, None));
        let e = TrainConfig::parse(SMALL, "x.yaml", &["~lr".to_string()]).unwrap_err().to_string();
        assert!(e.contains("lr"), "{e}");
    }
}
