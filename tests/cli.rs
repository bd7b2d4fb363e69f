//! The `ouro` binary end to end on the pinned CPU plugin.

use std::process::Command;

fn ouro(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ouro")).args(args).output().expect("run ouro");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn smoke_trains_on_four_cpu_devices_and_matches_one() {
    let (ok, stdout, stderr) = ouro(&["smoke", "--devices", "4", "--steps", "30"]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("4 devices") && stdout.trim_end().ends_with("ok"), "{stdout}");
}

#[test]
fn info_lists_the_requested_cpu_devices() {
    let (ok, stdout, stderr) = ouro(&["info", "--devices", "4"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("PJRT API    0.") && stdout.contains("4 addressable of 4"), "{stdout}");
    assert!(stdout.contains("stablehlo_current_version"), "{stdout}");
}

#[test]
fn a_missing_plugin_is_a_clear_error_not_a_crash() {
    let (ok, _, stderr) = ouro(&["info", "--plugin", "/nonexistent/libpjrt.so"]);
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/libpjrt.so") && stderr.contains("OURO_PJRT_PLUGIN"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_indivisible_batch_is_refused() {
    let (ok, _, stderr) = ouro(&["smoke", "--devices", "3", "--batch", "100"]);
    assert!(!ok);
    assert!(stderr.contains("not divisible"), "{stderr}");
}
