//! The runtime's jit: compile caching, donation, results on device, and SPMD sharding through
//! Shardy and GSPMD on 4 CPU devices.

use std::sync::Arc;

use ouro::ir::lowering::ShardingMode;
use ouro::ir::{DType, HostArray, Mesh, OutputAttrs, ParamAttrs, Sharding, TensorType, Tracer};
use ouro::lower::LowerOptions;
use ouro::pjrt::Buffer;
use ouro::runtime::{Runtime, to_device, to_host};

fn step_func(sharded: bool) -> ouro::ir::Func {
    // w <- w - 0.1 * x^T (x w - y) / 16, with x and y split over the batch.
    let tr = Tracer::new("sgd");
    let batch = |rank| if sharded { Some(Sharding::split(rank, 0, "data")) } else { None };
    let replicated = |rank| if sharded { Some(Sharding::replicated(rank)) } else { None };
    let w = tr.param_with(
        ParamAttrs { name: "w".into(), sharding: replicated(1), donate: true },
        TensorType::new(DType::F32, &[3]),
    );
    let x = tr.param_with(
        ParamAttrs { name: "x".into(), sharding: batch(2), donate: false },
        TensorType::new(DType::F32, &[16, 3]),
    );
    let y = tr.param_with(
        ParamAttrs { name: "y".into(), sharding: batch(1), donate: false },
        TensorType::new(DType::F32, &[16]),
    );
    let r = x.matmul(w) - y;
    let g = x.transpose(&[1, 0]).matmul(r) / 16.0;
    let next = w - g * 0.1;
    tr.finish_with(&[next], vec![OutputAttrs { name: "w".into(), sharding: replicated(1) }]).unwrap()
}

fn data() -> (HostArray, HostArray, HostArray) {
    let x: Vec<f64> = (0..48).map(|i| ((i * 7 % 13) as f64 - 6.0) / 5.0).collect();
    let y: Vec<f64> = (0..16).map(|i| (i as f64 * 0.3).sin()).collect();
    (
        HostArray::from_f64(DType::F32, &[3], &[0.1, -0.2, 0.3]),
        HostArray::from_f64(DType::F32, &[16, 3], &x),
        HostArray::from_f64(DType::F32, &[16], &y),
    )
}

#[test]
fn compiled_functions_are_cached_by_their_text() {
    let runtime = Runtime::open_default(1).unwrap();
    let a = runtime.compile(&step_func(false), &LowerOptions::default()).unwrap();
    let b = runtime.compile(&step_func(false), &LowerOptions::default()).unwrap();
    assert!(Arc::ptr_eq(&a, &b), "the second compile of the same program is a cache hit");
    assert_eq!(a.donated(), [0]);
    assert_eq!(a.lowered().aliases, [(0, 0)]);
}

#[test]
fn a_donated_parameter_is_updated_in_place_and_consumed() {
    let runtime = Runtime::open_default(1).unwrap();
    let exe = runtime.compile(&step_func(false), &LowerOptions::default()).unwrap();
    let (w, x, y) = data();
    let dev = runtime.client().device(0).unwrap();
    let (w, x, y) = (
        to_device(runtime.client(), &w, &dev).unwrap(),
        to_device(runtime.client(), &x, &dev).unwrap(),
        to_device(runtime.client(), &y, &dev).unwrap(),
    );
    let address = w.unsafe_pointer().unwrap();
    let out = exe.run(&[&w, &x, &y]).unwrap();
    assert!(w.is_deleted());
    assert_eq!(out[0].unsafe_pointer().unwrap(), address);
    assert!(exe.run(&[&w, &x, &y]).is_err(), "the donated buffer cannot be used again");
}

