//! Data parallelism through XLA's SPMD partitioner on 4 CPU devices: the batch-sharded gradient
//! of a linear least-squares loss equals the single-device one.

mod common;

use common::{compile, cpu_client};
use ouro_pjrt::{Buffer, CompileOptions, Program};

/// grad_w of 0.5 * |x w - y|^2 is x^T (x w - y); the batch contraction needs an all-reduce.
const GRAD_SINGLE: &str = r#"module @grad_single {
  func.func public @main(%x: tensor<8x3xf32>, %y: tensor<8xf32>, %w: tensor<3xf32>) -> tensor<3xf32> {
    %p = stablehlo.dot_general %x, %w, contracting_dims = [1] x [0] : (tensor<8x3xf32>, tensor<3xf32>) -> tensor<8xf32>
    %r = stablehlo.subtract %p, %y : tensor<8xf32>
    %g = stablehlo.dot_general %x, %r, contracting_dims = [0] x [0] : (tensor<8x3xf32>, tensor<8xf32>) -> tensor<3xf32>
    return %g : tensor<3xf32>
  }
}"#;

fn grad_gspmd() -> String {
    GRAD_SINGLE
        .replace(
            "@grad_single {",
            "@grad_gspmd attributes {mhlo.num_partitions = 4 : i32, mhlo.num_replicas = 1 : i32} {",
        )
        .replace("%x: tensor<8x3xf32>,", r#"%x: tensor<8x3xf32> {mhlo.sharding = "{devices=[4,1]<=[4]}"},"#)
        .replace("%y: tensor<8xf32>,", r#"%y: tensor<8xf32> {mhlo.sharding = "{devices=[4]<=[4]}"},"#)
        .replace("%w: tensor<3xf32>)", r#"%w: tensor<3xf32> {mhlo.sharding = "{replicated}"})"#)
        .replace("-> tensor<3xf32> {\n", "-> (tensor<3xf32> {mhlo.sharding = \"{replicated}\"}) {\n")
}

fn grad_shardy() -> String {
    GRAD_SINGLE
        .replace(
            "@grad_single {",
            "@grad_shardy attributes {mhlo.num_partitions = 4 : i32} {\n  sdy.mesh @mesh = <[\"data\"=4]>",
        )
        .replace(
            "%x: tensor<8x3xf32>,",
            r#"%x: tensor<8x3xf32> {sdy.sharding = #sdy.sharding<@mesh, [{"data"}, {}]>},"#,
        )
        .replace("%y: tensor<8xf32>,", r#"%y: tensor<8xf32> {sdy.sharding = #sdy.sharding<@mesh, [{"data"}]>},"#)
        .replace("%w: tensor<3xf32>)", r#"%w: tensor<3xf32> {sdy.sharding = #sdy.sharding<@mesh, [{}]>})"#)
        .replace("-> tensor<3xf32> {\n", "-> (tensor<3xf32> {sdy.sharding = #sdy.sharding<@mesh, [{}]>}) {\n")
}

fn data() -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let x: Vec<f32> = (0..24).map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0).collect();
    let y: Vec<f32> = (0..8).map(|i| (i as f32).cos()).collect();
    let w = vec![0.5, -1.0, 0.25];
    (x, y, w)
}

fn sharded_gradient(text: &str, shardy: bool) -> Vec<Vec<f32>> {
    let client = cpu_client(4);
    let devices = client.addressable_devices();
    assert_eq!(devices.len(), 4);
    let ids: Vec<i64> = devices.iter().map(|d| d.id().unwrap() as i64).collect();
    let exe = client.compile(&Program::text(text), &CompileOptions::spmd(&ids, shardy)).unwrap();
    assert_eq!(exe.num_partitions(), 4);
    let (x, y, w) = data();
    // Each device gets its quarter of the batch and the whole of w: no single-device staging.
    let args: Vec<Vec<Buffer>> = exe
        .addressable_devices()
        .iter()
        .enumerate()
        .map(|(d, dev)| {
            vec![
                client.buffer_from_host(&x[d * 6..(d + 1) * 6], &[2, 3], dev).unwrap(),
                client.buffer_from_host(&y[d * 2..(d + 1) * 2], &[2], dev).unwrap(),
                client.buffer_from_host(&w, &[3], dev).unwrap(),
            ]
        })
        .collect();
    let refs: Vec<Vec<&Buffer>> = args.iter().map(|l| l.iter().collect()).collect();
    let out = exe.execute_sharded(&refs, &[]).unwrap();
    assert_eq!(out.len(), 4);
    out.iter().map(|o| o[0].to_host::<f32>().unwrap()).collect()
}

fn single_gradient() -> Vec<f32> {
    let client = cpu_client(1);
    let exe = compile(&client, GRAD_SINGLE);
    let (x, y, w) = data();
    let dev = client.device(0).unwrap();
    let args = [
        client.buffer_from_host(&x, &[8, 3], &dev).unwrap(),
        client.buffer_from_host(&y, &[8], &dev).unwrap(),
        client.buffer_from_host(&w, &[3], &dev).unwrap(),
    ];
    exe.execute(&args.iter().collect::<Vec<_>>(), &[]).unwrap()[0].to_host().unwrap()
}

fn assert_close(sharded: &[Vec<f32>], single: &[f32]) {
    for (d, g) in sharded.iter().enumerate() {
        for (a, b) in g.iter().zip(single) {
            // Only the order of the batch reduction differs.
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "device {d}: {g:?} vs {single:?}");
        }
    }
}

#[test]
fn gspmd_batch_sharded_gradient_equals_single_device() {
    assert_close(&sharded_gradient(&grad_gspmd(), false), &single_gradient());
}

#[test]
fn shardy_batch_sharded_gradient_equals_single_device() {
    assert_close(&sharded_gradient(&grad_shardy(), true), &single_gradient());
}

/// Chained steps whose inputs are the previous step's outputs, with the parameter donated: the
/// shape of a training loop. On the CPU plugin this deadlocked in the all-reduce rendezvous
/// within a few steps before `execute_sharded` waited for its inputs (XLA aborts the process
/// after 40 s in that case, so the failure is loud, not a hang).
#[test]
fn chained_multi_device_steps_run_to_completion() {
    let text = r#"module @chain attributes {mhlo.num_partitions = 4 : i32} {
  sdy.mesh @mesh = <["data"=4]>
  func.func public @main(%w: tensor<64xf32> {tf.aliasing_output = 0 : i32, sdy.sharding = #sdy.sharding<@mesh, [{}]>}, %x: tensor<4096x64xf32> {sdy.sharding = #sdy.sharding<@mesh, [{"data"}, {}]>}) -> (tensor<64xf32> {sdy.sharding = #sdy.sharding<@mesh, [{}]>}) {
    %p = stablehlo.dot_general %x, %w, contracting_dims = [1] x [0] : (tensor<4096x64xf32>, tensor<64xf32>) -> tensor<4096xf32>
    %g = stablehlo.dot_general %x, %p, contracting_dims = [0] x [0] : (tensor<4096x64xf32>, tensor<4096xf32>) -> tensor<64xf32>
    %c = stablehlo.constant dense<1.0e-6> : tensor<64xf32>
    %s = stablehlo.multiply %g, %c : tensor<64xf32>
    %w2 = stablehlo.subtract %w, %s : tensor<64xf32>
    return %w2 : tensor<64xf32>
  }
}"#;
    let client = cpu_client(4);
    let ids: Vec<i64> = client.addressable_devices().iter().map(|d| d.id().unwrap() as i64).collect();
    let exe = client.compile(&Program::text(text), &CompileOptions::spmd(&ids, true)).unwrap();
    let devices = exe.addressable_devices();
    let xs: Vec<Buffer> =
        devices.iter().map(|d| client.buffer_from_host(&vec![0.01f32; 1024 * 64], &[1024, 64], d).unwrap()).collect();
    let mut w: Vec<Buffer> =
        devices.iter().map(|d| client.buffer_from_host(&[1.0f32; 64], &[64], d).unwrap()).collect();
    for _ in 0..100 {
        let lists: Vec<Vec<&Buffer>> = w.iter().zip(&xs).map(|(w, x)| vec![w, x]).collect();
        w = exe.execute_sharded(&lists, &[0]).unwrap().into_iter().map(|mut o| o.remove(0)).collect();
    }
    // Every row of x is 0.01 * ones, so w stays a multiple of ones and all replicas agree.
    let first = w[0].to_host::<f32>().unwrap();
    assert!(first.iter().all(|&v| v == first[0] && v > 0.0 && v < 1.0), "{first:?}");
    for shard in &w[1..] {
        assert_eq!(shard.to_host::<f32>().unwrap(), first);
    }
}
