//! The inner TRM (`TinyRecursiveReasoningModel_ACTV1_Inner`): input embeddings, the shared
//! reasoning module, the recursion with `H_cycles − 1` cycles without gradient, and the heads.

use ouro_ir::tree::Named;
use ouro_ir::{DType, Tensor, Tracer};

use crate::config::{DataDims, PosEncoding, TrmConfig};
use crate::footprint::{Footprint, MAX_TENSOR_ELEMENTS, gib};
use crate::layers::{GateUp, Rope, attention, embedding, linear, rms_norm, rms_norm_over, swiglu, token_mlp};
use crate::params::{ParamSpec, param_specs};

/// A TRM for data of a given shape.
pub struct Trm {
    /// The architecture.
    pub cfg: TrmConfig,
    /// The data's shapes.
    pub dims: DataDims,
    /// Unroll the cycles without gradient instead of emitting `while` loops (for FLOP counting;
    /// the result is the same).
    pub unroll: bool,
    /// Recompute each reasoning-module call of the cycle with gradient in the backward pass
    /// instead of keeping its activations (less memory, about one more forward of that cycle).
    pub remat: bool,
    /// The compiler the graph is written for (the values are the same).
    pub compiler: Compiler,
    rope: Option<Rope>,
}

/// Which compiler a traced TRM is written for. The forms compute the same values and keep the
/// same state layout (a checkpoint moves between them); each is the one its compiler runs
/// fastest, measured side by side (docs/performance.md, "Graph forms").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compiler {
    /// TPU and GPU compilers: the official forms (one `gate_up` matmul per SwiGLU, the `mlp_t`
    /// mixer on a transposed `[B, D, T]` state).
    #[default]
    Accelerator,
    /// XLA:CPU: SwiGLUs as two matmuls ([`GateUp::Split`]) and `mlp_t` position-major
    /// ([`token_mlp`]), which the TPU compiler streams with more bytes.
    Cpu,
}

impl Compiler {
    /// The compiler of a PJRT platform (`cpu`, `tpu`, `cuda`, ...).
    pub fn of_platform(platform: &str) -> Compiler {
        if platform.eq_ignore_ascii_case("cpu") { Compiler::Cpu } else { Compiler::Accelerator }
    }

    fn gate_up(self) -> GateUp {
        match self {
            Compiler::Accelerator => GateUp::Fused,
            Compiler::Cpu => GateUp::Split,
        }
    }
}

/// What one inner forward returns.
pub struct InnerOutput<'t> {
    /// The new answer state `z_H: [B, T, D]` (no gradient flows into the carry).
    pub z_h: Tensor<'t>,
    /// The new latent state `z_L: [B, T, D]`.
    pub z_l: Tensor<'t>,
    /// `[B, S, V]` in the forward dtype.
    pub logits: Tensor<'t>,
    /// `[B]` f32.
    pub q_halt: Tensor<'t>,
    /// `[B]` f32.
    pub q_continue: Tensor<'t>,
}

/// The parameter `name` of `params` (a missing name is a bug in the parameter specs).
pub fn weight<'t>(params: &Named<Tensor<'t>>, name: &str) -> Tensor<'t> {
    *params.get(name).unwrap_or_else(|| panic!("the TRM parameter set has no {name}"))
}

/// Refuses a model whose tensors cannot be addressed, or whose host-side tables need more than
/// `host_available` bytes, before anything is allocated.
fn check_sizes(f: &Footprint, host_available: Option<f64>) -> Result<(), String> {
    if f.largest_tensor > MAX_TENSOR_ELEMENTS {
        return Err(format!(
            "arch: a tensor of this model would hold {:.3e} elements, beyond the {:.3e} a program can index \
            (arch.hidden_size, arch.expansion or the data's vocabulary is too large)",
            f.largest_tensor, MAX_TENSOR_ELEMENTS
        ));
    }
    if let Some(limit) = host_available.filter(|&limit| f.host_bytes() > limit) {
        return Err(format!(
            "arch: building this model needs about {} of host memory (its rotary tables: arch.hidden_size / \
             arch.num_heads wide, over the data's positions and arch.puzzle_emb_len), more than the {} this \
             machine has available",
            gib(f.host_bytes()),
            gib(limit)
        ));
    }
    Ok(())
}