fn run_sharded(mode: ShardingMode) -> Vec<Vec<f64>> {
    let runtime = Runtime::open_default(4).unwrap();
    let exe = runtime.compile(&step_func(true), &LowerOptions { sharding: mode, ..LowerOptions::default() }).unwrap();
    assert_eq!(exe.loaded().num_partitions(), 4);
    let (w, x, y) = data();
    let client = runtime.client();
    let (xv, yv) = (x.to_f64_vec(), y.to_f64_vec());
    // Each device receives its quarter of the batch directly.
    let mut args: Vec<Vec<Buffer>> = Vec::new();
    for (d, dev) in exe.loaded().addressable_devices().iter().enumerate() {
        let xs = HostArray::from_f64(DType::F32, &[4, 3], &xv[d * 12..(d + 1) * 12]);
        let ys = HostArray::from_f64(DType::F32, &[4], &yv[d * 4..(d + 1) * 4]);
        args.push(vec![
            to_device(client, &w, dev).unwrap(),
            to_device(client, &xs, dev).unwrap(),
            to_device(client, &ys, dev).unwrap(),
        ]);
    }
    let refs: Vec<Vec<&Buffer>> = args.iter().map(|l| l.iter().collect()).collect();
    exe.run_sharded(&refs).unwrap().iter().map(|o| to_host(&o[0]).unwrap().to_f64_vec()).collect()
}

fn single() -> Vec<f64> {
    let runtime = Runtime::open_default(1).unwrap();
    let exe = runtime.compile(&step_func(false), &LowerOptions::default()).unwrap();
    let (w, x, y) = data();
    exe.run_host(runtime.client(), &[w, x, y]).unwrap()[0].to_f64_vec()
}

#[test]
fn shardy_and_gspmd_partitioned_steps_equal_the_single_device_step() {
    let want = single();
    for mode in [ShardingMode::Shardy(Mesh::new("data", 4)), ShardingMode::Gspmd(Mesh::new("data", 4))] {
        for got in run_sharded(mode.clone()) {
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-6, "{mode:?}: {got:?} vs {want:?}");
            }
        }
    }
}

#[test]
fn a_program_partitioned_over_more_devices_than_the_client_has_is_refused() {
    let runtime = Runtime::open_default(2).unwrap();
    let err = runtime
        .compile(
            &step_func(true),
            &LowerOptions { sharding: ShardingMode::Shardy(Mesh::new("data", 4)), ..LowerOptions::default() },
        )
        .unwrap_err();
    assert!(err.to_string().contains("4 devices but the client has 2"), "{err}");
}

#[test]
fn the_same_program_lowers_to_byte_identical_text() {
    let a = ouro::lower::lower(
        &step_func(true),
        &LowerOptions { sharding: ShardingMode::Shardy(Mesh::new("data", 4)), ..LowerOptions::default() },
    )
    .unwrap();
    let b = ouro::lower::lower(
        &step_func(true),
        &LowerOptions { sharding: ShardingMode::Shardy(Mesh::new("data", 4)), ..LowerOptions::default() },
    )
    .unwrap();
    assert_eq!(a.text, b.text);
    assert!(
        a.text.contains("sdy.mesh @mesh = <[\"data\"=4]>") && a.text.contains("tf.aliasing_output = 0 : i32"),
        "{}",
        a.text
    );
}

#[test]
fn matmul_precision_is_written_on_every_dot_and_the_cpu_computes_the_same() {
    use ouro::ir::lowering::MatmulPrecision;
    let runtime = Runtime::open_default(1).unwrap();
    let (w, x, y) = data();
    let mut results = Vec::new();
    for (precision, written) in [
        (MatmulPrecision::Default, None),
        (MatmulPrecision::High, Some("precision = [HIGH, HIGH]")),
        (MatmulPrecision::Highest, Some("precision = [HIGHEST, HIGHEST]")),
    ] {
        let options = LowerOptions { matmul_precision: precision, ..LowerOptions::default() };
        let lowered = ouro::lower::lower(&step_func(false), &options).unwrap();
        let dots = lowered.text.matches("stablehlo.dot_general").count();
        assert_eq!(dots, 2, "{}", lowered.text);
        match written {
            Some(attr) => assert_eq!(lowered.text.matches(attr).count(), dots, "{}", lowered.text),
            None => assert!(!lowered.text.contains("precision"), "{}", lowered.text),
        }
        let exe = runtime.compile(&step_func(false), &options).unwrap();
        results.push(exe.run_host(runtime.client(), &[w.clone(), x.clone(), y.clone()]).unwrap()[0].to_f64_vec());
    }
    assert!(results.windows(2).all(|r| r[0] == r[1]), "{results:?}");
}
