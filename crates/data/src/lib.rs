//! TRM datasets, independent of the compiler stack (no PJRT here).
//!
//! * [`npy`], [`metadata`], [`dataset`]: the on-disk format the official builders write, read
//!   with inputs and labels memory-mapped and every file checked at open.
//! * [`sampler`]: the official `PuzzleDataset` iteration (train and test), resumable.
//! * [`build`]: builders for Sudoku (CSV import and a generator of hard puzzles), Maze (CSV
//!   import and a generator) and ARC (from the ARC-AGI JSON).
//! * [`eval`]: the ARC evaluator.

pub mod build;
pub mod dataset;
mod error;
pub mod eval;
pub mod metadata;
pub mod npy;
pub mod remote;
pub mod rng;
pub mod sampler;
pub mod writer;

pub use dataset::{PuzzleDataset, SetArrays, total_steps, total_steps_of};
pub use error::{Error, Result};
pub use metadata::Metadata;
pub use sampler::{Batch, BatchShard, IGNORE_LABEL, Sampler, SamplerConfig, SamplerState};
