//! The accelerator plugins on a machine without the accelerators: libtpu and the CUDA plugin,
//! each version the docs name and the newest on PyPI (pinned, checksummed, fetched into the
//! cache on first use), loaded by path as a user names them, and ouro's programs compiled by
//! the TPU and GPU compilers for devices this machine does not have.
//!
//! Ignored by default (the plugins are ~400 MB of downloads on first use); CI runs them:
//! `cargo test --test accelerators -- --ignored`.

mod common;

use common::ouro;
use ouro_pjrt::plugin::{PinnedBundle, PinnedFile, PinnedWheel, Provisioner, pinned};

/// The CUDA plugin of jaxlib 0.11.2 (PJRT 0.115), the version DESIGN.md and docs/pjrt.md name
/// beside the pinned CPU plugin built from the same XLA.
const CUDA_0_11_2: PinnedBundle = PinnedBundle {
    what: "the CUDA plugin 0.11.2",
    dir: "jax-cuda13-pjrt-0.11.2",
    wheels: &[PinnedWheel {
        package: "jax-cuda13-pjrt",
        version: "0.11.2",
        wheel: "jax_cuda13_pjrt-0.11.2-py3-none-manylinux_2_27_x86_64.whl",
        wheel_sha256: "e5ff589d43064913bb74027682d89639c7ea48f9f81c2bae6fc75117e913f93e",
        files: &[PinnedFile {
            entry: "jax_plugins/xla_cuda13/xla_cuda_plugin.so",
            sha256: "43d3efd6fd43d8a5d9aa67176e830d81e4ad5fc19fda4ad09cdcc4aebd9f3920",
        }],
        wheel_mb: 134,
        pip_args: &["--python-version", "3.12", "--platform", "manylinux_2_27_x86_64"],
    }],
};

fn plugin(bundle: &PinnedBundle) -> String {
    let dir = Provisioner::from_env().unwrap().fetch(bundle).unwrap();
    dir.join(bundle.main_file()).display().to_string()
}

fn json_line(stdout: &str) -> serde_json::Value {
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).expect("a JSON line");
    serde_json::from_str(line).unwrap()
}

#[test]
#[ignore = "fetches libtpu (137 MB) on first use"]
fn libtpu_by_path_shows_its_facts_and_refuses_to_run_without_a_chip() {
    let libtpu = plugin(&pinned::LIBTPU);
    let (ok, stdout, stderr) = ouro(&["--plugin", &libtpu, "info"]);
    assert!(!ok, "{stdout}");
    assert!(stdout.contains("platform    tpu"), "{stdout}");
    assert!(stdout.contains("PJRT API    0.117 (newer than the 0.114 ouro declares"), "{stdout}");
    assert!(stdout.contains("TpuTopology") && stdout.contains("stablehlo_current_version"), "{stdout}");
    assert!(stderr.contains("no TPU chip") && stderr.contains("ouro compile --target"), "{stderr}");
    // The first contact that used to fail: no CPU option ever reaches libtpu.
    assert!(!stderr.contains("cpu_device_count") && !stderr.contains("Unexpected option"), "{stderr}");
}

#[test]
#[ignore = "fetches both CUDA plugins (270 MB) on first use"]
fn the_cuda_plugins_take_their_own_options_and_say_there_is_no_gpu() {
    for (bundle, api) in [(&pinned::CUDA, "0.116"), (&CUDA_0_11_2, "0.115")] {
        let cuda = plugin(bundle);
        let options = ["--gpu-memory-fraction", "0.5", "--gpu-preallocate", "false", "--gpu-allocator", "platform"];
        let args: Vec<&str> = ["--plugin", cuda.as_str(), "info"].into_iter().chain(options).collect();
        let (ok, stdout, stderr) = ouro(&args);
        assert!(!ok, "{stdout}");
        assert!(stdout.contains("platform    gpu") && stdout.contains(&format!("PJRT API    {api}")), "{stdout}");
        assert!(stdout.contains("Gpu_Custom_Call") && stdout.contains("cuda_version"), "{stdout}");
        // Every option was accepted by name and type; what stops the client is the missing GPU.
        assert!(stderr.contains("No visible GPU devices"), "{api}: {stderr}");
        assert!(!stderr.contains("Unexpected option") && !stderr.contains("cpu_device_count"), "{stderr}");
    }
}

