//! The parameter set of a TRM: names (those of the official `state_dict`, without the
//! `_orig_mod.model.` prefix), shapes, roles, and the official initialisation, traced so that
//! weights are drawn on the device (a 961K-row ARC puzzle table never exists on the host).

use ouro_ir::random::{fold_in, truncated_normal};
use ouro_ir::tree::Named;
use ouro_ir::{DType, Tensor, TensorType};

use crate::config::{DataDims, PosEncoding, TrmConfig, swiglu_intermediate};

/// How a tensor is trained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A dense parameter: AdamATan2/AdamW, EMA.
    Trainable,
    /// The puzzle-embedding table: sparse SignSGD on the rows in the batch.
    PuzzleTable,
    /// A buffer saved with the model and never trained (`H_init`, `L_init`).
    Fixed,
}

/// How a tensor starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// The official `trunc_normal_init_`: a normal truncated at ±2 true standard deviations
    /// whose standard deviation is `std`.
    TruncNormal {
        /// Standard deviation of the result.
        std: f64,
    },
    /// Every element `value`.
    Constant {
        /// The value.
        value: f64,
    },
}

/// One tensor of the model.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// Its name, e.g. `inner.L_level.layers.0.mlp.down_proj.weight`.
    pub name: String,
    /// Type (`[out, in]` for linear weights, as PyTorch stores them).
    pub ty: TensorType,
    /// How it is trained.
    pub role: Role,
    /// How it starts.
    pub init: Init,
}

/// The standard deviation of the untruncated normal whose ±2σ truncation has std 1.
fn truncation_factor() -> f64 {
    let (lower, upper) = (-2.0f64, 2.0f64);
    let sqrt2 = std::f64::consts::SQRT_2;
    let z = (ouro_ir::composite::erf_host(upper / sqrt2) - ouro_ir::composite::erf_host(lower / sqrt2)) / 2.0;
    let c = (2.0 * std::f64::consts::PI).powf(-0.5);
    let pdf_u = c * (-0.5 * lower * lower).exp();
    let pdf_l = c * (-0.5 * upper * upper).exp();
    1.0 / (1.0 - (upper * pdf_u - lower * pdf_l) / z - ((pdf_u - pdf_l) / z).powi(2)).sqrt()
}

/// Every tensor of a TRM for data of shape `dims`, in the official registration order.
pub fn param_specs(cfg: &TrmConfig, dims: &DataDims) -> Vec<ParamSpec> {
    let d = cfg.hidden_size;
    let v = dims.vocab_size;
    let t = dims.seq_len + cfg.puzzle_emb_len();
    let f32 = |shape: &[usize]| TensorType::new(DType::F32, shape);
    let lecun = |fan_in: usize| Init::TruncNormal { std: 1.0 / (fan_in as f64).sqrt() };
    let mut specs = Vec::new();
    let mut push =
        |name: String, ty: TensorType, role: Role, init: Init| specs.push(ParamSpec { name, ty, role, init });

    push("inner.embed_tokens.embedding_weight".into(), f32(&[v, d]), Role::Trainable, lecun(d));
    push("inner.lm_head.weight".into(), f32(&[v, d]), Role::Trainable, lecun(d));
    push("inner.q_head.weight".into(), f32(&[2, d]), Role::Trainable, Init::Constant { value: 0.0 });
    push("inner.q_head.bias".into(), f32(&[2]), Role::Trainable, Init::Constant { value: -5.0 });
    if cfg.puzzle_emb_ndim() > 0 {
        let shape = [dims.num_puzzle_identifiers, cfg.puzzle_emb_ndim()];
        push("inner.puzzle_emb.weights".into(), f32(&shape), Role::PuzzleTable, Init::Constant { value: 0.0 });
    }
    if cfg.pos_encodings == PosEncoding::Learned {
        push("inner.embed_pos.embedding_weight".into(), f32(&[t, d]), Role::Trainable, lecun(d));
    }
    let inter = swiglu_intermediate(d, cfg.expansion);
    for i in 0..cfg.l_layers {
        let block = format!("inner.L_level.layers.{i}");
        if cfg.mlp_t {
            let inter_t = swiglu_intermediate(t, cfg.expansion);
            push(format!("{block}.mlp_t.gate_up_proj.weight"), f32(&[2 * inter_t, t]), Role::Trainable, lecun(t));
            push(format!("{block}.mlp_t.down_proj.weight"), f32(&[t, inter_t]), Role::Trainable, lecun(inter_t));
        } else {
            push(format!("{block}.self_attn.qkv_proj.weight"), f32(&[3 * d, d]), Role::Trainable, lecun(d));
            push(format!("{block}.self_attn.o_proj.weight"), f32(&[d, d]), Role::Trainable, lecun(d));
        }
        push(format!("{block}.mlp.gate_up_proj.weight"), f32(&[2 * inter, d]), Role::Trainable, lecun(d));
        push(format!("{block}.mlp.down_proj.weight"), f32(&[d, inter]), Role::Trainable, lecun(inter));
    }
    let state = TensorType::new(cfg.forward_dtype.dtype(), &[d]);
    push("inner.H_init".into(), state.clone(), Role::Fixed, Init::TruncNormal { std: 1.0 });
    push("inner.L_init".into(), state, Role::Fixed, Init::TruncNormal { std: 1.0 });
    specs
}

