//! PJRT runtime overheads on the pinned CPU plugin: the cost of one execute call of a tiny
//! program, and host<->device transfer throughput of 64 MiB.
//!
//! `cargo bench --bench pjrt`; criterion prints time per call and GiB/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ouro_pjrt::{ClientOptions, CompileOptions, PluginChoice, Program, open_client};

// The allocator the `ouro` binary runs with (see `ouro_pjrt::host_allocator`).
#[cfg(target_os = "linux")]
#[global_allocator]
static GLOBAL: ouro_pjrt::host_allocator::HostAllocator = ouro_pjrt::host_allocator::HostAllocator;

const TINY: &str = "func.func public @main(%x: tensor<f32>) -> tensor<f32> {
  %one = stablehlo.constant dense<1.0> : tensor<f32>
  %y = stablehlo.add %x, %one : tensor<f32>
  return %y : tensor<f32>
}";

fn runtime(c: &mut Criterion) {
    let client = open_client(&PluginChoice::Default, ClientOptions::new().cpu_device_count(1)).expect("CPU plugin");
    let device = client.device(0).unwrap();

    let exe = client.compile(&Program::text(TINY), &CompileOptions::single_device()).unwrap();
    let x = client.buffer_from_host(&[1.0f32], &[], &device).unwrap();
    let mut group = c.benchmark_group("execute");
    group.bench_function("tiny_program_until_ready", |b| {
        b.iter(|| {
            let out = exe.execute(&[&x], &[]).unwrap();
            out[0].block_until_ready().unwrap();
        })
    });
    group.bench_function("tiny_program_dispatch_only", |b| b.iter(|| exe.execute(&[&x], &[]).unwrap()));
    group.finish();

    const BYTES: usize = 64 << 20;
    let host: Vec<f32> = (0..BYTES / 4).map(|i| i as f32).collect();
    let dims = [(BYTES / 4) as i64];
    let mut group = c.benchmark_group("transfer_64MiB");
    group.throughput(Throughput::Bytes(BYTES as u64)).sample_size(20);
    group.bench_function("host_to_device", |b| {
        b.iter(|| {
            let buffer = client.buffer_from_host(&host, &dims, &device).unwrap();
            buffer.block_until_ready().unwrap();
            buffer
        })
    });
    let on_device = client.buffer_from_host(&host, &dims, &device).unwrap();
    let mut back = vec![0f32; BYTES / 4];
    group.bench_function("device_to_host", |b| b.iter(|| on_device.to_host_into(&mut back).unwrap()));
    group.finish();
}

criterion_group!(benches, runtime);
criterion_main!(benches);
