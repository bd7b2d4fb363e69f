//! A 2-layer MLP learns a 2-D regression target with `value_and_grad` and a hand-written Adam
//! update, traced into one compiled train step whose parameters and optimizer state stay on the
//! device and are donated every step.
//!
//! `cargo run --release --example mlp` (tests/mlp.rs runs the same training).

use ouro::autodiff::value_and_grad;
use ouro::ir::testing::Rng;
use ouro::ir::tree::Tree;
use ouro::ir::{DType, HostArray, ParamAttrs, Tensor, TensorType, Tracer, tree_struct};
use ouro::lower::LowerOptions;
use ouro::pjrt::Buffer;
use ouro::runtime::{Runtime, to_device, to_host};

tree_struct! {
    /// The MLP's parameters (and, with other leaves, anything shaped like them).
    pub struct Mlp<T> { w1, b1, w2, b2 }
}

/// Training settings.
pub struct Settings {
    /// Hidden units.
    pub hidden: usize,
    /// Training points (one full batch).
    pub points: usize,
    /// Adam steps.
    pub steps: usize,
    /// Learning rate.
    pub lr: f64,
    /// Seed of the data and the initialisation.
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { hidden: 64, points: 512, steps: 600, lr: 1e-2, seed: 0 }
    }
}

/// What training reached.
pub struct Outcome {
    /// Loss at the first step.
    pub first_loss: f64,
    /// Loss at the last step.
    pub last_loss: f64,
    /// Seconds per step after compilation.
    pub seconds_per_step: f64,
}

fn types(s: &Settings) -> Mlp<TensorType> {
    Mlp {
        w1: TensorType::new(DType::F32, &[2, s.hidden]),
        b1: TensorType::new(DType::F32, &[s.hidden]),
        w2: TensorType::new(DType::F32, &[s.hidden]),
        b2: TensorType::scalar(DType::F32),
    }
}

/// `tanh(x w1 + b1) · w2 + b2` for a batch `x: [n, 2]`.
fn forward<'t>(p: &Mlp<Tensor<'t>>, x: Tensor<'t>) -> Tensor<'t> {
    let h = (x.matmul(p.w1) + p.b1).tanh();
    h.matmul(p.w2) + p.b2
}

/// One Adam step: `(params, m, v, step, x, y) -> (params', m', v', loss)`.
fn train_step(s: &Settings) -> Result<ouro::ir::Func, ouro::ir::TraceError> {
    let tr = Tracer::new("mlp_train_step");
    let ty = types(s);
    let donated = |name: &str, t: &TensorType| {
        tr.param_with(ParamAttrs { name: name.into(), donate: true, sharding: None }, t.clone())
    };
    let params = ty.map(|n, t| donated(n, t));
    let m = ty.map(|n, t| donated(&format!("m.{n}"), t));
    let v = ty.map(|n, t| donated(&format!("v.{n}"), t));
    let step = tr.param("step", TensorType::scalar(DType::F32));
    let x = tr.param("x", TensorType::new(DType::F32, &[s.points, 2]));
    let y = tr.param("y", TensorType::new(DType::F32, &[s.points]));

    let (loss, grads) =
        value_and_grad(|p: &Mlp<Tensor<'_>>| (forward(p, x) - y).square().sum_all() / s.points as f64, &params);

    let (b1, b2, eps) = (0.9, 0.999, 1e-8);
    let t = step + 1.0;
    let correction1 = 1.0 - tr.scalar(b1, DType::F32).pow(t);
    let correction2 = 1.0 - tr.scalar(b2, DType::F32).pow(t);
    let mut outputs = Vec::new();
    let (mut new_p, mut new_m, mut new_v) = (Vec::new(), Vec::new(), Vec::new());
    for (((p, g), m), v) in params.leaves().into_iter().zip(grads.leaves()).zip(m.leaves()).zip(v.leaves()) {
        let m2 = *m * b1 + *g * (1.0 - b1);
        let v2 = *v * b2 + g.square() * (1.0 - b2);
        let update = (m2 / correction1) / ((v2 / correction2).sqrt() + eps);
        new_p.push(*p - update * s.lr);
        new_m.push(m2);
        new_v.push(v2);
    }
    outputs.extend(new_p);
    outputs.extend(new_m);
    outputs.extend(new_v);
    outputs.push(loss);
    tr.finish(&outputs)
}

/// The target: a smooth 2-D function.
fn target(x0: f64, x1: f64) -> f64 {
    (2.0 * x0).sin() * x1.cos() + 0.1 * x0
}

/// Trains on the runtime's first device and reports the losses.
pub fn train(runtime: &Runtime, s: &Settings) -> Result<Outcome, Box<dyn std::error::Error>> {
    let exe = runtime.compile(&train_step(s)?, &LowerOptions::default())?;
    let client = runtime.client();
    let device = client.device(0)?;
    let mut rng = Rng::new(s.seed);

    let xs: Vec<f64> = (0..2 * s.points).map(|_| 4.0 * rng.uniform() - 2.0).collect();
    let ys: Vec<f64> = (0..s.points).map(|i| target(xs[2 * i], xs[2 * i + 1])).collect();
    let x = to_device(client, &HostArray::from_f64(DType::F32, &[s.points, 2], &xs), &device)?;
    let y = to_device(client, &HostArray::from_f64(DType::F32, &[s.points], &ys), &device)?;

    // LeCun-normal weights, zero biases, zero optimizer state.
    let ty = types(s);
    let init = ty.map(|name, t| {
        let fan_in = if name == "w1" { 2.0 } else { s.hidden as f64 };
        let values: Vec<f64> = (0..t.num_elements())
            .map(|_| if name.starts_with('w') { rng.normal() / f64::sqrt(fan_in) } else { 0.0 })
            .collect();
        HostArray::from_f64(t.dtype, &t.shape, &values)
    });
    let mut state: Vec<Buffer> = Vec::new();
    for leaf in init.leaves() {
        state.push(to_device(client, leaf, &device)?);
    }
    for _ in 0..2 {
        for t in ty.leaves() {
            state.push(to_device(client, &HostArray::full(t, 0.0), &device)?);
        }
    }

    let mut losses = Vec::with_capacity(s.steps);
    let started = std::time::Instant::now();
    for step in 0..s.steps {
        let step_buffer = to_device(client, &HostArray::scalar(DType::F32, step as f64), &device)?;
        let mut args: Vec<&Buffer> = state.iter().collect();
        args.extend([&step_buffer, &x, &y]);
        let mut out = exe.run(&args)?;
        losses.push(out.pop().expect("the loss"));
        state = out;
    }
    // Read the losses only now, so the loop never waits on the device.
    let losses: Vec<f64> = losses.iter().map(|l| to_host(l).map(|a| a.to_f64_vec()[0])).collect::<Result<_, _>>()?;
    let seconds_per_step = started.elapsed().as_secs_f64() / s.steps as f64;
    Ok(Outcome { first_loss: losses[0], last_loss: losses[s.steps - 1], seconds_per_step })
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = Runtime::open_default(1)?;
    let settings = Settings::default();
    let outcome = train(&runtime, &settings)?;
    println!(
        "mlp: loss {:.5} -> {:.5} after {} Adam steps ({:.3} ms/step)",
        outcome.first_loss,
        outcome.last_loss,
        settings.steps,
        outcome.seconds_per_step * 1e3
    );
    if outcome.last_loss > 0.01 {
        return Err(format!("the MLP did not reach its target loss 0.01 (got {:.5})", outcome.last_loss).into());
    }
    Ok(())
}