impl Trm {
    /// A model for `dims`; the config is validated against them.
    pub fn new(cfg: TrmConfig, dims: DataDims) -> Result<Trm, String> {
        cfg.validate(&dims)?;
        check_sizes(&Footprint::of(&cfg, &dims), crate::footprint::host_memory_available())?;
        let positions = dims.seq_len + cfg.puzzle_emb_len();
        let rope = (!cfg.mlp_t && cfg.pos_encodings == PosEncoding::Rope)
            .then(|| Rope::new(cfg.head_dim(), positions, cfg.rope_theta));
        Ok(Trm { cfg, dims, unroll: false, remat: false, compiler: Compiler::default(), rope })
    }

    /// Every tensor of the model.
    pub fn specs(&self) -> Vec<ParamSpec> {
        param_specs(&self.cfg, &self.dims)
    }

    /// Positions `T = P + S`.
    pub fn positions(&self) -> usize {
        self.dims.seq_len + self.cfg.puzzle_emb_len()
    }

    /// The activations' dtype.
    pub fn forward_dtype(&self) -> DType {
        self.cfg.forward_dtype.dtype()
    }

    /// The puzzle-embedding rows `[B, ndim]` (fp32) of `ids`, if the model has the table.
    pub fn puzzle_rows<'t>(&self, params: &Named<Tensor<'t>>, ids: Tensor<'t>) -> Option<Tensor<'t>> {
        (self.cfg.puzzle_emb_ndim() > 0).then(|| embedding(weight(params, "inner.puzzle_emb.weights"), ids, DType::F32))
    }

