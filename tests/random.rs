//! Random sampling on the CPU plugin: statistics of each sampler, bounds, and key handling.

use ouro::ir::random::{bernoulli, bits, fold_in, key, normal, nth, randint, split, truncated_normal, uniform};
use ouro::ir::{DType, HostArray};
use ouro::runtime::Runtime;

fn sample(f: impl for<'t> Fn(&'t ouro::ir::Tracer) -> Vec<ouro::ir::Tensor<'t>>) -> Vec<HostArray> {
    let runtime = Runtime::open_default(1).unwrap();
    let exe = runtime.jit("sample", f).unwrap();
    exe.run_host(runtime.client(), &[]).unwrap()
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (m, v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n)
}

#[test]
fn samplers_have_their_distributions() {
    const N: usize = 20_000;
    let out = sample(|tr| {
        let k = split(key(tr, 42), 6);
        vec![
            uniform(nth(k, 0), &[N], DType::F32, -1.0, 3.0),
            normal(nth(k, 1), &[N], DType::F32),
            truncated_normal(nth(k, 2), -2.0, 2.0, &[N], DType::F32),
            bernoulli(nth(k, 3), 0.3, &[N]).cast(DType::F32),
            randint(nth(k, 4), &[N], 2, 17),
            uniform(nth(k, 5), &[N], DType::F64, 0.0, 1.0),
        ]
    });
    let v: Vec<Vec<f64>> = out.iter().map(HostArray::to_f64_vec).collect();
    let (m, var) = mean_var(&v[0]);
    assert!((m - 1.0).abs() < 0.05 && (var - 16.0 / 12.0).abs() < 0.05, "uniform(-1, 3): mean {m}, var {var}");
    assert!(v[0].iter().all(|&x| (-1.0..3.0).contains(&x)));
    let (m, var) = mean_var(&v[1]);
    assert!(m.abs() < 0.03 && (var - 1.0).abs() < 0.04, "normal: mean {m}, var {var}");
    let (m, var) = mean_var(&v[2]);
    // The variance of a standard normal truncated to [-2, 2] is 0.7737.
    assert!(m.abs() < 0.03 && (var - 0.7737).abs() < 0.03, "truncated normal: mean {m}, var {var}");
    assert!(v[2].iter().all(|&x| (-2.0..=2.0).contains(&x)));
    let (m, _) = mean_var(&v[3]);
    assert!((m - 0.3).abs() < 0.02, "bernoulli(0.3): rate {m}");
    assert!(v[4].iter().all(|&x| (2.0..17.0).contains(&x) && x.fract() == 0.0));
    let (m, _) = mean_var(&v[4]);
    assert!((m - 9.0).abs() < 0.15, "randint(2, 17): mean {m}");
    let (m, var) = mean_var(&v[5]);
    assert!((m - 0.5).abs() < 0.01 && (var - 1.0 / 12.0).abs() < 0.005, "uniform f64: mean {m}, var {var}");
}

#[test]
fn keys_are_deterministic_and_independent() {
    let out = sample(|tr| {
        let k = key(tr, 7);
        let step = tr.scalar(3.0, DType::U32);
        vec![
            bits(k, &[8]),
            bits(k, &[8]),
            bits(nth(split(k, 2), 0), &[8]),
            bits(nth(split(k, 2), 1), &[8]),
            bits(fold_in(k, step), &[8]),
        ]
    });
    let v: Vec<Vec<i64>> = out.iter().map(HostArray::to_i64_vec).collect();
    assert_eq!(v[0], v[1], "the same key gives the same bits");
    assert_ne!(v[0], v[2]);
    assert_ne!(v[2], v[3], "split keys differ");
    assert_ne!(v[0], v[4], "fold_in changes the key");
}

#[test]
fn the_plugin_and_the_interpreter_draw_the_same_bits() {
    let tr = ouro::ir::Tracer::new("bits");
    let k = key(&tr, 123);
    let b = bits(nth(split(k, 3), 2), &[5, 3]);
    let f = tr.finish(&[b]).unwrap();
    let runtime = Runtime::open_default(1).unwrap();
    let on_plugin = runtime.compile(&f, &Default::default()).unwrap().run_host(runtime.client(), &[]).unwrap();
    assert_eq!(on_plugin, ouro::ir::interp::eval(&f, &[]).unwrap());
}
