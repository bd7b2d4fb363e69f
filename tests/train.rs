//! `ouro train` and `ouro model-info` end to end on the pinned CPU plugin.

use std::path::Path;
mod common;
use common::{ouro, scratch};

fn config(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs").join(name).display().to_string()
}

/// Train-metric `key` of every step in a run's metrics.jsonl.
fn train_metric(run: &Path, key: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    text.lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.get(key).and_then(|x| x.as_f64())
        })
        .collect()
}

/// The last evaluation's `key`.
fn last_eval(run: &Path, key: &str) -> f64 {
    *train_metric(run, key).last().expect("an evaluation")
}

#[test]
fn model_info_reports_the_official_counts_and_flops() {
    let cases = [
        ("sudoku-mlp.yaml", ["81", "11", "1"], "5,028,866", "42.72 GFLOP per example"),
        ("sudoku-att.yaml", ["81", "11", "1"], "6,828,034", "47.63 GFLOP per example"),
        ("arc1-att.yaml", ["900", "12", "876406"], "6,829,058", "398.11 GFLOP per example"),
    ];
    for (file, [s, v, p], params, flops) in cases {
        let cfg = config(file);
        let args = ["model-info", "--config", &cfg, "--seq-len", s, "--vocab-size", v, "--puzzle-ids", p];
        let (ok, stdout, stderr) = ouro(&args);
        assert!(ok, "{stderr}");
        assert!(stdout.contains(&format!("trainable parameters: {params}")), "{file}: {stdout}");
        // trm.md §11's hand count of the same model (matmuls of the 21 + 14 L_level calls).
        assert!(stdout.contains(flops), "{file}: {stdout}");
    }
}

