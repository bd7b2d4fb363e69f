//! The flat SSA IR: a function is a list of equations over typed values.

use std::fmt;

use crate::prim::Prim;
use crate::sharding::Sharding;
use crate::{TensorType, TypeError};

/// A value: a function parameter or an equation output, an index into [`Func::values`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);

impl ValueId {
    /// As an index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A name scope (`trm/h_cycle/block0/attn`), an index into [`Func::scopes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ScopeId(pub u32);

/// One primitive application: `outputs = prim(inputs)`.
#[derive(Clone, Debug)]
pub struct Eqn {
    /// The primitive and its parameters.
    pub prim: Prim,
    /// Operands.
    pub inputs: Vec<ValueId>,
    /// Results.
    pub outputs: Vec<ValueId>,
    /// The name scope it was traced in.
    pub scope: ScopeId,
}

/// Per-parameter attributes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamAttrs {
    /// A name for logs and errors (`params.w1`).
    pub name: String,
    /// How the parameter is split over the device mesh.
    pub sharding: Option<Sharding>,
    /// The caller gives the buffer up; lowering aliases it to an output of the same type.
    pub donate: bool,
}

/// Per-output attributes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutputAttrs {
    /// A name for logs and errors.
    pub name: String,
    /// How the result is split over the device mesh.
    pub sharding: Option<Sharding>,
}

/// A function: parameters, equations in order, outputs.
#[derive(Clone, Debug, Default)]
pub struct Func {
    /// A name (the StableHLO module name for the top-level function).
    pub name: String,
    /// Parameter values.
    pub params: Vec<ValueId>,
    /// Equations, each using only parameters and earlier outputs.
    pub eqns: Vec<Eqn>,
    /// Result values.
    pub outputs: Vec<ValueId>,
    /// The type of every value, indexed by [`ValueId`].
    pub values: Vec<TensorType>,
    /// Scope paths, indexed by [`ScopeId`]; entry 0 is the root (`""`).
    pub scopes: Vec<String>,
    /// Attributes of each parameter.
    pub param_attrs: Vec<ParamAttrs>,
    /// Attributes of each output.
    pub output_attrs: Vec<OutputAttrs>,
}

impl Func {
    /// The type of a value.
    pub fn ty(&self, v: ValueId) -> &TensorType {
        &self.values[v.index()]
    }

    /// Parameter types.
    pub fn param_types(&self) -> Vec<TensorType> {
        self.params.iter().map(|&p| self.ty(p).clone()).collect()
    }

    /// Output types.
    pub fn output_types(&self) -> Vec<TensorType> {
        self.outputs.iter().map(|&o| self.ty(o).clone()).collect()
    }

    /// The scope path of an equation.
    pub fn scope(&self, e: &Eqn) -> &str {
        self.scopes.get(e.scope.0 as usize).map_or("", String::as_str)
    }

    /// Equations, counting those inside loop bodies.
    pub fn total_eqns(&self) -> usize {
        self.eqns.iter().map(|e| 1 + e.prim.sub_funcs().iter().map(|f| f.total_eqns()).sum::<usize>()).sum()
    }
}

/// A structural error found by [`verify`].
#[derive(Clone, Debug, PartialEq)]
pub struct VerifyError {
    /// The function's name.
    pub func: String,
    /// Index of the offending equation, if one.
    pub eqn: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// The equations around the offending one, printed.
    pub context: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.eqn {
            Some(i) => write!(f, "invalid IR in {} at equation {i}: {}", self.func, self.message)?,
            None => write!(f, "invalid IR in {}: {}", self.func, self.message)?,
        }
        if !self.context.is_empty() {
            write!(f, "\n{}", self.context)?;
        }
        Ok(())
    }
}

impl std::error::Error for VerifyError {}

/// Re-checks a function: every value defined once before its use, every equation's output
/// types equal to what its type rule infers, attributes matching, loop bodies valid.
pub fn verify(func: &Func) -> Result<(), VerifyError> {
    let err = |eqn: Option<usize>, message: String| VerifyError {
        func: func.name.clone(),
        eqn,
        message,
        context: eqn.map(|i| crate::print::context(func, i, 5)).unwrap_or_default(),
    };
    let mut defined = vec![false; func.values.len()];
    fn define(defined: &mut [bool], v: ValueId) -> Result<(), String> {
        match defined.get_mut(v.index()) {
            None => Err(format!("value %{} has no type", v.0)),
            Some(true) => Err(format!("value %{} is defined twice", v.0)),
            Some(d) => {
                *d = true;
                Ok(())
            }
        }
    }
    for &p in &func.params {
        define(&mut defined, p).map_err(|m| err(None, m))?;
    }
    if func.param_attrs.len() != func.params.len() {
        return Err(err(
            None,
            format!("{} parameters but {} attribute sets", func.params.len(), func.param_attrs.len()),
        ));
    }
    if func.output_attrs.len() != func.outputs.len() {
        return Err(err(
            None,
            format!("{} outputs but {} attribute sets", func.outputs.len(), func.output_attrs.len()),
        ));
    }
    for (i, e) in func.eqns.iter().enumerate() {
        for v in &e.inputs {
            if !defined.get(v.index()).copied().unwrap_or(false) {
                return Err(err(Some(i), format!("input %{} is used before it is defined", v.0)));
            }
        }
        let input_types: Vec<&TensorType> = e.inputs.iter().map(|&v| func.ty(v)).collect();
        let inferred = e.prim.infer(&input_types).map_err(|t: TypeError| err(Some(i), t.to_string()))?;
        if inferred.len() != e.outputs.len() {
            return Err(err(Some(i), format!("{} outputs but the rule infers {}", e.outputs.len(), inferred.len())));
        }
        for (k, (&v, t)) in e.outputs.iter().zip(&inferred).enumerate() {
            if func.values.get(v.index()) != Some(t) {
                return Err(err(Some(i), format!("output {k} is recorded as {} but its rule infers {t}", func.ty(v))));
            }
            define(&mut defined, v).map_err(|m| err(Some(i), m))?;
        }
        for sub in e.prim.sub_funcs() {
            verify(sub).map_err(|e| err(Some(i), format!("in its body: {e}")))?;
        }
    }
    for (k, v) in func.outputs.iter().enumerate() {
        if !defined.get(v.index()).copied().unwrap_or(false) {
            return Err(err(None, format!("output {k} (%{}) is never defined", v.0)));
        }
    }
    Ok(())
}
