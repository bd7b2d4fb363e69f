//! The experiment guide before any run (the plan) and after (results, criteria, plots), in
//! Markdown and HTML, from a group whose runs are written here as ouro writes them.

use std::path::{Path, PathBuf};

use ouro_lab::guide::{Estimate, Plan, PlannedConfig};
use ouro_lab::report::write_report;
use ouro_lab::runs::RunState;
use ouro_lab::{OutputRoot, RunRecord};
use ouro_train::TrainConfig;

/// The tiny group's config at `hidden` (its study names `arch.hidden_size` and a criterion on
/// `tiny_h64`).
fn config(hidden: usize) -> TrainConfig {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/experiments/tiny_h16.yaml");
    TrainConfig::load(&file, &[format!("arch.hidden_size={hidden}"), "+tags=[demo]".into()]).unwrap()
}

fn plan() -> Plan {
    let configs = [16, 64]
        .into_iter()
        .map(|h| PlannedConfig {
            name: format!("tiny_h{h}"),
            config: config(h),
            hash: format!("hash{h}"),
            command: format!("ouro run tiny_h{h}"),
            estimate: Some(Estimate { seconds: 30.0 * h as f64 / 16.0, basis: "1 x 1 TFLOP/s".into() }),
            same_recipe: if h == 64 { vec!["other/copy".into()] } else { vec![] },
        })
        .collect();
    Plan {
        group: "tiny".into(),
        configs,
        commands: vec![("every config".into(), "ouro batch tiny_h16 tiny_h64".into())],
        generated_by: "ouro report tiny".into(),
        swept: vec![],
    }
}

/// Writes run `name` of the tiny group under `root`: its record, config and metrics (its
/// accuracy rising to `final_accuracy`, the last train step halting nothing).
fn write_run(root: &Path, hidden: usize, final_accuracy: f64) -> PathBuf {
    let name = format!("tiny_h{hidden}");
    let dir = root.join("tiny").join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.yaml"), config(hidden).to_yaml().unwrap()).unwrap();
    let mut lines = String::new();
    for step in 1..=100u64 {
        let halted = if step == 100 { 0.0 } else { 8.0 };
        let exact = if step == 100 { 0.0 } else { 0.5 };
        lines += &format!(
            "{{\"step\":{step},\"train/lm_loss\":{},\"train/exact_accuracy\":{exact},\"train/halted\":{halted},\"train/steps\":2.0}}\n",
            2.0 / step as f64
        );
        if step % 10 == 0 {
            lines += &format!(
                "{{\"step\":{step},\"throughput/examples_per_second\":{},\"throughput/step_seconds\":0.1}}\n",
                1000 / hidden
            );
        }
        if step % 25 == 0 {
            let acc = final_accuracy * step as f64 / 100.0;
            lines +=
                &format!("{{\"step\":{step},\"all/exact_accuracy\":{acc},\"all/accuracy\":{}}}\n", 0.2 + acc / 2.0);
        }
    }
    std::fs::write(dir.join("metrics.jsonl"), lines).unwrap();
    let record = RunRecord {
        steps: 100,
        total_steps: 101,
        seconds: 150.0,
        ..RunRecord::new(&name, Path::new("tiny.yaml"), &[], &format!("hash{hidden}"), RunState::Complete)
    };
    record.write(&dir).unwrap();
    dir
}

