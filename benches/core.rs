//! The compiler core's own cost: trace + reverse-mode autodiff + StableHLO lowering of a
//! ~50,000-equation training step (a deep residual MLP with its backward pass). Target: under
//! 0.5 s on a 2-core machine, far below XLA's compile of the same program.
//!
//! `cargo bench --bench core`

use criterion::{Criterion, criterion_group, criterion_main};
use ouro_autodiff::grad;
use ouro_ir::{DType, Func, Named, Tensor, TensorType, Tracer};
use ouro_lower::{LowerOptions, lower};

/// A residual block stack and its gradient with respect to every weight.
fn train_step(blocks: usize) -> Func {
    let tr = Tracer::new("deep_mlp");
    let x = tr.param("x", TensorType::new(DType::F32, &[32, 64]));
    let mut params = Named::new();
    for i in 0..blocks {
        params.push(format!("w{i}"), tr.param(&format!("w{i}"), TensorType::new(DType::F32, &[64, 64])));
        params.push(format!("b{i}"), tr.param(&format!("b{i}"), TensorType::new(DType::F32, &[64])));
    }
    let mut h = x;
    for i in 0..blocks {
        let _s = tr.scope(&format!("block{i}"));
        let (w, b) = (*params.get(&format!("w{i}")).unwrap(), *params.get(&format!("b{i}")).unwrap());
        let z = (h.matmul(w) + b).tanh();
        h = h + z * 0.5;
    }
    let loss = h.square().sum_all() / 2048.0;
    let grads: Named<Tensor<'_>> = grad(loss, &params);
    let mut outputs = vec![loss];
    outputs.extend(grads.iter().map(|(_, g)| *g));
    tr.finish(&outputs).expect("traces")
}

fn core(c: &mut Criterion) {
    let blocks = 2630;
    let func = train_step(blocks);
    let eqns = func.total_eqns();
    let text_bytes = lower(&func, &LowerOptions::default()).unwrap().text.len();
    println!("deep_mlp: {blocks} blocks, {eqns} equations, {:.1} MB of StableHLO", text_bytes as f64 / 1e6);
    let mut group = c.benchmark_group("core");
    group.sample_size(10);
    group.bench_function(format!("trace_grad_lower_{eqns}_eqns"), |b| {
        b.iter(|| {
            let f = train_step(blocks);
            lower(&f, &LowerOptions::default()).unwrap().text.len()
        })
    });
    group.bench_function("trace_grad_only", |b| b.iter(|| train_step(blocks).eqns.len()));
    group.bench_function("lower_only", |b| b.iter(|| lower(&func, &LowerOptions::default()).unwrap().text.len()));
    group.finish();
}

criterion_group!(benches, core);
criterion_main!(benches);
