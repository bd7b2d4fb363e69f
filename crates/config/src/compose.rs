//! Composing a config from its defaults list, then the overrides and interpolation, keeping the
//! origin of every value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::interpolate::interpolate;
use crate::node::read_yaml;
use crate::overrides::{Override, apply, group_choices};
use crate::{Error, Result, err};

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// A file, or the override as typed.
    pub source: String,
    /// The line in that file.
    pub line: Option<u64>,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.source),
            None => f.write_str(&self.source),
        }
    }
}

/// A composed config: a value tree and where each key's value came from.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The tree (a mapping at the top).
    pub value: Value,
    /// Dotted key → the origin of its value.
    origins: BTreeMap<String, Origin>,
}

impl Config {
    fn empty() -> Config {
        Config { value: Value::Object(Map::new()), origins: BTreeMap::new() }
    }

    /// Where the value at dotted `key` (or the nearest enclosing key) came from.
    pub fn origin(&self, key: &str) -> Option<&Origin> {
        let mut at = key;
        loop {
            if let Some(o) = self.origins.get(at) {
                return Some(o);
            }
            at = at.rsplit_once('.')?.0;
        }
    }

    /// Records `origin` for `key` and, replacing what was there, for every key below it.
    pub(crate) fn set_origin(&mut self, key: &str, origin: Origin) {
        self.forget(key);
        self.origins.insert(key.to_string(), origin);
    }

    /// Drops the origins of `key` and of every key below it.
    pub(crate) fn forget(&mut self, key: &str) {
        let below = format!("{key}.");
        self.origins.retain(|k, _| k != key && !k.starts_with(&below));
    }

    /// Merges `other` into this config under dotted `at` ("" for the top): mappings merge key
    /// by key, anything else replaces.
    fn merge(&mut self, other: Config, at: &str) {
        let prefix = |k: &str| if at.is_empty() { k.to_string() } else { format!("{at}.{k}") };
        merge_value(self.value_at_mut(at), other.value);
        for (k, o) in other.origins {
            self.origins.insert(prefix(&k), o);
        }
    }

    /// The value at dotted `at`, created as an empty mapping where missing.
    fn value_at_mut(&mut self, at: &str) -> &mut Value {
        let mut node = &mut self.value;
        for part in at.split('.').filter(|p| !p.is_empty()) {
            if !node.is_object() {
                *node = Value::Object(Map::new());
            }
            node = node.as_object_mut().expect("a mapping").entry(part).or_insert(Value::Object(Map::new()));
        }
        node
    }

    /// Removes the top-level `key`: its value and where it came from.
    pub fn take(&mut self, key: &str) -> Option<(Value, Option<Origin>)> {
        let value = self.value.as_object_mut()?.shift_remove(key)?;
        let origin = self.origins.get(key).cloned();
        self.forget(key);
        Some((value, origin))
    }

    /// Sets the top-level `key` unless it exists, recording `origin`; whether it was set.
    pub fn set_if_absent(&mut self, key: &str, value: Value, origin: Option<Origin>) -> bool {
        let Some(object) = self.value.as_object_mut() else { return false };
        if object.contains_key(key) {
            return false;
        }
        object.insert(key.to_string(), value);
        if let Some(o) = origin {
            self.origins.insert(key.to_string(), o);
        }
        true
    }

    /// Moves the top-level `from` to `to` (which must not exist), origins included.
    pub fn rename(&mut self, from: &str, to: &str) -> bool {
        let Some(object) = self.value.as_object_mut() else { return false };
        if object.contains_key(to) {
            return false;
        }
        let Some(value) = object.shift_remove(from) else { return false };
        object.insert(to.to_string(), value);
        let moved: Vec<(String, Origin)> = self
            .origins
            .iter()
            .filter(|(k, _)| *k == from || k.starts_with(&format!("{from}.")))
            .map(|(k, o)| (format!("{to}{}", &k[from.len()..]), o.clone()))
            .collect();
        self.forget(from);
        self.origins.extend(moved);
        true
    }

