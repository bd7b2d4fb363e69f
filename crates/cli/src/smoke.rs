//! `ouro smoke`: data-parallel SGD on a linear least-squares model, written directly in
//! StableHLO, run on N devices through XLA's SPMD partitioner and checked against one device.
//!
//! It exercises the whole runtime path a training step takes: SPMD compilation (Shardy),
//! per-device feeding of a batch shard, a replicated parameter donated every step, and results
//! read back without host staging of the batch.

use std::time::Instant;

use anyhow::{Result, bail, ensure};
use clap::Args;
use ouro_pjrt::{Buffer, Client, CompileOptions, Program};

use crate::BackendArgs;

/// Arguments of `ouro smoke`.
#[derive(Args, Debug)]
pub struct SmokeArgs {
    /// Devices to split the batch across.
    #[arg(long, default_value_t = 4)]
    devices: usize,
    /// Global batch size (divisible by --devices).
    #[arg(long, default_value_t = 4096)]
    batch: usize,
    /// Features of the linear model.
    #[arg(long, default_value_t = 64)]
    features: usize,
    /// SGD steps.
    #[arg(long, default_value_t = 100)]
    steps: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.1)]
    lr: f32,
}

/// One SGD step: `w' = w - lr/B * x^T (x w - y)` and the loss `0.5/B * |x w - y|^2`.
/// With `devices > 1` the batch is sharded on a `data` mesh axis and `w` is replicated.
fn step_program(devices: usize, batch: usize, features: usize, lr: f32) -> String {
    let (b, d) = (batch, features);
    let sharded = devices > 1;
    let sharding = |spec: &str| format!("sdy.sharding = #sdy.sharding<@mesh, [{spec}]>");
    let attrs = |spec: &str| if sharded { format!(" {{{}}}", sharding(spec)) } else { String::new() };
    let w_attrs = if sharded {
        format!("tf.aliasing_output = 0 : i32, {}", sharding("{}"))
    } else {
        "tf.aliasing_output = 0 : i32".into()
    };
    let mesh = if sharded { format!("\n  sdy.mesh @mesh = <[\"data\"={devices}]>") } else { String::new() };
    let scale = lr / b as f32;
    let half_mean = 0.5 / b as f32;
    format!(
        r#"module @sgd_step attributes {{mhlo.num_partitions = {devices} : i32}} {{{mesh}
  func.func public @main(%w: tensor<{d}xf32> {{{w_attrs}}}, %x: tensor<{b}x{d}xf32>{x_attrs}, %y: tensor<{b}xf32>{y_attrs}) -> (tensor<{d}xf32>{w_res}, tensor<f32>{loss_res}) {{
    %p = stablehlo.dot_general %x, %w, contracting_dims = [1] x [0] : (tensor<{b}x{d}xf32>, tensor<{d}xf32>) -> tensor<{b}xf32>
    %r = stablehlo.subtract %p, %y : tensor<{b}xf32>
    %g = stablehlo.dot_general %x, %r, contracting_dims = [0] x [0] : (tensor<{b}x{d}xf32>, tensor<{b}xf32>) -> tensor<{d}xf32>
    %scale = stablehlo.constant dense<{scale:e}> : tensor<{d}xf32>
    %step = stablehlo.multiply %g, %scale : tensor<{d}xf32>
    %w_next = stablehlo.subtract %w, %step : tensor<{d}xf32>
    %sq = stablehlo.multiply %r, %r : tensor<{b}xf32>
    %zero = stablehlo.constant dense<0.0> : tensor<f32>
    %sum = stablehlo.reduce(%sq init: %zero) applies stablehlo.add across dimensions = [0] : (tensor<{b}xf32>, tensor<f32>) -> tensor<f32>
    %half_mean = stablehlo.constant dense<{half_mean:e}> : tensor<f32>
    %loss = stablehlo.multiply %sum, %half_mean : tensor<f32>
    return %w_next, %loss : tensor<{d}xf32>, tensor<f32>
  }}
}}
"#,
        x_attrs = attrs("{\"data\"}, {}"),
        y_attrs = attrs("{\"data\"}"),
        w_res = attrs("{}"),
        loss_res = attrs(""),
    )
}

/// A deterministic regression problem: `y = x w* + noise`.
fn problem(batch: usize, features: usize) -> (Vec<f32>, Vec<f32>) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let w_true: Vec<f32> = (0..features).map(|_| uniform()).collect();
    let x: Vec<f32> = (0..batch * features).map(|_| uniform()).collect();
    let y = (0..batch)
        .map(|i| {
            x[i * features..(i + 1) * features].iter().zip(&w_true).map(|(a, b)| a * b).sum::<f32>() + 0.01 * uniform()
        })
        .collect();
    (x, y)
}

