//! Configs as researchers write them: YAML files composed by a `defaults:` list (Hydra's
//! convention, so the Python program's files load unchanged), command-line overrides,
//! `${...}` interpolation, and for every value the file and line (or the override) it came
//! from, so that a typed config's error names where to look.
//!
//! - `defaults: [{arch: trm}, _self_]` merges `arch/trm.yaml` under the key `arch`, then the
//!   file's own keys (`_self_`; last when absent, so the file wins). A group directory is looked
//!   up beside the file, then in each directory above it. `name` entries merge `name.yaml`
//!   from the file's directory at the top level. Entries compose recursively.
//! - Overrides: `key=value` sets (dotted keys, YAML values: `[1, 2]`, `{a: 1}`, `null`),
//!   `+key=value` adds a key that must not exist, `++key=value` sets whether or not it exists,
//!   `~key` deletes, and `group=name` on a group of the defaults list swaps that file.
//! - Interpolation after overrides: `${a.b}` (from the top), `${.x}` (a sibling), `${..x}`
//!   (the parent's); a whole-string reference keeps the referenced value's type.
#![warn(missing_docs)]

mod compose;
mod interpolate;
mod node;
mod overrides;
mod parts;

pub use compose::{Config, Origin, compose, compose_str};
pub use parts::fields_of;

/// A config error: what is wrong and where it came from.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// This crate's result.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn err<T>(message: impl Into<String>) -> Result<T> {
    Err(Error(message.into()))
}
