//! A process as a record of it (a lease, a run's record) names it: told apart from a later
//! process the kernel gives the same pid, so a record left by a killed process is known stale.

use serde::{Deserialize, Serialize};

/// A process on some machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    /// The machine's name.
    pub host: String,
    /// Its pid there.
    pub pid: u32,
    /// When it started, in clock ticks after boot (`/proc/PID/stat`).
    #[serde(default)]
    pub start: Option<u64>,
    /// The boot it ran in (`/proc/sys/kernel/random/boot_id`).
    #[serde(default)]
    pub boot_id: Option<String>,
}

impl ProcessId {
    /// The calling process.
    pub fn this() -> ProcessId {
        let pid = std::process::id();
        ProcessId { host: host_name(), pid, start: process_start(pid), boot_id: boot_id() }
    }

    /// Whether it is known to have ended: it ran on this machine, and this boot has no process
    /// with its pid and start time. A process elsewhere is never known to have ended.
    pub fn has_ended(&self) -> bool {
        if self.host != host_name() {
            return false;
        }
        if self.boot_id.is_some() && self.boot_id != boot_id() {
            return true;
        }
        match (self.start, process_start(self.pid)) {
            (_, None) => true,
            (Some(recorded), Some(now)) => recorded != now,
            (None, Some(_)) => false,
        }
    }
}

/// This machine's name (`/proc/sys/kernel/hostname`; `HOSTNAME` elsewhere).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// When process `pid` started, in clock ticks after boot: field 22 of `/proc/PID/stat`, read
/// after the command name (which may hold spaces and parentheses).
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// This boot's id.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_and_one_with_its_pid_but_another_start_has_ended() {
        let me = ProcessId::this();
        assert!(!me.has_ended(), "{me:?}");
        assert!(ProcessId { start: me.start.map(|s| s + 1), ..me.clone() }.has_ended());
        assert!(ProcessId { boot_id: Some("another boot".into()), ..me.clone() }.has_ended());
        assert!(!ProcessId { host: "elsewhere".into(), pid: u32::MAX, ..me }.has_ended());
    }
}
