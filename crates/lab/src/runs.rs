//! The record a run directory keeps of its run (`run.json`), written by `ouro run` when a run
//! starts and when it ends, and read by `ouro batch` (skip, resume), `ouro status` and
//! `ouro report`.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Started and not ended (or its process died: see [`RunRecord::alive`]).
    Running,
    /// Trained every step.
    Complete,
    /// Ended with an error.
    Failed,
    /// Stopped by a signal, with a checkpoint to resume from.
    Stopped,
    /// Not run: another run with the same recipe hash holds its results (`same_as`).
    Duplicate,
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RunState::Running => "running",
            RunState::Complete => "complete",
            RunState::Failed => "failed",
            RunState::Stopped => "stopped",
            RunState::Duplicate => "duplicate",
        })
    }
}

/// `run.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The experiment's name (its config's file stem).
    pub name: String,
    /// The config file.
    pub config_file: String,
    /// The command-line overrides.
    #[serde(default)]
    pub overrides: Vec<String>,
    /// [`crate::recipe_hash`] of the effective config.
    pub hash: String,
    /// Where it stands.
    pub state: RunState,
    /// The process running it.
    #[serde(default)]
    pub pid: Option<u32>,
    /// The machine that process runs on.
    #[serde(default)]
    pub host: Option<String>,
    /// When that process started, in clock ticks after boot (`/proc/PID/stat`): with
    /// `boot_id`, what tells the process apart from a later one given the same pid.
    #[serde(default)]
    pub process_start: Option<u64>,
    /// The boot the process ran in (`/proc/sys/kernel/random/boot_id`).
    #[serde(default)]
    pub boot_id: Option<String>,
    /// Seconds since the UNIX epoch when it (last) started.
    pub started: f64,
    /// When it ended.
    #[serde(default)]
    pub finished: Option<f64>,
    /// Seconds spent training, over every attempt.
    #[serde(default)]
    pub seconds: f64,
    /// Optimizer steps done.
    #[serde(default)]
    pub steps: u64,
    /// Steps of the whole run.
    #[serde(default)]
    pub total_steps: u64,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// For a duplicate: the run directory holding the results.
    #[serde(default)]
    pub same_as: Option<String>,
}

pub use ouro_ckpt::process::host_name;
use ouro_ckpt::process::{ProcessId, process_start};

/// Seconds since the UNIX epoch.
pub fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Seconds since the UNIX epoch as a UTC date and time (`2026-12-03 09:31 UTC`).
pub fn utc(seconds: f64) -> String {
    let secs = seconds.max(0.0) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

impl RunRecord {
    /// The directory holding the results of the run recorded in `dir`: `dir` itself, or for a
    /// duplicate the run it names. A path recorded on another machine (a remote root's staging
    /// copy elsewhere) is found by its `<group>/<name>` under `dir`'s output root.
    pub fn results_dir(&self, dir: &Path) -> PathBuf {
        let Some(other) = &self.same_as else { return dir.to_path_buf() };
        let other = PathBuf::from(other);
        if other.is_dir() {
            return other;
        }
        let root = dir.parent().and_then(Path::parent);
        let tail: Vec<_> = other.components().rev().take(2).collect();
        match (root, tail.as_slice()) {
            (Some(root), [name, group]) => root.join(group).join(name),
            _ => other,
        }
    }

    /// A record of experiment `name` (from `config_file` with `overrides`, recipe `hash`) in
    /// `state`, started now; the rest empty.
    pub fn new(name: &str, config_file: &Path, overrides: &[String], hash: &str, state: RunState) -> RunRecord {
        RunRecord {
            name: name.to_string(),
            config_file: config_file.display().to_string(),
            overrides: overrides.to_vec(),
            hash: hash.to_string(),
            state,
            pid: None,
            host: None,
            process_start: None,
            boot_id: None,
            started: now(),
            finished: None,
            seconds: 0.0,
            steps: 0,
            total_steps: 0,
            error: None,
            same_as: None,
        }
    }

    /// The record in `run_dir`, if it has one.
    pub fn read(run_dir: &Path) -> Result<Option<RunRecord>> {
        read_json(&run_dir.join("run.json"))
    }

    /// Writes the record into `run_dir` (whole or not at all: a temporary file renamed).
    pub fn write(&self, run_dir: &Path) -> Result<()> {
        write_json(run_dir, "run.json", self)
    }

    /// This record, owned by the calling process (its pid, start time, boot and machine).
    pub fn owned_by_this_process(self) -> RunRecord {
        let me = ProcessId::this();
        RunRecord { pid: Some(me.pid), host: Some(me.host), process_start: me.start, boot_id: me.boot_id, ..self }
    }

    /// Whether a `running` record's process still runs on this machine (a killed run leaves
    /// `running`): the same pid, in the same boot, started at the same tick; a pid the kernel
    /// has since given to another process does not count. A record without a start time (an
    /// older ouro's) counts while a process with its pid exists that started before it. A run
    /// recorded on another machine is not known to be alive.
    pub fn alive(&self) -> bool {
        let Some(pid) = self.pid else { return false };
        if self.state != RunState::Running || !self.on_this_host() {
            return false;
        }
        let process = ProcessId { host: host_name(), pid, start: self.process_start, boot_id: self.boot_id.clone() };
        if process.has_ended() {
            return false;
        }
        // Without a start time, the process with the pid must have started before the record.
        self.process_start.is_some()
            || process_start(pid)
                .zip(boot_time_unix())
                .is_some_and(|(ticks, boot)| boot + ticks as f64 / 100.0 <= self.started + 1.0)
    }

    /// Whether the record was written on this machine (or does not say where).
    pub fn on_this_host(&self) -> bool {
        self.host.as_ref().is_none_or(|h| *h == host_name())
    }

    /// The state to show: `running` only while its process lives, else `interrupted`.
    pub fn shown_state(&self) -> String {
        if self.state == RunState::Running && !self.alive() { "interrupted".into() } else { self.state.to_string() }
    }
}

/// The JSON file at `path` (`None` when there is none); one that does not parse is damaged.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Damaged { what: path.display().to_string(), message: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

/// Writes `value` as `dir/file` in JSON, whole or not at all (a temporary file renamed).
pub(crate) fn write_json(dir: &Path, file: &str, value: &impl Serialize) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let (path, tmp) = (dir.join(file), dir.join(format!("{file}.tmp")));
    let text = serde_json::to_string_pretty(value).expect("ouro's records serialise (plain fields, string keys)");
    std::fs::write(&tmp, text).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// When this machine booted, in seconds since the UNIX epoch (`btime` of `/proc/stat`).
fn boot_time_unix() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()
}

