//! Checkpoints on object storage (local paths, `file://`, `s3://`, `gs://`, in-memory for tests).
//!
//! A step is a directory `step_{N}/` of shard files (`host{H}-{K}.bin`, several tensors per
//! file, large tensors split into pieces), a `manifest.json` (every tensor's dtype, shape and
//! pieces with their CRC-32, plus the trainer's records) and a `COMMITTED` marker holding the
//! manifest's checksum, written last. A directory without the marker does not exist for
//! readers, so a crash mid-save leaves the previous step as the latest. Every store operation
//! is retried with backoff, and every piece read is checked, the error naming tensor and file.
//! Several hosts save one step together ([`save_on_hosts`]): each writes its own shards, and
//! host 0 commits once every host has reported success.
#![warn(missing_docs)]

mod error;
mod hosts;
mod lease;
mod manifest;
pub mod process;
mod read;
mod saver;
mod steps;
mod write;

pub use error::{Error, Result};
pub use hosts::{Hosts, OneHost};
pub use lease::{LEASE, Lease};
pub use manifest::{FORMAT, FileEntry, Manifest, Piece, TensorEntry};
pub use read::Step;
pub use saver::{SaveJob, SaveReport, Saver, save_now, save_on_hosts};
pub use steps::{MARKER, Retention, StepListing, committed, delete, list, retain, step_dir};
pub use write::{HostShards, Layout, TensorData, commit, write_shards};