#[test]
fn the_guide_is_the_plan_before_the_runs_and_the_results_after() {
    let base = std::env::temp_dir().join(format!("ouro-guide-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = OutputRoot::open(base.to_str().unwrap()).unwrap();

    let before = write_report(&root, &plan(), None).unwrap();
    let md = std::fs::read_to_string(&before.markdown).unwrap();
    for want in [
        "# Experiment tiny: Tiny: hidden size on 4x4 Sudoku",
        "The plan: nothing has run yet",
        "`arch.hidden_size` ∈ 16, 64",
        "| `tiny_h16` | 16 | `hash16` | planned | - | 30 s |",
        "ouro batch tiny_h16 tiny_h64",
        "ouro run tiny_h64",
        "not measured yet",
        "**Estimated, all configs (a shared recipe once):** 2.5 min, on 1 x 1 TFLOP/s",
        "tiny_h64 has the recipe of other/copy",
        "**Tags:** `demo`",
        "📋 Planned",
    ] {
        assert!(md.contains(want), "no {want:?} in the plan:\n{md}");
    }
    assert!(before.plots.is_empty(), "nothing to plot before the runs");

    write_run(&base, 16, 0.2);
    let h64 = write_run(&base, 64, 0.8);
    ouro_lab::notes::add(&h64, "converges by step 75").unwrap();
    let after = write_report(&root, &plan(), None).unwrap();
    let md = std::fs::read_to_string(&after.markdown).unwrap();
    for want in [
        "Results so far",
        // A complete run's steps are those it took; accuracies as percentages.
        "| `tiny_h64` | 64 | `hash64` | complete | 100/100 |",
        "| `tiny_h64` | 64 | 80.0 % | 60.0 % |",
        // The train accuracy over the last steps, weighed by the halted sequences: the last
        // step halted nothing and does not count.
        "| 50.0 % | 2.00 | 15 | 2.5 min | 4 |",
        "- [x] the widest model beats chance on test tokens: `all/accuracy` of `tiny_h64` ≥ 30.0 %; measured 60.0 % (pass)",
        "**Used so far:** 5.0 min",
        "![Final test exact accuracy vs arch.hidden_size](final_accuracy.png)",
        "`tiny_h64`, ",
        "converges by step 75",
        "✅ Complete",
    ] {
        assert!(md.contains(want), "no {want:?} in the results:\n{md}");
    }
    let names: Vec<String> =
        after.plots.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for plot in ["train_loss", "eval_accuracy", "train_accuracy", "final_accuracy", "throughput", "wall_time"] {
        assert!(names.contains(&format!("{plot}.svg")) && names.contains(&format!("{plot}.png")), "{names:?}");
    }
    // The page stands alone: its plots inline, nothing fetched.
    let html = std::fs::read_to_string(&after.html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.matches("<svg").count() == 6, "plots inline");
    assert!(!["<script", "<link", "src=\"http", "<img"].iter().any(|t| html.contains(t)), "self-contained");
    assert!(html.contains("hidden_size = 64"), "legends name the varied value");
    std::fs::remove_dir_all(base).unwrap();
}

/// The HTML guide as a browser draws it: headless Chromium (`OURO_CHROMIUM`, the browser's
/// path; CI installs Debian's `chromium`) takes a screenshot of the page with runs, which must
/// hold the drawn plots and tables (a blank or broken page compresses to a few kilobytes).
#[test]
#[ignore = "needs Chromium: OURO_CHROMIUM=/usr/bin/chromium cargo test -p ouro-lab --test guide -- --ignored"]
fn a_browser_draws_the_html_guide() {
    let chromium = std::env::var("OURO_CHROMIUM").expect("OURO_CHROMIUM names the Chromium binary");
    let base = std::env::temp_dir().join(format!("ouro-guide-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = OutputRoot::open(base.to_str().unwrap()).unwrap();
    write_run(&base, 16, 0.2);
    write_run(&base, 64, 0.8);
    let files = write_report(&root, &plan(), None).unwrap();
    let shot = base.join("guide.png");
    let out = std::process::Command::new(&chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,4000"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", files.html.display()))
        .output()
        .unwrap();
    assert!(shot.is_file(), "no screenshot: {}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(&shot).unwrap();
    // The IHDR chunk: width and height, big-endian, at bytes 16..24.
    let (w, h) =
        (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()));
    assert_eq!((w, h), (1200, 4000));
    assert!(png.len() > 150_000, "a {} byte screenshot is no drawn guide", png.len());
    if let Ok(keep) = std::env::var("OURO_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
    std::fs::remove_dir_all(base).unwrap();
}
