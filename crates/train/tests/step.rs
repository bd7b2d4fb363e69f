//! The compiled train and eval steps of a tiny TRM on the CPU plugin.

use ouro_ir::tree::Tree;
use ouro_ir::{DType, HostArray};
use ouro_lower::LowerOptions;
use ouro_nn::{DataDims, FloatType, PosEncoding, Trm, TrmConfig};
use ouro_optim::Schedule;
use ouro_runtime::{Runtime, to_host};
use ouro_train::{
    Constants, LossScale, OptimizerConfig, OptimizerKind, StepConfig, eval_step, init_state, seed_key, train_step,
};

const BATCH: usize = 16;

fn tiny(cfg: TrmConfig) -> Trm {
    let dims = DataDims { batch_size: BATCH, seq_len: 8, vocab_size: 6, num_puzzle_identifiers: 3 };
    Trm::new(cfg, dims).unwrap()
}

fn tiny_config() -> TrmConfig {
    TrmConfig {
        hidden_size: 32,
        num_heads: 2,
        expansion: 2.0,
        l_layers: 1,
        h_cycles: 2,
        l_cycles: 2,
        puzzle_emb_len: 2,
        forward_dtype: FloatType::Float32,
        halt_max_steps: 4,
        pos_encodings: PosEncoding::Rope,
        ..TrmConfig::default()
    }
}

fn step_config(lr: f64) -> StepConfig {
    let schedule = Schedule { base: lr, warmup_steps: 10, total_steps: 10_000, min_ratio: 1.0 };
    StepConfig {
        optimizer: OptimizerConfig { kind: OptimizerKind::AdamAtan2, beta1: 0.9, beta2: 0.95, weight_decay: 0.01 },
        schedule,
        puzzle_schedule: Schedule { base: 1e-2, ..schedule },
        puzzle_weight_decay: 0.01,
        ema_rate: Some(0.999),
        global_batch_size: BATCH,
        total_steps: 10_000,
        halt_exploration_final: None,
        grad_accum_steps: 1,
        loss_scale: None,
        parallel: None,
    }
}

/// A task a tiny model learns fast: the label is the input token shifted by one (mod 4),
/// tokens 2..5.
fn batch(rt: &Runtime, rng: &mut u64) -> Vec<ouro_pjrt::Buffer> {
    let mut next = || {
        *rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (*rng >> 33) as i64
    };
    let inputs: Vec<i64> = (0..BATCH * 8).map(|_| 2 + next() % 4).collect();
    let labels: Vec<i64> = inputs.iter().map(|&x| 2 + (x - 2 + 1) % 4).collect();
    let ids: Vec<i64> = (0..BATCH).map(|_| next() % 3).collect();
    [
        HostArray::from_i64(DType::I32, &[BATCH, 8], &inputs),
        HostArray::from_i64(DType::I32, &[BATCH, 8], &labels),
        HostArray::from_i64(DType::I32, &[BATCH], &ids),
    ]
    .iter()
    .map(|a| rt.to_device(a, 0).unwrap())
    .collect()
}

/// What [`run_steps`] saw.
struct Steps {
    /// Every step's metrics (read after the loop, so it never waits on the device).
    rows: Vec<Vec<f64>>,
    /// The metric names.
    names: Vec<String>,
    /// The step counter on the device at the end.
    counter: Vec<f64>,
    /// The dense parameters, concatenated, before the first step and after each (when asked).
    params: Vec<Vec<f64>>,
}

/// Trains `model` for `steps` steps of the token-map task from seed `seed`.
fn run_steps(model: &Trm, cfg: &StepConfig, steps: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<String>, Vec<f64>) {
    let s = run_steps_with(model, cfg, steps, seed, false);
    (s.rows, s.names, s.counter)
}

fn run_steps_with(model: &Trm, cfg: &StepConfig, steps: usize, seed: u64, read_params: bool) -> Steps {
    let rt = Runtime::open_default(1).unwrap();
    let step = train_step(model, cfg, BATCH).unwrap();
    let options = LowerOptions::default();
    let init = init_state(model, &step.layout, BATCH, None).unwrap();
    let key = rt.to_device(&HostArray::from_i64(DType::U32, &[2], &seed_key(seed).map(i64::from)), 0).unwrap();
    let mut state = rt.compile(&init, &options).unwrap().run(&[&key]).unwrap();
    let constants = state.split_off(step.layout.state.leaves().len());
    let exe = rt.compile(&step.func, &options).unwrap();
    // The dense parameters are the state's first leaves.
    let dense: Vec<usize> = (0..step.layout.state.params.len()).collect();
    let read = |state: &[ouro_pjrt::Buffer]| -> Vec<f64> {
        dense.iter().flat_map(|&i| to_host(&state[i]).unwrap().to_f64_vec()).collect()
    };
    let mut params = Vec::new();
    if read_params {
        params.push(read(&state));
    }
    let mut rng = seed.wrapping_add(7);
    let mut metrics = Vec::new();
    for _ in 0..steps {
        let b = batch(&rt, &mut rng);
        let mut args: Vec<&ouro_pjrt::Buffer> = state.iter().collect();
        args.extend(constants.iter());
        args.push(&key);
        args.extend(b.iter());
        let mut out = exe.run(&args).unwrap();
        metrics.push(out.pop().unwrap());
        state = out;
        if read_params {
            params.push(read(&state));
        }
    }
    let rows = metrics.iter().map(|m| to_host(m).unwrap().to_f64_vec()).collect();
    let step_index = step.layout.state.names().iter().position(|n| n == "step").unwrap();
    let counter = to_host(&state[step_index]).unwrap().to_f64_vec();
    Steps { rows, names: step.layout.metrics.names(), counter, params }
}

