//! Notes a researcher attaches to a run (`ouro note GROUP/NAME TEXT`): one JSON line each in
//! the run directory's `notes.jsonl`, shown by `ouro status` and in the group's guide.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::runs::now;

/// The file beside a run's record.
pub const NOTES_FILE: &str = "notes.jsonl";

/// The longest note kept (a pasted log belongs in a file of its own).
const MAX_NOTE_BYTES: usize = 4096;

/// One note.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// Seconds since the UNIX epoch when it was written.
    pub time: f64,
    /// What it says.
    pub text: String,
}

/// Appends `text` to the notes of the run in `run_dir` (a whole line, flushed before it returns).
pub fn add(run_dir: &Path, text: &str) -> Result<Note> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::Invalid("the note is empty: say what to remember about the run".into()));
    }
    if text.len() > MAX_NOTE_BYTES {
        return Err(Error::Invalid(format!(
            "the note is {} bytes; notes are at most {MAX_NOTE_BYTES} (put a longer text in a file beside the run)",
            text.len()
        )));
    }
    let note = Note { time: now(), text: text.to_string() };
    let path = run_dir.join(NOTES_FILE);
    let line = serde_json::to_string(&note).expect("a note serialises (a number and a string)") + "\n";
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    file.write_all(line.as_bytes()).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok(note)
}

/// The notes of the run in `run_dir`, oldest first (none when it has no notes file). A torn last
/// line is skipped; another bad line is an error naming it.
pub fn read(run_dir: &Path) -> Result<Vec<Note>> {
    let path = run_dir.join(NOTES_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut notes = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str(line) {
            Ok(note) => notes.push(note),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => break,
            Err(e) => {
                return Err(Error::Damaged { what: format!("{}:{}", path.display(), i + 1), message: e.to_string() });
            }
        }
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_kept_in_order_and_bad_ones_refused() {
        let dir = std::env::temp_dir().join(format!("ouro-notes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert!(read(&dir).unwrap().is_empty());
        add(&dir, "loss spiked at step 300: the lr warmup ends there").unwrap();
        add(&dir, "  rerun with ema_rate=0.999  ").unwrap();
        let texts: Vec<String> = read(&dir).unwrap().into_iter().map(|n| n.text).collect();
        assert_eq!(texts, ["loss spiked at step 300: the lr warmup ends there", "rerun with ema_rate=0.999"]);
        assert!(add(&dir, " ").unwrap_err().to_string().contains("empty"));
        assert!(add(&dir, &"x".repeat(5000)).unwrap_err().to_string().contains("at most 4096"));
        std::fs::write(dir.join(NOTES_FILE), "{\"time\":1,\"text\":\"a\"}\nnot json\n").unwrap();
        assert!(read(&dir).unwrap_err().to_string().contains("notes.jsonl:2"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
