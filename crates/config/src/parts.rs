//! A config whose top-level keys are shared out among several typed parts, each taking the keys
//! it declares: the file stays flat (as the official configs are) while the program reads it
//! as separate structs.

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_json::{Map, Value};

use crate::{Config, Error, Result};

impl Config {
    /// Reads the top-level keys that `T` declares into `T` (the rest are left to the other
    /// parts); an error names the key and where its value came from, as [`Config::deserialize`].
    pub fn deserialize_part<T: DeserializeOwned>(&self) -> Result<T> {
        let fields = fields_of::<T>()?;
        let mut part = Map::new();
        if let Some(top) = self.value.as_object() {
            for (key, value) in top.iter().filter(|(k, _)| fields.contains(&k.as_str())) {
                part.insert(key.clone(), value.clone());
            }
        }
        self.deserialize_value(&Value::Object(part))
    }

    /// Refuses a top-level key that none of `known` declares, naming it and where it came from.
    pub fn refuse_unknown_keys(&self, known: &[&str]) -> Result<()> {
        let Some(top) = self.value.as_object() else { return Ok(()) };
        let Some(key) = top.keys().find(|k| !known.contains(&k.as_str())) else { return Ok(()) };
        let expected = known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        let message = format!("unknown field `{key}`, expected one of {expected}");
        Err(match self.origin(key) {
            Some(origin) => Error(format!("{key} ({origin}): {message}")),
            None => Error(format!("{key}: {message}")),
        })
    }
}

/// The field names of the struct `T` (as its `Deserialize` declares them, renames applied).
pub fn fields_of<T: DeserializeOwned>() -> Result<&'static [&'static str]> {
    let mut recorder = FieldRecorder(None);
    // The recorder fails every read; all that matters is what it saw.
    let _ = T::deserialize(&mut recorder);
    recorder.0.ok_or_else(|| Error(format!("{} is not a struct of named fields", std::any::type_name::<T>())))
}

/// A deserializer that notes the fields a struct asks for and then fails.
struct FieldRecorder(Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for &mut FieldRecorder {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> std::result::Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        self.0 = Some(fields);
        Err(de::Error::custom("fields recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose_str;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Model {
        width: usize,
        #[serde(rename = "L_layers", default)]
        layers: usize,
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Names {
        name: Option<String>,
    }

    #[test]
    fn each_part_takes_its_own_keys() {
        assert_eq!(fields_of::<Model>().unwrap(), ["width", "L_layers"]);
        let c = compose_str("width: 3\nname: a\nL_layers: 2\n", "x.yaml", None, &[]).unwrap();
        c.refuse_unknown_keys(&[fields_of::<Model>().unwrap(), fields_of::<Names>().unwrap()].concat()).unwrap();
        assert_eq!(c.deserialize_part::<Model>().unwrap(), Model { width: 3, layers: 2 });
        assert_eq!(c.deserialize_part::<Names>().unwrap(), Names { name: Some("a".into()) });
        assert!(fields_of::<Vec<u8>>().is_err());
    }

    #[test]
    fn a_key_of_no_part_and_a_bad_value_are_named_with_their_line() {
        let c = compose_str("width: 3\nwdth: 4\n", "x.yaml", None, &[]).unwrap();
        let e = c.refuse_unknown_keys(fields_of::<Model>().unwrap()).unwrap_err().to_string();
        assert!(e.starts_with("wdth (x.yaml:2): unknown field `wdth`"), "{e}");
        let c = compose_str("name: a\nwidth: wide\n", "x.yaml", None, &[]).unwrap();
        let e = c.deserialize_part::<Model>().unwrap_err().to_string();
        assert!(e.starts_with("width (x.yaml:2)"), "{e}");
    }
}
