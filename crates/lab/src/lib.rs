//! The research program around `ouro train`: experiments found by name in a catalog of
//! configs, a run's identity as the hash of its effective recipe (so duplicates run once and
//! finished runs are skipped), the record each run directory keeps of its state, and the
//! report that compares an experiment group's runs.
//!
//! Runs are laid out as `{output_root}/{experiment_group}/{config name}/`, each holding
//! `run.json` (this crate's [`RunRecord`]), the resolved `config.yaml`, `metrics.jsonl`,
//! TensorBoard events, the evaluated weights and (by default) `checkpoints/`.

pub mod catalog;
pub mod error;
pub mod group;
pub mod guide;
pub mod lifecycle;
pub mod metrics;
pub mod notes;
pub mod plots;
pub mod recipe;
pub mod report;
pub mod root;
pub mod runs;
pub mod schedule;
pub mod sweep;

pub use catalog::Catalog;
pub use error::{Error, Result};
pub use recipe::{data_fingerprint, recipe_hash};
pub use root::OutputRoot;
pub use runs::{RunRecord, RunState, scan};
