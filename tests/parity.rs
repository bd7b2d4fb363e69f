//! Parity with the official PyTorch TRM: tests/fixtures/trm_parity.py recorded, with the official
//! code on CPU, the forward, every loss term, every gradient and three optimizer steps of a tiny
//! model; ouro loads the same weights and batches and must reproduce every tensor. Five
//! variants: attention + RoPE, mlp_t and learned positions in float32 with exploration and the
//! Q-continue loss off; attention and mlp_t in the paper's numerics, a bfloat16 forward with
//! halting exploration on (both sides take ouro's draws, trm_parity_draws.json) and
//! `no_ACT_continue: false` (the Q-continue target), each checked with the official float64
//! loss and with ouro's float32 one. Every fixture's step 1 has halted slots, a correct row
//! and a right halting guess, so count, accuracy, exact accuracy and q-halt accuracy are all
//! non-zero; a repeated puzzle id shares its embedding row within the batch.
//!
//! Float32 tolerances, and why: both sides compute in fp32 but sum in different orders (XLA's fused
//! reductions and dot products vs PyTorch's kernels), which moves results by a few ulps per
//! operation; through 2 × (2 + 1) × 2 blocks of RMSNorm-normalised activations that stays
//! below 1e-4 relative to the tensor's largest magnitude for activations and gradients (measured:
//! all pass). After three steps, parameters agree to 3 % of one AdamATan2 update (lr·π/2 =
//! 1.6e-3), with fewer than 5 % of elements beyond 1e-7: the update is invariant to the
//! gradient's scale, so an element whose gradient is near zero turns a last-ulp difference into
//! a visible angle, and XLA's exp and atan2 are approximations that differ between CPUs
//! (measured on the machine these tests were first run on: at most 1.9e-6; on an AVX-512 one with
//! `--xla_cpu_enable_platform_dependent_math=false`: 1.5e-5 in one element, 4 % of one tensor's
//! elements beyond 1e-7). The EMA agrees to 1e-7 (the fp32 rounding of its blend), the SignSGD
//! rows to 1e-6, except that an element whose gradient is within that rounding of zero may take
//! the other sign and land exactly 2·lr away (at most 2 % of the table). After such a flip the
//! next step sees another puzzle row, and the weights are only bound to one update (measured on
//! the AVX-512 machine with its default math: one flip in mlp_t, weights then at most 9.9e-4
//! apart); att and learned have none on either machine.
//!
//! Bfloat16 tolerances, in units of its epsilon ε = 2⁻⁷: each side rounds activations to
//! bfloat16 at other points (PyTorch after every op, XLA at the edges of its fusions), so the two
//! differ as much as bfloat16 differs from float32. The fixtures hold the official float32
//! result of the same step (ref32/...), which measures that: the official's own bfloat16 step
//! is up to 8.7ε from it in its outputs and 15.9ε in a gradient. So outputs and losses must
//! agree to 8ε and gradients to 16ε of a tensor's largest magnitude (measured ouro–official:
//! 3.2ε and 3.2ε for attention, 6.2ε and 12.1ε for mlp_t; the losses within 2.7 %), and the
//! metrics exactly. Over three steps AdamATan2's first step is a sign step (bias correction
//! makes it lr·atan(0.1)/0.1 ≈ lr·sign(g)) and SignSGD moves the table by ±lr, so bfloat16's
//! noise on near-zero gradients sends elements the other way: the weights must agree to the
//! 2·(½ + 1 + 1) updates that allows (measured 1.8), the EMA to 1 − 0.999 of three times that,
//! and the table up to whole SignSGD steps in at most a third of its elements (measured 3 and
//! 40 of 160). The carry after three steps is not compared: the official's own float32 and
//! bfloat16 runs of mlp_t_bf16 halt two slots differently and differ in 31 table elements.

use std::collections::HashMap;
use std::path::Path;

