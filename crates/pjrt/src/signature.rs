//! The parameter and result types of a StableHLO program's `@main`, read from its text.
//!
//! PJRT does not tell a caller what an executable's parameters are, so ouro reads them from the
//! program it compiled and checks arguments before calling the plugin. Anything this small
//! reader does not understand (dynamic shapes, tokens, tuples) yields no signature, and the
//! plugin's own checks apply.

use std::fmt;

use crate::element_type::ElementType;

/// The type of a dense array: element type and static shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ArrayType {
    /// Element type.
    pub element_type: ElementType,
    /// Static shape.
    pub dims: Vec<i64>,
}

impl ArrayType {
    /// Parses the display form, `f32[2,3]` (`pred[]` for a scalar predicate).
    pub fn parse(s: &str) -> Option<ArrayType> {
        let (name, dims) = s.strip_suffix(']')?.split_once('[')?;
        let element_type = if name == "pred" { ElementType::Pred } else { ElementType::from_stablehlo_name(name)? };
        let dims = if dims.is_empty() {
            Vec::new()
        } else {
            dims.split(',').map(|d| d.parse().ok()).collect::<Option<Vec<i64>>>()?
        };
        Some(ArrayType { element_type, dims })
    }
}

impl fmt::Display for ArrayType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[", self.element_type)?;
        for (i, d) in self.dims.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// `@main`'s parameter and result types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Parameter types in order.
    pub parameters: Vec<ArrayType>,
    /// Result types in order.
    pub results: Vec<ArrayType>,
}

impl Signature {
    /// A line per type (`param f32[2,3]`, `result bf16[]`), stored with serialized executables.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for p in &self.parameters {
            text.push_str(&format!("param {p}\n"));
        }
        for r in &self.results {
            text.push_str(&format!("result {r}\n"));
        }
        text
    }

    /// Parses [`Signature::to_text`].
    pub fn from_text(text: &str) -> Option<Signature> {
        let mut sig = Signature { parameters: Vec::new(), results: Vec::new() };
        for line in text.lines() {
            let (kind, ty) = line.split_once(' ')?;
            let ty = ArrayType::parse(ty)?;
            match kind {
                "param" => sig.parameters.push(ty),
                "result" => sig.results.push(ty),
                _ => return None,
            }
        }
        Some(sig)
    }

    /// Reads the signature of `func.func ... @main` from StableHLO text.
    pub fn from_stablehlo_text(text: &str) -> Option<Signature> {
        let start = text.find("@main(")? + "@main(".len();
        let rest = &text[start..];
        let close = matching_close(rest, '(', ')')?;
        let parameters = split_top_level(&rest[..close])
            .into_iter()
            .filter(|s| !s.trim().is_empty())
            .map(|arg| {
                let colon = arg.find(':')?;
                parse_tensor_type(arg[colon + 1..].trim_start())
            })
            .collect::<Option<Vec<_>>>()?;
        let after = rest[close + 1..].trim_start();
        let results = if let Some(r) = after.strip_prefix("->") {
            let r = r.trim_start();
            if let Some(list) = r.strip_prefix('(') {
                let close = matching_close(list, '(', ')')?;
                split_top_level(&list[..close])
                    .into_iter()
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| parse_tensor_type(s.trim_start()))
                    .collect::<Option<Vec<_>>>()?
            } else {
                vec![parse_tensor_type(r)?]
            }
        } else {
            Vec::new()
        };
        Some(Signature { parameters, results })
    }
}

/// Index of the bracket closing an already-opened `open` in `s`, skipping nested brackets and strings.
fn matching_close(s: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c == '"' {
            in_string = true;
        } else if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// Splits at commas that are not inside brackets or strings.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut start) = (0i32, false, false, 0usize);
    for (i, c) in s.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '<' | '{' | '[' => depth += 1,
            ')' | '>' | '}' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Parses `tensor<4x8xf32>` (possibly followed by attributes) into an [`ArrayType`].
fn parse_tensor_type(s: &str) -> Option<ArrayType> {
    let body = s.strip_prefix("tensor<")?;
    let close = matching_close(body, '<', '>')?;
    let body = &body[..close];
    // An encoding after a comma (bounds, sparsity) is not a plain dense array.
    if body.contains(',') {
        return None;
    }
    let mut parts: Vec<&str> = body.split('x').collect();
    let element = parts.pop()?;
    let element_type = ElementType::from_stablehlo_name(element)?;
    let dims = parts.iter().map(|d| d.parse::<i64>().ok()).collect::<Option<Vec<_>>>()?;
    Some(ArrayType { element_type, dims })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_parameters_and_results() {
        let text = r#"module @m attributes {mhlo.num_partitions = 1 : i32} {
  func.func public @main(%arg0: tensor<8x16xbf16> {mhlo.sharding = "{devices=[4,1]<=[4]}"}, %arg1: tensor<f32>, %arg2: tensor<3xi1>) -> (tensor<8x4xf32> {jax.result_info = "a, b"}, tensor<ui32>) {
    return
  }
}"#;
        let sig = Signature::from_stablehlo_text(text).unwrap();
        assert_eq!(sig.parameters.len(), 3);
        assert_eq!(sig.parameters[0].to_string(), "bf16[8,16]");
        assert_eq!(sig.parameters[1].to_string(), "f32[]");
        assert_eq!(sig.parameters[2].to_string(), "pred[3]");
        assert_eq!(sig.results.iter().map(ToString::to_string).collect::<Vec<_>>(), ["f32[8,4]", "ui32[]"]);
    }

    #[test]
    fn text_form_round_trips() {
        let sig = Signature {
            parameters: vec![ArrayType::parse("bf16[8,16]").unwrap(), ArrayType::parse("pred[]").unwrap()],
            results: vec![ArrayType::parse("ui32[3]").unwrap()],
        };
        assert_eq!(Signature::from_text(&sig.to_text()), Some(sig));
        assert_eq!(ArrayType::parse("f32[2,x]"), None);
    }

    #[test]
    fn single_result_without_parentheses() {
        let sig = Signature::from_stablehlo_text("func.func @main(%a: tensor<2xf64>) -> tensor<2xf64> {").unwrap();
        assert_eq!(sig.results[0].dims, vec![2]);
    }

    #[test]
    fn dynamic_shapes_and_tokens_give_no_signature() {
        assert!(Signature::from_stablehlo_text("func.func @main(%a: tensor<?xf32>) -> tensor<f32> {").is_none());
        assert!(Signature::from_stablehlo_text("func.func @main(%a: !stablehlo.token) {").is_none());
        assert!(Signature::from_stablehlo_text("func.func @other(%a: tensor<f32>) {").is_none());
    }
}
