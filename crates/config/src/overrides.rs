//! Command-line overrides: `key=value`, `+key=value`, `++key=value`, `~key`, `group=name`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::compose::{Config, Origin};
use crate::{Error, Result, err};

/// How an override treats an existing key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// `key=value`: sets it (a key the typed config does not know is refused there, naming this
    /// override).
    Set,
    /// `+key=value`: the key must not exist yet.
    Add,
    /// `++key=value`: sets it either way.
    Force,
}

/// One parsed override.
#[derive(Clone, Debug)]
pub(crate) struct Override {
    text: String,
    key: String,
    /// `None` for `~key`.
    value: Option<Value>,
    mode: Mode,
}

impl Override {
    /// Parses one command-line item.
    pub(crate) fn parse(item: &str) -> Result<Override> {
        let bad = |why: &str| Error(format!("override `{item}`: {why}"));
        if let Some(key) = item.strip_prefix('~') {
            let key = key.split_once('=').map_or(key, |(k, _)| k);
            check_key(key).map_err(|e| bad(&e))?;
            return Ok(Override { text: item.into(), key: key.into(), value: None, mode: Mode::Set });
        }
        let (mode, rest) = match (item.strip_prefix("++"), item.strip_prefix('+')) {
            (Some(rest), _) => (Mode::Force, rest),
            (None, Some(rest)) => (Mode::Add, rest),
            _ => (Mode::Set, item),
        };
        let (key, text) = rest.split_once('=').ok_or_else(|| bad("not of the form key=value (or +key=value, ~key)"))?;
        check_key(key).map_err(|e| bad(&e))?;
        // The value is YAML: `3`, `1e-4`, `[1, 2]`, `{a: 1}`, `null`; nothing is an empty string.
        let value = if text.is_empty() {
            Value::String(String::new())
        } else {
            let (v, _) = crate::node::read_yaml(&format!("v: {text}"), "")
                .map_err(|e| bad(&format!("the value is not YAML ({e})")))?;
            v["v"].clone()
        };
        Ok(Override { text: item.into(), key: key.into(), value: Some(value), mode })
    }
}

fn check_key(key: &str) -> std::result::Result<(), String> {
    if key.is_empty() || key.split('.').any(|p| p.is_empty() || p.contains(char::is_whitespace)) {
        return Err(format!("`{key}` is not a dotted key"));
    }
    Ok(())
}

/// Splits off `group=name` overrides of the primary config's defaults groups.
pub(crate) fn group_choices(overrides: Vec<Override>, groups: &[String]) -> (BTreeMap<String, String>, Vec<Override>) {
    let mut choices = BTreeMap::new();
    let mut rest = Vec::new();
    for o in overrides {
        match (&o.value, o.mode) {
            (Some(Value::String(name)), Mode::Set) if groups.contains(&o.key) => {
                choices.insert(o.key.clone(), name.clone());
            }
            _ => rest.push(o),
        }
    }
    (choices, rest)
}

/// Applies one override to `config`.
pub(crate) fn apply(config: &mut Config, o: Override) -> Result<()> {
    let parts: Vec<&str> = o.key.split('.').collect();
    let (last, parents) = parts.split_last().expect("a checked key");
    let mut node = &mut config.value;
    for (i, part) in parents.iter().enumerate() {
        let here = parts[..=i].join(".");
        let object = node
            .as_object_mut()
            .ok_or_else(|| Error(format!("override `{}`: `{}` is not a section", o.text, parts[..i].join("."))))?;
        node = match (object.contains_key(*part), &o.value) {
            (true, _) => object.get_mut(*part).expect("present"),
            // Deleting below a missing section: nothing to delete.
            (false, None) => return err(format!("override `{}`: there is no `{here}` to delete from", o.text)),
            (false, Some(_)) => object.entry(*part).or_insert(Value::Object(Map::new())),
        };
    }
    let object = node
        .as_object_mut()
        .ok_or_else(|| Error(format!("override `{}`: `{}` is not a section", o.text, parents.join("."))))?;
    let exists = object.contains_key(*last);
    match (o.value, o.mode) {
        (None, _) => {
            if object.shift_remove(*last).is_none() {
                return err(format!("override `{}`: there is no `{}` to delete", o.text, o.key));
            }
            config.forget(&o.key);
        }
        (Some(_), Mode::Add) if exists => {
            return err(format!("override `{}`: `{}` already exists; set it with {}=…", o.text, o.key, o.key));
        }
        (Some(v), _) => {
            object.insert(last.to_string(), v);
            config.set_origin(&o.key, Origin { source: format!("override `{}`", o.text), line: None });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::compose_str;

    fn o(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    const BASE: &str = "a: 1\nb:\n  c: x\n  d: [1, 2]\n";

    #[test]
    fn every_override_form() {
        let c = compose_str(BASE, "t", None, &o(&["a=2.5", "b.c=null", "b.d=[3]", "+e.f={g: 1}", "~b.c"])).unwrap();
        assert_eq!(c.value, serde_json::json!({"a": 2.5, "b": {"d": [3]}, "e": {"f": {"g": 1}}}));
        let c = compose_str(BASE, "t", None, &o(&["++a=hello", "++z=1", "b.c="])).unwrap();
        assert_eq!(
            (c.value["a"].as_str(), c.value["z"].as_i64(), c.value["b"]["c"].as_str()),
            (Some("hello"), Some(1), Some(""))
        );
    }

    #[test]
    fn bad_overrides_say_which_and_why() {
        let e = |items: &[&str]| compose_str(BASE, "t", None, &o(items)).unwrap_err().to_string();
        assert!(e(&["+a=3"]).contains("`a` already exists"));
        assert!(e(&["~nope"]).contains("no `nope` to delete"));
        assert!(e(&["a.x=1"]).contains("`a` is not a section"));
        assert!(e(&["novalue"]).contains("not of the form key=value"));
        assert!(e(&["a..b=1"]).contains("not a dotted key"));
        assert!(e(&["a=[1, 2"]).contains("not YAML"));
    }
}
