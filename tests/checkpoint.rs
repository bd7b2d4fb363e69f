//! Checkpoints end to end: a run stopped and resumed logs exactly the losses of a run that
//! never stopped, a damaged newest step falls back to the previous one, and a checkpoint of
//! another model is refused naming the tensor.

use std::path::{Path, PathBuf};
mod common;
use common::{ouro, scratch};

fn config() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/sudoku4-tiny.yaml").display().to_string()
}

/// A small dataset (50 puzzles: 50 examples an epoch) so that 30 steps are two passes of 15
/// batches, each followed by an evaluation.
fn overrides(data: &Path) -> Vec<String> {
    vec![
        format!("data_paths=[{}]", data.display()),
        "generate_sudoku.train=50".into(),
        "generate_sudoku.test=20".into(),
        "eval_interval=20".into(),
        "checkpoint.every_steps=5".into(),
        "checkpoint.keep_last=3".into(),
        "checkpoint_every_eval=true".into(),
    ]
}

fn train(dir: &Path, run: &str, extra: &[&str]) -> (PathBuf, String) {
    let run = dir.join(run);
    let cfg = config();
    let owned = overrides(&dir.join("data"));
    let mut args: Vec<&str> = vec!["train", "--config", &cfg, "--run-dir", run.to_str().unwrap()];
    args.extend(owned.iter().map(String::as_str));
    args.extend(extra);
    let (ok, stdout, stderr) = ouro(&args);
    assert!(ok, "{stdout}\n{stderr}");
    (run, format!("{stdout}\n{stderr}"))
}

