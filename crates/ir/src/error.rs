//! Trace-time errors: a type rule refused an operation.

use std::fmt;
use std::panic::Location;

/// A type rule's refusal: which prim, which StableHLO constraint, and the offending values.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeError {
    /// The prim (StableHLO op name).
    pub prim: &'static str,
    /// The spec constraint id (`dot_general_c1`), when the check is one of the spec's.
    pub constraint: Option<String>,
    /// `expects <condition>, got <values>`.
    pub message: String,
}

impl TypeError {
    /// A refusal of spec constraint `c` of `prim` (`c1` becomes `<prim>_c1`).
    pub fn new(prim: &'static str, c: &str, message: impl Into<String>) -> TypeError {
        TypeError { prim, constraint: Some(format!("{prim}_{c}")), message: message.into() }
    }

    /// A refusal of a rule ouro adds (e.g. dtype support) rather than the spec.
    pub fn other(prim: &'static str, message: impl Into<String>) -> TypeError {
        TypeError { prim, constraint: None, message: message.into() }
    }
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.prim, self.message)?;
        if let Some(c) = &self.constraint {
            write!(f, " ({c})")?;
        }
        Ok(())
    }
}

impl std::error::Error for TypeError {}

/// The first error of a trace, with where the model code made the call.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceError {
    /// What went wrong.
    pub message: String,
    /// The caller's source location.
    pub location: &'static Location<'static>,
    /// The name scope at the time (`trm/block0/attn`).
    pub scope: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.location.file(), self.location.line(), self.location.column())?;
        if !self.scope.is_empty() {
            write!(f, "in {}: ", self.scope)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for TraceError {}
