//! 2,000 compile/execute/transfer cycles must not grow resident memory by more than 50 MB.
//! In its own test binary so no other test allocates while it measures.

mod common;

use common::cpu_client;
use ouro_pjrt::{CompileOptions, Program};

/// Resident set size of this process in bytes, from /proc.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn cycle(client: &ouro_pjrt::Client, i: usize) {
    // A different constant each time, so every compile is a real one.
    let text = format!(
        "func.func public @main(%x: tensor<64x64xf32>) -> tensor<64x64xf32> {{\n  %c = stablehlo.constant dense<{i}.0> : tensor<64x64xf32>\n  %y = stablehlo.add %x, %c : tensor<64x64xf32>\n  %z = stablehlo.tanh %y : tensor<64x64xf32>\n  return %z : tensor<64x64xf32>\n}}"
    );
    let exe = client.compile(&Program::text(text), &CompileOptions::single_device()).unwrap();
    let x = client.buffer_from_host(&vec![0.25f32; 64 * 64], &[64, 64], &client.device(0).unwrap()).unwrap();
    let out = exe.execute(&[&x], &[]).unwrap();
    let host = out[0].to_host::<f32>().unwrap();
    assert_eq!(host.len(), 64 * 64);
    assert!((host[0] - (i as f32 + 0.25).tanh()).abs() < 1e-6);
}

#[test]
fn two_thousand_cycles_keep_resident_memory_flat() {
    let client = cpu_client(1);
    // Warm-up: the plugin's caches and thread pools reach their steady size.
    for i in 0..100 {
        cycle(&client, i);
    }
    let before = resident_bytes();
    for i in 0..2000 {
        cycle(&client, i);
    }
    let growth = resident_bytes().saturating_sub(before);
    eprintln!("resident memory growth over 2000 cycles: {:.1} MB", growth as f64 / 1e6);
    assert!(growth < 50_000_000, "resident memory grew by {growth} bytes over 2000 cycles");
}
