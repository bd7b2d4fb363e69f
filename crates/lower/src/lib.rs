//! Lowers a [`Func`] to StableHLO text, the program format ouro hands to PJRT.
//!
//! The text is deterministic (values are numbered in equation order, attributes in a fixed
//! order, so the same program always gives the same bytes), carries a `loc("scope/op")` on every
//! op so XLA's dumps and profiles map back to model code, and has the module attributes PJRT
//! needs: partition count, Shardy mesh or GSPMD shardings, and `tf.aliasing_output` for donated
//! parameters. Each prim writes its own op (`Rules::lower` in `ouro-ir`); this crate writes the
//! module, the function, and the regions of nested functions.

use std::fmt::Write;

use ouro_ir::lowering::{LowerCx, MatmulPrecision, RegionLowering, ShardingMode};
use ouro_ir::{Func, TensorType, ValueId, verify};

/// How to lower.
#[derive(Clone, Debug, PartialEq)]
pub struct LowerOptions {
    /// Sharding dialect and mesh; `None` for one device.
    pub sharding: ShardingMode,
    /// Whether ops carry `loc("scope/op")`.
    pub locations: bool,
    /// The precision of every `dot_general`.
    pub matmul_precision: MatmulPrecision,
}

impl Default for LowerOptions {
    fn default() -> LowerOptions {
        LowerOptions { sharding: ShardingMode::None, locations: true, matmul_precision: MatmulPrecision::default() }
    }
}

impl LowerOptions {
    /// SPMD partitions the module declares.
    pub fn num_partitions(&self) -> usize {
        match &self.sharding {
            ShardingMode::None => 1,
            ShardingMode::Shardy(mesh) | ShardingMode::Gspmd(mesh) => mesh.num_devices(),
        }
    }
}

/// A lowered module.
#[derive(Clone, Debug, PartialEq)]
pub struct Lowered {
    /// StableHLO text.
    pub text: String,
    /// `(parameter, output)` pairs aliased because the parameter is donated.
    pub aliases: Vec<(usize, usize)>,
    /// Parameters that were donated but found no output of their type to reuse.
    pub unaliased_donations: Vec<usize>,
    /// SPMD partitions.
    pub num_partitions: usize,
}

/// Why a function could not be lowered.
#[derive(Debug, thiserror::Error)]
pub enum LowerError {
    /// The function failed verification.
    #[error(transparent)]
    Invalid(#[from] ouro_ir::VerifyError),
    /// A prim's lowering refused (e.g. a sharding naming an axis the mesh lacks).
    #[error("lowering {prim} (equation {eqn} of {func}): {message}")]
    Prim { func: String, eqn: usize, prim: &'static str, message: String },
    /// An attribute could not be written.
    #[error("{0}")]
    Attribute(String),
}

/// The oldest StableHLO version whose ops ouro emits; a plugin must accept at least this.
pub const MIN_STABLEHLO_VERSION: [i64; 3] = [1, 0, 0];

/// Checks that a plugin's StableHLO range (`[minimum, current]`) covers what ouro emits.
pub fn check_stablehlo_range(current: &[i64]) -> Result<(), String> {
    if current < &MIN_STABLEHLO_VERSION[..] {
        return Err(format!(
            "the plugin accepts StableHLO up to {current:?}, but ouro emits ops of {MIN_STABLEHLO_VERSION:?}; use a newer plugin"
        ));
    }
    Ok(())
}

struct Emitter<'a> {
    next: usize,
    options: &'a LowerOptions,
}

impl Emitter<'_> {
    fn fresh_name(&mut self) -> String {
        self.next += 1;
        format!("%{}", self.next - 1)
    }

    /// Writes `func`'s equations with parameters named `param_names`; returns output names.
    fn emit(
        &mut self,
        func: &Func,
        param_names: &[String],
        out: &mut String,
        indent: usize,
    ) -> Result<Vec<String>, LowerError> {
        let mut names: Vec<Option<String>> = vec![None; func.values.len()];
        for (&p, name) in func.params.iter().zip(param_names) {
            names[p.index()] = Some(name.clone());
        }
        let name_of = |names: &[Option<String>], v: ValueId| {
            names[v.index()].clone().unwrap_or_else(|| format!("%undefined{}", v.0))
        };
        let sharding = self.options.sharding.clone();
        for (i, e) in func.eqns.iter().enumerate() {
            let inputs: Vec<String> = e.inputs.iter().map(|&v| name_of(&names, v)).collect();
            let input_types: Vec<TensorType> = e.inputs.iter().map(|&v| func.ty(v).clone()).collect();
            let output_types: Vec<TensorType> = e.outputs.iter().map(|&v| func.ty(v).clone()).collect();
            let loc = if self.options.locations {
                let scope = func.scope(e);
                let path =
                    if scope.is_empty() { e.prim.name().to_string() } else { format!("{scope}/{}", e.prim.name()) };
                format!(" loc(\"{}\")", path.replace('\\', "\\\\").replace('"', "\\\""))
            } else {
                String::new()
            };
            let name = self.fresh_name();
            let mut cx = LowerCx {
                inputs: &inputs,
                input_types: &input_types,
                output_types: &output_types,
                name: &name,
                loc: &loc,
                indent,
                sharding: &sharding,
                matmul_precision: self.options.matmul_precision,
                out,
                regions: self,
            };
            let results = e.prim.rules().lower(&mut cx).map_err(|message| LowerError::Prim {
                func: func.name.clone(),
                eqn: i,
                prim: e.prim.name(),
                message,
            })?;
            for (&v, r) in e.outputs.iter().zip(results) {
                names[v.index()] = Some(r);
            }
        }
        Ok(func.outputs.iter().map(|&v| name_of(&names, v)).collect())
    }
}

