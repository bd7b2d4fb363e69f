//! The steps under a checkpoint location: listing, the latest committed one, retention.

use ouro_store::Location;

use crate::error::{Error, Result};
use crate::write::retry;

/// The file whose presence makes a step exist; written last, deleted first.
pub const MARKER: &str = "COMMITTED";

/// The directory of step `step`.
pub fn step_dir(step: u64) -> String {
    format!("step_{step}")
}

/// A step directory found under a location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepListing {
    /// The step.
    pub step: u64,
    /// Whether its commit marker is there (otherwise it is an unfinished save: invisible).
    pub committed: bool,
    /// Bytes of every object in it.
    pub bytes: u64,
}

/// Every step directory under `location`, oldest first.
pub fn list(location: &Location) -> Result<Vec<StepListing>> {
    let objects = retry(&format!("listing {}", location.url), || location.list())?;
    let mut steps: Vec<StepListing> = Vec::new();
    for (path, size, _) in objects {
        let Some((dir, file)) = path.split_once('/') else { continue };
        let Some(step) = dir.strip_prefix("step_").and_then(|n| n.parse::<u64>().ok()) else { continue };
        let entry = match steps.iter_mut().find(|s| s.step == step) {
            Some(e) => e,
            None => {
                steps.push(StepListing { step, committed: false, bytes: 0 });
                steps.last_mut().expect("just pushed")
            }
        };
        entry.bytes += size;
        entry.committed |= file == MARKER;
    }
    for step in unlisted_local_steps(location, &steps)? {
        steps.push(StepListing { step, committed: false, bytes: 0 });
    }
    steps.sort_by_key(|s| s.step);
    Ok(steps)
}

/// On local disk, the step directories a listing cannot see: ones holding only staging files
/// (a save killed mid-write) or nothing (killed between creating the folder and the file).
fn unlisted_local_steps(location: &Location, listed: &[StepListing]) -> Result<Vec<u64>> {
    let Some(dir) = location.local_dir() else { return Ok(Vec::new()) };
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::Io { path: dir, source: e }),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::Io { path: dir.clone(), source: e })?;
        let name = entry.file_name();
        let Some(step) = name.to_str().and_then(|n| n.strip_prefix("step_")).and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        if entry.path().is_dir() && !listed.iter().any(|s| s.step == step) {
            found.push(step);
        }
    }
    Ok(found)
}

/// On local disk, removes the staging files (`name#N`) a killed earlier save of this step left
/// in its directory; run before the marker is written, once every host has finished.
pub(crate) fn sweep_staging_files(location: &Location, step: u64) -> Result<()> {
    let Some(dir) = location.local_dir().map(|d| d.join(step_dir(step))) else { return Ok(()) };
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::Io { path: dir.clone(), source: e })?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::Io { path: dir.clone(), source: e })?;
        let name = entry.file_name();
        let staging = name
            .to_str()
            .and_then(|n| n.rsplit_once('#'))
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if staging {
            std::fs::remove_file(entry.path()).map_err(|e| Error::Io { path: entry.path(), source: e })?;
        }
    }
    Ok(())
}

/// The committed steps, newest first.
pub fn committed(location: &Location) -> Result<Vec<u64>> {
    Ok(list(location)?.into_iter().rev().filter(|s| s.committed).map(|s| s.step).collect())
}

/// Deletes step `step`: the marker first, so a reader never sees a half-deleted step.
pub fn delete(location: &Location, step: u64) -> Result<()> {
    let dir = step_dir(step);
    retry(&format!("deleting {}/{dir}/{MARKER}", location.url), || location.delete(&format!("{dir}/{MARKER}")))?;
    let objects = retry(&format!("listing {}", location.url), || location.list())?;
    for (path, _, _) in objects.iter().filter(|(p, _, _)| p.starts_with(&format!("{dir}/"))) {
        retry(&format!("deleting {}/{path}", location.url), || location.delete(path))?;
    }
    if let Some(local) = location.local_dir().map(|d| d.join(&dir)) {
        // Object stores have no directories; a local one keeps the folder otherwise, with any
        // staging files a killed save left in it.
        match std::fs::remove_dir_all(&local) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::Io { path: local, source: e }),
        }
    }
    Ok(())
}

/// What to keep after a new commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// The newest this many committed steps.
    pub keep_last: usize,
    /// Also every step that is a multiple of this (0: none).
    pub keep_every: u64,
}

/// Applies `retention`: deletes older committed steps it does not keep and unfinished saves
/// older than the newest commit (left by a crash). Returns the deleted steps.
pub fn retain(location: &Location, retention: Retention) -> Result<Vec<u64>> {
    if retention.keep_last == 0 {
        return Err(Error::Mismatch("retention must keep at least the last step (keep_last >= 1)".into()));
    }
    let steps = list(location)?;
    let newest: Vec<u64> =
        steps.iter().rev().filter(|s| s.committed).take(retention.keep_last).map(|s| s.step).collect();
    let Some(&latest) = newest.first() else { return Ok(Vec::new()) };
    let mut deleted = Vec::new();
    for s in steps {
        let kept_every = retention.keep_every > 0 && s.step.is_multiple_of(retention.keep_every);
        let stale_partial = !s.committed && s.step < latest;
        if (s.committed && !newest.contains(&s.step) && !kept_every) || stale_partial {
            delete(location, s.step)?;
            deleted.push(s.step);
        }
    }
    Ok(deleted)
}
