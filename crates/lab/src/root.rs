//! An output root: a local directory, or an object-store location (`gs://…`, `s3://…`) mirrored
//! through a local staging directory. Runs write their files (record, config, metrics, events,
//! logs, evaluated weights) locally as always; the mirror pushes them up whenever the run has
//! something worth keeping (a checkpoint, an evaluation, the end) and pulls them down before a
//! run resumes or a status or report reads them. Checkpoints go to the store directly, under
//! `<root>/<group>/<name>/checkpoints/`, so a run is never held to a local disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::error::{Error, Result};
use ouro_store::Location;

use crate::runs::RunRecord;

/// Where runs go.
pub struct OutputRoot {
    /// The root as given.
    spec: String,
    /// Where the runs' files are read and written on this machine.
    local: PathBuf,
    /// The store the local files mirror, for a remote root.
    remote: Option<Location>,
    /// What this process has pushed: path → (size, modified).
    pushed: Mutex<BTreeMap<String, (u64, SystemTime)>>,
    /// Held through each push: a copy a run's background thread began never lands after a
    /// later one (the last push reads the files last).
    pushing: Mutex<()>,
}

/// Files the mirror never moves: checkpoints live in the store already and have their own
/// protocol; a staging directory's own bookkeeping stays local.
fn mirrored(relative: &str) -> bool {
    !relative.split('/').any(|part| part == "checkpoints")
}

impl OutputRoot {
    /// The root at `spec`: a path, or a URL whose staging directory is under ouro's cache
    /// (`OURO_CACHE_DIR`) as `outputs/<scheme>/<bucket and prefix>`.
    pub fn open(spec: &str) -> Result<OutputRoot> {
        if !ouro_store::is_remote(spec) {
            return Ok(OutputRoot {
                spec: spec.to_string(),
                local: PathBuf::from(spec),
                remote: None,
                pushed: Mutex::default(),
                pushing: Mutex::default(),
            });
        }
        let location = Location::open(spec).map_err(|source| Error::Root { url: ouro_store::redact(spec), source })?;
        let cache = ouro_store::cache_dir().ok_or_else(|| {
            Error::NotFound(format!("no cache directory for the staging copy of {spec}: set OURO_CACHE_DIR"))
        })?;
        let (scheme, rest) = spec.split_once("://").unwrap_or(("remote", spec));
        let mut local = cache.join("outputs").join(scheme);
        for part in rest.split('/').filter(|p| !p.is_empty() && *p != "." && *p != "..") {
            local.push(part);
        }
        Ok(OutputRoot {
            spec: spec.trim_end_matches('/').to_string(),
            local,
            remote: Some(location),
            pushed: Mutex::default(),
            pushing: Mutex::default(),
        })
    }

    /// The local directory runs are read from and written to.
    pub fn local(&self) -> &Path {
        &self.local
    }

    /// Whether the root is in an object store.
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// The root's URL or path joined with `relative` (`group/name/checkpoints`).
    pub fn url(&self, relative: &str) -> String {
        format!("{}/{}", self.spec.trim_end_matches('/'), relative.trim_start_matches('/'))
    }

