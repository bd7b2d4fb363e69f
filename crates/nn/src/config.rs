//! The architecture config (`arch:` in a training config), with the official key names so an
//! official `config/arch/*.yaml` reads as it is.

use ouro_ir::DType;
use serde::{Deserialize, Serialize};

/// Position encodings of the token sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PosEncoding {
    /// Rotary embeddings on queries and keys (half-split convention).
    Rope,
    /// A learned `[T, D]` table added to the inputs (scaled by 1/√2).
    Learned,
    /// None (the `mlp_t` configs).
    None,
}

/// A floating-point dtype by its PyTorch name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FloatType {
    /// `bfloat16`.
    #[serde(rename = "bfloat16")]
    BFloat16,
    /// `float16`.
    #[serde(rename = "float16")]
    Float16,
    /// `float32`.
    #[serde(rename = "float32")]
    Float32,
    /// `float64`.
    #[serde(rename = "float64")]
    Float64,
}

impl FloatType {
    /// The IR dtype.
    pub fn dtype(self) -> DType {
        match self {
            FloatType::BFloat16 => DType::BF16,
            FloatType::Float16 => DType::F16,
            FloatType::Float32 => DType::F32,
            FloatType::Float64 => DType::F64,
        }
    }
}

/// The cross-entropy of the language-model head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossType {
    /// Stablemax (Prieto et al. 2025), the official default.
    StablemaxCrossEntropy,
    /// Ordinary softmax cross-entropy (broken in the official code; working here).
    SoftmaxCrossEntropy,
}

/// The one model class of the official configs ouro implements (`arch.name`).
pub const MODEL_NAME: &str = "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1";
/// The one loss head ouro implements (`arch.loss.name`).
pub const LOSS_NAME: &str = "losses@ACTLossHead";

/// The loss head (`arch.loss`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossConfig {
    /// The head: [`LOSS_NAME`], the only one there is.
    #[serde(default = "default_loss_name")]
    pub name: String,
    /// Which cross-entropy.
    #[serde(default = "default_loss_type")]
    pub loss_type: LossType,
    /// The dtype the cross-entropy is computed in (the official code uses float64; fp32 is the
    /// default here because TPUs have no f64).
    #[serde(default = "default_loss_dtype")]
    pub dtype: FloatType,
}

fn default_loss_name() -> String {
    LOSS_NAME.into()
}
fn default_loss_type() -> LossType {
    LossType::StablemaxCrossEntropy
}
fn default_loss_dtype() -> FloatType {
    FloatType::Float32
}

impl Default for LossConfig {
    fn default() -> LossConfig {
        LossConfig { name: default_loss_name(), loss_type: default_loss_type(), dtype: default_loss_dtype() }
    }
}

/// The TRM architecture (official `config/arch/trm.yaml`; defaults are its values).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrmConfig {
    /// The model class: [`MODEL_NAME`]; any other is refused (see [`TrmConfig::check_names`]).
    #[serde(default = "default_name")]
    pub name: String,
    /// The loss head.
    #[serde(default)]
    pub loss: LossConfig,
    /// Model width `D`.
    #[serde(default = "d512")]
    pub hidden_size: usize,
    /// Attention heads (head dim `D / heads`).
    #[serde(default = "d8")]
    pub num_heads: usize,
    /// SwiGLU expansion `E` (intermediate size `ceil256(round(E·h·2/3))`).
    #[serde(default = "d4f")]
    pub expansion: f64,
    /// Blocks of the shared reasoning module.
    #[serde(rename = "L_layers", default = "d2")]
    pub l_layers: usize,
    /// Ignored, as in the official code (kept so official configs read).
    #[serde(rename = "H_layers", default)]
    pub h_layers: usize,
    /// Outer (answer) cycles `T`; all but the last run without gradient.
    #[serde(rename = "H_cycles", default = "d3")]
    pub h_cycles: usize,
    /// Inner (latent) cycles `n` per outer cycle.
    #[serde(rename = "L_cycles", default = "d6")]
    pub l_cycles: usize,
    /// Width of a puzzle embedding (`None` means `hidden_size`; 0 disables it).
    #[serde(default)]
    pub puzzle_emb_ndim: Option<usize>,
    /// Prefix positions reserved for the puzzle embedding (0: `ceil(ndim / D)`).
    #[serde(default = "d16")]
    pub puzzle_emb_len: usize,
    /// Position encodings.
    #[serde(default = "rope")]
    pub pos_encodings: PosEncoding,
    /// Activations' dtype (weights stay fp32 and are cast at each use).
    #[serde(default = "bf16")]
    pub forward_dtype: FloatType,
    /// Token-mixing MLP instead of attention.
    #[serde(default)]
    pub mlp_t: bool,
    /// ACT supervision steps `Nsup`.
    #[serde(default = "d16")]
    pub halt_max_steps: usize,
    /// Probability that a sequence gets a random minimum number of steps in training.
    #[serde(default = "p01")]
    pub halt_exploration_prob: f64,
    /// Halt on `q_halt > 0` only (true), or on `q_halt > q_continue` with the Q-learning
    /// continue target (false).
    #[serde(rename = "no_ACT_continue", default = "yes")]
    pub no_act_continue: bool,
    /// RMSNorm epsilon.
    #[serde(default = "eps")]
    pub rms_norm_eps: f64,
    /// RoPE base.
    #[serde(default = "theta")]
    pub rope_theta: f64,
}

