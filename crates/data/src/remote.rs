//! Datasets on object storage (`gs://`, `s3://`): mirrored into the local cache on first use,
//! so the arrays can be memory-mapped, and refreshed when the remote files change.
//!
//! The mirror is written to a temporary directory and renamed into place, with a manifest of
//! the remote listing (path, size, e-tag); a complete mirror whose manifest matches the remote
//! is reused without downloading. If the store cannot be listed, an existing mirror is used and
//! a warning says so.

use std::io::Write;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use ouro_store::{Location, block_on, is_remote};

use crate::error::{Error, Result};

const MANIFEST: &str = ".ouro-mirror.json";

fn remote_err(url: &str, message: impl std::fmt::Display) -> Error {
    Error::Remote { url: ouro_store::redact(url), message: message.to_string() }
}

/// A local directory holding `location`: the path itself if local, else a cached mirror.
pub fn resolve(location: &str) -> Result<PathBuf> {
    if !is_remote(location) {
        return Ok(PathBuf::from(location.trim_start_matches("file://")));
    }
    let loc = Location::open(location).map_err(|e| remote_err(location, e))?;
    let cache =
        ouro_store::cache_dir().ok_or_else(|| remote_err(location, "no cache directory: set OURO_CACHE_DIR"))?;
    let (scheme, bucket) = &loc.scheme_and_bucket;
    let dest = cache.join("datasets").join(scheme).join(bucket).join(loc.prefix.as_ref());
    mirror(&loc, &dest)
}

/// Mirrors every object under `loc` into `dest` (if not already there) and returns `dest`.
pub fn mirror(loc: &Location, dest: &Path) -> Result<PathBuf> {
    let manifest_path = dest.join(MANIFEST);
    let listing = match loc.list() {
        Ok(l) => l,
        Err(e) if manifest_path.is_file() => {
            eprintln!("warning: cannot list {} ({e}); using the cached copy at {}", loc.url, dest.display());
            return Ok(dest.to_path_buf());
        }
        Err(e) => return Err(remote_err(&loc.url, e)),
    };
    if listing.is_empty() {
        return Err(remote_err(&loc.url, "no dataset files at this location"));
    }
    let manifest: Vec<String> =
        listing.iter().map(|(p, s, e)| format!("{p}\t{s}\t{}", e.as_deref().unwrap_or(""))).collect();
    let manifest = manifest.join("\n");
    if std::fs::read_to_string(&manifest_path).is_ok_and(|m| m == manifest) {
        return Ok(dest.to_path_buf());
    }
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = dest.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| -> Result<()> {
        for (rel, size, _) in &listing {
            let path = tmp.join(rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            let written = download(loc, rel, &path)?;
            if written != *size {
                return Err(remote_err(&loc.url, format!("{rel}: got {written} bytes, the listing says {size}")));
            }
        }
        std::fs::write(tmp.join(MANIFEST), &manifest).map_err(|e| Error::io(&tmp, e))?;
        if dest.exists() {
            std::fs::remove_dir_all(dest).map_err(|e| Error::io(dest, e))?;
        }
        std::fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result.map(|()| dest.to_path_buf())
}

/// Streams one object to a file; returns the bytes written.
fn download(loc: &Location, rel: &str, path: &Path) -> Result<u64> {
    use object_store::ObjectStoreExt;
    let key = loc.key(rel);
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| Error::io(path, e))?);
    let written = block_on(async {
        let mut stream =
            loc.store.get(&key).await.map_err(|e| remote_err(&loc.url, format!("{rel}: {e}")))?.into_stream();
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| remote_err(&loc.url, format!("{rel}: {e}")))?;
            file.write_all(&chunk).map_err(|e| Error::io(path, e))?;
            written += chunk.len() as u64;
        }
        Ok::<u64, Error>(written)
    })?;
    file.flush().map_err(|e| Error::io(path, e))?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use object_store::memory::InMemory;

    use super::*;

    #[test]
    fn mirrors_once_and_refreshes_on_change() {
        let store = Arc::new(InMemory::new());
        let loc = Location::on(store, "bucket/sudoku", "memory://bucket/sudoku");
        loc.put("train/dataset.json", b"{}".to_vec()).unwrap();
        loc.put("train/all__inputs.npy", vec![7; 3000]).unwrap();
        let dest = std::env::temp_dir().join(format!("ouro-mirror-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dest);
        mirror(&loc, &dest).unwrap();
        assert_eq!(std::fs::read(dest.join("train/all__inputs.npy")).unwrap(), vec![7; 3000]);
        // Unchanged: nothing is downloaded again (a local edit survives).
        std::fs::write(dest.join("train/dataset.json"), b"local").unwrap();
        mirror(&loc, &dest).unwrap();
        assert_eq!(std::fs::read(dest.join("train/dataset.json")).unwrap(), b"local");
        // Changed remotely: mirrored again.
        loc.put("train/dataset.json", b"{\"v\": 2}".to_vec()).unwrap();
        mirror(&loc, &dest).unwrap();
        assert_eq!(std::fs::read(dest.join("train/dataset.json")).unwrap(), b"{\"v\": 2}");
        let empty = Location::on(Arc::new(InMemory::new()), "nothing", "memory://nothing");
        assert!(mirror(&empty, &dest.join("x")).unwrap_err().to_string().contains("no dataset files"));
        std::fs::remove_dir_all(dest).unwrap();
    }
}
