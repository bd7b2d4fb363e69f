//! The processes of a multi-host job.
//!
//! A TPU pod slice (v4-64: 8 hosts × 4 chips) or a multi-node GPU job runs one SPMD program
//! over several processes, each creating its own PJRT client for its local devices. They need
//! to agree on who is who ([`discover`]) and to share a key-value store through which the
//! plugin exchanges its topology ([`Cluster`], a small TCP service on process 0 that every
//! process, 0 included, reaches as a client). The same store gives ouro barriers, e.g. for
//! host 0 to commit a checkpoint only after every host wrote its shards.
#![warn(missing_docs)]

mod discover;
mod error;
mod join;
mod metadata;
mod service;

pub use discover::{DEFAULT_PORT, Flags, ProcessSpec, discover};
pub use error::{Error, Result};
pub use join::Cluster;
pub use service::{KvClient, KvServer};