fn default_name() -> String {
    MODEL_NAME.into()
}
fn d2() -> usize {
    2
}
fn d3() -> usize {
    3
}
fn d6() -> usize {
    6
}
fn d8() -> usize {
    8
}
fn d16() -> usize {
    16
}
fn d512() -> usize {
    512
}
fn d4f() -> f64 {
    4.0
}
fn p01() -> f64 {
    0.1
}
fn eps() -> f64 {
    1e-5
}
fn theta() -> f64 {
    10000.0
}
fn yes() -> bool {
    true
}
fn rope() -> PosEncoding {
    PosEncoding::Rope
}
fn bf16() -> FloatType {
    FloatType::BFloat16
}

impl Default for TrmConfig {
    fn default() -> TrmConfig {
        TrmConfig {
            name: default_name(),
            loss: LossConfig::default(),
            hidden_size: 512,
            num_heads: 8,
            expansion: 4.0,
            l_layers: 2,
            h_layers: 0,
            h_cycles: 3,
            l_cycles: 6,
            puzzle_emb_ndim: None,
            puzzle_emb_len: 16,
            pos_encodings: PosEncoding::Rope,
            forward_dtype: FloatType::BFloat16,
            mlp_t: false,
            halt_max_steps: 16,
            halt_exploration_prob: 0.1,
            no_act_continue: true,
            rms_norm_eps: 1e-5,
            rope_theta: 10000.0,
        }
    }
}

/// What the dataset decides about the model: its shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataDims {
    /// Rows per step on one replica (the global batch for a single program).
    pub batch_size: usize,
    /// Tokens per example `S`.
    pub seq_len: usize,
    /// Token vocabulary `V`.
    pub vocab_size: usize,
    /// Rows of the puzzle-embedding table.
    pub num_puzzle_identifiers: usize,
}

/// The most reasoning-module calls one step may make: `H_cycles × (L_cycles + 1)`.
pub const MAX_MODULE_CALLS: usize = 10_000;

/// The SwiGLU intermediate size of the official code: `round(E·h·2/3)` (ties to even, as
/// Python's `round`) rounded up to a multiple of 256.
pub fn swiglu_intermediate(hidden: usize, expansion: f64) -> usize {
    let raw = (expansion * hidden as f64 * 2.0 / 3.0).round_ties_even() as usize;
    raw.div_ceil(256).saturating_mul(256)
}

impl TrmConfig {
    /// The puzzle-embedding width.
    pub fn puzzle_emb_ndim(&self) -> usize {
        self.puzzle_emb_ndim.unwrap_or(self.hidden_size)
    }

    /// Prefix positions `P`.
    pub fn puzzle_emb_len(&self) -> usize {
        if self.puzzle_emb_len == 0 { self.puzzle_emb_ndim().div_ceil(self.hidden_size) } else { self.puzzle_emb_len }
    }

