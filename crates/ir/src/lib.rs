//! ouro's IR: what JAX's jaxprs and `lax` are to JAX.
//!
//! * [`Func`]: a flat SSA function, `params`, equations in order, `outputs`; every value has a
//!   [`TensorType`]. No graph of reference-counted nodes, no global state.
//! * [`Prim`]: the closed set of primitives, one StableHLO op each, every rule of a prim in its
//!   own file under `prims/` (type rule, lowering, reference evaluation, VJP, test cases).
//! * [`Tracer`] / [`Tensor`]: model code runs on tensors and records equations; type errors are
//!   caught at trace time with the caller's source location ([`TraceError`]).
//! * [`verify`] re-checks a function; [`interp::eval`] evaluates it on the host in f64.
//! * [`composite`] and [`random`]: functions built from prims (softmax, sampling, ...).

mod array;
pub mod composite;
mod dtype;
mod error;
mod func;
pub mod interp;
pub mod lowering;
mod ops;
mod prim;
pub mod prims;
mod print;
pub mod random;
mod sharding;
pub mod testing;
mod tracer;
pub mod tree;
mod types;

pub use array::{Elements, HostArray, float_to_int, int_to_float, round_float, wrap_int};
pub use dtype::DType;
pub use error::{TraceError, TypeError};
pub use func::{Eqn, Func, OutputAttrs, ParamAttrs, ScopeId, ValueId, VerifyError, verify};
pub use ops::{DotDims, Operand};
pub use prim::{Prim, Rules, VjpCx};
pub use print::context;
pub use sharding::{Mesh, Sharding};
pub use tracer::{ScopeGuard, ScopePathGuard, Tensor, TracedBody, Tracer, trace};
pub use tree::{Named, Tree};
pub use types::TensorType;
