//! Donation, executable serialization, and buffer lifetimes on the pinned CPU plugin.

mod common;

use common::{compile, cpu_client};
use ouro_pjrt::{Error, Program};

/// `p - 0.5 * g`, with the parameter aliased to the result so a donated `p` is updated in place.
const SGD_STEP: &str = r#"module @sgd_step {
  func.func public @main(%p: tensor<1024x1024xf32> {tf.aliasing_output = 0 : i32}, %g: tensor<1024x1024xf32>) -> tensor<1024x1024xf32> {
    %half = stablehlo.constant dense<5.000000e-01> : tensor<1024x1024xf32>
    %s = stablehlo.multiply %g, %half : tensor<1024x1024xf32>
    %r = stablehlo.subtract %p, %s : tensor<1024x1024xf32>
    return %r : tensor<1024x1024xf32>
  }
}"#;

#[test]
fn a_donated_argument_is_reused_for_the_result_and_invalid_afterwards() {
    let client = cpu_client(1);
    let exe = compile(&client, SGD_STEP);
    let dev = client.device(0).unwrap();
    let n = 1024 * 1024;
    let p = client.buffer_from_host(&vec![1.0f32; n], &[1024, 1024], &dev).unwrap();
    let g = client.buffer_from_host(&vec![2.0f32; n], &[1024, 1024], &dev).unwrap();
    let p_address = p.unsafe_pointer().unwrap();

    let out = exe.execute(&[&p, &g], &[0]).unwrap();
    assert!(p.is_deleted(), "the donated parameter is consumed");
    assert_eq!(out[0].unsafe_pointer().unwrap(), p_address, "the result lives in the donated memory");
    assert!(out[0].to_host::<f32>().unwrap().iter().all(|&v| v == 0.0));
    assert!(!g.is_deleted(), "a kept argument stays valid");

    // Every later use of the donated buffer is a clean error, never a crash.
    let err = p.to_host::<f32>().unwrap_err();
    assert!(matches!(err, Error::BufferDeleted { .. }), "{err}");
    assert!(err.to_string().contains("donated"), "{err}");
    let err = exe.execute(&[&p, &g], &[]).unwrap_err();
    assert!(matches!(err, Error::BufferDeleted { .. }), "{err}");
}

#[test]
fn an_aliased_argument_that_is_not_donated_stays_intact() {
    let client = cpu_client(1);
    let exe = compile(&client, SGD_STEP);
    let dev = client.device(0).unwrap();
    let n = 1024 * 1024;
    let p = client.buffer_from_host(&vec![1.0f32; n], &[1024, 1024], &dev).unwrap();
    let g = client.buffer_from_host(&vec![2.0f32; n], &[1024, 1024], &dev).unwrap();
    let out = exe.execute(&[&p, &g], &[]).unwrap();
    assert_ne!(out[0].unsafe_pointer().unwrap(), p.unsafe_pointer().unwrap());
    assert!(p.to_host::<f32>().unwrap().iter().all(|&v| v == 1.0));
}

#[test]
fn donating_a_buffer_also_passed_elsewhere_is_refused() {
    let client = cpu_client(1);
    let exe = compile(&client, SGD_STEP);
    let dev = client.device(0).unwrap();
    let p = client.buffer_from_host(&vec![1.0f32; 1 << 20], &[1024, 1024], &dev).unwrap();
    let err = exe.execute(&[&p, &p], &[0]).unwrap_err();
    assert!(err.to_string().contains("also passed as argument 1"), "{err}");
    let err = exe.execute(&[&p, &p], &[2]).unwrap_err();
    assert!(err.to_string().contains("cannot donate argument 2"), "{err}");
    assert!(!p.is_deleted());
}

