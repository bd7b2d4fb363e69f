//! The `ouro` binary end to end on the pinned CPU plugin.

mod common;
use common::{ouro, scratch};

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

#[test]
fn dataset_generate_build_and_info_round_trip() {
    let dir = scratch("dataset");
    let csv = dir.join("train.csv");
    let out = dir.join("sudoku4");
    let (ok, _, stderr) =
        ouro(&["dataset", "generate", "sudoku", "--size", "4", "--count", "12", "--out", csv.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let args = [
        "dataset",
        "build",
        "sudoku",
        "--size",
        "4",
        "--train-csv",
        csv.to_str().unwrap(),
        "--test-generate",
        "5",
        "--num-aug",
        "3",
        "--check",
        "--out",
        out.to_str().unwrap(),
    ];
    let (ok, _, stderr) = ouro(&args);
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) =
        ouro(&["dataset", "info", out.to_str().unwrap(), "--epochs", "10", "--global-batch-size", "4"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("train: 48 examples") && stdout.contains("seq_len 16, vocab 6") && stdout.contains("= 30"),
        "{stdout}"
    );
    // A second build into the same directory is refused unless forced.
    let (ok, _, stderr) = ouro(&args);
    assert!(!ok && stderr.contains("exists") && stderr.contains("--force"), "{stderr}");
    let mut forced = args.to_vec();
    forced.push("--force");
    assert!(ouro(&forced).0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_bad_csv_row_names_the_file_and_line() {
    let dir = scratch("badcsv");
    let csv = dir.join("bad.csv");
    std::fs::write(&csv, "source,question,answer,rating\nx,1...,1234,0\nx,12x.,1234,0\n").unwrap();
    let out = dir.join("out");
    let build_4x4 = |extra: &[&str]| {
        let mut args = vec!["dataset", "build", "sudoku", "--size", "4", "--train-csv", csv.to_str().unwrap()];
        args.extend(["--test-generate", "1", "--out", out.to_str().unwrap()]);
        args.extend(extra);
        ouro(&args)
    };
    let (ok, _, stderr) = build_4x4(&[]);
    assert!(!ok);
    assert!(stderr.contains("bad.csv:2") && stderr.contains("16"), "{stderr}");
    assert!(!out.exists(), "nothing half-written");
    // A question with two solutions, caught by --check.
    std::fs::write(&csv, "source,question,answer,rating\nx,................,1234341221434321,0\n").unwrap();
    let (ok, _, stderr) = build_4x4(&["--check"]);
    assert!(!ok && stderr.contains("bad.csv:2") && stderr.contains("more than one solution"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_tpu_plugin_that_never_initializes_is_given_up_on_every_path() {
    // A stand-in for libtpu waiting on a metadata server: it chains the TpuTopology extension
    // (so ouro takes it for libtpu, as it reads the real one) and its initialization sleeps.
    let dir = scratch("stuck-tpu");
    let source = r#"
#include <stddef.h>
#include <unistd.h>
struct ext { size_t struct_size; unsigned type; void* next; };
static struct ext tpu_topology = { sizeof(struct ext), 16, 0 };
static void* initialize(void* a) { (void)a; sleep(120); return 0; }
struct version { size_t struct_size; void* extension_start; int major_version; int minor_version; };
struct api { size_t struct_size; void* extension_start; struct version version; void* functions[5]; };
static struct api the_api = { sizeof(struct api), &tpu_topology, { sizeof(struct version), 0, 0, 117 },
    { 0, 0, 0, (void*)initialize, 0 } };
const struct api* GetPjrtApi(void) { return &the_api; }
"#;
    let c = dir.join("stuck.c");
    let so = dir.join("libtpu_stuck.so");
    std::fs::write(&c, source).unwrap();
    let built = std::process::Command::new("cc").args(["-shared", "-fPIC", "-o"]).arg(&so).arg(&c).status();
    assert!(built.expect("cc (needed to build test fixtures)").success());
    let so = so.to_str().unwrap();
    let tiny = ["compile", "--config", "configs/sudoku4-tiny.yaml", "--target", "v5e-1"];
    for args in [vec!["--plugin", so, "info"], [&["--plugin", so][..], &tiny[..]].concat()] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ouro"))
            .args(&args)
            .env("OURO_TPU_INIT_TIMEOUT", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {stderr}");
        assert!(stderr.contains("did not finish within 1 s") && stderr.contains("TPU_SKIP_MDS_QUERY"), "{stderr}");
    }
}