/// CI's fast learning check: 200 steps of the tiny 4x4 Sudoku config. The per-row loss starts
/// near 2.1 (5 classes) and is near 0.93 after 200 steps on this seed; falling by 1.8x or more
/// means the whole step (forward, ACT, loss, gradients, optimizers) works.
#[test]
fn the_tiny_sudoku_loss_falls_in_200_steps() {
    let dir = scratch("fast");
    let data = format!("data_paths=[{}]", dir.join("data").display());
    let run = dir.join("run");
    let cfg = config("sudoku4-tiny.yaml");
    let args = ["train", "--config", &cfg, &data, "--max-steps", "200", "--run-dir", run.to_str().unwrap()];
    let (ok, stdout, stderr) = ouro(&args);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("200 steps of 3125"), "{stdout}");
    let loss = train_metric(&run, "train/lm_loss");
    assert_eq!(loss.len(), 200);
    let first = loss[..10].iter().sum::<f64>() / 10.0;
    let last = loss[190..].iter().sum::<f64>() / 10.0;
    assert!(last * 1.8 < first, "lm loss {first:.3} -> {last:.3}");
    let saved = std::fs::read_to_string(run.join("config.yaml")).unwrap();
    assert!(saved.contains("global_batch_size: 64"), "{saved}");
    // A second run into the same directory is refused unless forced.
    let (ok, _, stderr) = ouro(&args);
    assert!(!ok && stderr.contains("--force"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The README's main job: the tiny TRM reaches 95 % exact accuracy on held-out 4x4 puzzles, none
/// of which is one of its training examples (a puzzle or an augmentation of one). About 3
/// minutes on 2 cores; `.ci/run` runs it.
#[test]
#[ignore = "minutes long; .ci/run runs it"]
fn the_tiny_sudoku_reaches_95_percent_on_held_out_puzzles() {
    let dir = scratch("learn");
    let data = format!("data_paths=[{}]", dir.join("data").display());
    let run = dir.join("run");
    let cfg = config("sudoku4-tiny.yaml");
    let (ok, stdout, stderr) = ouro(&["train", "--config", &cfg, &data, "--run-dir", run.to_str().unwrap()]);
    assert!(ok, "{stdout}\n{stderr}");
    let exact = last_eval(&run, "all/exact_accuracy");
    assert!(exact >= 0.95, "held-out exact accuracy {exact}\n{stdout}");
    let inputs = |split: &str| {
        let dataset = ouro_data::PuzzleDataset::open(&[dir.join("data")], split).unwrap();
        dataset.sets.iter().flat_map(|s| s.inputs.to_vec()).collect::<Vec<i64>>()
    };
    let (train, test) = (inputs("train"), inputs("test"));
    let seen: std::collections::HashSet<&[i64]> = train.chunks_exact(16).collect();
    assert_eq!((seen.len() > 1000, test.len()), (true, 200 * 16));
    assert!(test.chunks_exact(16).all(|x| !seen.contains(x)), "a test puzzle is a training example");
    // The last evaluation's (EMA) weights, with the official names.
    let weights = std::fs::read(run.join("step_3120.safetensors")).unwrap();
    assert!(String::from_utf8_lossy(&weights[..4096.min(weights.len())]).contains("inner.H_init"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_configs_are_refused_with_what_and_where() {
    let dir = scratch("bad");
    let yaml = std::fs::read_to_string(config("sudoku4-tiny.yaml")).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, yaml.replace("lr: 2.0e-3", "lr: 2.0e-3\nlearning_rate: 3")).unwrap();
    let (ok, _, stderr) = ouro(&["train", "--config", bad.to_str().unwrap()]);
    // The key, then the file and line it came from.
    assert!(!ok && stderr.contains("learning_rate (") && stderr.contains("bad.yaml:"), "{stderr}");

    let typed = dir.join("typed.yaml");
    std::fs::write(&typed, yaml.replace("epochs: 400", "epochs: many")).unwrap();
    let (ok, _, stderr) = ouro(&["train", "--config", typed.to_str().unwrap()]);
    assert!(!ok && stderr.contains("epochs (") && stderr.contains("typed.yaml:"), "{stderr}");

    let cfg = config("sudoku4-tiny.yaml");
    let data = format!("data_paths=[{}]", dir.join("data").display());
    let run = format!("checkpoint_path={}", dir.join("run").display());
    let (ok, _, stderr) = ouro(&["train", "--config", &cfg, &data, &run, "arch.hidden_size=66"]);
    assert!(!ok && stderr.contains("hidden_size (66)") && stderr.contains("num_heads (4)"), "{stderr}");
    // A test set whose shapes disagree with the training data (9x9 against 4x4 Sudoku).
    let nine = dir.join("nine");
    let (ok, _, stderr) = ouro(&[
        "dataset",
        "build",
        "sudoku",
        "--size",
        "9",
        "--generate",
        "2",
        "--test-generate",
        "2",
        "--out",
        nine.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let test = format!("data_paths_test=[{}]", nine.display());
    let (ok, _, stderr) = ouro(&["train", "--config", &cfg, &data, &run, &test, "--force"]);
    assert!(!ok && stderr.contains("seq_len 81") && stderr.contains("seq_len 16"), "{stderr}");
    let (ok, _, stderr) = ouro(&["train", "--config", &cfg, "arch.L_cycle=3"]);
    assert!(!ok && stderr.contains("L_cycle"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A learning rate of 1e38 overflows the weights at the first update; the next step's loss is
/// NaN, the device keeps step 1's state, and the run stops naming the step.
#[test]
fn a_non_finite_loss_stops_the_run_with_the_step() {
    let dir = scratch("nan");
    let data = format!("data_paths=[{}]", dir.join("data").display());
    let run = dir.join("run");
    let cfg = config("sudoku4-tiny.yaml");
    let args = [
        "train",
        "--config",
        &cfg,
        &data,
        "lr=1.0e+38",
        "lr_warmup_steps=0",
        "--max-steps",
        "30",
        "--run-dir",
        run.to_str().unwrap(),
    ];
    let (ok, _, stderr) = ouro(&args);
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("step 2: the loss or a gradient is not finite"), "{stderr}");
    assert!(stderr.contains("state on device is that of step 1"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(train_metric(&run, "train/lm_loss").len(), 1, "only the good step is logged");
    std::fs::remove_dir_all(dir).unwrap();
}

/// contrib01's recursion-depth curriculum: the depth grows at the steps the formula gives, each
/// step runs the program of its depth (its first steps match a run fixed at the start depth),
/// and the metrics say the depth of every step.
#[test]
fn a_depth_curriculum_grows_the_recursion_at_the_planned_steps() {
    let dir = scratch("curriculum");
    let data = format!("data_paths=[{}]", dir.join("data").display());
    let cfg = config("sudoku4-tiny.yaml");
    let run_with = |name: &str, extra: &[&str], steps: &str| {
        let run = dir.join(name);
        let mut args = vec!["train", "--config", &cfg, &data, "--max-steps", steps, "--run-dir", run.to_str().unwrap()];
        args.extend(extra);
        let (ok, stdout, stderr) = ouro(&args);
        assert!(ok, "{stdout}\n{stderr}");
        (run, stderr)
    };
    // 3125 steps for 400 epochs: epoch 8 is reached after 62.5 steps. L = int(1 + 2p) is 2 from
    // p = 1/2 (step 32), H = int(1 + p) and L reach 2 and 3 at p = 1 (step 63).
    let (run, log) = run_with(
        "curriculum",
        &[
            "arch.H_cycles=2",
            "arch.L_cycles=3",
            "use_curriculum_recursion=true",
            "+curriculum_start_h_cycles=1",
            "+curriculum_start_l_cycles=1",
            "+curriculum_end_epoch=8",
        ],
        "66",
    );
    assert!(log.contains("depth=H_cycles 1 × L_cycles 1 steps=32"), "{log}");
    assert!(!log.contains('\u{1b}'), "no colour codes off a terminal: {log}");
    let h = train_metric(&run, "train/h_cycles");
    let l = train_metric(&run, "train/l_cycles");
    assert_eq!(h.len(), 66);
    let depth = |s: usize| (h[s] as usize, l[s] as usize);
    assert_eq!(
        (depth(0), depth(31), depth(32), depth(62), depth(63), depth(65)),
        ((1, 1), (1, 1), (1, 2), (1, 2), (2, 3), (2, 3))
    );
    let (fixed, _) = run_with("fixed", &["arch.H_cycles=1", "arch.L_cycles=1"], "3");
    let (a, b) = (train_metric(&run, "train/lm_loss"), train_metric(&fixed, "train/lm_loss"));
    assert_eq!(a[..3], b[..3], "the curriculum's first steps are those of the start depth");
    assert!(train_metric(&fixed, "train/h_cycles").is_empty(), "no depth is logged without a curriculum");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `ouro bench` on the CPU plugin: the train and eval steps of the tiny config on synthetic data
/// of a declared shape, with every figure it promises.
#[test]
fn bench_reports_step_time_throughput_flops_compile_time_and_memory() {
    let cfg = config("sudoku4-tiny.yaml");
    let shape = ["--seq-len", "16", "--vocab-size", "6", "--puzzle-ids", "1"];
    for extra in [&[][..], &["--eval"][..], &["--devices", "2", "--peak-tflops", "1"][..]] {
        let mut args = vec!["bench", "--config", &cfg, "--windows", "2", "--steps", "2"];
        args.extend(shape);
        args.extend(extra);
        let (ok, stdout, stderr) = ouro(&args);
        assert!(ok, "{stderr}");
        for want in ["compile: ", "step: median ", "throughput: ", "matmul FLOPs: ", "memory per device: "] {
            assert!(stdout.contains(want), "{want} missing: {stdout}");
        }
        let step = if extra.contains(&"--eval") { "eval step" } else { "train step" };
        assert!(stdout.starts_with(step), "{stdout}");
        if extra.contains(&"--devices") {
            assert!(stdout.contains("64 rows (32 per device)") && stdout.contains("MFU "), "{stdout}");
        }
    }
    let (ok, _, stderr) = ouro(&["bench", "--config", &cfg, "--steps", "0"]);
    assert!(!ok && stderr.contains("--windows and --steps must be at least 1"), "{stderr}");

    // The step's StableHLO, written out and run as a foreign program (how JAX's lowering of the
    // same step is timed on ouro's runtime), its donated state fed back each step.
    let dir = scratch("bench-stablehlo");
    let mlir = dir.join("step.mlir");
    let mut args = vec!["bench", "--config", &cfg, "--windows", "1", "--steps", "1"];
    args.extend(shape);
    let emit = mlir.to_str().unwrap();
    args.extend(["--emit-stablehlo", emit]);
    let (ok, _, stderr) = ouro(&args);
    assert!(ok, "{stderr}");
    let text = std::fs::read_to_string(&mlir).unwrap();
    assert!(text.contains("@main(") && text.contains("tf.aliasing_output"), "a donated train step");
    let run = ["bench", "--stablehlo", emit, "--rows", "64", "--windows", "2", "--steps", "2", "--json"];
    let (ok, stdout, stderr) = ouro(&run);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("58 donated"), "{stdout}");
    let figures: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(figures["median_step_seconds"].as_f64().unwrap() > 0.0, "{figures}");
    // Arguments of the wrong type are refused by name.
    let bad = dir.join("bad.safetensors");
    let data = [0u8; 4];
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &data).unwrap();
    safetensors::serialize_to_file([("arg0", view)], None, &bad).unwrap();
    let mut run = run.to_vec();
    let bad_arg = bad.to_str().unwrap();
    run.extend(["--args", bad_arg]);
    let (ok, _, stderr) = ouro(&run);
    assert!(!ok && stderr.contains("--args arg0 is F32[1], the program's parameter 0 is"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}
