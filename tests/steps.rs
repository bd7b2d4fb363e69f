//! The whole programs a run compiles, as goldens: the tiny config's train, init and eval steps,
//! its train step on a mesh of two devices and with rematerialisation, and its `mlp_t` variant's
//! train step in the form written for XLA:CPU (`Compiler::Cpu`), lowered to StableHLO and
//! compared with tests/golden/steps/ (regenerated with UPDATE_GOLDEN=1, reviewed like code). A
//! change to the tracer, autodiff, the lowering, the model or the step's state shows here as a
//! diff of the program itself; a refactoring meant to change nothing must leave them as they are.

use std::path::{Path, PathBuf};

use ouro_nn::{Compiler, DataDims};
use ouro_train::TrainConfig;
use ouro_train::aot::{StepKind, step_program};

/// The 4x4 Sudoku data the tiny config trains on (`ouro dataset info` of its generated set).
const SUDOKU4: DataDims = DataDims { batch_size: 0, seq_len: 16, vocab_size: 6, num_puzzle_identifiers: 1 };

fn tiny(overrides: &[&str]) -> TrainConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/sudoku4-tiny.yaml");
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    TrainConfig::load(&path, &overrides).unwrap()
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/steps").join(format!("{name}.mlir"))
}

#[test]
fn the_tiny_config_s_programs_are_their_goldens() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let accelerator = Compiler::Accelerator;
    let cases: [(&str, &[&str], StepKind, Compiler); 6] = [
        ("tiny_train", &[], StepKind::Train, accelerator),
        ("tiny_init", &[], StepKind::Init, accelerator),
        ("tiny_eval", &[], StepKind::Eval, accelerator),
        ("tiny_train_mesh2", &["mesh.data=2"], StepKind::Train, accelerator),
        ("tiny_train_remat", &["remat=true"], StepKind::Train, accelerator),
        ("tiny_train_mlp_t_cpu", &["arch.mlp_t=true", "arch.pos_encodings=none"], StepKind::Train, Compiler::Cpu),
    ];
    let mut failures = Vec::new();
    for (name, overrides, kind, compiler) in cases {
        let text = step_program(&tiny(overrides), &SUDOKU4, kind, compiler).unwrap();
        let path = golden(name);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(want) if want == text => {}
            Ok(want) => {
                let line = want.lines().zip(text.lines()).position(|(a, b)| a != b).unwrap_or(0) + 1;
                failures.push(format!(
                    "{name}: differs from {} from line {line} (UPDATE_GOLDEN=1 regenerates)",
                    path.display()
                ));
            }
            Err(_) => failures.push(format!("{name}: no golden at {} (UPDATE_GOLDEN=1 writes it)", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tracing_a_step_twice_gives_the_same_program() {
    let cfg = tiny(&[]);
    let a = step_program(&cfg, &SUDOKU4, StepKind::Train, Compiler::Cpu).unwrap();
    let b = step_program(&cfg, &SUDOKU4, StepKind::Train, Compiler::Cpu).unwrap();
    assert_eq!(a, b, "the lowering is deterministic (goldens would be flaky otherwise)");
}