#[test]
#[ignore = "fetches libtpu (137 MB) on first use"]
fn the_tiny_steps_compile_for_tpu_slices_with_the_tpu_compilers_figures() {
    for (target, kind, chips, hbm_gib) in [("v5e-4", "TPU v5 lite", 4, 15.75), ("v4-8", "TPU v4", 4, 30.75)] {
        let (ok, stdout, stderr) =
            ouro(&["compile", "--config", "configs/sudoku4-tiny.yaml", "--target", target, "--json"]);
        assert!(ok, "{target}: {stdout}\n{stderr}");
        let figures = json_line(&stdout);
        assert_eq!(figures["device_kind"], kind, "{figures}");
        assert_eq!(figures["devices"], chips, "{figures}");
        assert_eq!(figures["rows_per_device"], 64 / chips, "{figures}");
        let hbm = figures["device_memory_bytes"].as_f64().unwrap() / (1u64 << 30) as f64;
        assert!((hbm - hbm_gib).abs() < 0.05, "{target}: {hbm} GiB");
        let steps = figures["steps"].as_array().unwrap();
        let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
        assert_eq!(names, ["init", "train", "eval"]);
        for step in steps {
            assert_eq!(step["fits"], true, "{step}");
            // The TPU compiler's own accounting: the donated state aliased, scratch of its own.
            assert!(step["temp_bytes"].as_f64().unwrap() > 0.0, "{step}");
            assert!(step["device_bytes"].as_f64().unwrap() < 64.0 * (1u64 << 20) as f64, "{step}");
        }
        let train = &steps[1];
        assert!(train["alias_bytes"].as_f64().unwrap() > 0.0, "the donated state is aliased: {train}");
        assert!(train["compiler_flops"].as_f64().unwrap() > 0.0 && train["bytes_accessed"].as_f64().unwrap() > 0.0);
        assert!(train["roofline_seconds"].as_f64().unwrap() > 0.0, "{train}");
    }
}

#[test]
#[ignore = "fetches the CUDA plugins and CUDA 13.0's ptxas (370 MB) on first use"]
fn the_tiny_train_step_compiles_for_eight_h100s_without_a_gpu() {
    let old = plugin(&CUDA_0_11_2);
    for plugin_args in [vec![], vec!["--plugin", old.as_str()]] {
        let mut args = plugin_args.clone();
        args.extend(["compile", "--config", "configs/sudoku4-tiny.yaml", "--target", "h100-8", "--steps", "train"]);
        args.push("--json");
        let (ok, stdout, stderr) = ouro(&args);
        assert!(ok, "{plugin_args:?}: {stdout}\n{stderr}");
        let figures = json_line(&stdout);
        assert_eq!(figures["device_kind"], "NVIDIA H100 80GB HBM3", "{figures}");
        assert_eq!((figures["devices"].as_u64(), figures["rows_per_device"].as_u64()), (Some(8), Some(8)));
        let train = &figures["steps"][0];
        assert_eq!(train["fits"], true, "{train}");
        assert!(train["temp_bytes"].as_f64().unwrap() > 0.0, "{train}");
    }
}

#[test]
#[ignore = "fetches libtpu (137 MB) on first use"]
fn bad_targets_batches_and_plugins_are_refused_by_name() {
    let tiny = ["compile", "--config", "configs/sudoku4-tiny.yaml"];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = tiny.iter().copied().chain(extra.iter().copied()).collect();
        ouro(&args)
    };
    let (ok, _, stderr) = run(&["--target", "v4-63"]);
    assert!(!ok && stderr.contains("v4-63") && stderr.contains("v4-64"), "{stderr}");
    let (ok, _, stderr) = run(&["--target", "v5e-4", "global_batch_size=30"]);
    assert!(!ok && stderr.contains("global_batch_size 30") && stderr.contains("4 chips of v5e-4"), "{stderr}");
    let (ok, _, stderr) = run(&["--target", "v4-8", "--plugin", "/nonexistent/libtpu.so"]);
    assert!(!ok && stderr.contains("/nonexistent/libtpu.so"), "{stderr}");
    let cpu = ouro_pjrt::plugin::pinned_cpu_plugin().unwrap().display().to_string();
    let (ok, _, stderr) = run(&["--target", "v4-8", "--plugin", &cpu]);
    assert!(!ok && stderr.contains("is a cpu plugin") && stderr.contains("needs a tpu one"), "{stderr}");
    let (ok, _, stderr) = run(&[]);
    assert!(!ok && stderr.contains("names no target"), "{stderr}");
    // A step too big for the chip: the TPU compiler's own words, the config and the target.
    let (ok, stdout, stderr) =
        run(&["--target", "v5e-1", "--steps", "train", "global_batch_size=65536", "arch.hidden_size=1024"]);
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("configs/sudoku4-tiny.yaml does not") && stderr.contains("v5e-1"), "{stderr}");
    assert!(stderr.contains("HBM") || stderr.contains("does not fit"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
