//! Checks that the real TensorBoard reads what `ouro-tboard` writes.
//!
//! Ignored by default because it needs Python with the `tensorboard` package:
//!
//! ```sh
//! python3 -m venv /tmp/tbvenv && /tmp/tbvenv/bin/pip install tensorboard
//! OURO_TB_PYTHON=/tmp/tbvenv/bin/python cargo test -p ouro-tboard --test tensorboard -- --ignored
//! ```
//!
//! Set `OURO_TB_OUT` to a directory to keep the event file there (e.g. to open it with
//! `tensorboard --logdir`); otherwise it goes to a temporary directory that is removed.

use std::path::{Path, PathBuf};
use std::process::Command;

use ouro_tboard::{EventWriter, Histogram, What, read_events};

#[test]
#[ignore = "needs Python with the tensorboard package; set OURO_TB_PYTHON"]
fn tensorboard_reads_our_event_files() {
    let python = std::env::var("OURO_TB_PYTHON").unwrap_or_else(|_| "python3".into());
    require_tensorboard(&python);

    let keep = std::env::var_os("OURO_TB_OUT").map(PathBuf::from);
    let dir = keep
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("ouro-tboard-tensorboard-{}", std::process::id())));
    let mut expect: Vec<String> = Vec::new();
    let mut arg = |kind: &str, tag: &str, step: i64, value: String| {
        expect.extend([format!("--{kind}"), tag.into(), step.to_string(), value]);
    };

    let mut w = EventWriter::create(&dir).expect("create event file");
    let t0 = ouro_tboard::now();
    for step in 0..5i64 {
        let t = t0 + step as f64;
        let loss = 1.0 / (step as f64 + 1.0);
        w.scalar("train/loss", step, loss, t).unwrap();
        arg("scalar", "train/loss", step, loss.to_string());
        let acc = 0.1 * step as f64;
        let lr = 3e-4;
        w.scalars(step, t, &[("train/acc".into(), acc), ("train/lr".into(), lr)]).unwrap();
        arg("scalar", "train/acc", step, acc.to_string());
        arg("scalar", "train/lr", step, lr.to_string());
    }
    // Halting steps with a gap (no sequence halted after 3 steps).
    for (step, counts) in [(0, [(1.0, 5.0), (2.0, 20.0), (4.0, 7.0)]), (4, [(2.0, 3.0), (4.0, 29.0), (16.0, 1.0)])] {
        let h = Histogram::from_counts(&counts);
        w.histogram("train/halt_step", step, t0 + step as f64, &h).unwrap();
        arg("histogram", "train/halt_step", step, h.num.to_string());
    }
    let sample = "## Sample\n\n`input` → **output** ✓";
    w.text("eval/sample", 2, t0 + 2.0, sample).unwrap();
    arg("text", "eval/sample", 2, sample.into());
    w.text("config", 0, t0, "lr: 3e-4").unwrap();
    arg("text", "config", 0, "lr: 3e-4".into());
    w.flush().unwrap();
    let path = w.path().to_owned();
    drop(w);

    // Our own reader agrees on what was written.
    let events = read_events(&path).unwrap();
    assert_eq!(events.len(), 1 + 5 * 2 + 2 + 2);
    assert!(matches!(&events[0].what, What::FileVersion(v) if v == "brain.Event:2"));

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/read_with_tensorboard.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&path)
        .args(&expect)
        .output()
        .unwrap_or_else(|e| panic!("running {python} {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        out.status.success(),
        "TensorBoard did not read {} as expected ({}):\n{stdout}{stderr}",
        path.display(),
        out.status
    );

    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Fails with instructions when `python` cannot import tensorboard, rather than with a
/// confusing traceback from the check script.
fn require_tensorboard(python: &str) {
    let probe = Command::new(python).args(["-c", "import tensorboard; print(tensorboard.__version__)"]).output();
    match probe {
        Ok(out) if out.status.success() => {
            eprintln!("tensorboard {}", String::from_utf8_lossy(&out.stdout).trim());
        }
        Ok(out) => panic!(
            "tensorboard is not importable by {python} (set OURO_TB_PYTHON to a Python with \
             `pip install tensorboard`):\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("cannot run {python}: {e} (set OURO_TB_PYTHON to a Python with `pip install tensorboard`)"),
    }
}
