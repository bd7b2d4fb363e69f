//! What a prim's lowering rule writes into: operand names and types, result names, the
//! location, and a way to lower nested functions. The `lower` crate drives it.

use std::fmt::Write;

use crate::array::{Elements, HostArray};
use crate::func::Func;
use crate::{DType, Mesh, Sharding, TensorType};

/// Lowers the body of a nested function (a loop condition or body) for a region.
pub trait RegionLowering {
    /// Writes `func`'s equations with its parameters bound to `param_names`, and returns the
    /// names of its outputs (the caller writes the terminator).
    fn body(
        &mut self,
        func: &Func,
        param_names: &[String],
        out: &mut String,
        indent: usize,
    ) -> Result<Vec<String>, String>;

    /// A fresh SSA name (`%t12`) for a helper value.
    fn fresh(&mut self) -> String;
}

/// How sharding annotations are written.
#[derive(Clone, Debug, PartialEq)]
pub enum ShardingMode {
    /// Single device: annotations are dropped.
    None,
    /// Shardy (`sdy.sharding`), with the mesh declared as `@mesh`.
    Shardy(Mesh),
    /// GSPMD (`mhlo.sharding`).
    Gspmd(Mesh),
}

impl ShardingMode {
    /// The argument/result attribute for a sharding, if any (`sdy.sharding = ...`).
    pub fn attr(&self, sharding: &Sharding) -> Result<Option<String>, String> {
        match self {
            ShardingMode::None => Ok(None),
            ShardingMode::Shardy(mesh) => Ok(Some(format!("sdy.sharding = {}", sharding.shardy(mesh)?))),
            ShardingMode::Gspmd(mesh) => Ok(Some(format!("mhlo.sharding = \"{}\"", sharding.gspmd(mesh)?))),
        }
    }
}

/// The precision of `dot_general`s (StableHLO's `precision_config`, JAX's
/// `jax_default_matmul_precision`): how many bf16 passes an accelerator spends on float32
/// operands. The CPU computes float32 exactly whatever it says; TPUs take one bf16 pass for
/// `Default` and GPUs TF32, so float32 matmuls there are float32 only at `Highest`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MatmulPrecision {
    /// The backend's fastest (one bf16 pass on TPU, TF32 on GPU): what a `dot_general` without
    /// a precision means, and JAX's default.
    #[default]
    Default,
    /// Three bf16 passes on TPU (about float32's precision).
    High,
    /// Float32 (six bf16 passes on TPU, no TF32 on GPU).
    Highest,
}

impl MatmulPrecision {
    /// The StableHLO spelling.
    pub fn stablehlo(self) -> &'static str {
        match self {
            MatmulPrecision::Default => "DEFAULT",
            MatmulPrecision::High => "HIGH",
            MatmulPrecision::Highest => "HIGHEST",
        }
    }
}

/// The context of one equation's lowering.
pub struct LowerCx<'a> {
    /// Operand SSA names.
    pub inputs: &'a [String],
    /// Operand types.
    pub input_types: &'a [TensorType],
    /// Result types.
    pub output_types: &'a [TensorType],
    /// A fresh SSA name for the result(s), `%5`.
    pub name: &'a str,
    /// The location suffix, ` loc("scope/op")`, or empty.
    pub loc: &'a str,
    /// Indentation of the equation's lines.
    pub indent: usize,
    /// How to write sharding annotations.
    pub sharding: &'a ShardingMode,
    /// The precision of matrix products.
    pub matmul_precision: MatmulPrecision,
    /// Where lines are written.
    pub out: &'a mut String,
    /// Nested functions and fresh names.
    pub regions: &'a mut dyn RegionLowering,
}

impl LowerCx<'_> {
    /// Writes one line (indentation, text, location).
    pub fn line(&mut self, text: &str) {
        let _ = writeln!(self.out, "{:indent$}{text}{}", "", self.loc, indent = self.indent);
    }

    /// The definition and uses of `n` results: `%5` / `[%5]`, or `%5:2` / `[%5#0, %5#1]`.
    pub fn results(&self, n: usize) -> (String, Vec<String>) {
        if n == 1 {
            (self.name.to_string(), vec![self.name.to_string()])
        } else {
            (format!("{}:{n}", self.name), (0..n).map(|i| format!("{}#{i}", self.name)).collect())
        }
    }

    /// Writes `%r = stablehlo.<op> <operands> : <type>` for a same-type elementwise op.
    pub fn elementwise(&mut self, op: &str) -> Vec<String> {
        let operands = self.inputs.join(", ");
        let ty = self.output_types[0].mlir();
        let text = format!("{} = stablehlo.{op} {operands} : {ty}", self.name);
        self.line(&text);
        vec![self.name.to_string()]
    }

    /// Writes `%r = stablehlo.<op> %x : (in) -> out` (a one-operand op whose type changes).
    pub fn converting(&mut self, op: &str) -> Vec<String> {
        let text = format!("{} = stablehlo.{op} {} : {}", self.name, self.inputs.join(", "), self.functional_type());
        self.line(&text);
        vec![self.name.to_string()]
    }

    /// The functional type `(in, ...) -> out` (with parentheses around several results).
    pub fn functional_type(&self) -> String {
        functional_type(self.input_types, self.output_types)
    }

    /// Writes a generic-form op, `%r = "stablehlo.<op>"(operands) {attrs} : (types) -> types`.
    pub fn generic(&mut self, op: &str, attrs: &str) -> Vec<String> {
        let (def, uses) = self.results(self.output_types.len());
        let operands = self.inputs.join(", ");
        let attrs = if attrs.is_empty() { String::new() } else { format!(" {{{attrs}}}") };
        let text = format!("{def} = \"stablehlo.{op}\"({operands}){attrs} : {}", self.functional_type());
        self.line(&text);
        uses
    }
}