    /// Downloads the files under `prefix` (`""`: the whole root) that `wanted` names and that
    /// are newer than the local copies: a file this machine lacks; an append-only file (metrics,
    /// logs) the store holds more of; a run record that another machine wrote later. A local
    /// file a run here is still writing is never replaced. The number copied; nothing for a
    /// local root.
    pub fn pull(&self, prefix: &str, wanted: impl Fn(&str) -> bool) -> Result<usize> {
        let Some(remote) = self.under(prefix)? else { return Ok(0) };
        let mut copied = 0;
        for (below, size, _) in remote.list()? {
            let relative = join(prefix, &below);
            if !mirrored(&relative) || !wanted(&relative) {
                continue;
            }
            let path = self.local.join(&relative);
            let bytes = match std::fs::metadata(&path) {
                Err(_) => remote.get(&below)?,
                Ok(_) if relative.ends_with("/run.json") => {
                    let bytes = remote.get(&below)?;
                    if !record_is_newer(&bytes, &path) {
                        continue;
                    }
                    bytes
                }
                Ok(local) if size > local.len() && !RECORD_ONLY.iter().any(|f| relative.ends_with(f)) => {
                    remote.get(&below)?
                }
                Ok(_) => continue,
            };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
            }
            // Whole files only: a reader never sees a half-written copy.
            let partial = path.with_extension("pulling");
            std::fs::write(&partial, bytes).map_err(|e| Error::io(format!("writing {}", partial.display()), e))?;
            std::fs::rename(&partial, &path).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
            copied += 1;
        }
        Ok(copied)
    }

    /// Uploads the local files under `prefix` (a run directory, relative to the root) that the
    /// store lacks or holds at another size, every small file (records and logs change in
    /// place), and large files this process has not pushed as they are now (a rerun rewrites
    /// weights at the same size); the number copied. Nothing for a local root.
    pub fn push(&self, prefix: &str) -> Result<usize> {
        let Some(remote) = self.under(prefix)? else { return Ok(0) };
        let _one_at_a_time = self.pushing.lock().unwrap_or_else(|p| p.into_inner());
        let dir = self.local.join(prefix);
        let sizes: BTreeMap<String, u64> = remote.list()?.into_iter().map(|(r, s, _)| (r, s)).collect();
        let mut copied = 0;
        for path in files_under(&dir)? {
            // `files_under(dir)` lists only paths below `dir`.
            let Ok(below) = path.strip_prefix(&dir) else { continue };
            let below = below.to_string_lossy().replace('\\', "/");
            if !mirrored(&join(prefix, &below)) || below.ends_with(".pulling") {
                continue;
            }
            let meta = std::fs::metadata(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            let now = (meta.len(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH));
            let key = join(prefix, &below);
            let unchanged = self.pushed.lock().unwrap_or_else(|p| p.into_inner()).get(&key) == Some(&now);
            if now.0 > SMALL && sizes.get(&below) == Some(&now.0) && unchanged {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            remote.put(&below, bytes)?;
            self.pushed.lock().unwrap_or_else(|p| p.into_inner()).insert(key, now);
            copied += 1;
        }
        Ok(copied)
    }

    /// The store's location of `prefix` (`None` for a local root).
    fn under(&self, prefix: &str) -> Result<Option<Location>> {
        if self.remote.is_none() {
            return Ok(None);
        }
        let url = if prefix.is_empty() { self.spec.clone() } else { self.url(prefix) };
        Ok(Some(Location::open(&url).map_err(|source| Error::Root { url: ouro_store::redact(&url), source })?))
    }
}

fn join(prefix: &str, below: &str) -> String {
    if prefix.is_empty() { below.to_string() } else { format!("{}/{below}", prefix.trim_end_matches('/')) }
}

/// Files written whole once (weights, configs, reports): a local copy is kept as it is.
const RECORD_ONLY: [&str; 3] = [".safetensors", "config.yaml", ".png"];

/// Whether the record `remote` (bytes of a `run.json`) was written after the one at `local`:
/// a later start, or the same start and a later end.
fn record_is_newer(remote: &[u8], local: &Path) -> bool {
    let when = |r: &RunRecord| (r.started, r.finished.unwrap_or(0.0));
    let Ok(theirs) = serde_json::from_slice::<RunRecord>(remote) else { return false };
    match std::fs::read(local).ok().and_then(|b| serde_json::from_slice::<RunRecord>(&b).ok()) {
        Some(ours) => when(&theirs) > when(&ours),
        None => true,
    }
}

/// Files at most this large are uploaded at every push.
const SMALL: u64 = 4 << 20;

/// Every file under `dir`, recursively (none when it does not exist).
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_root_is_itself_and_a_url_stages_under_the_cache() {
        let root = OutputRoot::open("runs").unwrap();
        assert!(!root.is_remote());
        assert_eq!(root.local(), Path::new("runs"));
        assert_eq!(root.url("g/n/checkpoints"), "runs/g/n/checkpoints");
        assert_eq!(root.push("g/n").unwrap(), 0);
        assert!(mirrored("g/n/metrics.jsonl") && !mirrored("g/n/checkpoints/step_10/manifest.json"));
    }
}