#[test]
fn a_tiny_trm_learns_and_its_state_stays_on_device() {
    let (read, names, counter) = run_steps(&tiny(tiny_config()), &step_config(3e-3), 150, 0);
    let col = |name: &str| names.iter().position(|n| n == name).unwrap();
    let lm = |i: usize| read[i][col("lm_loss")] / BATCH as f64;
    let first = (0..10).map(lm).sum::<f64>() / 10.0;
    let last = (140..150).map(lm).sum::<f64>() / 10.0;
    eprintln!("lm loss per row {first:.4} -> {last:.4}");
    assert!(read.iter().all(|m| m[col("finite")] == 1.0));
    assert!(last < first / 4.0, "lm loss {first:.4} -> {last:.4}");
    // The step counter advanced on device.
    assert_eq!(counter, vec![150.0]);
}

/// The paths the official configs do not take: the Q-learning continue target
/// (`no_ACT_continue: false`, which crashes in the official code), softmax cross-entropy (a
/// TypeError there), AdamW, and an f64 loss. Each must train with finite values, and the
/// continue loss must be live.
#[test]
fn q_continue_softmax_adamw_and_f64_loss_train() {
    let model = tiny(TrmConfig {
        no_act_continue: false,
        loss: ouro_nn::LossConfig {
            loss_type: ouro_nn::LossType::SoftmaxCrossEntropy,
            dtype: FloatType::Float64,
            ..Default::default()
        },
        ..tiny_config()
    });
    let base = step_config(3e-3);
    let cfg = StepConfig {
        optimizer: OptimizerConfig { kind: OptimizerKind::AdamW { eps: 1e-8 }, ..base.optimizer },
        ..base
    };
    let (rows, names, _) = run_steps(&model, &cfg, 100, 2);
    let col = |name: &str| names.iter().position(|n| n == name).unwrap();
    assert!(rows.iter().all(|m| m[col("finite")] == 1.0));
    assert!(rows.iter().all(|m| m[col("q_continue_loss")] > 0.0), "the continue target trains q_continue");
    let lm = |r: &[Vec<f64>]| r.iter().map(|m| m[col("lm_loss")]).sum::<f64>() / r.len() as f64;
    let (first, last) = (lm(&rows[..10]), lm(&rows[90..]));
    assert!(last < first / 2.0, "lm loss {first:.3} -> {last:.3}");
}

#[test]
fn the_eval_step_runs_every_slot_to_the_last_act_step() {
    let rt = Runtime::open_default(1).unwrap();
    let model = tiny(tiny_config());
    let cfg = step_config(1e-3);
    let step = train_step(&model, &cfg, BATCH).unwrap();
    let init = init_state(&model, &step.layout, BATCH, None).unwrap();
    let options = LowerOptions::default();
    let key = rt.to_device(&HostArray::from_i64(DType::U32, &[2], &seed_key(1).map(i64::from)), 0).unwrap();
    let mut state = rt.compile(&init, &options).unwrap().run(&[&key]).unwrap();
    let constants = state.split_off(step.layout.state.leaves().len());
    let eval = eval_step(&model, BATCH, None).unwrap();
    let trained = step.layout.state.with_leaves(state.iter().collect()).unwrap();
    let fixed = step.layout.constants.fixed.iter().map(|(n, _)| n.to_string()).zip(constants.iter()).collect();
    let read_only = Constants { fixed, key: &key };
    let mut args: Vec<&ouro_pjrt::Buffer> =
        ouro_train::weights::eval_weights(&eval.weights, false, &trained, &read_only)
            .unwrap()
            .into_iter()
            .copied()
            .collect();
    let mut rng = 3u64;
    let b = batch(&rt, &mut rng);
    args.extend(b.iter());
    let exe = rt.compile(&eval.func, &options).unwrap();
    let out = exe.run(&args).unwrap();
    let metrics = to_host(&out[2]).unwrap().to_f64_vec();
    // count = every row; steps = rows × halt_max_steps.
    assert_eq!(metrics[0], BATCH as f64);
    assert_eq!(metrics[4], (BATCH * 4) as f64);
    let preds = to_host(&out[0]).unwrap();
    assert_eq!(preds.shape(), &[BATCH, 8]);
    drop(trained);
    state.clear();
}

