//! Hand-written StableHLO programs run on the pinned XLA CPU plugin.

mod common;

use common::{compile, cpu_client};
use half::bf16;

#[test]
fn f32_dot_general_matches_the_host() {
    let client = cpu_client(1);
    let exe = compile(
        &client,
        r#"module @dot_f32 {
  func.func public @main(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
    %0 = stablehlo.dot_general %a, %b, contracting_dims = [1] x [0] : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
    return %0 : tensor<2x4xf32>
  }
}"#,
    );
    let a: Vec<f32> = (0..6).map(|i| i as f32 * 0.5 - 1.0).collect();
    let b: Vec<f32> = (0..12).map(|i| (i as f32).sin()).collect();
    let dev = client.device(0).unwrap();
    let (ba, bb) =
        (client.buffer_from_host(&a, &[2, 3], &dev).unwrap(), client.buffer_from_host(&b, &[3, 4], &dev).unwrap());
    let out = exe.execute(&[&ba, &bb], &[]).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].dims(), [2, 4]);
    let got = out[0].to_host::<f32>().unwrap();
    for i in 0..2 {
        for j in 0..4 {
            let want: f32 = (0..3).map(|k| a[i * 3 + k] * b[k * 4 + j]).sum();
            assert!((got[i * 4 + j] - want).abs() < 1e-6, "[{i},{j}] {} vs {want}", got[i * 4 + j]);
        }
    }
}

#[test]
fn bf16_dot_general_accumulates_in_f32_exactly() {
    let client = cpu_client(1);
    let exe = compile(
        &client,
        r#"module @dot_bf16 {
  func.func public @main(%a: tensor<4x8xbf16>, %b: tensor<8x2xbf16>) -> tensor<4x2xf32> {
    %0 = stablehlo.dot_general %a, %b, contracting_dims = [1] x [0] : (tensor<4x8xbf16>, tensor<8x2xbf16>) -> tensor<4x2xf32>
    return %0 : tensor<4x2xf32>
  }
}"#,
    );
    // Small multiples of 1/4 are exact in bf16, and their products sum exactly in f32.
    let a: Vec<bf16> = (0..32).map(|i| bf16::from_f32(((i % 7) as f32 - 3.0) * 0.25)).collect();
    let b: Vec<bf16> = (0..16).map(|i| bf16::from_f32(((i % 5) as f32 - 2.0) * 0.5)).collect();
    let dev = client.device(0).unwrap();
    let ba = client.buffer_from_host(&a, &[4, 8], &dev).unwrap();
    let bb = client.buffer_from_host(&b, &[8, 2], &dev).unwrap();
    let got = exe.execute(&[&ba, &bb], &[]).unwrap()[0].to_host::<f32>().unwrap();
    for i in 0..4 {
        for j in 0..2 {
            let want: f32 = (0..8).map(|k| a[i * 8 + k].to_f32() * b[k * 2 + j].to_f32()).sum();
            assert_eq!(got[i * 2 + j], want, "[{i},{j}]");
        }
    }
}

#[test]
fn while_loop_counts_and_accumulates() {
    let client = cpu_client(1);
    let exe = compile(
        &client,
        r#"module @count {
  func.func public @main(%n: tensor<i32>) -> (tensor<i32>, tensor<f32>) {
    %c0 = stablehlo.constant dense<0> : tensor<i32>
    %f0 = stablehlo.constant dense<0.0> : tensor<f32>
    %r:2 = stablehlo.while(%i = %c0, %acc = %f0) : tensor<i32>, tensor<f32>
    cond {
      %lt = stablehlo.compare LT, %i, %n : (tensor<i32>, tensor<i32>) -> tensor<i1>
      stablehlo.return %lt : tensor<i1>
    } do {
      %one = stablehlo.constant dense<1> : tensor<i32>
      %i1 = stablehlo.add %i, %one : tensor<i32>
      %fi = stablehlo.convert %i1 : (tensor<i32>) -> tensor<f32>
      %acc1 = stablehlo.add %acc, %fi : tensor<f32>
      stablehlo.return %i1, %acc1 : tensor<i32>, tensor<f32>
    }
    return %r#0, %r#1 : tensor<i32>, tensor<f32>
  }
}"#,
    );
    let n = client.buffer_from_host(&[10i32], &[], &client.device(0).unwrap()).unwrap();
    let out = exe.execute(&[&n], &[]).unwrap();
    assert_eq!(out[0].to_host::<i32>().unwrap(), [10]);
    assert_eq!(out[1].to_host::<f32>().unwrap(), [55.0]);
}

