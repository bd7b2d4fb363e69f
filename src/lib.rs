//! ouro: a native training engine for Tiny Recursive Models.
//!
//! This facade re-exports the engine's crates; the `ouro` binary is the user's entry point.

pub use ouro_pjrt as pjrt;
