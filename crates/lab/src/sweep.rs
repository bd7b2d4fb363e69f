//! Sweeps: overrides whose value is a comma list (`arch.hidden_size=16,32,64`) or a range
//! (`lr=range(1,4)`, Hydra's `range(start, stop[, step])`, the stop left out) expand to one run
//! per combination of their values, each named by them (`tiny_h64.hidden_size_16.lr_1`), in a
//! group of their own.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The file in a sweep's group directory that records what the sweep runs.
pub const RECORD_FILE: &str = "sweep.json";

/// What a sweep runs, kept in its group's directory: the guide of a sweep's group lists its
/// runs and the command that runs them from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The command that runs (and continues) the sweep.
    pub command: String,
    /// Its runs.
    pub runs: Vec<PlannedRun>,
}

/// One run of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedRun {
    /// The run's name.
    pub name: String,
    /// Its config file.
    pub config_file: String,
    /// Its overrides, the swept values among them.
    pub overrides: Vec<String>,
}

impl Record {
    /// Writes the record into `group_dir` (whole: a temporary file renamed).
    pub fn write(&self, group_dir: &Path) -> Result<()> {
        crate::runs::write_json(group_dir, RECORD_FILE, self)
    }

    /// The record in `group_dir`, if the group is a sweep's.
    pub fn read(group_dir: &Path) -> Result<Option<Record>> {
        crate::runs::read_json(&group_dir.join(RECORD_FILE))
    }

    /// The config keys whose overrides differ between the runs, in the order they are given.
    pub fn swept_keys(&self) -> Vec<String> {
        let assignments = |run: &PlannedRun| -> Vec<(String, String)> {
            let pairs = run.overrides.iter().filter_map(|o| o.split_once('='));
            pairs.map(|(k, v)| (k.trim_start_matches('+').to_string(), v.to_string())).collect()
        };
        let all: Vec<Vec<(String, String)>> = self.runs.iter().map(assignments).collect();
        let value = |of: &[(String, String)], key: &str| of.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let mut keys: Vec<String> = Vec::new();
        for (key, _) in all.iter().flatten() {
            if !keys.contains(key) && all.iter().any(|a| value(a, key) != value(&all[0], key)) {
                keys.push(key.clone());
            }
        }
        keys
    }
}

/// The most runs one sweep may expand to (a typo like `range(0,1e9)` must not plan a billion).
pub const MAX_RUNS: usize = 1024;

/// Overrides split into those every run shares and those swept.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    /// Overrides as given, applied to every run.
    pub fixed: Vec<String>,
    /// Each swept key (with its `+`/`++` prefix, if any) and its values, in command-line order.
    pub swept: Vec<(String, Vec<String>)>,
}

/// One combination of a sweep's values.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// The overrides that give it (`key=value` for each swept key).
    pub overrides: Vec<String>,
    /// What names it: `<key's last part>_<value>` for each swept key, joined by `.`.
    pub suffix: String,
}

