//! Checkpoint throughput: one save of 512 MiB of tensors (four 128 MiB tensors, so pieces and
//! uploads run in parallel) committed under a temporary directory, and reading it back with
//! every checksum verified.
//!
//! `cargo bench -p ouro-ckpt --bench save`; criterion prints GiB/s. The target on local disk
//! is ≥ 1 GB/s. `OURO_BENCH_CKPT_LOCATION=s3://bucket/prefix` (with the usual `AWS_*`
//! settings) measures an object store instead.

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
    let (location, name) = match std::env::var("OURO_BENCH_CKPT_LOCATION") {
        Ok(url) => (Location::open(&url).unwrap(), format!("checkpoint_512MiB_{}", url.split(':').next().unwrap())),
        Err(_) => (Location::local(&dir).unwrap(), "checkpoint_512MiB_local".to_string()),
    };
    let data = tensors();
    let keep = Retention { keep_last: 1, keep_every: 0 };
    let mut group = c.benchmark_group(name);
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
    let _ = ouro_ckpt::delete(&location, step);
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, throughput);
criterion_main!(benches);
