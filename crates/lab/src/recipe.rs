//! A run's identity: the hash of its effective recipe. Two configs that train the same thing
//! (the catalog's duplicates: the same recipe under several names) hash the same, so a batch
//! runs it once and a finished run is never run again.

use std::path::Path;

use crate::error::Result;
use ouro_train::TrainConfig;
use ouro_train::config::{Recipe, RunConfig, StudyConfig};
use sha2::{Digest, Sha256};

/// The hash of what `recipe` trains on the data of `data_fingerprint`, as 16 hex digits: its
/// [`Recipe::canonical`] form, written as a config that holds nothing else (the run's and the
/// study's keys at their defaults, as they have been hashed from the start).
pub fn recipe_hash(recipe: &Recipe, data_fingerprint: &str) -> Result<String> {
    let only_recipe =
        TrainConfig { recipe: recipe.canonical(), run: RunConfig::default(), study: StudyConfig::default() };
    // A JSON value's Display is its compact serialisation.
    let text = only_recipe.to_json()?.to_string();
    let mut h = Sha256::new();
    h.update(text.as_bytes());
    h.update(b"\0data\0");
    h.update(data_fingerprint.as_bytes());
    Ok(short_hex(h))
}

/// What identifies the data of `cfg`: for each local dataset directory, its splits' metadata
/// and the names and sizes of their files; a remote location or a missing directory by its
/// name.
pub fn data_fingerprint(recipe: &Recipe) -> Result<String> {
    let mut h = Sha256::new();
    let mut paths: Vec<&String> = recipe.data_paths.iter().collect();
    if !recipe.data_paths_test.is_empty() {
        paths.extend(&recipe.data_paths_test);
    }
    for location in paths {
        h.update(b"\0path\0");
        let dir = Path::new(location);
        if location.contains("://") || !dir.is_dir() {
            h.update(location.as_bytes());
            continue;
        }
        for split in ["train", "test"] {
            let split_dir = dir.join(split);
            let Ok(entries) = std::fs::read_dir(&split_dir) else { continue };
            let mut files: Vec<(String, u64)> = entries
                .flatten()
                .filter_map(|e| Some((e.file_name().to_string_lossy().into_owned(), e.metadata().ok()?.len())))
                .collect();
            files.sort();
            h.update(split.as_bytes());
            for (name, len) in files {
                h.update(format!("{name}:{len};").as_bytes());
            }
            let meta = split_dir.join("dataset.json");
            if let Ok(text) = std::fs::read(&meta) {
                h.update(&text);
            }
        }
    }
    Ok(short_hex(h))
}

/// The first 8 bytes of the digest, as 16 hex digits.
fn short_hex(h: Sha256) -> String {
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "arch:\n  hidden_size: 64\n  num_heads: 2\ndata_paths: [data/x]\nglobal_batch_size: 8\n\
        epochs: 10\nlr: 1.0e-3\nweight_decay: 0.1\npuzzle_emb_lr: 1.0e-2\npuzzle_emb_weight_decay: 0.1\n";

    fn hash(overrides: &[&str]) -> String {
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        let cfg = TrainConfig::parse(BASE, "base.yaml", &o).unwrap();
        recipe_hash(&cfg.recipe, "data").unwrap()
    }

    #[test]
    fn names_and_inert_settings_do_not_change_the_recipe() {
        let base = hash(&[]);
        for same in [
            vec!["+run_name=other"],
            vec!["+experiment_group=exp01", "+project_name=P", "+tags=[a]"],
            vec!["+checkpoint.every_steps=5"],
            vec!["+halt_exploration_final=0.05"],
            vec!["+curriculum_start_l_cycles=2"],
            vec!["+loss_scale_growth_interval=10"],
            vec!["+remat=true"],
            vec!["data_paths=[elsewhere/x]"],
            vec!["+target=v4-64"],
            // The default: the hashes of runs made before the key existed stay.
            vec!["+matmul_precision=highest"],
        ] {
            assert_eq!(hash(&same), base, "{same:?}");
        }
        for different in [
            vec!["lr=3e-4"],
            vec!["arch.hidden_size=32"],
            vec!["+seed=1"],
            vec!["+use_adaptive_halting=true", "+halt_exploration_final=0.05"],
            vec!["+optimizer=lion"],
            vec!["+loss_scaling=dynamic"],
            vec!["+loss_scaling=dynamic", "+loss_scale_growth_interval=10"],
            vec!["+matmul_precision=default"],
            vec!["+matmul_precision=high"],
        ] {
            assert_ne!(hash(&different), base, "{different:?}");
        }
        let cfg = TrainConfig::parse(BASE, "base.yaml", &[]).unwrap();
        assert_ne!(recipe_hash(&cfg.recipe, "other data").unwrap(), base, "the data is part of the recipe");
    }
}