/// `(a, b) -> c` or `(a) -> (b, c)`.
pub fn functional_type(inputs: &[TensorType], outputs: &[TensorType]) -> String {
    let ins: Vec<String> = inputs.iter().map(TensorType::mlir).collect();
    let outs: Vec<String> = outputs.iter().map(TensorType::mlir).collect();
    if outs.len() == 1 {
        format!("({}) -> {}", ins.join(", "), outs[0])
    } else {
        format!("({}) -> ({})", ins.join(", "), outs.join(", "))
    }
}

/// `array<i64: 1, 0>`.
pub fn i64_array(values: &[usize]) -> String {
    let v: Vec<String> = values.iter().map(usize::to_string).collect();
    if v.is_empty() { "array<i64>".into() } else { format!("array<i64: {}>", v.join(", ")) }
}

/// `[1, 0]` (for dimension lists inside dialect attributes).
pub fn dim_list(values: &[usize]) -> String {
    let v: Vec<String> = values.iter().map(usize::to_string).collect();
    format!("[{}]", v.join(", "))
}

/// A float as an MLIR literal that reads back to the same value in `dtype`: decimal with a
/// point when finite (shortest round-trip form), the bit pattern in hex otherwise.
pub fn float_literal(dtype: DType, v: f64) -> String {
    if !v.is_finite() {
        return match dtype {
            DType::F64 => format!("0x{:016X}", v.to_bits()),
            DType::F32 => format!("0x{:08X}", (v as f32).to_bits()),
            DType::BF16 => format!("0x{:04X}", half::bf16::from_f64(v).to_bits()),
            _ => format!("0x{:04X}", half::f16::from_f64(v).to_bits()),
        };
    }
    // f32/bf16/f16 values are exact in f32, so f32's shortest form round-trips them.
    let s = if dtype == DType::F64 { format!("{v:e}") } else { format!("{:e}", v as f32) };
    match s.split_once('e') {
        Some((mantissa, exp)) if !mantissa.contains('.') => format!("{mantissa}.0e{exp}"),
        _ => s,
    }
}

fn element_literal(dtype: DType, elements: &Elements, index: usize) -> String {
    match elements {
        Elements::Float(a) => float_literal(dtype, a.iter().nth(index).copied().unwrap_or(0.0)),
        Elements::Int(a) => {
            let v = a.iter().nth(index).copied().unwrap_or(0);
            match dtype {
                DType::Pred => (if v != 0 { "true" } else { "false" }).to_string(),
                DType::U64 => (v as u64).to_string(),
                _ => v.to_string(),
            }
        }
    }
}

/// The `dense<...>` attribute of a constant: a single value when all are equal, a nested list
/// when small, raw little-endian hex otherwise.
pub fn dense_literal(array: &HostArray) -> String {
    let dtype = array.dtype();
    if array.is_empty() {
        return "dense<>".into();
    }
    if array.is_splat() {
        return format!("dense<{}>", element_literal(dtype, array.elements(), 0));
    }
    if array.len() > 16 {
        let hex: String = array.to_bytes().iter().map(|b| format!("{b:02X}")).collect();
        return format!("dense<\"0x{hex}\">");
    }
    let flat: Vec<String> = (0..array.len()).map(|i| element_literal(dtype, array.elements(), i)).collect();
    format!("dense<{}>", nest(&flat, array.shape()))
}

fn nest(flat: &[String], shape: &[usize]) -> String {
    match shape.split_first() {
        None => flat[0].clone(),
        Some((&n, rest)) => {
            let step = rest.iter().product::<usize>();
            let parts: Vec<String> = (0..n).map(|i| nest(&flat[i * step..(i + 1) * step], rest)).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_literals_always_have_a_point() {
        assert_eq!(float_literal(DType::F32, 1.0), "1.0e0");
        assert_eq!(float_literal(DType::F32, 0.1f32 as f64), "1.0e-1");
        assert_eq!(float_literal(DType::F64, 1e-300), "1.0e-300");
        assert_eq!(float_literal(DType::F32, -2.5), "-2.5e0");
        assert_eq!(float_literal(DType::F32, f64::NEG_INFINITY), "0xFF800000");
        assert_eq!(float_literal(DType::BF16, f64::NAN), "0x7FC0");
    }

    #[test]
    fn dense_literals_pick_a_form() {
        let splat = HostArray::from_f64(DType::F32, &[2, 2], &[3.0; 4]);
        assert_eq!(dense_literal(&splat), "dense<3.0e0>");
        let small = HostArray::from_i64(DType::I32, &[2, 2], &[1, 2, 3, 4]);
        assert_eq!(dense_literal(&small), "dense<[[1, 2], [3, 4]]>");
        let preds = HostArray::from_i64(DType::Pred, &[2], &[1, 0]);
        assert_eq!(dense_literal(&preds), "dense<[true, false]>");
        let big = HostArray::from_i64(DType::U8, &[17], &(0..17).collect::<Vec<_>>());
        assert!(dense_literal(&big).starts_with("dense<\"0x000102"));
    }
}
