//! Dropping the events a resumed run writes again: a run killed after step N and resumed from
//! a checkpoint at step S < N logs steps S+1..N a second time, and TensorBoard would draw both.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter};
use std::path::Path;

use prost::Message;

use crate::proto;
use crate::read::{Event, ReadError, ReadErrorKind};
use crate::record::{RecordReader, write_record};

/// Rewrites the event file at `path` keeping the events `keep` accepts, in order; the file's
/// version record is always kept. A torn last record (a writer killed mid-write) is dropped;
/// a damaged record elsewhere is an error and leaves the file as it was. The new file replaces
/// the old whole (a temporary file renamed), so a kill mid-rewrite loses nothing. Returns how
/// many events were dropped (the file is not rewritten when none is).
pub fn retain_events(path: &Path, keep: impl Fn(&Event) -> bool) -> io::Result<usize> {
    let mut records = RecordReader::new(BufReader::new(File::open(path)?));
    let (mut kept, mut dropped) = (Vec::new(), 0usize);
    let with_path = |what: String| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {what}", path.display()));
    loop {
        let offset = records.offset();
        let data = match records.next_record() {
            Ok(Some(data)) => data,
            Ok(None) => break,
            Err(e) if matches!(e.kind, ReadErrorKind::Truncated { .. }) => {
                dropped += 1;
                break;
            }
            Err(e) => {
                let e = ReadError { path: path.to_path_buf(), offset: e.offset, kind: e.kind };
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        };
        let event = proto::Event::decode(data.as_slice())
            .map_err(|e| with_path(format!("record at byte {offset} is not an Event: {e}")))?;
        let is_version = matches!(event.what, Some(proto::event::What::FileVersion(_)));
        if is_version || keep(&Event::from(event)) {
            kept.push(data);
        } else {
            dropped += 1;
        }
    }
    if dropped == 0 {
        return Ok(0);
    }
    let tmp = path.with_extension("rewrite");
    let mut out = BufWriter::new(File::create(&tmp)?);
    for data in &kept {
        write_record(&mut out, data)?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    fs::rename(&tmp, path)?;
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventWriter, What, read_events};

    #[test]
    fn events_past_a_step_are_dropped_and_a_torn_tail_with_them() {
        let dir = std::env::temp_dir().join(format!("ouro-tboard-retain-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut w = EventWriter::create(&dir).unwrap();
        for step in 1..=11 {
            w.scalar("train/lm_loss", step, step as f64, 0.0).unwrap();
        }
        w.flush().unwrap();
        let path = w.path().to_path_buf();
        drop(w);
        // A writer killed mid-record: step 11's is torn.
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();

        assert_eq!(retain_events(&path, |e| e.step <= 6).unwrap(), 5, "steps 7..=10 and the torn record");
        let events = read_events(&path).unwrap();
        assert!(matches!(events[0].what, What::FileVersion(_)));
        let steps: Vec<i64> = events[1..].iter().map(|e| e.step).collect();
        assert_eq!(steps, [1, 2, 3, 4, 5, 6]);
        // Nothing more to drop: the file is left alone.
        assert_eq!(retain_events(&path, |e| e.step <= 6).unwrap(), 0);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_damaged_record_is_an_error_and_the_file_is_kept() {
        let dir = std::env::temp_dir().join(format!("ouro-tboard-damaged-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut w = EventWriter::create(&dir).unwrap();
        for step in 1..=3 {
            w.scalar("x", step, 1.0, 0.0).unwrap();
        }
        w.flush().unwrap();
        let path = w.path().to_path_buf();
        drop(w);
        let mut bytes = fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let e = retain_events(&path, |_| false).unwrap_err();
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        assert_eq!(fs::read(&path).unwrap(), bytes);
        fs::remove_dir_all(dir).unwrap();
    }
}