/// Parameters the optimizer of `role` trains, as counted by the official `num_params` for
/// `Role::Trainable` (the puzzle table and `H_init`/`L_init` are buffers there).
pub fn count(specs: &[ParamSpec], role: Role) -> usize {
    specs.iter().filter(|s| s.role == role).map(|s| s.ty.num_elements()).sum()
}

/// Traces the initialisation of every tensor in `specs` from a `u32[2]` key: tensor `i` draws
/// from `fold_in(key, i)`.
pub fn init<'t>(specs: &[ParamSpec], key: Tensor<'t>) -> Named<Tensor<'t>> {
    let tr = key.tracer();
    let factor = truncation_factor();
    let mut out = Named::new();
    for (i, spec) in specs.iter().enumerate() {
        let value = match spec.init {
            Init::Constant { value } => tr.full(value, &spec.ty),
            Init::TruncNormal { std: 0.0 } => tr.zeros(&spec.ty),
            Init::TruncNormal { std } => {
                let k = fold_in(key, tr.scalar(i as f64, DType::U32));
                (truncated_normal(k, -2.0, 2.0, &spec.ty.shape, DType::F32) * (std * factor)).cast(spec.ty.dtype)
            }
        };
        out.push(spec.name.clone(), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FloatType;

    fn sudoku() -> DataDims {
        DataDims { batch_size: 768, seq_len: 81, vocab_size: 11, num_puzzle_identifiers: 1 }
    }

    /// The counts of trm.md §4.6, which the official `num_params` reports.
    #[test]
    fn trainable_counts_are_the_official_ones() {
        let mlp_t = TrmConfig { mlp_t: true, pos_encodings: PosEncoding::None, ..TrmConfig::default() };
        assert_eq!(count(&param_specs(&mlp_t, &sudoku()), Role::Trainable), 5_028_866);
        let att = TrmConfig::default();
        assert_eq!(count(&param_specs(&att, &sudoku()), Role::Trainable), 6_828_034);
        let arc = DataDims { batch_size: 768, seq_len: 900, vocab_size: 12, num_puzzle_identifiers: 876_406 };
        let specs = param_specs(&TrmConfig { l_cycles: 4, ..TrmConfig::default() }, &arc);
        assert_eq!(count(&specs, Role::Trainable), 6_829_058);
        assert_eq!(count(&specs, Role::PuzzleTable), 876_406 * 512);
        let maze_mlp = TrmConfig { mlp_t: true, forward_dtype: FloatType::Float32, ..TrmConfig::default() };
        let maze = DataDims { batch_size: 768, seq_len: 900, vocab_size: 6, num_puzzle_identifiers: 1 };
        assert_eq!(count(&param_specs(&maze_mlp, &maze), Role::Trainable), 18_795_522);
    }

    #[test]
    fn the_truncation_factor_is_the_official_constant() {
        assert!((truncation_factor() - 1.0 / 0.879_626).abs() < 1e-5, "{}", truncation_factor());
    }
}