    /// Reads the config into `T`; an error names the key and where its value came from.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        self.deserialize_value(&self.value)
    }

    /// Reads `value` (this config's tree or a part of its top level) into `T`, naming a bad
    /// key with its origin.
    pub(crate) fn deserialize_value<T: serde::de::DeserializeOwned>(&self, value: &Value) -> Result<T> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            // An unknown field is reported at its mapping: name the field itself.
            let key = match unknown_field(&inner.to_string()) {
                Some(field) if key == "." => field,
                Some(field) if !key.ends_with(&field) => format!("{key}.{field}"),
                _ => key,
            };
            match self.origin(&key) {
                Some(origin) => Error(format!("{key} ({origin}): {inner}")),
                None => Error(format!("{key}: {inner}")),
            }
        })
    }

    /// The config as YAML, in composition order.
    pub fn to_yaml(&self) -> Result<String> {
        serde_saphyr::to_string(&self.value).map_err(|e| Error(format!("writing the config as YAML: {e}")))
    }
}

/// The field an "unknown field `x`" message is about.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_string())
}

fn merge_value(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => merge_value(existing, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// One entry of a defaults list.
enum Default {
    /// The file's own keys.
    Own,
    /// A file beside this one, merged at the top.
    File(String),
    /// `group: name` (`name` may be swapped by an override; `null` skips the group), merged under
    /// the group's key, or under the package of `group@package: name` (`_global_`: the top).
    Group { group: String, package: String, name: Option<String> },
}

fn parse_defaults(list: Value, source: &str) -> Result<Vec<Default>> {
    let Value::Array(items) = list else {
        return err(format!("{source}: `defaults` must be a list (e.g. [{{arch: trm}}, _self_])"));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(s) if s == "_self_" => Ok(Default::Own),
            Value::String(s) => Ok(Default::File(s)),
            Value::Object(m) if m.len() == 1 => {
                let (group, name) = m.into_iter().next().expect("one entry");
                // Hydra's `override group: name` in a primary config's list.
                let key = group.strip_prefix("override ").unwrap_or(&group).trim();
                let (group, package) = match key.split_once('@') {
                    Some((g, "_global_")) => (g.to_string(), String::new()),
                    Some((g, p)) => (g.to_string(), p.to_string()),
                    None => (key.to_string(), key.replace('/', ".")),
                };
                let name = match name {
                    Value::String(n) => Some(n),
                    Value::Null => None,
                    other => return err(format!("{source}: defaults entry `{key}: {other}` must name a file")),
                };
                Ok(Default::Group { group, package, name })
            }
            other => err(format!("{source}: a defaults entry must be `_self_`, a name or `group: name`, not {other}")),
        })
        .collect()
}

/// `group/name.yaml` beside `dir`, or in the first directory above it that has it.
fn find_group_file(dir: &Path, group: &str, name: &str) -> Option<PathBuf> {
    let relative = Path::new(group).join(format!("{name}.yaml"));
    dir.ancestors().map(|d| d.join(&relative)).find(|p| p.is_file())
}

/// Composes the document `value` (with its `lines`) of `source`, its defaults looked up from
/// `dir`.
fn compose_value(
    mut value: Value,
    lines: BTreeMap<String, u64>,
    source: &str,
    dir: Option<&Path>,
    choices: &BTreeMap<String, String>,
    stack: &mut Vec<String>,
) -> Result<Config> {
    if stack.iter().any(|s| s == source) {
        return err(format!("the defaults lists include each other: {} -> {source}", stack.join(" -> ")));
    }
    stack.push(source.to_string());
    let Value::Object(object) = &mut value else {
        return err(format!("{source}: a config must be a mapping of keys to values"));
    };
    let defaults = match object.shift_remove("defaults") {
        Some(list) => parse_defaults(list, source)?,
        None => Vec::new(),
    };
    let mut own = Config { value, origins: BTreeMap::new() };
    for (key, line) in lines.into_iter().filter(|(k, _)| k != "defaults" && !k.starts_with("defaults.")) {
        own.origins.insert(key, Origin { source: source.to_string(), line: Some(line) });
    }
    let mut out = Config::empty();
    let mut own = Some(own);
    for entry in defaults {
        let (path, at) = match entry {
            Default::Own => {
                out.merge(own.take().expect("_self_ once"), "");
                continue;
            }
            Default::File(name) => {
                let d =
                    dir.ok_or_else(|| Error(format!("{source}: defaults entry `{name}` needs a file's directory")))?;
                (d.join(format!("{name}.yaml")), String::new())
            }
            Default::Group { group, package, name } => {
                let Some(name) = choices.get(&group).cloned().or(name) else { continue };
                let d =
                    dir.ok_or_else(|| Error(format!("{source}: defaults group `{group}` needs a file's directory")))?;
                let path = find_group_file(d, &group, &name).ok_or_else(|| {
                    Error(format!(
                        "{source}: defaults `{group}: {name}`: no {group}/{name}.yaml in {} or a directory above it",
                        d.display()
                    ))
                })?;
                (path, package)
            }
        };
        let text =
            std::fs::read_to_string(&path).map_err(|e| Error(format!("{source}: reading {}: {e}", path.display())))?;
        let name = path.display().to_string();
        let (value, lines) = read_yaml(&text, &name)?;
        let sub = compose_value(value, lines, &name, path.parent(), choices, stack)?;
        out.merge(sub, &at);
    }
    if let Some(own) = own {
        out.merge(own, "");
    }
    stack.pop();
    Ok(out)
}

/// Composes the config file at `path` with `overrides`, then resolves its interpolations.
pub fn compose(path: &Path, overrides: &[String]) -> Result<Config> {
    let text = std::fs::read_to_string(path).map_err(|e| Error(format!("reading {}: {e}", path.display())))?;
    compose_str(&text, &path.display().to_string(), path.parent(), overrides)
}

/// [`compose`] for YAML `text` named `source` in messages, its defaults looked up from `dir`.
pub fn compose_str(text: &str, source: &str, dir: Option<&Path>, overrides: &[String]) -> Result<Config> {
    let parsed: Vec<Override> = overrides.iter().map(|o| Override::parse(o)).collect::<Result<_>>()?;
    let (value, lines) = read_yaml(text, source)?;
    let groups: Vec<String> = match value.get("defaults") {
        Some(list) => parse_defaults(list.clone(), source)?
            .into_iter()
            .filter_map(|d| if let Default::Group { group, .. } = d { Some(group) } else { None })
            .collect(),
        None => Vec::new(),
    };
    let (choices, rest) = group_choices(parsed, &groups);
    let mut config = compose_value(value, lines, source, dir, &choices, &mut Vec::new())?;
    for o in rest {
        apply(&mut config, o)?;
    }
    interpolate(&mut config)?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of config files for one test.
    fn files(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ouro-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, text) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    fn o(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn groups_merge_under_their_key_and_the_file_wins() {
        let dir = files(
            "groups",
            &[
                ("arch/trm.yaml", "hidden_size: 512\nL_cycles: 6\npuzzle_emb_ndim: ${.hidden_size}\n"),
                ("arch/small.yaml", "defaults: [trm]\nhidden_size: 256\n"),
                ("experiments/base.yaml", "defaults:\n  - arch: trm\n  - _self_\nlr: 1.0e-4\narch:\n  L_cycles: 4\n"),
            ],
        );
        let c = compose(&dir.join("experiments/base.yaml"), &[]).unwrap();
        assert_eq!(c.value["arch"]["hidden_size"], 512);
        assert_eq!(c.value["arch"]["L_cycles"], 4, "the file's own keys come after the group");
        assert_eq!(c.value["arch"]["puzzle_emb_ndim"], 512);
        assert_eq!(
            c.origin("arch.L_cycles").unwrap().to_string(),
            format!("{}:6", dir.join("experiments/base.yaml").display())
        );
        assert_eq!(c.origin("arch.hidden_size").unwrap().line, Some(1));
        // A group swapped from the command line, itself composed from another file.
        let c = compose(&dir.join("experiments/base.yaml"), &o(&["arch=small", "arch.hidden_size=128"])).unwrap();
        assert_eq!(c.value["arch"]["hidden_size"], 128);
        assert_eq!(c.value["arch"]["puzzle_emb_ndim"], 128, "interpolation follows the override");
        assert_eq!(c.origin("arch.hidden_size").unwrap().to_string(), "override `arch.hidden_size=128`");
        let e = compose(&dir.join("experiments/base.yaml"), &o(&["arch=huge"])).unwrap_err().to_string();
        assert!(e.contains("no arch/huge.yaml"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_package_places_a_group_elsewhere_and_global_merges_at_the_top() {
        let dir = files(
            "package",
            &[
                ("data/small.yaml", "data_paths: [data/small]\nepochs: 10\n"),
                ("data/big.yaml", "data_paths: [data/big]\n"),
                ("arch/trm.yaml", "hidden_size: 512\n"),
                ("run.yaml", "defaults:\n  - data@_global_: small\n  - arch@model: trm\n  - _self_\nepochs: 20\n"),
            ],
        );
        let c = compose(&dir.join("run.yaml"), &[]).unwrap();
        assert_eq!(c.value["data_paths"][0], "data/small");
        assert_eq!(c.value["epochs"], 20, "the file's own keys come last");
        assert_eq!(c.value["model"]["hidden_size"], 512);
        assert!(c.value.get("arch").is_none() && c.value.get("data").is_none());
        let c = compose(&dir.join("run.yaml"), &o(&["data=big"])).unwrap();
        assert_eq!(c.value["data_paths"][0], "data/big", "swapped by the group's name");
        assert_eq!(c.value["epochs"], 20);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn self_first_lets_the_defaults_win_and_cycles_are_refused() {
        let dir = files(
            "self",
            &[
                ("a.yaml", "defaults: [_self_, b]\nx: 1\ny: 1\n"),
                ("b.yaml", "y: 2\n"),
                ("c.yaml", "defaults: [d]\n"),
                ("d.yaml", "defaults: [c]\n"),
            ],
        );
        let c = compose(&dir.join("a.yaml"), &[]).unwrap();
        assert_eq!((c.value["x"].clone(), c.value["y"].clone()), (1.into(), 2.into()));
        let e = compose(&dir.join("c.yaml"), &[]).unwrap_err().to_string();
        assert!(e.contains("include each other"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_typed_read_names_the_key_and_its_origin() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Arch {
            hidden_size: usize,
        }
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Top {
            arch: Arch,
            lr: f64,
        }
        let text = "arch:\n  hidden_size: 64\nlr: 1.0\n";
        let c = compose_str(text, "t.yaml", None, &o(&["arch.hidden_size=big"])).unwrap();
        let e = c.deserialize::<Top>().unwrap_err().to_string();
        assert!(e.starts_with("arch.hidden_size (override `arch.hidden_size=big`)"), "{e}");
        let c = compose_str(&text.replace("lr: 1.0", "lr: 1.0\nlearning_rate: 3"), "t.yaml", None, &[]).unwrap();
        let e = c.deserialize::<Top>().unwrap_err().to_string();
        assert!(e.starts_with("learning_rate (t.yaml:4)"), "{e}");
        let c = compose_str(text, "t.yaml", None, &o(&["arch.hiden_size=3"])).unwrap();
        let e = c.deserialize::<Top>().unwrap_err().to_string();
        assert!(e.starts_with("arch.hiden_size (override `arch.hiden_size=3`)"), "{e}");
    }
}
