//! Human-readable IR, for errors and debugging.

use std::fmt::{self, Write};

use crate::func::{Eqn, Func};

fn eqn_line(func: &Func, e: &Eqn) -> String {
    let outs: Vec<String> = e.outputs.iter().map(|v| format!("%{}: {}", v.0, func.ty(*v))).collect();
    let ins: Vec<String> = e.inputs.iter().map(|v| format!("%{}", v.0)).collect();
    let mut line = format!("{} = {:?}({})", outs.join(", "), e.prim, ins.join(", "));
    let scope = func.scope(e);
    if !scope.is_empty() {
        let _ = write!(line, "  @ {scope}");
    }
    line
}

/// The equations within `radius` of equation `i`, the offending one marked.
pub fn context(func: &Func, i: usize, radius: usize) -> String {
    let lo = i.saturating_sub(radius);
    let hi = (i + radius + 1).min(func.eqns.len());
    (lo..hi)
        .map(|k| format!("{} {k:>5}: {}\n", if k == i { ">>" } else { "  " }, eqn_line(func, &func.eqns[k])))
        .collect()
}

impl fmt::Display for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params: Vec<String> = self.params.iter().map(|v| format!("%{}: {}", v.0, self.ty(*v))).collect();
        writeln!(f, "func {}({}) {{", self.name, params.join(", "))?;
        for e in &self.eqns {
            writeln!(f, "  {}", eqn_line(self, e))?;
        }
        let outs: Vec<String> = self.outputs.iter().map(|v| format!("%{}", v.0)).collect();
        writeln!(f, "  return {}\n}}", outs.join(", "))
    }
}