    /// Head width.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads.max(1)
    }

    /// Refuses a model or loss head ouro does not implement: an official arch file of another
    /// model (HRM, a transformer baseline, a TRM variant) would otherwise train a plain TRM.
    pub fn check_names(&self) -> Result<(), String> {
        if self.name != MODEL_NAME {
            return Err(format!(
                "arch.name {:?} is not a model ouro implements; it has one: {MODEL_NAME} (the TRM of the paper)",
                self.name
            ));
        }
        if self.loss.name != LOSS_NAME {
            return Err(format!(
                "arch.loss.name {:?} is not a loss head ouro implements; it has one: {LOSS_NAME}",
                self.loss.name
            ));
        }
        Ok(())
    }

    /// Checks the config on its own and against the data's shapes; the message names the key.
    pub fn validate(&self, dims: &DataDims) -> Result<(), String> {
        self.check_names()?;
        let positive = [
            ("hidden_size", self.hidden_size),
            ("num_heads", self.num_heads),
            ("L_layers", self.l_layers),
            ("H_cycles", self.h_cycles),
            ("L_cycles", self.l_cycles),
            ("halt_max_steps", self.halt_max_steps),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(format!("arch.{key} must be at least 1"));
            }
        }
        if !self.mlp_t && !self.hidden_size.is_multiple_of(self.num_heads) {
            return Err(format!(
                "arch.hidden_size ({}) must be divisible by arch.num_heads ({})",
                self.hidden_size, self.num_heads
            ));
        }
        if !self.mlp_t && self.pos_encodings == PosEncoding::Rope && !self.head_dim().is_multiple_of(2) {
            return Err(format!("rope needs an even head dim; hidden_size/num_heads is {}", self.head_dim()));
        }
        if self.expansion.is_nan() || self.expansion <= 0.0 {
            return Err(format!("arch.expansion must be positive, got {}", self.expansion));
        }
        // The FLOP count traces every cycle unrolled (about 150 KB of host memory a call).
        let calls = self.h_cycles as f64 * (self.l_cycles as f64 + 1.0);
        if calls > MAX_MODULE_CALLS as f64 {
            return Err(format!(
                "arch.H_cycles × (arch.L_cycles + 1) = {calls:.0} reasoning-module calls a step, more than the \
                 {MAX_MODULE_CALLS} ouro traces (the paper's 3 × (6 + 1) is 21)"
            ));
        }
        // The widest SwiGLU (over the width, or over positions in mlp_t), in f64: past 2^40
        // its weight's element count no longer fits the index types.
        let widest = (self.hidden_size.max(dims.seq_len + self.puzzle_emb_len())) as f64;
        let intermediate = self.expansion * widest * 2.0 / 3.0;
        if intermediate > (1u64 << 40) as f64 {
            return Err(format!(
                "arch.expansion ({}) × a width of {widest} gives a SwiGLU of {intermediate:.3e} units, beyond 2^40",
                self.expansion
            ));
        }
        if self.puzzle_emb_ndim() > self.puzzle_emb_len() * self.hidden_size {
            return Err(format!(
                "arch.puzzle_emb_ndim ({}) does not fit in puzzle_emb_len ({}) × hidden_size ({})",
                self.puzzle_emb_ndim(),
                self.puzzle_emb_len(),
                self.hidden_size
            ));
        }
        if !(0.0..=1.0).contains(&self.halt_exploration_prob) {
            return Err(format!("arch.halt_exploration_prob must be in [0, 1], got {}", self.halt_exploration_prob));
        }
        if self.rms_norm_eps.is_nan() || self.rms_norm_eps <= 0.0 {
            return Err("arch.rms_norm_eps must be positive".into());
        }
        if !matches!(self.forward_dtype, FloatType::BFloat16 | FloatType::Float32 | FloatType::Float16) {
            return Err("arch.forward_dtype must be bfloat16, float16 or float32".into());
        }
        if !matches!(self.loss.dtype, FloatType::Float32 | FloatType::Float64) {
            return Err("arch.loss.dtype must be float32 or float64".into());
        }
        if dims.batch_size == 0 || dims.seq_len == 0 || dims.vocab_size < 2 {
            return Err(format!("the data has an empty shape: {dims:?}"));
        }
        if self.puzzle_emb_ndim() > 0 && dims.num_puzzle_identifiers == 0 {
            return Err("the dataset declares no puzzle identifiers but arch.puzzle_emb_ndim > 0".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intermediate_sizes_are_the_official_ones() {
        assert_eq!(swiglu_intermediate(512, 4.0), 1536);
        assert_eq!(swiglu_intermediate(97, 4.0), 512);
        assert_eq!(swiglu_intermediate(916, 4.0), 2560);
    }

    #[test]
    fn another_model_or_loss_head_is_refused_naming_the_one_there_is() {
        let dims = DataDims { batch_size: 4, seq_len: 81, vocab_size: 11, num_puzzle_identifiers: 1 };
        let hrm = TrmConfig {
            name: "recursive_reasoning.hrm@HierarchicalReasoningModel_ACTV1".into(),
            ..TrmConfig::default()
        };
        let err = hrm.validate(&dims).unwrap_err();
        assert!(err.starts_with("arch.name \"recursive_reasoning.hrm@") && err.contains(MODEL_NAME), "{err}");
        let loss = LossConfig { name: "losses@SomeOtherHead".into(), ..LossConfig::default() };
        let err = TrmConfig { loss, ..TrmConfig::default() }.check_names().unwrap_err();
        assert!(err.starts_with("arch.loss.name \"losses@SomeOtherHead\"") && err.contains(LOSS_NAME), "{err}");
        assert_eq!(TrmConfig::default().check_names(), Ok(()));
    }

    #[test]
    fn heads_must_divide_the_width() {
        let cfg = TrmConfig { hidden_size: 100, num_heads: 8, ..TrmConfig::default() };
        let dims = DataDims { batch_size: 4, seq_len: 81, vocab_size: 11, num_puzzle_identifiers: 1 };
        let err = cfg.validate(&dims).unwrap_err();
        assert!(err.contains("hidden_size (100)") && err.contains("num_heads (8)"), "{err}");
    }
}