use ouro::ir::lowering::MatmulPrecision;
use ouro::ir::random::fold_in;
use ouro::ir::tree::{Named, Tree};
use ouro::ir::{DType, HostArray, Tensor, TensorType, Tracer};
use ouro::lower::LowerOptions;
use ouro::runtime::Runtime;
use ouro_nn::{Compiler, DataDims, FloatType, LossConfig, PosEncoding, Role, Trm, TrmConfig};
use ouro_optim::Schedule;
use ouro_train::{Key, OptimizerConfig, OptimizerKind, StepConfig, StepWeights, forward_backward, train_step};

const B: usize = 6;

fn load(name: &str) -> HashMap<String, HostArray> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out = HashMap::new();
    for (name, view) in tensors.tensors() {
        let shape = view.shape().to_vec();
        let data = view.data();
        let array = match view.dtype() {
            safetensors::Dtype::F32 => {
                let v: Vec<f64> =
                    data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect();
                HostArray::from_f64(DType::F32, &shape, &v)
            }
            safetensors::Dtype::F64 => {
                let v: Vec<f64> = data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
                HostArray::from_f64(DType::F64, &shape, &v)
            }
            safetensors::Dtype::I32 => {
                let v: Vec<i64> =
                    data.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64).collect();
                HostArray::from_i64(DType::I32, &shape, &v)
            }
            safetensors::Dtype::I64 => {
                let v: Vec<i64> = data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
                HostArray::from_i64(DType::I32, &shape, &v)
            }
            other => panic!("{name}: unexpected dtype {other:?}"),
        };
        out.insert(name, array);
    }
    out
}

/// One recorded configuration of the official model, and the numerics ouro runs it in.
#[derive(Clone, Copy)]
struct Variant {
    /// The fixture: `tests/fixtures/trm_parity_<name>.safetensors`.
    name: &'static str,
    mlp_t: bool,
    pos: PosEncoding,
    forward: FloatType,
    /// ouro's loss dtype (the official computes its cross-entropy in float64).
    loss: FloatType,
    /// The official script forces its exploration draws to ouro's (trm_parity_draws.json).
    exploration: f64,
    no_act_continue: bool,
    /// The graph's form (the same values for either compiler).
    compiler: Compiler,
}

/// The recorded variants in float32 with halting exploration off and the Q-continue loss off.
const F32: Variant = Variant {
    name: "att",
    mlp_t: false,
    pos: PosEncoding::Rope,
    forward: FloatType::Float32,
    loss: FloatType::Float64,
    exploration: 0.0,
    no_act_continue: true,
    compiler: Compiler::Accelerator,
};

/// The paper's numerics: a bfloat16 forward, exploration on, and the Q-continue target.
const BF16: Variant =
    Variant { name: "att_bf16", forward: FloatType::BFloat16, exploration: 0.5, no_act_continue: false, ..F32 };

fn model(v: Variant) -> Trm {
    let (mlp_t, pos) = (v.mlp_t, v.pos);
    let cfg = TrmConfig {
        loss: LossConfig { dtype: v.loss, ..LossConfig::default() },
        hidden_size: 32,
        num_heads: 2,
        expansion: 2.0,
        l_layers: 2,
        h_cycles: 2,
        l_cycles: 2,
        puzzle_emb_ndim: Some(32),
        puzzle_emb_len: 2,
        pos_encodings: pos,
        forward_dtype: v.forward,
        mlp_t,
        halt_max_steps: 3,
        halt_exploration_prob: v.exploration,
        no_act_continue: v.no_act_continue,
        ..TrmConfig::default()
    };
    let mut model =
        Trm::new(cfg, DataDims { batch_size: B, seq_len: 8, vocab_size: 7, num_puzzle_identifiers: 5 }).unwrap();
    model.compiler = v.compiler;
    model
}

