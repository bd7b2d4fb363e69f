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
