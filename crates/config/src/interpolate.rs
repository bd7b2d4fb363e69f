//! `${...}` references between values, resolved once the overrides are in.

use serde_json::Value;

use crate::compose::Config;
use crate::{Error, Result, err};

/// Resolves every `${...}` in `config`.
pub(crate) fn interpolate(config: &mut Config) -> Result<()> {
    let root = config.value.clone();
    let mut resolved = root.clone();
    walk(&root, &root, &mut resolved, &mut Vec::new())?;
    config.value = resolved;
    Ok(())
}

/// Resolves the strings under `node` (at `path` in `root`) into `out`.
fn walk(root: &Value, node: &Value, out: &mut Value, path: &mut Vec<String>) -> Result<()> {
    match node {
        Value::String(s) if s.contains("${") => *out = resolve_string(root, s, path, &mut Vec::new())?,
        Value::Object(m) => {
            for (k, v) in m {
                path.push(k.clone());
                walk(root, v, out.get_mut(k).expect("same shape"), path)?;
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(root, v, &mut out[i], path)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The value of string `s` found at `path`: a lone `${ref}` is the referenced value itself,
/// references inside text are formatted into it. `seen` holds the keys being resolved.
fn resolve_string(root: &Value, s: &str, path: &[String], seen: &mut Vec<String>) -> Result<Value> {
    let key = path.join(".");
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').ok_or_else(|| Error(format!("{key}: unclosed `${{` in {s:?}")))? + start;
        let reference = &rest[start + 2..end];
        let value = lookup(root, reference, path, seen).map_err(|e| Error(format!("{key}: {}", e.0)))?;
        if start == 0 && end + 1 == rest.len() && out.is_empty() {
            return Ok(value);
        }
        out.push_str(&rest[..start]);
        match value {
            Value::String(v) => out.push_str(&v),
            other => out.push_str(&other.to_string()),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

/// The value `reference` names, seen from the value at `path` (resolved in turn).
fn lookup(root: &Value, reference: &str, path: &[String], seen: &mut Vec<String>) -> Result<Value> {
    let reference = reference.trim();
    if reference.contains(':') {
        return err(format!("`${{{reference}}}`: resolvers (`name:arg`) are not supported; write the value"));
    }
    // Leading dots: one is the mapping holding this value, each further one a level up.
    let dots = reference.chars().take_while(|&c| c == '.').count();
    let mut target: Vec<String> = if dots == 0 {
        Vec::new()
    } else {
        let up = dots - 1;
        let parent = path.len().saturating_sub(1);
        if up > parent {
            return err(format!("`${{{reference}}}` goes above the top of the config"));
        }
        path[..parent - up].to_vec()
    };
    target.extend(reference[dots..].split('.').filter(|p| !p.is_empty()).map(String::from));
    let name = target.join(".");
    if seen.contains(&name) {
        return err(format!("`${{{reference}}}` refers back to itself ({} -> {name})", seen.join(" -> ")));
    }
    let mut node = root;
    for part in &target {
        node = match node {
            Value::Object(m) => m.get(part),
            Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
        .ok_or_else(|| Error(format!("`${{{reference}}}`: there is no `{name}`")))?;
    }
    match node {
        Value::String(s) if s.contains("${") => {
            seen.push(name);
            let v = resolve_string(root, s, &target, seen);
            seen.pop();
            v
        }
        other => Ok(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use crate::compose_str;

    #[test]
    fn references_keep_types_and_chain() {
        let text = "arch:\n  hidden: 256\n  emb: ${.hidden}\n  half: ${..size.half}\nsize:\n  half: ${arch.emb}\nname: run_h${arch.hidden}\n";
        let c = compose_str(text, "t", None, &[]).unwrap();
        assert_eq!(c.value["arch"]["emb"], 256);
        assert_eq!(c.value["arch"]["half"], 256);
        assert_eq!(c.value["name"], "run_h256");
    }

    #[test]
    fn bad_references_are_named() {
        let e = |t: &str| compose_str(t, "t", None, &[]).unwrap_err().to_string();
        assert!(e("a: ${b}\nb: ${a}\n").contains("refers back to itself"));
        assert!(e("a: ${nope.x}\n").contains("there is no `nope.x`"));
        assert!(e("a: ${oc.env:HOME}\n").contains("resolvers"));
        assert!(e("a: ${b\n").contains("unclosed"));
    }
}