/// The run directories of an output root.
#[derive(Debug, Default)]
pub struct Scan {
    /// Each run directory with its record, in path order.
    pub runs: Vec<(PathBuf, RunRecord)>,
    /// Records that could not be read, each error naming its file: skipped, so one damaged
    /// record does not hide the others.
    pub damaged: Vec<Error>,
}

/// Every run directory under `output_root` (`{group}/{name}/run.json`), in path order.
pub fn scan(output_root: &Path) -> Result<Scan> {
    let mut scan = Scan::default();
    let Ok(groups) = std::fs::read_dir(output_root) else { return Ok(scan) };
    let mut groups: Vec<PathBuf> = groups.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    groups.sort();
    for group in groups {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&group)
            .map_err(|e| Error::io(format!("listing {}", group.display()), e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            match RunRecord::read(&dir) {
                Ok(Some(record)) => scan.runs.push((dir, record)),
                Ok(None) => {}
                Err(e) => scan.damaged.push(e),
            }
        }
    }
    Ok(scan)
}

/// A complete run of recipe `hash` under `output_root`, other than `except`.
pub fn complete_with_hash(output_root: &Path, hash: &str, except: &Path) -> Result<Option<PathBuf>> {
    Ok(scan(output_root)?
        .runs
        .into_iter()
        .find(|(dir, r)| r.hash == hash && r.state == RunState::Complete && dir != except)
        .map(|(dir, _)| dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_scan_finds_them_by_hash() {
        let root = std::env::temp_dir().join(format!("ouro-runs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let record = |name: &str, hash: &str, state| {
            RunRecord::new(name, Path::new(&format!("configs/experiments/{name}.yaml")), &[], hash, state)
        };
        let a = record("a", "h1", RunState::Complete);
        a.write(&root.join("g1/a")).unwrap();
        record("b", "h1", RunState::Failed).write(&root.join("g2/b")).unwrap();
        record("c", "h2", RunState::Running).write(&root.join("g2/c")).unwrap();
        assert_eq!(RunRecord::read(&root.join("g1/a")).unwrap(), Some(a));
        assert_eq!(scan(&root).unwrap().runs.len(), 3);
        assert_eq!(complete_with_hash(&root, "h1", &root.join("g2/b")).unwrap(), Some(root.join("g1/a")));
        assert_eq!(complete_with_hash(&root, "h1", &root.join("g1/a")).unwrap(), None, "not itself");
        assert_eq!(complete_with_hash(&root, "h2", &root).unwrap(), None, "running is not complete");
        let c = RunRecord::read(&root.join("g2/c")).unwrap().unwrap();
        assert_eq!(c.shown_state(), "interrupted", "no process");
        std::fs::write(root.join("g1/a/run.json"), "{").unwrap();
        let e = RunRecord::read(&root.join("g1/a")).unwrap_err();
        assert!(format!("{e:#}").contains("g1/a/run.json"), "{e:#}");
        // One damaged record is reported and skipped; the others are still found.
        let found = scan(&root).unwrap();
        assert_eq!(found.runs.len(), 2);
        assert_eq!(found.damaged.len(), 1);
        assert!(format!("{:#}", found.damaged[0]).contains("g1/a/run.json"));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(utc(0.0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_825_600.0), "2000-02-29 12:00 UTC");
        assert_eq!(utc(1_796_290_260.0), "2026-12-03 09:31 UTC");
    }

    #[test]
    fn a_pid_given_to_another_process_is_not_the_run() {
        let mine = RunRecord::new("a", Path::new("a.yaml"), &[], "h", RunState::Running).owned_by_this_process();
        assert!(mine.alive(), "{mine:?}");
        // pid 1 is alive, but it is not the process that wrote the record.
        let reused = RunRecord { pid: Some(1), ..mine.clone() };
        assert!(!reused.alive());
        let other_boot = RunRecord { boot_id: Some("another boot".into()), ..mine.clone() };
        assert!(!other_boot.alive());
        // An older ouro's record (no start time): this process started before its record did.
        let legacy = RunRecord { process_start: None, boot_id: None, ..mine.clone() };
        assert!(legacy.alive());
        assert!(!RunRecord { state: RunState::Stopped, ..mine }.alive());
    }
}
