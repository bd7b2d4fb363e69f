//! The compiled train and eval steps of a tiny TRM on the CPU plugin.

use ouro_ir::{DType, HostArray};
use ouro_lower::LowerOptions;
use ouro_nn::{DataDims, FloatType, PosEncoding, Trm, TrmConfig};
use ouro_optim::Schedule;
use ouro_runtime::{Runtime, to_host};
use ouro_train::{OptimizerKind, StepConfig, eval_step, init_state, seed_key, train_step};

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
        optimizer: OptimizerKind::AdamAtan2,
        beta1: 0.9,
        beta2: 0.95,
        weight_decay: 0.01,
        schedule,
        puzzle_schedule: Schedule { base: 1e-2, ..schedule },
        puzzle_weight_decay: 0.01,
        ema_rate: Some(0.999),
        global_batch_size: BATCH,
        total_steps: 10_000,
        halt_exploration_final: None,
        grad_accum_steps: 1,
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

/// Trains `model` for `steps` steps of the token-map task from seed `seed`; returns every
/// step's metrics (read after the loop, so it never waits on the device), the metric names and the
/// step counter on the device.
fn run_steps(model: &Trm, cfg: &StepConfig, steps: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<String>, Vec<f64>) {
    let rt = Runtime::open_default(1).unwrap();
    let step = train_step(model, cfg, BATCH).unwrap();
    let options = LowerOptions::default();
    let init = init_state(model, &step.layout, BATCH, None).unwrap();
    let key = rt.to_device(&HostArray::from_i64(DType::U32, &[2], &seed_key(seed).map(i64::from)), 0).unwrap();
    let mut state = rt.compile(&init, &options).unwrap().run(&[&key]).unwrap();
    let constants = state.split_off(step.layout.state.len());
    let exe = rt.compile(&step.func, &options).unwrap();
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
    }
    let rows = metrics.iter().map(|m| to_host(m).unwrap().to_f64_vec()).collect();
    let step_index = step.layout.state.iter().position(|(n, _)| n == "step").unwrap();
    let counter = to_host(&state[step_index]).unwrap().to_f64_vec();
    (rows, step.layout.metrics.clone(), counter)
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
    let cfg = StepConfig { optimizer: OptimizerKind::AdamW { eps: 1e-8 }, ..step_config(3e-3) };
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
    let constants = state.split_off(step.layout.state.len());
    let eval = eval_step(&model, BATCH, None).unwrap();
    let mut args = ouro_train::weights::eval_weights(false, &eval.weights, &step.layout, &state, &constants).unwrap();
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
    state.clear();
}
