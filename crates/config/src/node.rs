//! A YAML document as a JSON value tree, with the line of every mapping value.

use std::collections::BTreeMap;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;

use crate::{Result, err};

/// A YAML node as it is read, before its lines are collected.
enum Node {
    Scalar(Value),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(String, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Node, E> {
        Ok(Node::Scalar(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Node, E> {
        Ok(Node::Scalar(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Node, E> {
        Ok(Node::Scalar(v.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Node, E> {
        // JSON has no infinities or NaN: keep YAML's spelling, the typed field reads it back.
        Ok(Node::Scalar(serde_json::Number::from_f64(v).map_or_else(|| Value::String(v.to_string()), Value::Number)))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Node, E> {
        Ok(Node::Scalar(Value::String(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Node, E> {
        Ok(Node::Scalar(Value::String(v)))
    }
    fn visit_unit<E>(self) -> std::result::Result<Node, E> {
        Ok(Node::Scalar(Value::Null))
    }
    fn visit_none<E>(self) -> std::result::Result<Node, E> {
        Ok(Node::Scalar(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            entries.push((key, map.next_value::<Spanned<Node>>()?));
        }
        Ok(Node::Map(entries))
    }
}

/// Converts `node` (at dotted `path`) to a value, recording the line of every mapping value.
fn convert(node: Node, path: &str, lines: &mut BTreeMap<String, u64>, source: &str) -> Result<Value> {
    Ok(match node {
        Node::Scalar(v) => v,
        Node::Seq(items) => {
            Value::Array(items.into_iter().map(|i| convert(i.value, path, lines, source)).collect::<Result<_>>()?)
        }
        Node::Map(entries) => {
            let mut object = serde_json::Map::new();
            for (key, value) in entries {
                let at = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                if object.contains_key(&key) {
                    return err(format!("{source}:{}: `{at}` is given twice", value.referenced.line()));
                }
                lines.insert(at.clone(), value.referenced.line());
                object.insert(key, convert(value.value, &at, lines, source)?);
            }
            Value::Object(object)
        }
    })
}

/// Reads YAML `text` (named `source` in errors): the document and the line of each key's value.
pub(crate) fn read_yaml(text: &str, source: &str) -> Result<(Value, BTreeMap<String, u64>)> {
    if text.trim().is_empty() {
        return Ok((Value::Object(serde_json::Map::new()), BTreeMap::new()));
    }
    let node: Node = serde_saphyr::from_str(text).map_err(|e| crate::Error(format!("{source}: {e}")))?;
    let mut lines = BTreeMap::new();
    let value = convert(node, "", &mut lines, source)?;
    Ok((value, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_types_and_keys_their_lines() {
        let (v, lines) = read_yaml("a: 1\nb:\n  c: [1, x]\n  d: 2.5\ne: null\nf: true\n", "t.yaml").unwrap();
        assert_eq!(v, serde_json::json!({"a": 1, "b": {"c": [1, "x"], "d": 2.5}, "e": null, "f": true}));
        assert_eq!(lines["a"], 1);
        assert_eq!(lines["b.c"], 3);
        assert_eq!(lines["b.d"], 4);
        assert_eq!(lines["f"], 6);
    }

    #[test]
    fn a_duplicate_key_and_bad_yaml_are_named_with_the_file() {
        let e = read_yaml("a: 1\na: 2\n", "t.yaml").unwrap_err().to_string();
        assert!(e.starts_with("t.yaml"), "{e}");
        let e = read_yaml("a: [1, 2\n", "bad.yaml").unwrap_err().to_string();
        assert!(e.starts_with("bad.yaml"), "{e}");
    }
}