fn metrics(run: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    // Throughput records are timings, different in every run.
    text.lines().filter(|l| !l.contains("\"throughput/")).map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_resumed_run_repeats_the_uninterrupted_trajectory_bit_for_bit() {
    let dir = scratch("resume");
    let (whole, _) = train(&dir, "whole", &["--max-steps", "30"]);
    // Stopped at the end of the first pass (step 15, after its evaluation), then mid-pass.
    let (parts, out) = train(&dir, "parts", &["--max-steps", "15"]);
    assert!(out.contains("checkpoints, the last step_15"), "{out}");
    let (_, out) = train(&dir, "parts", &["--max-steps", "23", "--resume"]);
    assert!(out.contains("resumed from step 15"), "{out}");
    let (_, out) = train(&dir, "parts", &["--max-steps", "30", "--resume"]);
    assert!(out.contains("resumed from step 23"), "{out}");
    let (a, b) = (metrics(&whole), metrics(&parts));
    let train_lines = a.iter().filter(|r| r.get("train/lm_loss").is_some()).count();
    assert_eq!(train_lines, 30);
    assert_eq!(a.len(), b.len(), "the same train and eval records");
    for (x, y) in a.iter().zip(&b) {
        // Every float as f64 from the same f32: equal means bitwise equal.
        assert_eq!(x, y);
    }
    let steps: Vec<String> = std::fs::read_dir(parts.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut steps = steps;
    steps.sort();
    assert_eq!(steps, ["step_23", "step_25", "step_30"], "keep_last=3");

    // The resumed run's checkpoint exports the very EMA weights the uninterrupted run saved at
    // its evaluation of step 30, under the official names.
    let exported = dir.join("exported.safetensors");
    let ckpts = parts.join("checkpoints");
    let (ok, stdout, stderr) =
        ouro(&["ckpt", "export", ckpts.to_str().unwrap(), "--step", "30", "--out", exported.to_str().unwrap()]);
    assert!(ok && stdout.contains("EMA weights"), "{stdout}{stderr}");
    let (a, b) = (std::fs::read(&exported).unwrap(), std::fs::read(whole.join("step_30.safetensors")).unwrap());
    let (a, b) =
        (safetensors::SafeTensors::deserialize(&a).unwrap(), safetensors::SafeTensors::deserialize(&b).unwrap());
    let mut names = a.names();
    names.sort();
    let mut other = b.names();
    other.sort();
    assert_eq!(names, other);
    assert!(names.contains(&"inner.puzzle_emb.weights") && names.contains(&"inner.H_init"), "{names:?}");
    for n in names {
        let (x, y) = (a.tensor(n).unwrap(), b.tensor(n).unwrap());
        assert_eq!((x.dtype(), x.shape(), x.data()), (y.dtype(), y.shape(), y.data()), "{n}");
    }
}

#[test]
fn a_damaged_newest_step_falls_back_and_another_model_is_refused() {
    let dir = scratch("damage");
    let (run, _) = train(&dir, "run", &["--max-steps", "12"]);
    // Flip one byte in the middle of the newest step's first shard.
    let shard = run.join("checkpoints/step_12/host000-00000.bin");
    let mut bytes = std::fs::read(&shard).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&shard, bytes).unwrap();
    let ckpts = run.join("checkpoints");
    let (ok, stdout, _) = ouro(&["ckpt", "ls", ckpts.to_str().unwrap()]);
    assert!(ok && stdout.contains("step_10") && stdout.contains("step_12") && stdout.contains("committed"), "{stdout}");
    let (ok, stdout, stderr) = ouro(&["ckpt", "verify", ckpts.to_str().unwrap()]);
    assert!(!ok && stderr.contains("1 damaged step"), "{stderr}");
    assert!(
        stdout.contains("step_10: ok") && stdout.contains("host000-00000.bin") && stdout.contains("checksum mismatch"),
        "{stdout}"
    );
    let (ok, stdout, _) = ouro(&["ckpt", "inspect", ckpts.to_str().unwrap(), "--step", "10"]);
    assert!(ok && stdout.contains("params/inner.lm_head.weight") && stdout.contains("\"iteration\""), "{stdout}");
    let (_, out) = train(&dir, "run", &["--max-steps", "13", "--resume"]);
    assert!(out.contains("step_12 cannot be restored") && out.contains("checksum mismatch"), "{out}");
    assert!(out.contains("falling back to step_10") && out.contains("resumed from step 10"), "{out}");

    let cfg = config();
    let owned = overrides(&dir.join("data"));
    let mut args: Vec<&str> = vec!["train", "--config", &cfg, "--run-dir", run.to_str().unwrap(), "--resume"];
    args.extend(owned.iter().map(String::as_str));
    args.push("arch.hidden_size=32");
    let (ok, _, stderr) = ouro(&args);
    assert!(!ok);
    assert!(stderr.contains("tensor params/") && stderr.contains("different config"), "{stderr}");
}

/// The tensors of a safetensors file, by name.
fn tensors_of(path: &Path) -> std::collections::BTreeMap<String, (safetensors::Dtype, Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.tensors().into_iter().map(|(n, v)| (n, (v.dtype(), v.shape().to_vec(), v.data().to_vec()))).collect()
}

/// Writes `tensors` to `path`, each name passed through `rename`.
fn write_tensors(
    path: &Path,
    tensors: &std::collections::BTreeMap<String, (safetensors::Dtype, Vec<usize>, Vec<u8>)>,
    rename: impl Fn(&str) -> String,
) {
    let views: Vec<_> = tensors
        .iter()
        .map(|(n, (d, s, b))| (rename(n), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

#[test]
fn export_then_import_round_trips_and_the_imported_run_trains() {
    let dir = scratch("import");
    let (run, _) = train(&dir, "source", &["--max-steps", "6"]);
    let ckpts = run.join("checkpoints");
    let exported = dir.join("exported.safetensors");
    let (ok, _, stderr) = ouro(&["ckpt", "export", ckpts.to_str().unwrap(), "--out", exported.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let original = tensors_of(&exported);

    let cfg = config();
    let owned = overrides(&dir.join("data"));
    let import = |file: &Path, run_dir: &Path| {
        let mut args: Vec<&str> =
            vec!["ckpt", "import", file.to_str().unwrap(), "--config", &cfg, "--run-dir", run_dir.to_str().unwrap()];
        args.extend(owned.iter().map(String::as_str));
        ouro(&args)
    };
    let export = |run_dir: &Path, live: bool| {
        let out = run_dir.join(if live { "live.safetensors" } else { "ema.safetensors" });
        let ckpts = run_dir.join("checkpoints");
        let mut args = vec!["ckpt", "export", ckpts.to_str().unwrap(), "--out", out.to_str().unwrap()];
        if live {
            args.push("--live");
        }
        let (ok, _, stderr) = ouro(&args);
        assert!(ok, "{stderr}");
        tensors_of(&out)
    };

    // Our own export: imported as both the live and the EMA weights, exported back unchanged.
    let imported = dir.join("imported");
    let (ok, stdout, stderr) = import(&exported, &imported);
    assert!(ok && stdout.contains("step_0"), "{stdout}\n{stderr}");
    assert_eq!(export(&imported, false), original);
    assert_eq!(export(&imported, true), original);
    // Importing over a run's checkpoints is refused.
    let (ok, _, stderr) = import(&exported, &imported);
    assert!(!ok && stderr.contains("already holds step_0"), "{stderr}");

    // The official code's keys (torch.compile's and the loss head's prefixes), bf16 weights
    // widened exactly to f32.
    let official = dir.join("official.safetensors");
    let mut narrowed = original.clone();
    let head = narrowed.get_mut("inner.lm_head.weight").expect("the lm head");
    let bf16: Vec<u8> = head
        .2
        .chunks_exact(4)
        .flat_map(|c| half::bf16::from_f32(f32::from_le_bytes(c.try_into().unwrap())).to_le_bytes())
        .collect();
    *head = (safetensors::Dtype::BF16, head.1.clone(), bf16.clone());
    write_tensors(&official, &narrowed, |n| format!("_orig_mod.model.{n}"));
    let from_official = dir.join("from-official");
    let (ok, stdout, stderr) = import(&official, &from_official);
    assert!(ok, "{stdout}\n{stderr}");
    let back = export(&from_official, false);
    let widened: Vec<u8> =
        bf16.chunks_exact(2).flat_map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32().to_le_bytes()).collect();
    assert_eq!(back["inner.lm_head.weight"].2, widened);
    for (name, t) in &original {
        if name != "inner.lm_head.weight" {
            assert_eq!(&back[name], t, "{name}");
        }
    }

    // A missing tensor and a wrong shape are named.
    let mut partial = original.clone();
    partial.remove("inner.lm_head.weight");
    let bad = dir.join("partial.safetensors");
    write_tensors(&bad, &partial, str::to_string);
    let (ok, _, stderr) = import(&bad, &dir.join("bad1"));
    assert!(!ok && stderr.contains("has no tensor inner.lm_head.weight"), "{stderr}");
    let mut reshaped = original.clone();
    reshaped.get_mut("inner.lm_head.weight").unwrap().1.reverse();
    write_tensors(&bad, &reshaped, str::to_string);
    let (ok, _, stderr) = import(&bad, &dir.join("bad2"));
    assert!(!ok && stderr.contains("inner.lm_head.weight is") && stderr.contains("another model"), "{stderr}");

    // Training continues from the imported weights.
    let (_, out) = train(&dir, "imported", &["--max-steps", "2", "--resume"]);
    assert!(out.contains("resumed from step 0"), "{out}");
    assert_eq!(metrics(&imported).iter().filter(|r| r.get("train/lm_loss").is_some()).count(), 2);
}

#[test]
fn sigterm_stops_after_the_current_step_with_it_saved() {
    let dir = scratch("sigterm");
    let run = dir.join("run");
    let cfg = config();
    let mut args: Vec<String> =
        vec!["train".into(), "--config".into(), cfg, "--run-dir".into(), run.display().to_string()];
    args.extend(overrides(&dir.join("data")));
    // No periodic save: whatever is committed comes from the stop.
    args.extend(["checkpoint.every_steps=0".into(), "--max-steps".into(), "1000".into()]);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ouro"))
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let train_lines = || {
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("train/lm_loss"))
            .count()
    };
    while train_lines() < 8 {
        assert!(started.elapsed() < std::time::Duration::from_secs(120), "the run did not reach step 8");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let stopped = common::stopped_after(&stderr);
    let loc = ouro_store::Location::open(run.join("checkpoints").to_str().unwrap()).unwrap();
    assert_eq!(ouro_ckpt::committed(&loc).unwrap(), [stopped], "the stop's step is saved, nothing else");
    assert_eq!(train_lines() as u64, stopped, "every trained step is logged");
    let (_, out) = train(&dir, "run", &["--max-steps", &(stopped + 2).to_string(), "--resume"]);
    assert!(out.contains(&format!("resumed from step {stopped}")), "{out}");
}

#[test]
fn a_stop_before_the_first_step_saves_nothing_and_the_documented_commands_start_the_run() {
    // A signal while the steps compile (minutes on a TPU): the flag is already up when the loop
    // begins, as it is when SIGTERM lands during the compile.
    let dir = scratch("stop-before-first");
    train(&dir, "data-builder", &["--max-steps", "1"]);
    let cfg = ouro_train::TrainConfig::load(std::path::Path::new(&config()), &overrides(&dir.join("data"))).unwrap();
    let runtime = ouro::runtime::Runtime::open_default(1).unwrap();
    for (name, then) in [("again", vec![]), ("resumed", vec!["--resume"])] {
        let run_dir = dir.join(name);
        let options = ouro_train::RunOptions {
            run_dir: run_dir.clone(),
            progress: false,
            max_steps: None,
            force: false,
            resume: false,
            hosts: None,
            stop: Some(std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true))),
            job_store: None,
            persist: None,
            evaluate_at_limit: false,
        };
        let summary = ouro_train::train(&runtime, &cfg, &options).unwrap();
        assert!(summary.stopped && summary.steps == 0 && summary.checkpoints.is_empty(), "{summary:?}");
        let loc = ouro_store::Location::open(run_dir.join("checkpoints").to_str().unwrap()).unwrap();
        assert_eq!(ouro_ckpt::committed(&loc).unwrap_or_default(), Vec::<u64>::new());
        // What the user is told, and the command it names, work.
        let message = ouro_cli::stopped_message(&summary);
        assert!(message.contains("before the first step") && message.contains("nothing was saved"), "{message}");
        let mut extra = vec!["--max-steps", "3"];
        extra.extend(then.iter().copied());
        let (_, out) = train(&dir, name, &extra);
        assert!(out.contains("3 steps of"), "{out}");
    }
}

#[test]
fn a_second_writer_of_a_run_directory_is_refused_naming_the_first() {
    let dir = scratch("two-writers");
    let (run, _) = train(&dir, "run", &["--max-steps", "2"]);
    // Another process holding the run (here: this test, as `ouro train` holds it).
    let held = ouro_train::lock::RunLock::acquire(&run).unwrap();
    let cfg = config();
    let owned = overrides(&dir.join("data"));
    let mut args: Vec<&str> = vec!["train", "--config", &cfg, "--run-dir", run.to_str().unwrap(), "--resume"];
    args.extend(owned.iter().map(String::as_str));
    let (ok, _, stderr) = ouro(&args);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("is being written by process") && stderr.contains(&std::process::id().to_string()),
        "{stderr}"
    );
    let before = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    drop(held);
    let (_, out) = train(&dir, "run", &["--max-steps", "4", "--resume"]);
    assert!(out.contains("resumed from step 2"), "{out}");
    assert!(
        std::fs::read_to_string(run.join("metrics.jsonl")).unwrap().starts_with(before.trim_end()),
        "the refused writer wrote nothing"
    );
}