    /// `√D · [puzzle prefix | token embeddings]` (+ learned positions), `[B, T, D]`.
    pub fn input_embeddings<'t>(
        &self,
        params: &Named<Tensor<'t>>,
        inputs: Tensor<'t>,
        puzzle_rows: Option<Tensor<'t>>,
    ) -> Tensor<'t> {
        let tr = inputs.tracer();
        let _s = tr.scope("embed");
        let (d, dtype) = (self.cfg.hidden_size, self.forward_dtype());
        let b = inputs.shape()[0];
        let mut x = embedding(weight(params, "inner.embed_tokens.embedding_weight"), inputs, dtype);
        if let Some(rows) = puzzle_rows {
            let prefix = self.cfg.puzzle_emb_len();
            let pad = (prefix * d - rows.shape()[1]) as i64;
            let rows = rows.cast(dtype).pad(0.0, &[0, 0], &[0, pad], &[0, 0]).reshape(&[b, prefix, d]);
            x = tr.concatenate(&[rows, x], 1);
        }
        // Scalars multiply in fp32 and round once, as PyTorch's bf16 arithmetic does.
        if self.cfg.pos_encodings == PosEncoding::Learned {
            // The official literal, which is not exactly 1/√2.
            #[allow(clippy::approx_constant)]
            const HALF_SQRT2: f64 = 0.707106781;
            let pos = weight(params, "inner.embed_pos.embedding_weight").cast(dtype);
            x = ((x + pos).cast(DType::F32) * HALF_SQRT2).cast(dtype);
        }
        (x.cast(DType::F32) * (d as f64).sqrt()).cast(dtype)
    }

    /// Whether the recursion runs on `[T, B, D]` (an `mlp_t` model for XLA:CPU, see [`token_mlp`]).
    fn position_major(&self) -> bool {
        self.cfg.mlp_t && self.compiler == Compiler::Cpu
    }

    /// One post-norm block, on `[B, T, D]` or on the position-major `[T, B, D]`.
    fn block<'t>(
        &self,
        params: &Named<Tensor<'t>>,
        layer: usize,
        h: Tensor<'t>,
        rope: Option<(Tensor<'t>, Tensor<'t>)>,
    ) -> Tensor<'t> {
        let _s = h.tracer().scope(&format!("layers.{layer}"));
        let p = |name: &str| weight(params, &format!("inner.L_level.layers.{layer}.{name}"));
        let eps = self.cfg.rms_norm_eps;
        let form = self.compiler.gate_up();
        let h = if self.position_major() {
            let mixed = token_mlp(h, p("mlp_t.gate_up_proj.weight"), p("mlp_t.down_proj.weight"));
            rms_norm_over(h + mixed, 0, eps)
        } else if self.cfg.mlp_t {
            let u = h.transpose(&[0, 2, 1]);
            let mixed = swiglu(u, p("mlp_t.gate_up_proj.weight"), p("mlp_t.down_proj.weight"), form);
            rms_norm(u + mixed, eps).transpose(&[0, 2, 1])
        } else {
            let a =
                attention(h, p("self_attn.qkv_proj.weight"), p("self_attn.o_proj.weight"), self.cfg.num_heads, rope);
            rms_norm(h + a, eps)
        };
        rms_norm(h + swiglu(h, p("mlp.gate_up_proj.weight"), p("mlp.down_proj.weight"), form), eps)
    }

    /// The shared reasoning module: `blocks(z + injection)`.
    fn l_level<'t>(
        &self,
        params: &Named<Tensor<'t>>,
        z: Tensor<'t>,
        injection: Tensor<'t>,
        rope: Option<(Tensor<'t>, Tensor<'t>)>,
    ) -> Tensor<'t> {
        let _s = z.tracer().scope("L_level");
        (0..self.cfg.l_layers).fold(z + injection, |h, layer| self.block(params, layer, h, rope))
    }

    /// `f()`, as a rematerialised region when the model recomputes activations.
    fn checkpointed<'t>(&self, tr: &'t Tracer, f: impl FnOnce() -> Tensor<'t>) -> Tensor<'t> {
        if self.remat { tr.remat(f) } else { f() }
    }

    /// One H-cycle: `L_cycles` latent updates `z_L ← f(z_L, z_H + x)`, then `z_H ← f(z_H, z_L)`.
    fn h_cycle<'t>(
        &self,
        params: &Named<Tensor<'t>>,
        z_h: Tensor<'t>,
        z_l: Tensor<'t>,
        x: Tensor<'t>,
        rope: Option<(Tensor<'t>, Tensor<'t>)>,
        looped: bool,
    ) -> (Tensor<'t>, Tensor<'t>) {
        let tr = z_h.tracer();
        let injection = z_h + x;
        let z_l = if looped {
            tr.fori_loop(self.cfg.l_cycles, &[z_l], |_, c| vec![self.l_level(params, c[0], injection, rope)])[0]
        } else {
            (0..self.cfg.l_cycles)
                .fold(z_l, |z_l, _| self.checkpointed(tr, || self.l_level(params, z_l, injection, rope)))
        };
        (self.checkpointed(tr, || self.l_level(params, z_h, z_l, rope)), z_l)
    }

    /// The inner forward on a (reset) carry: `H_cycles − 1` cycles whose results are constants
    /// for differentiation, then one cycle with gradient, then the heads.
    pub fn forward<'t>(
        &self,
        params: &Named<Tensor<'t>>,
        z_h: Tensor<'t>,
        z_l: Tensor<'t>,
        inputs: Tensor<'t>,
        puzzle_rows: Option<Tensor<'t>>,
    ) -> InnerOutput<'t> {
        let tr = inputs.tracer();
        let rope = self.rope.as_ref().map(|r| r.constants(tr));
        let x = self.input_embeddings(params, inputs, puzzle_rows);
        // An `mlp_t` model mixes positions in every block and nothing else across rows: for
        // XLA:CPU it runs position-major, `[T, B, D]`, transposing three tensors here and two at
        // the end instead of two per block (`token_mlp`).
        let major = |t: Tensor<'t>| if self.position_major() { t.transpose(&[1, 0, 2]) } else { t };
        let (x, mut z_h, mut z_l) = (major(x), major(z_h), major(z_l));
        if self.cfg.h_cycles > 1 {
            let _s = tr.scope("no_grad_cycles");
            // Cut the gradient on everything the loop reads: a `while` is never differentiated.
            let frozen = params.map(|_, t| t.stop_gradient());
            let x = x.stop_gradient();
            let cycles = self.cfg.h_cycles - 1;
            if self.unroll {
                for _ in 0..cycles {
                    (z_h, z_l) = self.h_cycle(&frozen, z_h, z_l, x, rope, false);
                }
            } else {
                let out = tr.fori_loop(cycles, &[z_h, z_l], |_, c| {
                    let (h, l) = self.h_cycle(&frozen, c[0], c[1], x, rope, true);
                    vec![h, l]
                });
                (z_h, z_l) = (out[0], out[1]);
            }
            (z_h, z_l) = (z_h.stop_gradient(), z_l.stop_gradient());
        }
        {
            let _s = tr.scope("grad_cycle");
            (z_h, z_l) = self.h_cycle(params, z_h, z_l, x, rope, false);
        }
        (z_h, z_l) = (major(z_h), major(z_l));
        let _s = tr.scope("heads");
        let prefix = self.cfg.puzzle_emb_len();
        let logits = linear(z_h, weight(params, "inner.lm_head.weight"), None).slice_dim(1, prefix, self.positions());
        let first = z_h.slice_dim(1, 0, 1).reshape(&[z_h.shape()[0], self.cfg.hidden_size]);
        let q = linear(first, weight(params, "inner.q_head.weight"), Some(weight(params, "inner.q_head.bias")))
            .cast(DType::F32);
        let b = q.shape()[0];
        InnerOutput {
            z_h: z_h.stop_gradient(),
            z_l: z_l.stop_gradient(),
            logits,
            q_halt: q.slice_dim(1, 0, 1).reshape(&[b]),
            q_continue: q.slice_dim(1, 1, 2).reshape(&[b]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_refused_with_the_estimate_and_the_limit_before_anything_is_built() {
        let dims = DataDims { batch_size: 8, seq_len: 81, vocab_size: 11, num_puzzle_identifiers: 1 };
        let wide = TrmConfig { hidden_size: 10_000_000_000, ..TrmConfig::default() };
        let e = Trm::new(wide, dims).err().unwrap();
        assert!(e.contains("elements") && e.contains("arch.hidden_size"), "{e}");
        let e = Trm::new(TrmConfig { h_cycles: 1_000_000_000, ..TrmConfig::default() }, dims).err().unwrap();
        assert!(e.contains("arch.H_cycles") && e.contains("reasoning-module calls"), "{e}");
        let e = Trm::new(TrmConfig { expansion: 1e30, ..TrmConfig::default() }, dims).err().unwrap();
        assert!(e.contains("arch.expansion") && e.contains("beyond 2^40"), "{e}");
        // 2^19-wide heads over 97 positions: 0.38 GiB of rotary tables, 1.52 GiB with their copies.
        let heads = TrmConfig { hidden_size: 1 << 20, num_heads: 2, ..TrmConfig::default() };
        let f = Footprint::of(&heads, &dims);
        let e = check_sizes(&f, Some(0.5 * (1u64 << 30) as f64)).unwrap_err();
        assert!(e.contains("1.52 GiB") && e.contains("0.50 GiB"), "{e}");
        check_sizes(&f, Some(1e12)).unwrap();
    }
}
