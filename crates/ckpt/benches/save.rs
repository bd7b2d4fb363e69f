//! Checkpoint throughput on local disk: one save of 512 MiB of tensors (four 128 MiB tensors,
//! so pieces and uploads run in parallel) committed under a temporary directory, and reading
//! it back with every checksum verified.
//!
//! `cargo bench -p ouro-ckpt --bench save`; criterion prints GiB/s. The target is ≥ 1 GB/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ouro_ckpt::{Layout, Retention, SaveJob, Step, TensorData, save_now};
use ouro_store::Location;

const TENSOR: usize = 128 << 20;
const TENSORS: usize = 4;

fn tensors() -> Vec<TensorData> {
    (0..TENSORS)
        .map(|k| {
            let bytes: Vec<u8> = (0..TENSOR).map(|i| (i * 31 + k) as u8).collect();
            TensorData {
                name: format!("params/w{k}"),
                dtype: "f32".into(),
                shape: vec![TENSOR / 4],
                bytes: TENSOR as u64,
                parts: vec![(0, bytes)],
            }
        })
        .collect()
}

fn throughput(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("ouro-ckpt-bench-{}", std::process::id()));
    let location = Location::local(&dir).unwrap();
    let data = tensors();
    let keep = Retention { keep_last: 1, keep_every: 0 };
    let mut group = c.benchmark_group("checkpoint_512MiB_local");
    group.throughput(Throughput::Bytes((TENSOR * TENSORS) as u64)).sample_size(10);
    let mut step = 0;
    group.bench_function("save", |b| {
        b.iter(|| {
            step += 1;
            save_now(
                &location,
                Layout::default(),
                keep,
                SaveJob { step, tensors: data.clone(), run: serde_json::Value::Null },
            )
            .unwrap()
        })
    });
    group.bench_function("load_verified", |b| {
        b.iter(|| {
            let s = Step::open(&location, step).unwrap();
            (0..TENSORS).map(|k| s.read_all(&format!("params/w{k}")).unwrap().len()).sum::<usize>()
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, throughput);
criterion_main!(benches);