/// Portable StableHLO bytecode as `jax.export` writes it (fixtures/make_bytecode.py).
#[test]
fn jax_exported_bytecode_compiles_and_runs() {
    let client = cpu_client(1);
    let bytes = include_bytes!("fixtures/sin_times_two.mlirbc").to_vec();
    let exe = client
        .compile(&ouro_pjrt::Program::StableHloBytecode(bytes), &ouro_pjrt::CompileOptions::single_device())
        .unwrap();
    let x = [0.0f32, 0.5, -1.25];
    let bx = client.buffer_from_host(&x, &[3], &client.device(0).unwrap()).unwrap();
    let got = exe.execute(&[&bx], &[]).unwrap()[0].to_host::<f32>().unwrap();
    for (g, x) in got.iter().zip(x) {
        assert!((g - 2.0 * x.sin()).abs() < 1e-6, "{g} vs {}", 2.0 * x.sin());
    }
}

/// Every dtype ouro moves goes to the device and back bit for bit, and through a program.
#[test]
fn every_dtype_round_trips_through_the_device() {
    use ouro_pjrt::NativeType;
    let client = cpu_client(1);
    let dev = client.device(0).unwrap();
    fn check<T: NativeType + PartialEq + std::fmt::Debug>(
        client: &ouro_pjrt::Client,
        dev: &ouro_pjrt::Device,
        data: &[T],
    ) {
        let name = T::ELEMENT_TYPE.stablehlo_name();
        let b = client.buffer_from_host(data, &[2, 2], dev).unwrap();
        assert_eq!(b.element_type(), T::ELEMENT_TYPE);
        assert_eq!(b.to_host::<T>().unwrap(), data, "{name}");
        // The transpose swaps the middle two elements.
        let text = format!(
            "func.func public @main(%x: tensor<2x2x{name}>) -> tensor<2x2x{name}> {{\n  %y = stablehlo.transpose %x, dims = [1, 0] : (tensor<2x2x{name}>) -> tensor<2x2x{name}>\n  return %y : tensor<2x2x{name}>\n}}"
        );
        let out = compile(client, &text).execute(&[&b], &[]).unwrap();
        assert_eq!(out[0].to_host::<T>().unwrap(), [data[0], data[2], data[1], data[3]], "{name}");
    }
    check(&client, &dev, &[1.5f32, -2.0, f32::MAX, f32::MIN_POSITIVE]);
    check(&client, &dev, &[1.5f64, -2.0, 1e300, -1e-300]);
    check(
        &client,
        &dev,
        &[half::bf16::from_f32(1.5), half::bf16::from_f32(-3.0), half::bf16::MAX, half::bf16::MIN_POSITIVE],
    );
    check(&client, &dev, &[half::f16::from_f32(0.25), half::f16::from_f32(-8.0), half::f16::MAX, half::f16::EPSILON]);
    check(&client, &dev, &[1i32, -2, i32::MAX, i32::MIN]);
    check(&client, &dev, &[1i64, -2, i64::MAX, i64::MIN]);
    check(&client, &dev, &[1u32, 2, u32::MAX, 0]);
    check(&client, &dev, &[1u8, 2, 255, 0]);
    let preds = [true, false, false, true];
    let b = client.buffer_from_pred(&preds, &[2, 2], &dev).unwrap();
    assert_eq!(b.to_host_pred().unwrap(), preds);
    let not = compile(
        &client,
        "func.func public @main(%x: tensor<2x2xi1>) -> tensor<2x2xi1> {\n  %y = stablehlo.not %x : tensor<2x2xi1>\n  return %y : tensor<2x2xi1>\n}",
    );
    assert_eq!(not.execute(&[&b], &[]).unwrap()[0].to_host_pred().unwrap(), [false, true, true, false]);
}
