//! The recipe hashes of the catalog's configs stay what they were when their runs were made:
//! a changed hash would make every finished run look like another recipe. The golden file is
//! rewritten with `UPDATE_GOLDEN=1` (review the diff: a changed line is a changed identity).

use std::path::{Path, PathBuf};

use ouro_train::TrainConfig;

const GOLDEN: &str = "tests/recipe_hashes.golden";

/// Each catalog config, plain and with overrides of every part of a config.
fn cases() -> Vec<(PathBuf, Vec<&'static str>)> {
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(configs.join("experiments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for top in ["sudoku4-tiny.yaml", "sudoku-att.yaml", "arc1-att.yaml", "maze-att.yaml"] {
        files.push(configs.join(top));
    }
    let mut cases: Vec<(PathBuf, Vec<&str>)> = files.into_iter().map(|f| (f, vec![])).collect();
    let tiny = configs.join("sudoku4-tiny.yaml");
    for overrides in [
        vec!["+mesh.data=8", "+grad_accum_steps=2"],
        vec!["+remat=true", "+target=v4-64", "+unroll_cycles=true", "+run_name=x", "+tags=[a,b]"],
        vec!["+checkpoint.every_steps=7", "+checkpoint.location=gs://b/x", "data_paths=[elsewhere]"],
        vec!["+use_adaptive_halting=true", "+halt_exploration_final=0.05"],
        vec!["+halt_exploration_final=0.05"],
        vec!["+loss_scaling=dynamic", "+loss_scale_growth_interval=10"],
        vec!["+optimizer=lion", "+matmul_precision=high", "~ema_rate"],
        vec!["+checkpoint_every_eval=true", "+eval_max_batches=2", "+data_paths_test=[t]"],
        vec![
            "+use_curriculum_recursion=true",
            "+curriculum_start_l_cycles=1",
            "+curriculum_start_h_cycles=1",
            "+curriculum_end_epoch=100",
        ],
    ] {
        cases.push((tiny.clone(), overrides));
    }
    cases
}

#[test]
fn the_catalogs_recipe_hashes_do_not_change() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut lines = String::new();
    for (file, overrides) in cases() {
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        let config = TrainConfig::load(&file, &o).unwrap();
        let hash = ouro_lab::recipe_hash(&config.recipe, "fixed data").unwrap();
        let name = file.strip_prefix(&root).unwrap().display().to_string();
        lines.push_str(&format!("{hash} {name} {}\n", overrides.join(" ")).replace(" \n", "\n"));
    }
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &lines).unwrap();
    }
    let want = std::fs::read_to_string(&golden).expect("the golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(lines, want, "recipe hashes changed");
}