/// Loss scaling by a power of two is exact arithmetic: in f32, where nothing overflows, a scaled
/// run takes the unscaled run's steps (up to the rounding of two differently fused programs).
#[test]
fn loss_scaling_without_overflow_changes_nothing() {
    let model = tiny(tiny_config());
    let scaled =
        StepConfig { loss_scale: Some(LossScale { initial: 65536.0, growth_interval: 2000 }), ..step_config(3e-3) };
    let a = run_steps_with(&model, &step_config(3e-3), 12, 4, true);
    let b = run_steps_with(&model, &scaled, 12, 4, true);
    let col = |s: &Steps, name: &str| {
        s.rows.iter().map(|m| m[s.names.iter().position(|n| n == name).unwrap()]).collect::<Vec<_>>()
    };
    let close = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(p, q)| (p - q).abs() <= 1e-5 * (1.0 + p.abs()));
    assert!(close(&col(&a, "lm_loss"), &col(&b, "lm_loss")), "{:?} vs {:?}", col(&a, "lm_loss"), col(&b, "lm_loss"));
    assert!(a.params.iter().zip(&b.params).all(|(x, y)| close(x, y)));
    assert!(col(&b, "overflow").iter().all(|&o| o == 0.0));
    assert!(col(&b, "loss_scale").iter().all(|&s| s == 65536.0));
}

/// float16 activations with a first scale of 2^40: the backward pass overflows, so those steps
/// leave the weights alone (the step counter still moves) and halve the scale until gradients
/// are finite; then `growth_interval` finite steps in a row double it again.
#[test]
fn dynamic_loss_scaling_skips_overflowing_steps_and_adapts_the_scale() {
    let model = tiny(TrmConfig { forward_dtype: FloatType::Float16, ..tiny_config() });
    let cfg =
        StepConfig { loss_scale: Some(LossScale { initial: 2f64.powi(40), growth_interval: 4 }), ..step_config(3e-3) };
    let steps = 60;
    let run = run_steps_with(&model, &cfg, steps, 5, true);
    let col =
        |name: &str| run.rows.iter().map(|m| m[run.names.iter().position(|n| n == name).unwrap()]).collect::<Vec<_>>();
    let (scale, overflow, finite) = (col("loss_scale"), col("overflow"), col("finite"));
    assert!(finite.iter().all(|&f| f == 1.0), "an overflow is not a failure: {finite:?}");
    assert_eq!((scale[0], overflow[0]), (2f64.powi(40), 1.0));
    let mut good_in_a_row = 0;
    let (mut grew, mut trained) = (0, 0);
    for i in 0..steps - 1 {
        if overflow[i] == 1.0 {
            assert_eq!(run.params[i + 1], run.params[i], "step {} overflowed but moved the weights", i + 1);
            assert_eq!(scale[i + 1], scale[i] / 2.0, "step {}", i + 1);
            good_in_a_row = 0;
        } else {
            assert_ne!(run.params[i + 1], run.params[i], "step {} did not update", i + 1);
            trained += 1;
            good_in_a_row += 1;
            if good_in_a_row == 4 {
                assert_eq!(scale[i + 1], scale[i] * 2.0, "step {}", i + 1);
                good_in_a_row = 0;
                grew += 1;
            } else {
                assert_eq!(scale[i + 1], scale[i], "step {}", i + 1);
            }
        }
    }
    eprintln!("scales {scale:?}");
    assert!(trained > 20 && grew > 0, "{trained} updates, {grew} growths: {scale:?}");
    assert_eq!(run.counter, vec![steps as f64], "skipped steps still count");
}

/// Rematerialising the cycle with gradient recomputes the same values: the steps are those of
/// the plain program (to the rounding of differently fused programs).
#[test]
fn remat_takes_the_same_steps() {
    let plain = tiny(tiny_config());
    let mut remat = tiny(tiny_config());
    remat.remat = true;
    let a = run_steps_with(&plain, &step_config(3e-3), 8, 6, true);
    let b = run_steps_with(&remat, &step_config(3e-3), 8, 6, true);
    let close = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(p, q)| (p - q).abs() <= 1e-5 * (1.0 + p.abs()));
    assert!(a.rows.iter().zip(&b.rows).all(|(x, y)| close(x, y)), "{:?}\nvs {:?}", a.rows, b.rows);
    assert!(a.params.iter().zip(&b.params).all(|(x, y)| close(x, y)));
    assert_ne!(a.params[0], a.params[8], "the weights moved");
}