/// Max |a − b| / max(1, max |b|).
fn rel_diff(a: &HostArray, b: &HostArray) -> f64 {
    assert_eq!(a.len(), b.len());
    let (a, b) = (a.to_f64_vec(), b.to_f64_vec());
    let scale = b.iter().fold(1.0f64, |m, x| m.max(x.abs()));
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max) / scale
}

fn abs_diff(a: &HostArray, b: &HostArray) -> f64 {
    assert_eq!(a.len(), b.len());
    a.to_f64_vec().iter().zip(b.to_f64_vec()).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// The exploration minimum of each slot at steps 1, 2 and 3 of a run seeded with key 0: the train
/// step draws step `k`'s from `fold_in(key, k)`.
fn exploration_draws(model: &Trm, rt: &Runtime) -> Vec<Vec<i64>> {
    let tr = Tracer::new("draws");
    let key = tr.param("key", TensorType::new(DType::U32, &[2]));
    let p = tr.scalar(model.cfg.halt_exploration_prob, DType::F32);
    let draws: Vec<Tensor<'_>> =
        (1..=3).map(|k| model.exploration(fold_in(key, tr.scalar(k as f64, DType::U32)), B, p)).collect();
    let func = tr.finish(&draws).unwrap();
    let key0 = HostArray::from_i64(DType::U32, &[2], &[0, 0]);
    let out = rt.compile(&func, &LowerOptions::default()).unwrap().run_host(rt.client(), &[key0]).unwrap();
    out.iter().map(HostArray::to_i64_vec).collect()
}

/// `a` as `ty`'s dtype (the official stores bfloat16 buffers; the fixtures hold them as f32).
fn as_type(a: HostArray, ty: &TensorType) -> HostArray {
    if a.dtype() == ty.dtype { a } else { HostArray::from_f64(ty.dtype, a.shape(), &a.to_f64_vec()) }
}

/// How far apart ouro and the official may be, by variant (see the module's comment).
struct Tolerance {
    /// Step 1's outputs and losses, relative to a tensor's largest magnitude.
    step1: f64,
    /// Step 1's gradients, likewise.
    grads: f64,
    /// The weights after three steps, in AdamATan2 updates (lr·π/2).
    updates: f64,
    /// The EMA after three steps, absolute.
    ema: f64,
    /// At most one puzzle-table element in this many may take other SignSGD steps.
    flips: usize,
}

fn tolerance(v: Variant) -> Tolerance {
    match v.forward {
        FloatType::BFloat16 => {
            // Every element may move the other way at each of the three steps: 2·(½ + 1 + 1)
            // updates (the first step's lr is half, in warm-up); the EMA takes 1 − 0.999 of each.
            let updates = 5.0;
            Tolerance {
                step1: 8.0 * BF16_EPS,
                grads: 16.0 * BF16_EPS,
                updates,
                ema: 3.0 * (1.0 - 0.999) * updates * UPDATE,
                flips: 3,
            }
        }
        _ => Tolerance { step1: 1e-4, grads: 1e-4, updates: 0.03, ema: 1e-7, flips: 50 },
    }
}

/// bfloat16's machine epsilon, 2⁻⁷.
const BF16_EPS: f64 = 1.0 / 128.0;
/// One AdamATan2 update at the fixtures' lr: it moves a weight by at most lr·π/2.
const UPDATE: f64 = 1e-3 * std::f64::consts::FRAC_PI_2;

fn check(v: Variant) {
    let variant = v.name;
    let dump = load(&format!("trm_parity_{variant}.safetensors"));
    let variant = format!("{variant} (graph for {:?})", v.compiler);
    let get = |k: &str| dump.get(k).unwrap_or_else(|| panic!("{variant}: the dump has no {k}")).clone();
    let model = model(v);
    let tol = tolerance(v);
    let specs = model.specs();
    let rt = Runtime::open_default(1).unwrap();
    // What a config lowers with by default: float32 products stay float32 on an accelerator too
    // (the CPU ignores it; see docs/training.md, "Accelerator numerics").
    let options = LowerOptions { matmul_precision: MatmulPrecision::Highest, ..LowerOptions::default() };

    // The official forced its exploration to ouro's draws; they must still be ouro's.
    let draws = exploration_draws(&model, &rt);
    for (k, want) in draws.iter().enumerate() {
        assert_eq!(&get(&format!("explore/step{}", k + 1)).to_i64_vec(), want, "{variant}: step {} draws", k + 1);
    }

    // Step 1's forward and backward, from the recorded weights and first batch.
    let tr = Tracer::new("probe");
    let mut params = Named::new();
    let mut fixed = Named::new();
    let mut table = None;
    let mut args = Vec::new();
    for s in &specs {
        let t = tr.param(&s.name, s.ty.clone());
        args.push(as_type(get(&format!("w/{}", s.name)), &s.ty));
        match s.role {
            Role::Trainable => params.push(s.name.clone(), t),
            Role::PuzzleTable => table = Some(t),
            Role::Fixed => fixed.push(s.name.clone(), t),
        }
    }
    let batch = model.batch_types(B).map(|field, ty| {
        let key = if field == "puzzle_ids" { "puzzle_identifiers" } else { field };
        args.push(get(&format!("batch1/{key}")));
        tr.param(field, ty.clone())
    });
    let carry = model.initial_carry(&tr, B);
    let min_steps = tr.param("min_steps", TensorType::new(DType::I32, &[B]));
    args.push(HostArray::from_i64(DType::I32, &[B], &draws[0]));
    let weights = StepWeights { params: &params, table, fixed: &fixed };
    let g = forward_backward(&model, weights, &carry, &batch, min_steps, B, None);
    let mut outputs: Vec<Tensor<'_>> = vec![g.outputs.logits, g.outputs.q_halt, g.outputs.q_continue, g.loss.total];
    outputs.push(g.loss.metrics);
    outputs.extend(g.grads.iter().copied());
    outputs.extend(g.row_grads);
    let func = tr.finish(&outputs).unwrap();
    let got = rt.compile(&func, &options).unwrap().run_host(rt.client(), &args).unwrap();

    let forward = [("step1/logits", 0), ("step1/q_halt", 1), ("step1/q_continue", 2), ("step1/total", 3)];
    for (name, i) in forward {
        let d = rel_diff(&got[i], &get(name));
        assert!(d < tol.step1, "{variant}: {name} differs by {d:e} (relative)");
    }
    let metrics = got[4].to_f64_vec();
    let want = get("step1/metrics").to_f64_vec();
    // None of these may pass for want of a halted slot or a correct answer.
    assert!(want[..4].iter().all(|&m| m > 0.0), "{variant}: vacuous metrics {want:?}");
    // Counts are exact; accuracy is a sum of per-row fractions, added in another order.
    assert_eq!(
        [metrics[0], metrics[2], metrics[3], metrics[4]],
        [want[0], want[2], want[3], want[4]],
        "{variant}: counts"
    );
    assert!((metrics[1] - want[1]).abs() < 1e-6, "{variant}: accuracy {} vs {}", metrics[1], want[1]);
    for (k, name) in [(5, "lm_loss"), (6, "q_halt_loss"), (7, "q_continue_loss")] {
        let w = want[k];
        assert!((metrics[k] - w).abs() <= tol.step1 * w.abs().max(1.0), "{variant}: {name} {} vs {w}", metrics[k]);
    }
    assert_eq!(want[7] > 0.0, !v.no_act_continue, "{variant}: a Q-continue loss where and only where it is on");
    let dense: Vec<&str> = specs.iter().filter(|s| s.role == Role::Trainable).map(|s| s.name.as_str()).collect();
    for (i, name) in dense.iter().enumerate() {
        let d = rel_diff(&got[5 + i], &get(&format!("grad/{name}")));
        assert!(d < tol.grads, "{variant}: the gradient of {name} differs by {d:e} (relative)");
    }
    let d = rel_diff(&got[5 + dense.len()], &get("grad/puzzle_rows"));
    assert!(d < tol.grads, "{variant}: the puzzle rows' gradient differs by {d:e}");

    // Three official steps through the compiled train step.
    let schedule = Schedule { base: 1e-3, warmup_steps: 2, total_steps: 1000, min_ratio: 1.0 };
    let cfg = StepConfig {
        optimizer: OptimizerConfig { kind: OptimizerKind::AdamAtan2, beta1: 0.9, beta2: 0.95, weight_decay: 0.1 },
        schedule,
        puzzle_schedule: Schedule { base: 1e-2, ..schedule },
        puzzle_weight_decay: 0.1,
        ema_rate: Some(0.999),
        global_batch_size: B,
        total_steps: 1000,
        halt_exploration_final: None,
        grad_accum_steps: 1,
        loss_scale: None,
        parallel: None,
    };
    let step = train_step(&model, &cfg, B).unwrap();
    let exe = rt.compile(&step.func, &options).unwrap();
    let mut state: Vec<HostArray> = step
        .layout
        .state
        .map(|key, ty| match key {
            Key::Param(w) | Key::Ema(w) => as_type(get(&format!("w/{w}")), ty),
            Key::Table => get("w/inner.puzzle_emb.weights"),
            Key::Carry("halted") | Key::Healthy => HostArray::full(ty, 1.0),
            _ => HostArray::full(ty, 0.0),
        })
        .into_leaves();
    let constants: Vec<HostArray> = step
        .layout
        .constants
        .map(|key, ty| match key {
            Key::Fixed(w) => as_type(get(&format!("w/{w}")), ty),
            _ => HostArray::full(ty, 0.0),
        })
        .leaves()
        .into_iter()
        .cloned()
        .collect();
    for k in 1..=3 {
        let mut args = state.clone();
        args.extend(constants.iter().cloned());
        for field in ["inputs", "labels", "puzzle_identifiers"] {
            args.push(get(&format!("batch{k}/{field}")));
        }
        let mut out = exe.run_host(rt.client(), &args).unwrap();
        let metrics = out.pop().unwrap().to_f64_vec();
        assert_eq!(*metrics.last().unwrap(), 1.0, "{variant}: step {k} finite");
        state = out;
    }
    let names = step.layout.state.names();
    let by_name = |n: &str| &state[names.iter().position(|s| s == n).unwrap()];
    // The puzzle table first: SignSGD moves each element by ±lr a step, so an element whose
    // gradient is within rounding of zero can take the other sign (or be zero) on the other
    // side, and then lies whole SignSGD steps away: a multiple of the first step's lr (the
    // warm-up's half lr), less the weight decay of the steps after (a factor 1 − lr·wd each).
    // Every other element agrees to rounding.
    let first_lr = cfg.puzzle_schedule.base / 2.0;
    let (ours, official) = (by_name("puzzle_emb").to_f64_vec(), get("after3/inner.puzzle_emb.weights").to_f64_vec());
    let mut flips = 0;
    for (i, (x, y)) in ours.iter().zip(&official).enumerate() {
        let d = (x - y).abs();
        if d > 1e-6 {
            let whole_steps = (d / first_lr).round() * first_lr;
            assert!((d - whole_steps).abs() < 1e-4, "{variant}: puzzle table element {i} differs by {d:e}");
            flips += 1;
        }
    }
    assert!(flips * tol.flips <= ours.len(), "{variant}: {flips} of {} SignSGD signs differ", ours.len());
    // The weights agree to `tol.updates` updates. After a flipped table element the next step
    // sees another puzzle row: in float32 the weights are then bound to one update; bfloat16's
    // bound already lets every element move the other way.
    let (bound, ema_bound) = match (flips, v.forward) {
        (0, _) | (_, FloatType::BFloat16) => (tol.updates * UPDATE, tol.ema),
        _ => (UPDATE, 3.0 * (1.0 - 0.999) * UPDATE),
    };
    for name in &dense {
        let (ours, official) = (by_name(&format!("params/{name}")), get(&format!("after3/{name}")));
        let d = abs_diff(ours, &official);
        assert!(d < bound, "{variant}: {name} after 3 steps differs by {d:e} ({flips} SignSGD flips)");
        let (a, b) = (ours.to_f64_vec(), official.to_f64_vec());
        let loose = a.iter().zip(&b).filter(|(x, y)| (*x - *y).abs() > 1e-7).count();
        assert!(
            flips > 0 || v.forward == FloatType::BFloat16 || loose * 20 < a.len(),
            "{variant}: {loose} of {} elements of {name} differ by over 1e-7",
            a.len()
        );
        let d = abs_diff(by_name(&format!("ema/{name}")), &get(&format!("ema3/{name}")));
        assert!(d < ema_bound, "{variant}: the EMA of {name} after 3 steps differs by {d:e}");
    }
    // In bfloat16 the carry after three steps is not reproducible even by the official code
    // itself: its float32 run of mlp_t_bf16's weights and batches halts two slots otherwise
    // than its bfloat16 run, and 31 of the 160 table elements take other SignSGD steps.
    if v.forward != FloatType::BFloat16 {
        let halted: Vec<i64> = by_name("carry/halted").to_i64_vec();
        assert_eq!(halted, get("after3/halted").to_i64_vec(), "{variant}: halted slots");
        assert_eq!(by_name("carry/steps").to_i64_vec(), get("after3/steps").to_i64_vec(), "{variant}: steps");
    }
}

/// ouro's exploration draws for the recorded steps, which the official script forces its own to
/// (`UPDATE_GOLDEN=1` rewrites tests/fixtures/trm_parity_draws.json; then rerun the script).
#[test]
fn the_exploration_draws_are_the_recorded_ones() {
    let rt = Runtime::open_default(1).unwrap();
    let draws = exploration_draws(&model(BF16), &rt);
    let explored = draws.iter().flatten().filter(|&&m| m > 0).count();
    assert!(explored > 0 && explored < 3 * B, "some slots explore and some do not: {draws:?}");
    let json = serde_json::json!({
        "halt_exploration_prob": BF16.exploration, "batch": B, "halt_max_steps": 3, "min_steps": draws
    });
    let text = format!("{json}\n");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trm_parity_draws.json");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let recorded = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(recorded, text, "ouro's draws moved: UPDATE_GOLDEN=1 rewrites them, then rerun the fixture script");
}

#[test]
fn attention_with_rope_matches_the_official_trm() {
    check(F32);
}

#[test]
fn mlp_t_matches_the_official_trm() {
    let mlp_t = Variant { name: "mlp_t", mlp_t: true, pos: PosEncoding::None, ..F32 };
    check(mlp_t);
    check(Variant { compiler: Compiler::Cpu, ..mlp_t });
}

#[test]
fn learned_positions_match_the_official_trm() {
    check(Variant { name: "learned", pos: PosEncoding::Learned, ..F32 });
}

/// The paper's numerics, with the official float64 loss and with ouro's float32 one.
#[test]
fn attention_in_bfloat16_with_exploration_and_q_continue_matches_the_official_trm() {
    check(BF16);
    check(Variant { loss: FloatType::Float32, ..BF16 });
    check(Variant { compiler: Compiler::Cpu, ..BF16 });
}

#[test]
fn mlp_t_in_bfloat16_with_exploration_and_q_continue_matches_the_official_trm() {
    let mlp_t = Variant { name: "mlp_t_bf16", mlp_t: true, pos: PosEncoding::None, ..BF16 };
    check(mlp_t);
    check(Variant { loss: FloatType::Float32, ..mlp_t });
    check(Variant { compiler: Compiler::Cpu, ..mlp_t });
}
