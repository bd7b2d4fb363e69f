//! An experiment group's runs as a report reads them: each run's record, resolved config and
//! metrics (a duplicate's from the run it names), and what the runs differ in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use ouro_train::TrainConfig;
use serde_json::Value;

use crate::metrics::RunMetrics;
use crate::notes::Note;
use crate::runs::RunRecord;

/// One run of the group, with the metrics it (or the run it duplicates) produced.
#[derive(Clone, Debug)]
pub struct GroupRun {
    /// Its directory.
    pub dir: PathBuf,
    /// Its record.
    pub record: RunRecord,
    /// Its resolved config (`None`: the run failed before writing one).
    pub config: Option<TrainConfig>,
    /// Its metrics (a duplicate's: those of the run it names).
    pub metrics: RunMetrics,
    /// Wall-clock seconds of training (a duplicate's: the original's).
    pub seconds: f64,
    /// The notes a researcher attached to it (`ouro note`).
    pub notes: Vec<Note>,
}

/// An experiment group's runs.
#[derive(Debug, Default)]
pub struct Group {
    /// Its runs, in name order.
    pub runs: Vec<GroupRun>,
    /// Runs left out because a record of theirs could not be read, each naming the file.
    pub skipped: Vec<String>,
}

/// The runs in `output_root/group/`, in name order.
pub fn load_group(output_root: &Path, group: &str) -> Result<Group> {
    let group_dir = output_root.join(group);
    if !group_dir.is_dir() {
        // Nothing has run yet: the guide is the plan alone.
        return Ok(Group::default());
    }
    let (mut runs, mut skipped) = (Vec::new(), Vec::new());
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&group_dir)
        .map_err(|e| Error::io(format!("listing {}", group_dir.display()), e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("run.json").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let record = match RunRecord::read(&dir) {
            Ok(Some(record)) => record,
            Ok(None) => continue,
            Err(e) => {
                skipped.push(format!("{e:#}"));
                continue;
            }
        };
        // A duplicate's results live in the run it names.
        let source = record.results_dir(&dir);
        let config_path = source.join("config.yaml");
        let Ok(text) = std::fs::read_to_string(&config_path) else {
            // A run that failed before writing its config has nothing to compare.
            let notes = crate::notes::read(&dir)?;
            runs.push(GroupRun { dir, record, config: None, metrics: RunMetrics::default(), seconds: 0.0, notes });
            continue;
        };
        let config = match TrainConfig::parse(&text, &config_path.display().to_string(), &[]) {
            Ok(config) => config,
            Err(e) => {
                skipped.push(format!("{}: {e:#}", dir.display()));
                continue;
            }
        };
        let metrics = RunMetrics::read(&source)?;
        let seconds = RunRecord::read(&source).ok().flatten().map_or(record.seconds, |r| r.seconds);
        let notes = crate::notes::read(&dir)?;
        runs.push(GroupRun { dir, record, config: Some(config), metrics, seconds, notes });
    }
    Ok(Group { runs, skipped })
}

/// The tags of the run whose results are in `dir` (its config's `tags`; none when it has no
/// config yet).
pub fn tags_of(dir: &Path) -> Vec<String> {
    let path = dir.join("config.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else { return Vec::new() };
    TrainConfig::parse(&text, &path.display().to_string(), &[]).map_or_else(|_| Vec::new(), |c| c.study.tags)
}

/// A config's recipe as dotted keys → values (lists whole): what runs differ in; empty for none.
pub fn recipe_keys(config: Option<&TrainConfig>) -> BTreeMap<String, Value> {
    config.map_or_else(BTreeMap::new, |c| flatten(&serde_json::to_value(&c.recipe).unwrap_or(Value::Null)))
}

/// Every key of a config (a variable the study names may be any), as [`recipe_keys`].
pub fn config_keys(config: Option<&TrainConfig>) -> BTreeMap<String, Value> {
    config.map_or_else(BTreeMap::new, |c| flatten(&c.to_json().unwrap_or(Value::Null)))
}

/// A tree as dotted keys → values, lists whole.
fn flatten(tree: &Value) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, v, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), other.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", tree, &mut out);
    out
}

/// The keys whose values differ between `configs`.
pub fn varied_keys(configs: &[&TrainConfig]) -> Vec<String> {
    let flat: Vec<BTreeMap<String, Value>> = configs.iter().map(|c| recipe_keys(Some(c))).collect();
    let Some(first) = flat.first() else { return Vec::new() };
    let mut keys: Vec<String> = first.keys().cloned().collect();
    for f in &flat[1..] {
        keys.extend(f.keys().filter(|k| !first.contains_key(*k)).cloned());
    }
    keys.sort();
    keys.dedup();
    keys.into_iter().filter(|k| flat.iter().any(|f| f.get(k) != first.get(k))).collect()
}

/// `key`'s value in `config`, as text (`-` when it has none).
pub fn value_text(config: Option<&TrainConfig>, key: &str) -> String {
    match config_keys(config).get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(", "),
        Some(v) => v.to_string(),
        None => "-".into(),
    }
}
