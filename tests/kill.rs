//! SIGKILL during checkpoint saves on local disk, over many trials: the run saves every step,
//! each trial kills it at another moment of a save (seen on disk: a step folder without its
//! marker), then counts what the kill left (unfinished step folders, damaged committed steps),
//! resumes it, and requires that the resumed run logs the uninterrupted run's records bit for
//! bit and that nothing unfinished is left. Ignored by default (about a minute and a half);
//! `.ci/run` runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
mod common;
use common::{ouro, scratch};

const TRIALS: usize = 20;
const STEPS: u64 = 16;

fn args(dir: &Path, run: &str, extra: &[&str]) -> Vec<String> {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/sudoku4-tiny.yaml");
    let mut args: Vec<String> = vec![
        "train".into(),
        "--config".into(),
        config.display().to_string(),
        "--run-dir".into(),
        dir.join(run).display().to_string(),
        format!("data_paths=[{}]", dir.join("data").display()),
        "generate_sudoku.train=50".into(),
        "generate_sudoku.test=20".into(),
        "eval_interval=20".into(),
        "checkpoint.every_steps=1".into(),
        "checkpoint.keep_last=2".into(),
        "--max-steps".into(),
        STEPS.to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn train(dir: &Path, run: &str, extra: &[&str]) -> String {
    let args = args(dir, run, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, stdout, stderr) = ouro(&args);
    assert!(ok, "{stdout}\n{stderr}");
    format!("{stdout}\n{stderr}")
}

fn records(run: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    text.lines().filter(|l| !l.contains("\"throughput/")).map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The step folders under `checkpoints` and whether each has its commit marker.
fn step_folders(checkpoints: &Path) -> Vec<(u64, bool)> {
    let Ok(entries) = std::fs::read_dir(checkpoints) else { return Vec::new() };
    let mut out: Vec<(u64, bool)> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let step = e.file_name().to_str()?.strip_prefix("step_")?.parse().ok()?;
            Some((step, e.path().join(ouro_ckpt::MARKER).exists()))
        })
        .collect();
    out.sort();
    out
}

/// Kills the run once a save of a step at or past `from` is on disk unfinished, `spin` after
/// seeing it; returns whether the kill came before the run ended.
fn kill_mid_save(dir: &Path, run: &str, from: u64, spin: Duration) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ouro"))
        .args(args(dir, run, &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let checkpoints = dir.join(run).join("checkpoints");
    let started = Instant::now();
    loop {
        if step_folders(&checkpoints).iter().any(|&(step, committed)| step >= from && !committed) {
            let seen = Instant::now();
            while seen.elapsed() < spin {
                std::hint::spin_loop();
            }
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "the run neither saved nor ended");
    }
}

fn verify(checkpoints: &Path) -> bool {
    let (ok, _, _) = ouro(&["ckpt", "verify", checkpoints.to_str().unwrap()]);
    ok
}

#[test]
#[ignore = "a minute and a half: run by .ci/run"]
fn saves_killed_at_varied_moments_leave_no_orphan_and_no_damage_and_resume_bit_for_bit() {
    let dir = scratch("kill");
    train(&dir, "whole", &[]);
    let whole = records(&dir.join("whole"));
    let (mut killed, mut orphans_after_kill, mut corrupt, mut identical) = (0, 0, 0, 0);
    for trial in 0..TRIALS {
        let run = format!("trial{trial:02}");
        let checkpoints: PathBuf = dir.join(&run).join("checkpoints");
        // Steps 1..=10 and spins of 0 to 1.9 ms: the kill lands in every phase of a save.
        let from = 1 + (trial as u64 * 3) % 10;
        let spin = Duration::from_micros((trial as u64 * 433) % 2000);
        killed += usize::from(kill_mid_save(&dir, &run, from, spin));
        orphans_after_kill += step_folders(&checkpoints).iter().filter(|(_, committed)| !committed).count();
        let resumable = step_folders(&checkpoints).iter().any(|(_, committed)| *committed);
        corrupt += usize::from(resumable && !verify(&checkpoints));
        // Killed in the first save, there is nothing to resume from: --resume starts over.
        let out = train(&dir, &run, &["--resume"]);
        assert!(!resumable || out.contains("resumed from step"), "trial {trial}: {out}");
        let left: Vec<u64> = step_folders(&checkpoints).iter().filter(|(_, c)| !c).map(|(s, _)| *s).collect();
        assert!(left.is_empty(), "trial {trial}: unfinished step folders left after the resumed run: {left:?}");
        assert!(verify(&checkpoints), "trial {trial}: a committed step is damaged after the resumed run");
        identical += usize::from(records(&dir.join(&run)) == whole);
    }
    eprintln!(
        "{TRIALS} trials: {killed} killed mid-run, {orphans_after_kill} unfinished step folders right after the \
         kills (all deleted by the resumed runs), {corrupt} damaged committed steps, {identical} resumes identical \
         to the uninterrupted run"
    );
    assert_eq!(corrupt, 0, "a kill damaged a committed step");
    assert_eq!(identical, TRIALS, "every resumed run logs the uninterrupted run's records");
    assert!(killed > 0, "no trial killed a run mid-save");
}