#[test]
fn serialized_executables_run_identically_in_a_fresh_client() {
    let text = r#"module @mixed {
  func.func public @main(%x: tensor<16x16xbf16>, %y: tensor<16xf32>) -> (tensor<16xf32>, tensor<16x16xbf16>) {
    %d = stablehlo.dot_general %x, %y, contracting_dims = [1] x [0] : (tensor<16x16xbf16>, tensor<16xf32>) -> tensor<16xf32>
    %t = stablehlo.tanh %d : tensor<16xf32>
    %e = stablehlo.exponential %x : tensor<16x16xbf16>
    return %t, %e : tensor<16xf32>, tensor<16x16xbf16>
  }
}"#;
    let x: Vec<half::bf16> = (0..256).map(|i| half::bf16::from_f32((i as f32 * 0.37).sin())).collect();
    let y: Vec<f32> = (0..16).map(|i| (i as f32 * 0.11).cos()).collect();
    let run = |client: &ouro_pjrt::Client, exe: &ouro_pjrt::LoadedExecutable| {
        let dev = client.device(0).unwrap();
        let bx = client.buffer_from_host(&x, &[16, 16], &dev).unwrap();
        let by = client.buffer_from_host(&y, &[16], &dev).unwrap();
        let out = exe.execute(&[&bx, &by], &[]).unwrap();
        (out[0].to_host::<f32>().unwrap(), out[1].to_host::<half::bf16>().unwrap())
    };
    let (serialized, expected) = {
        let client = cpu_client(1);
        let exe = compile(&client, text);
        (exe.serialize().unwrap(), run(&client, &exe))
    };
    // A new client (the first one is gone) loads the bytes and computes the same bits.
    let client = cpu_client(1);
    let exe = client.deserialize_executable(&serialized).unwrap();
    assert_eq!(exe.num_outputs(), 2);
    let got = run(&client, &exe);
    assert_eq!(
        got.0.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        expected.0.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(got.1, expected.1);

    let mut corrupt = serialized.clone();
    corrupt.truncate(serialized.len() / 2);
    let err = client.deserialize_executable(&corrupt).unwrap_err();
    assert!(err.code().is_some(), "a corrupt blob is a plugin error, not a crash: {err}");
}

#[test]
fn the_persistent_cache_serves_a_second_compile() {
    let dir = std::env::temp_dir().join(format!("ouro-compile-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let text = "func.func public @main(%x: tensor<4xf32>) -> tensor<4xf32> {\n  %y = stablehlo.negate %x : tensor<4xf32>\n  return %y : tensor<4xf32>\n}";
    for round in 0..2 {
        let client = cpu_client(1).with_compile_cache(ouro_pjrt::CompileCache::new(&dir).unwrap()).unwrap();
        let exe = client.compile(&Program::text(text), &Default::default()).unwrap();
        let cache = client.compile_cache().unwrap();
        assert_eq!((cache.hits(), cache.misses()), if round == 0 { (0, 1) } else { (1, 0) });
        let x = client.buffer_from_host(&[1.0f32, -2.0, 3.0, 0.0], &[4], &client.device(0).unwrap()).unwrap();
        assert_eq!(exe.execute(&[&x], &[]).unwrap()[0].to_host::<f32>().unwrap(), [-1.0, 2.0, -3.0, -0.0]);
        // A cached executable still checks its arguments against the program's signature.
        let bad = client.buffer_from_host(&[1i32; 4], &[4], &client.device(0).unwrap()).unwrap();
        assert!(matches!(exe.execute(&[&bad], &[]), Err(Error::ArgumentType { .. })));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn buffers_and_executables_outlive_their_client_handle() {
    let (exe, buffer) = {
        let client = cpu_client(1);
        let exe = compile(
            &client,
            "func.func public @main(%x: tensor<2xi64>) -> tensor<2xi64> {\n  %y = stablehlo.add %x, %x : tensor<2xi64>\n  return %y : tensor<2xi64>\n}",
        );
        let b = client.buffer_from_host(&[3i64, -4], &[2], &client.device(0).unwrap()).unwrap();
        (exe, b)
    };
    // The client handle is dropped; the buffer and executable keep the client alive.
    let out = exe.execute(&[&buffer], &[]).unwrap();
    assert_eq!(out[0].to_host::<i64>().unwrap(), [6, -8]);
}
