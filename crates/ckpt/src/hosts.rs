//! The hosts of a job, as a save sees them: each writes its own shards, then they exchange
//! what they wrote, and host 0 commits only once every host has succeeded.

use crate::write::HostShards;

/// The processes saving one checkpoint together. The trainer implements it over the job's
/// key-value service; a single process is [`OneHost`].
pub trait Hosts: Send + Sync + std::fmt::Debug {
    /// This process's index, `0..count()`.
    fn index(&self) -> usize;
    /// How many processes save.
    fn count(&self) -> usize;
    /// Every host's `value` for `name` (unique per exchange), in host order, once all have
    /// given theirs; an error says which host did not.
    fn all_gather(&self, name: &str, value: &[u8]) -> std::result::Result<Vec<Vec<u8>>, String>;
    /// Frees this host's value of exchange `name`, which every host has read (a long series of
    /// exchanges need not pile up in the job's store). Nothing by default.
    fn forget(&self, _name: &str) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// A job of one process.
#[derive(Clone, Copy, Debug, Default)]
pub struct OneHost;

impl Hosts for OneHost {
    fn index(&self) -> usize {
        0
    }

    fn count(&self) -> usize {
        1
    }

    fn all_gather(&self, _name: &str, value: &[u8]) -> std::result::Result<Vec<Vec<u8>>, String> {
        Ok(vec![value.to_vec()])
    }
}

/// What a host reports after writing its shards: what it wrote, or why it could not.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) enum Written {
    Shards(HostShards),
    Failed(String),
}
