//! A persistent compile cache: serialized executables on disk, keyed by everything that
//! determines the compiled code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::api::Api;
use crate::error::{Error, Result};
use crate::executable::Program;

/// Magic bytes of a cache entry, then the sha256 of the payload, then the payload.
const MAGIC: &[u8; 8] = b"OUROEXE1";

/// Serialized executables under one directory, one file per key.
///
/// The key is the sha256 of the program bytes and format, the serialized compile options, and
/// the plugin's identity (API version, attributes such as `xla_version`, and the plugin file's
/// path, size and modification time). Entries are written to a temporary file and renamed, so a
/// reader never sees a partial entry; a corrupt entry is deleted and the program recompiled.
#[derive(Debug)]
pub struct CompileCache {
    dir: PathBuf,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CompileCache {
    /// A cache in `dir`, created if missing.
    pub fn new(dir: impl Into<PathBuf>) -> Result<CompileCache> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(CompileCache { dir, hits: AtomicU64::new(0), misses: AtomicU64::new(0) })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Compiles served from disk so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Compiles that had to run (and were stored) so far.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    pub(crate) fn count_hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    /// The key of a compilation.
    pub fn key(&self, api: &Api, program: &Program, options: &[u8]) -> String {
        let mut h = Sha256::new();
        for part in [api.identity().as_bytes(), program.format().as_bytes(), options, program.code()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        hex(&h.finalize())
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.pjrt-exe"))
    }

    /// The serialized executable stored under `key`, if present and intact.
    pub fn lookup(&self, key: &str) -> Option<Vec<u8>> {
        let path = self.path(key);
        let bytes = std::fs::read(&path).ok()?;
        match verify(&bytes) {
            Some(payload) => Some(payload.to_vec()),
            None => {
                tracing::warn!("compile cache: {} is corrupt; removing it", path.display());
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Drops an entry the plugin refused to load.
    pub(crate) fn discard(&self, key: &str, error: &Error) {
        let path = self.path(key);
        tracing::warn!("compile cache: {} could not be loaded ({error}); recompiling", path.display());
        let _ = std::fs::remove_file(path);
    }

    /// Stores `serialized` under `key` atomically.
    pub fn store(&self, key: &str, serialized: &[u8]) -> Result<()> {
        let path = self.path(key);
        let tmp = self.dir.join(format!(".{key}.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(MAGIC)?;
            file.write_all(&Sha256::digest(serialized))?;
            file.write_all(serialized)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(&path, e)
        })
    }
}

/// The payload of an entry whose magic and checksum are right.
fn verify(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < 32 {
        return None;
    }
    let (digest, payload) = rest.split_at(32);
    (Sha256::digest(payload).as_slice() == digest).then_some(payload)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_corruption_is_detected() {
        let dir = std::env::temp_dir().join(format!("ouro-cache-test-{}", std::process::id()));
        let cache = CompileCache::new(&dir).unwrap();
        cache.store("k", b"serialized executable").unwrap();
        assert_eq!(cache.lookup("k").as_deref(), Some(&b"serialized executable"[..]));
        let path = cache.path("k");
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(cache.lookup("k"), None);
        assert!(!path.exists(), "a corrupt entry is removed");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