impl Sweep {
    /// Splits `overrides` into fixed and swept ones; a list or range that cannot be expanded
    /// is an error naming the override.
    pub fn parse(overrides: &[String]) -> Result<Sweep> {
        let mut sweep = Sweep { fixed: Vec::new(), swept: Vec::new() };
        for o in overrides {
            match o.split_once('=').filter(|(key, _)| !key.starts_with('~')) {
                Some((key, value)) => {
                    match values(value).map_err(|why| Error::Invalid(format!("the sweep {o:?}: {why}")))? {
                        Some(list) => sweep.swept.push((key.to_string(), list)),
                        None => sweep.fixed.push(o.clone()),
                    }
                }
                None => sweep.fixed.push(o.clone()),
            }
        }
        let runs = sweep.swept.iter().try_fold(1usize, |n, (_, v)| n.checked_mul(v.len()));
        if runs.is_none_or(|n| n > MAX_RUNS) {
            return Err(Error::Invalid(format!(
                "the sweep over {} expands to more than {MAX_RUNS} runs: split it",
                sweep.swept.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(sweep)
    }

    /// Whether any override is swept.
    pub fn is_sweep(&self) -> bool {
        !self.swept.is_empty()
    }

    /// Every combination, the first key varying slowest.
    pub fn variants(&self) -> Vec<Variant> {
        let mut out = vec![Variant { overrides: Vec::new(), suffix: String::new() }];
        for (key, values) in &self.swept {
            let leaf = leaf(key);
            out = out
                .iter()
                .flat_map(|v| {
                    values.iter().map(move |value| {
                        let part = format!("{leaf}_{}", path_safe(value));
                        let mut overrides = v.overrides.clone();
                        overrides.push(format!("{key}={value}"));
                        let suffix = if v.suffix.is_empty() { part } else { format!("{}.{part}", v.suffix) };
                        Variant { overrides, suffix }
                    })
                })
                .collect();
        }
        out
    }

    /// The group a sweep's runs go to unless one is given: `<group>-sweep-<key>-<key>`.
    pub fn group(&self, base: &str) -> String {
        let keys: Vec<&str> = self.swept.iter().map(|(k, _)| leaf(k)).collect();
        format!("{base}-sweep-{}", keys.join("-"))
    }
}

/// The values of a swept override's value, or `None` when it is a single value.
fn values(value: &str) -> std::result::Result<Option<Vec<String>>, String> {
    if let Some(args) = value.strip_prefix("range(").and_then(|v| v.strip_suffix(')')) {
        return range(args).map(Some);
    }
    let parts = split_top_level(value);
    if parts.len() < 2 {
        return Ok(None);
    }
    if parts.iter().any(|p| p.trim().is_empty()) {
        return Err("an empty value in the list".into());
    }
    let mut seen: Vec<String> = Vec::new();
    for p in parts {
        let p = p.trim().to_string();
        if seen.contains(&p) {
            return Err(format!("{p} is listed twice"));
        }
        seen.push(p);
    }
    Ok(Some(seen))
}

/// `start, stop[, step]` as Hydra's `range`: from start up to (not including) stop.
fn range(args: &str) -> std::result::Result<Vec<String>, String> {
    let numbers: Vec<f64> = args
        .split(',')
        .map(|a| a.trim().parse::<f64>().map_err(|_| format!("range arguments are numbers, not {:?}", a.trim())))
        .collect::<std::result::Result<_, _>>()?;
    let integers = args.split(',').all(|a| a.trim().parse::<i64>().is_ok());
    let (start, stop, step) = match numbers[..] {
        [start, stop] => (start, stop, 1.0),
        [start, stop, step] => (start, stop, step),
        _ => return Err("range takes start, stop and an optional step".into()),
    };
    if step == 0.0 || !step.is_finite() || !start.is_finite() || !stop.is_finite() {
        return Err("the step of a range must be a finite number other than 0".into());
    }
    let count = ((stop - start) / step).ceil();
    if count < 1.0 {
        return Err(format!("range({args}) is empty"));
    }
    if count > MAX_RUNS as f64 {
        return Err(format!("range({args}) has more than {MAX_RUNS} values"));
    }
    Ok((0..count as usize)
        .map(|i| {
            let v = start + step * i as f64;
            if integers { format!("{}", v as i64) } else { format!("{}", (v * 1e12).round() / 1e12) }
        })
        .collect())
}

/// `value` split at commas outside brackets, braces, parentheses and quotes.
fn split_top_level(value: &str) -> Vec<&str> {
    let (mut depth, mut quote, mut start, mut parts) = (0i32, None, 0, Vec::new());
    for (i, c) in value.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{' | '(') => depth += 1,
            (None, ']' | '}' | ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

/// A dotted key's last part, its `+` prefix dropped.
fn leaf(key: &str) -> &str {
    key.trim_start_matches('+').rsplit('.').next().unwrap_or(key)
}

/// `value` with every character a directory name may not hold as `_`.
fn path_safe(value: &str) -> String {
    value.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(overrides: &[&str]) -> Result<Sweep> {
        Sweep::parse(&overrides.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn lists_and_ranges_expand_to_every_combination_named_by_its_values() {
        let s = sweep(&["epochs=40", "arch.hidden_size=16,32", "lr=range(1,4)", "data_paths=[a, b]"]).unwrap();
        assert_eq!(s.fixed, ["epochs=40", "data_paths=[a, b]"]);
        let variants = s.variants();
        assert_eq!(variants.len(), 6);
        assert_eq!(variants[0].overrides, ["arch.hidden_size=16", "lr=1"]);
        assert_eq!(variants[0].suffix, "hidden_size_16.lr_1");
        assert_eq!(variants[5].suffix, "hidden_size_32.lr_3");
        assert_eq!(s.group("tiny"), "tiny-sweep-hidden_size-lr");
        let floats = sweep(&["lr=range(0.001,0.004,0.001)"]).unwrap();
        assert_eq!(floats.swept[0].1, ["0.001", "0.002", "0.003"]);
        let quoted = sweep(&["study.title='a, b'", "x=\"c,d\""]).unwrap();
        assert!(!quoted.is_sweep(), "{quoted:?}");
    }

    #[test]
    fn a_sweeps_record_reads_back() {
        let dir = std::env::temp_dir().join(format!("ouro-sweep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(Record::read(&dir).unwrap(), None);
        let run = PlannedRun { name: "a.x_1".into(), config_file: "a.yaml".into(), overrides: vec!["x=1".into()] };
        let record = Record { command: "ouro batch a --set x=1,2".into(), runs: vec![run] };
        record.write(&dir).unwrap();
        assert_eq!(Record::read(&dir).unwrap(), Some(record));
        std::fs::write(dir.join(RECORD_FILE), "{").unwrap();
        assert!(Record::read(&dir).unwrap_err().to_string().contains(RECORD_FILE));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_sweeps_record_names_the_keys_it_varies() {
        let runs = sweep(&["epochs=8", "+arch.hidden_size=16,32", "seed=0,1"]).unwrap().variants();
        let runs = runs
            .into_iter()
            .map(|v| PlannedRun {
                name: v.suffix,
                config_file: "a.yaml".into(),
                overrides: [vec!["epochs=8".to_string()], v.overrides].concat(),
            })
            .collect();
        let record = Record { command: String::new(), runs };
        assert_eq!(record.swept_keys(), ["arch.hidden_size", "seed"]);
    }

    #[test]
    fn a_sweep_that_cannot_expand_says_why() {
        for (bad, why) in [
            (vec!["lr=range(0,1,0)"], "other than 0"),
            (vec!["lr=range(5,1)"], "is empty"),
            (vec!["lr=range(a,2)"], "numbers"),
            (vec!["lr=1,,2"], "empty value"),
            (vec!["lr=1,1"], "twice"),
            (vec!["a=range(0,1000)", "b=1,2"], "more than 1024 runs"),
            (vec!["a=range(0,100000)"], "more than 1024 values"),
        ] {
            let e = sweep(&bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
