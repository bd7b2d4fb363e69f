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
    // Generated test puzzles are held out from the training examples.
    assert!(stderr.contains("train 48, test 5; 0 test examples are also training examples"), "{stderr}");
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
    // An imported test set is counted: the training CSV as its own test set overlaps in full.
    let mut own = forced.clone();
    own[7] = "--test-csv";
    own[8] = csv.to_str().unwrap();
    let (ok, _, stderr) = ouro(&own);
    assert!(ok && stderr.contains("test 12; 12 test examples are also training examples"), "{stderr}");
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

#[test]
fn sizes_beyond_the_machine_are_refused_with_the_estimate_before_anything_is_allocated() {
    let dir = scratch("sizes");
    let out = dir.join("out");
    let build = |num_aug: &str| {
        let out = out.to_str().unwrap();
        ouro(&[
            "dataset",
            "build",
            "sudoku",
            "--size",
            "9",
            "--generate",
            "1",
            "--test-generate",
            "1",
            "--num-aug",
            num_aug,
            "--out",
            out,
        ])
    };
    let (ok, _, stderr) = build("10000000000");
    assert!(!ok && stderr.contains("1.000e10 examples") && stderr.contains("int32"), "{stderr}");
    // 2·10^9 examples of 81 cells: ~620 GiB, more than a test machine has.
    let (ok, _, stderr) = build("2000000000");
    assert!(!ok && stderr.contains("GiB of memory to build, more than the"), "{stderr}");
    assert!(!out.exists(), "nothing written");
    let csv = dir.join("x.csv");
    let (ok, _, stderr) = ouro(&[
        "dataset",
        "generate",
        "sudoku",
        "--size",
        "4",
        "--count",
        "100000000000",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("TiB of memory to build") && !csv.exists(), "{stderr}");
    let arc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/data/tests/fixtures/arc-agi/arc-agi");
    let (ok, _, stderr) = ouro(&[
        "dataset",
        "build",
        "arc",
        "--input-prefix",
        arc.to_str().unwrap(),
        "--num-aug",
        "100000000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("at most 2903040 distinct augmentations"), "{stderr}");
    // A model ten billion wide is refused before its tables are built.
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/sudoku4-tiny.yaml");
    let data = format!("data_paths=[{}]", dir.join("data").display());
    let run = dir.join("run");
    let train = |arch: &[&str]| {
        let mut args = vec!["train", "--config", config.to_str().unwrap(), "--run-dir", run.to_str().unwrap(), &data];
        args.extend(arch);
        ouro(&args)
    };
    let (ok, _, stderr) = train(&["arch.hidden_size=10000000000"]);
    assert!(!ok && stderr.contains("elements, beyond the") && stderr.contains("arch.hidden_size"), "{stderr}");
    // Wide enough to index, too wide for a device: refused with the estimate and the limit.
    let (ok, _, stderr) = train(&["arch.hidden_size=1048576", "arch.num_heads=1"]);
    assert!(
        !ok && stderr.contains("the training state alone needs at least") && stderr.contains("more than the"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn credentials_in_a_url_are_refused_and_never_echoed() {
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/sudoku4-tiny.yaml");
    let secret = "s3cr3tKEYvalue/abc+d";
    let url = format!("s3://AKIAEXAMPLE:{secret}@bucket/runs/x");
    let location = format!("checkpoint.location={url}");
    let tries: [Vec<&str>; 3] = [
        vec!["train", "--config", config.to_str().unwrap(), "--print-config", &location],
        vec!["ckpt", "ls", &url],
        vec!["run", "tiny_h16", "--dry-run", "--output-root", &url],
    ];
    for args in tries {
        let (ok, stdout, stderr) = ouro(&args);
        assert!(!ok, "{args:?}: {stdout}");
        assert!(
            stderr.contains("s3://***@bucket/runs/x") && stderr.contains("AWS_ACCESS_KEY_ID"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains(secret) && !stdout.contains(secret), "{args:?}: {stderr}");
    }
}

#[test]
fn failures_around_a_run_say_what_and_where() {
    let dir = scratch("messages");
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/sudoku4-tiny.yaml");
    let data = format!("data_paths=[{}]", dir.join("data").display());
    let train = |run: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["train", "--config", config.to_str().unwrap(), "--run-dir", run.to_str().unwrap(), &data];
        args.extend(["--max-steps", "2", "checkpoint.every_steps=1"]);
        args.extend(extra);
        ouro(&args)
    };
    // A full disk (/dev/full answers every write with ENOSPC) names the file.
    let full = dir.join("full");
    std::fs::create_dir_all(&full).unwrap();
    std::os::unix::fs::symlink("/dev/full", full.join("config.yaml")).unwrap();
    let (ok, _, stderr) = train(&full, &[]);
    assert!(!ok && stderr.contains("full/config.yaml") && stderr.contains("No space left"), "{stderr}");
    // A checkpoint location that is a file.
    let file = dir.join("a-file");
    std::fs::write(&file, "").unwrap();
    let location = format!("checkpoint.location={}", file.display());
    let (ok, _, stderr) = train(&dir.join("run-file"), &[&location]);
    assert!(!ok && stderr.contains("a-file: is a file, not a directory"), "{stderr}");
    // Each cause once.
    assert_eq!(stderr.matches("is a file").count(), 1, "{stderr}");
    // A committed step whose manifest no longer parses is listed as damaged, not committed.
    let run = dir.join("run");
    let (ok, _, stderr) = train(&run, &[]);
    assert!(ok, "{stderr}");
    std::fs::write(run.join("checkpoints/step_2/manifest.json"), "{ not json").unwrap();
    let (ok, stdout, stderr) = ouro(&["ckpt", "ls", run.join("checkpoints").to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let line = |step: &str| stdout.lines().find(|l| l.starts_with(step)).unwrap_or("").to_string();
    assert!(line("step_1 ").ends_with("committed"), "{stdout}");
    assert!(line("step_2 ").contains("damaged") && line("step_2 ").contains("manifest.json"), "{stdout}");
    std::fs::remove_dir_all(dir).unwrap();
}
