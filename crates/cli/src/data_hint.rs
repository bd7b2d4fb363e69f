//! What to do about a dataset a config names that is not there: the build command its data
//! config (`configs/data/*.yaml`) documents, or where the builders are described.

use std::path::{Path, PathBuf};

/// Where the data configs are, from the directory `ouro` runs in.
const DATA_CONFIGS: &str = "configs/data";

/// The hint for `e`, if it is a missing dataset.
pub(crate) fn missing_dataset(e: &anyhow::Error) -> Option<String> {
    let dir = e.chain().find_map(|c| {
        let train = c.downcast_ref::<ouro_train::Error>().and_then(ouro_train::Error::missing_dataset);
        let data = match c.downcast_ref::<ouro_data::Error>() {
            Some(ouro_data::Error::Missing { path, .. }) => Some(path.as_path()),
            _ => None,
        };
        train.or(data)
    })?;
    let name = dir.file_name()?.to_str()?;
    Some(match build_command(Path::new(DATA_CONFIGS), name) {
        Some((file, command)) => format!(
            "hint: {} builds it (the source data: docs/datasets.md, \"Getting the source data\"):\n  {command}",
            file.display()
        ),
        None => "hint: build it with `ouro dataset build` (docs/datasets.md: the builders, and where their \
                 source data comes from)"
            .to_string(),
    })
}

/// The build command documented in the comment of the data config in `dir` whose `data_paths`
/// names the dataset `name`, and that config.
fn build_command(dir: &Path, name: &str) -> Option<(PathBuf, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).collect();
    files.sort();
    for file in files.into_iter().filter(|f| f.extension().is_some_and(|x| x == "yaml")) {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        let names_it = text.lines().any(|l| l.starts_with("data_paths:") && l.contains(&format!("/{name}\"")));
        if !names_it {
            continue;
        }
        // The comment's lines from `ouro dataset build` on, as long as they end in `\`.
        let comment = text.lines().take_while(|l| l.starts_with('#')).map(|l| l.trim_start_matches('#').trim());
        let mut command = Vec::new();
        for line in comment.skip_while(|l| !l.starts_with("ouro dataset build")) {
            command.push(line.trim_end_matches('\\').trim());
            if !line.ends_with('\\') {
                break;
            }
        }
        if !command.is_empty() {
            return Some((file, command.join(" ")));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn a_catalog_dataset_is_found_with_its_documented_build_command() {
        let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/data");
        let (file, command) = super::build_command(&configs, "sudoku-extreme-1k-aug-1000").unwrap();
        assert!(file.ends_with("sudoku-extreme-1k-aug-1000.yaml"), "{}", file.display());
        assert_eq!(
            command,
            "ouro dataset build sudoku --train-csv sudoku-extreme/train.csv --test-csv sudoku-extreme/test.csv \
             --subsample-size 1000 --num-aug 1000 --seed 0 --nested --out data/sudoku-extreme-1k-aug-1000"
        );
        // A prefix of another set's name is not that set.
        assert!(super::build_command(&configs, "sudoku-extreme-1k-aug-1").is_none());
    }

    #[test]
    fn a_missing_dataset_under_contexts_gets_a_hint_and_other_errors_none() {
        let missing = ouro_data::Error::Missing { path: "data/nowhere".into(), file: "data/nowhere/train".into() };
        let e = anyhow::Error::from(ouro_train::Error::from(missing).context("opening the training data"));
        let hint = super::missing_dataset(&e.context("experiment x")).unwrap();
        assert!(hint.starts_with("hint: build it with `ouro dataset build`"), "{hint}");
        assert!(super::missing_dataset(&anyhow::anyhow!("something else")).is_none());
    }
}
