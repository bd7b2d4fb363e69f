//! One writer per run directory. Two `ouro train --resume` of one stopped run would both
//! append to its metrics and save its checkpoints; the process that writes a run directory
//! holds an exclusive lock on `<run dir>/.ouro.lock` while it runs, and a second writer is
//! refused naming the first. The kernel releases the lock when its holder ends however it ends
//! (a SIGKILL, a preempted VM's shutdown), so no stale record can block a run.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::error::{Context, Error, Result};

/// The lock file's name in the run directory.
pub const LOCK_FILE: &str = ".ouro.lock";

/// A held lock on a run directory; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of `run_dir` (created if missing) for this process, or refuses naming
    /// the process that holds it.
    pub fn acquire(run_dir: &Path) -> Result<RunLock> {
        std::fs::create_dir_all(run_dir)
            .with_context(|| format!("creating the run directory {}", run_dir.display()))?;
        let path = run_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { "another process" } else { holder };
                return Err(Error::Busy { dir: run_dir.to_path_buf(), holder: holder.to_string() });
            }
            Err(TryLockError::Error(e)) => return Err(e).with_context(|| format!("locking {}", path.display())),
        }
        // Who holds it, for the message of the next one.
        let text = format!("{}\n", this_process());
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(text.as_bytes()))
            .and_then(|()| file.flush())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(RunLock { _file: file })
    }
}

/// This process as the next writer is told of it: its pid, machine and command line.
pub fn this_process() -> String {
    let command: Vec<String> = std::env::args().collect();
    format!("process {} on {} ({})", std::process::id(), ouro_ckpt::process::host_name(), command.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_naming_the_first_until_it_lets_go() {
        let dir = std::env::temp_dir().join(format!("ouro-run-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = RunLock::acquire(&dir).unwrap();
        let err = RunLock::acquire(&dir).unwrap_err().to_string();
        assert!(err.contains(&format!("process {}", std::process::id())) && err.contains("--resume"), "{err}");
        drop(first);
        RunLock::acquire(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