impl RegionLowering for Emitter<'_> {
    fn body(
        &mut self,
        func: &Func,
        param_names: &[String],
        out: &mut String,
        indent: usize,
    ) -> Result<Vec<String>, String> {
        self.emit(func, param_names, out, indent).map_err(|e| e.to_string())
    }

    fn fresh(&mut self) -> String {
        self.fresh_name()
    }
}

/// A symbol name as MLIR accepts it (quoted unless a plain identifier).
fn symbol(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$');
    if plain { format!("@{name}") } else { format!("@\"{}\"", name.replace('"', "_")) }
}

/// Lowers `func` to a StableHLO module whose entry point is `@main`.
pub fn lower(func: &Func, options: &LowerOptions) -> Result<Lowered, LowerError> {
    verify(func)?;
    let partitions = options.num_partitions();
    let param_types = func.param_types();
    let output_types = func.output_types();

    // Donated parameters reuse the first output of the same type not taken yet (as JAX does).
    let mut aliases = Vec::new();
    let mut unaliased = Vec::new();
    let mut taken = vec![false; output_types.len()];
    for (p, attrs) in func.param_attrs.iter().enumerate() {
        if !attrs.donate {
            continue;
        }
        match output_types.iter().enumerate().position(|(o, t)| !taken[o] && *t == param_types[p]) {
            Some(o) => {
                taken[o] = true;
                aliases.push((p, o));
            }
            None => unaliased.push(p),
        }
    }

    let mut text = String::new();
    let _ = writeln!(
        text,
        "module {} attributes {{mhlo.num_partitions = {partitions} : i32, mhlo.num_replicas = 1 : i32}} {{",
        symbol(&func.name)
    );
    if let ShardingMode::Shardy(mesh) = &options.sharding {
        let axes: Vec<String> = mesh.axes.iter().map(|(n, s)| format!("\"{n}\"={s}")).collect();
        let _ = writeln!(text, "  sdy.mesh @mesh = <[{}]>", axes.join(", "));
    }

    let mut params = Vec::new();
    for (p, ty) in param_types.iter().enumerate() {
        let mut attrs = Vec::new();
        if let Some(&(_, o)) = aliases.iter().find(|(q, _)| *q == p) {
            attrs.push(format!("tf.aliasing_output = {o} : i32"));
        }
        if let Some(s) = &func.param_attrs[p].sharding {
            attrs.extend(options.sharding.attr(s).map_err(LowerError::Attribute)?);
        }
        let attrs = if attrs.is_empty() { String::new() } else { format!(" {{{}}}", attrs.join(", ")) };
        params.push(format!("%arg{p}: {}{attrs}", ty.mlir()));
    }
    let mut results = Vec::new();
    for (o, ty) in output_types.iter().enumerate() {
        let attr = match &func.output_attrs[o].sharding {
            Some(s) => options.sharding.attr(s).map_err(LowerError::Attribute)?,
            None => None,
        };
        results.push(match attr {
            Some(a) => format!("{} {{{a}}}", ty.mlir()),
            None => ty.mlir(),
        });
    }
    let _ = writeln!(text, "  func.func public @main({}) -> ({}) {{", params.join(", "), results.join(", "));

    let mut emitter = Emitter { next: 0, options };
    let param_names: Vec<String> = (0..func.params.len()).map(|p| format!("%arg{p}")).collect();
    let mut body = String::new();
    let outputs = emitter.emit(func, &param_names, &mut body, 4)?;
    text.push_str(&body);
    if outputs.is_empty() {
        text.push_str("    return\n");
    } else {
        let types: Vec<String> = output_types.iter().map(TensorType::mlir).collect();
        let _ = writeln!(text, "    return {} : {}", outputs.join(", "), types.join(", "));
    }
    text.push_str("  }\n}\n");
    Ok(Lowered { text, aliases, unaliased_donations: unaliased, num_partitions: partitions })
}
