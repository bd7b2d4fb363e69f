//! The reference interpreter: evaluates any [`Func`] on host arrays, naively and in f64 for
//! floats. It is the oracle of the gradient checks and of the plugin agreement tests.

use std::fmt;

use crate::array::HostArray;
use crate::func::Func;

/// An evaluation failure, naming the equation.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalError {
    /// The function's name.
    pub func: String,
    /// The failing equation's index and prim, if an equation failed.
    pub eqn: Option<(usize, &'static str)>,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.eqn {
            Some((i, prim)) => write!(f, "evaluating {} at equation {i} ({prim}): {}", self.func, self.message),
            None => write!(f, "evaluating {}: {}", self.func, self.message),
        }
    }
}

impl std::error::Error for EvalError {}

/// Evaluates `func` on `args`.
pub fn eval(func: &Func, args: &[HostArray]) -> Result<Vec<HostArray>, EvalError> {
    let err = |eqn, message: String| EvalError { func: func.name.clone(), eqn, message };
    if args.len() != func.params.len() {
        return Err(err(None, format!("expects {} arguments, got {}", func.params.len(), args.len())));
    }
    let mut values: Vec<Option<HostArray>> = vec![None; func.values.len()];
    for (k, (&p, a)) in func.params.iter().zip(args).enumerate() {
        if &a.ty() != func.ty(p) {
            return Err(err(None, format!("argument {k} must be {}, got {}", func.ty(p), a.ty())));
        }
        values[p.index()] = Some(a.clone());
    }
    for (i, e) in func.eqns.iter().enumerate() {
        let inputs: Vec<&HostArray> = e
            .inputs
            .iter()
            .map(|v| {
                values[v.index()]
                    .as_ref()
                    .ok_or_else(|| err(Some((i, e.prim.name())), format!("%{} is undefined", v.0)))
            })
            .collect::<Result<_, _>>()?;
        let outputs = e.prim.rules().eval(&inputs).map_err(|m| err(Some((i, e.prim.name())), m))?;
        if outputs.len() != e.outputs.len() {
            return Err(err(
                Some((i, e.prim.name())),
                format!("produced {} results, expected {}", outputs.len(), e.outputs.len()),
            ));
        }
        for (&v, out) in e.outputs.iter().zip(outputs) {
            if &out.ty() != func.ty(v) {
                return Err(err(
                    Some((i, e.prim.name())),
                    format!("produced {}, its type is {}", out.ty(), func.ty(v)),
                ));
            }
            values[v.index()] = Some(out);
        }
    }
    func.outputs
        .iter()
        .map(|v| values[v.index()].clone().ok_or_else(|| err(None, format!("output %{} is undefined", v.0))))
        .collect()
}
