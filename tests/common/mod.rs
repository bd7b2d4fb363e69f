//! Helpers of the tests that run the `ouro` binary.
// Each test binary uses some of them.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// Runs `ouro args` and returns (success, stdout, stderr).
pub fn ouro(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ouro")).args(args).output().expect("run ouro");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The step `ouro train` says it stopped after when a signal stopped it.
pub fn stopped_after(stderr: &str) -> u64 {
    stderr
        .split("stopped by a signal after step ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no stop in {stderr}"))
}

/// A fresh directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ouro-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
