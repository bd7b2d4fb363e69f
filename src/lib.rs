//! ouro: a native training engine for Tiny Recursive Models.
//!
//! This facade re-exports the engine's crates; the `ouro` binary is the user's entry point.

pub use ouro_autodiff as autodiff;
pub use ouro_ir as ir;
pub use ouro_lower as lower;
pub use ouro_pjrt as pjrt;
pub use ouro_runtime as runtime;
