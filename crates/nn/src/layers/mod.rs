//! The official layers (`models/layers.py`), one per file, as traced functions of their weights.

mod attention;
mod embedding;
mod linear;
mod rms_norm;
mod rope;
mod swiglu;
mod token_mlp;

pub use attention::attention;
pub use embedding::embedding;
pub use linear::linear;
pub use rms_norm::{rms_norm, rms_norm_over};
pub use rope::{Rope, apply_rope};
pub use swiglu::{GateUp, swiglu};
pub use token_mlp::token_mlp;