struct Run {
    losses: Vec<f32>,
    w: Vec<f32>,
    seconds_per_step: f64,
}

/// Trains for `args.steps` on the first `devices` devices of `client`.
fn train(client: &Client, devices: usize, args: &SmokeArgs, x: &[f32], y: &[f32]) -> Result<Run> {
    let (b, d) = (args.batch, args.features);
    let all = client.addressable_devices();
    ensure!(all.len() >= devices, "the client has {} devices, {devices} requested", all.len());
    let ids: Vec<i64> = all[..devices].iter().map(|dev| dev.id().map(i64::from)).collect::<Result<_, _>>()?;
    let options = if devices > 1 { CompileOptions::spmd(&ids, true) } else { CompileOptions::single_device() };
    let exe = client.compile(&Program::text(step_program(devices, b, d, args.lr)), &options)?;
    let placed = exe.addressable_devices();

    // Each device receives only its shard of the batch.
    let rows = b / devices;
    let mut batch = Vec::with_capacity(devices);
    let mut w = Vec::with_capacity(devices);
    for (k, dev) in placed.iter().enumerate() {
        let xs = client.buffer_from_host(&x[k * rows * d..(k + 1) * rows * d], &[rows as i64, d as i64], dev)?;
        let ys = client.buffer_from_host(&y[k * rows..(k + 1) * rows], &[rows as i64], dev)?;
        batch.push((xs, ys));
        w.push(client.buffer_from_host(&vec![0.0f32; d], &[d as i64], dev)?);
    }

    let mut losses = Vec::with_capacity(args.steps);
    let mut loss_buffers: Vec<Buffer> = Vec::with_capacity(args.steps);
    let started = Instant::now();
    for _ in 0..args.steps {
        let lists: Vec<Vec<&Buffer>> = w.iter().zip(&batch).map(|(w, (xs, ys))| vec![w, xs, ys]).collect();
        // `w` (argument 0) is donated: its memory becomes the next `w`.
        let mut outputs = exe.execute_sharded(&lists, &[0])?;
        let mut next_w = Vec::with_capacity(devices);
        for (k, out) in outputs.iter_mut().enumerate() {
            let loss = out.pop().expect("two outputs");
            if k == 0 {
                loss_buffers.push(loss);
            }
            next_w.push(out.pop().expect("two outputs"));
        }
        w = next_w;
    }
    // Losses are read after the loop so the host never waits inside it.
    for loss in &loss_buffers {
        losses.push(loss.to_host::<f32>()?[0]);
    }
    let seconds_per_step = started.elapsed().as_secs_f64() / args.steps.max(1) as f64;
    Ok(Run { losses, w: w[0].to_host()?, seconds_per_step })
}

pub fn run(backend: &BackendArgs, args: &SmokeArgs) -> Result<()> {
    ensure!(args.devices >= 1, "--devices must be at least 1");
    ensure!(args.steps >= 1, "--steps must be at least 1");
    if !args.batch.is_multiple_of(args.devices) {
        bail!("--batch {} is not divisible by --devices {}", args.batch, args.devices);
    }
    let client = backend.client(args.devices)?;
    println!(
        "ouro smoke: {} ({}), {} devices, batch {} x {} features, {} SGD steps",
        client.platform_name(),
        client.platform_version(),
        args.devices,
        args.batch,
        args.features,
        args.steps
    );
    let (x, y) = problem(args.batch, args.features);
    let sharded = train(&client, args.devices, args, &x, &y)?;
    let single = train(&client, 1, args, &x, &y)?;
    let max_diff = sharded.w.iter().zip(&single.w).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    let first = sharded.losses.first().copied().unwrap_or(f32::NAN);
    let last = sharded.losses.last().copied().unwrap_or(f32::NAN);
    println!("loss        {first:.5} -> {last:.5}");
    println!(
        "step time   {:.3} ms on {} devices, {:.3} ms on 1",
        sharded.seconds_per_step * 1e3,
        args.devices,
        single.seconds_per_step * 1e3
    );
    println!("max |w_{}dev - w_1dev| = {max_diff:.2e}", args.devices);
    // Only the reduction order differs between the two runs.
    ensure!(max_diff <= 1e-4, "the {}-device parameters differ from the 1-device ones by {max_diff}", args.devices);
    ensure!(last < first, "the loss did not decrease ({first} -> {last})");
    println!("ok");
    Ok(())
}
