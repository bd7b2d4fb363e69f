//! The Tiny Recursive Model, traced with `ouro-ir`: the official layers, the inner model with
//! its recursion, the ACT wrapper and the loss head. Semantics follow the official PyTorch
//! repository (SamsungSAILMontreal/TinyRecursiveModels); parameter names are its `state_dict`
//! keys.

pub mod act;
pub mod config;
pub mod footprint;
pub mod layers;
pub mod loss;
pub mod params;
pub mod trm;

pub use act::{ActOutputs, Batch, Carry, Halting};
pub use config::{DataDims, FloatType, LossConfig, LossType, PosEncoding, TrmConfig};
pub use footprint::Footprint;
pub use loss::{ActLoss, METRICS, Metrics, act_loss};
pub use params::{Init, ParamSpec, Role, count, init, param_specs};
pub use trm::{Compiler, InnerOutput, Trm};
