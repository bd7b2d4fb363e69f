//! Reading event files back, for tests and tools that inspect a run.

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use prost::Message;

use crate::histogram::Histogram;
use crate::proto::{self, event, summary::value::Kind};
use crate::record::{RecordError, RecordReader};

/// One event read back from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Seconds since the UNIX epoch when the event was logged.
    pub wall_time: f64,
    /// Training step.
    pub step: i64,
    /// What the event holds.
    pub what: What,
}

/// The content of an [`Event`], in the shapes [`EventWriter`](crate::EventWriter) writes.
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// The file header, e.g. `brain.Event:2`.
    FileVersion(String),
    /// Scalars as `(tag, value)`; TensorBoard stores them as 32-bit floats.
    Scalars(Vec<(String, f64)>),
    /// One histogram.
    Histogram {
        /// The histogram's tag.
        tag: String,
        /// Its statistics and buckets.
        histogram: Histogram,
    },
    /// One text summary.
    Text {
        /// The text's tag.
        tag: String,
        /// The text (invalid UTF-8 replaced by U+FFFD).
        text: String,
    },
    /// Anything else (graphs, images, mixed summaries, ...): valid, but not ouro's.
    Other,
}

/// Why an event file could not be read, and where.
#[derive(Debug)]
pub struct ReadError {
    pub(crate) path: PathBuf,
    pub(crate) offset: u64,
    pub(crate) kind: ReadErrorKind,
}

/// What went wrong in a [`ReadError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadErrorKind {
    /// Opening or reading the file failed.
    Io(io::Error),
    /// The file ends inside a record, typically because the writer was killed mid-write.
    Truncated {
        /// The file's length.
        file_end: u64,
    },
    /// The record's length field does not match its CRC.
    LengthCrc {
        /// The CRC in the file.
        stored: u32,
        /// The CRC of the length bytes in the file.
        computed: u32,
    },
    /// The record's data does not match its CRC.
    DataCrc {
        /// The CRC in the file.
        stored: u32,
        /// The CRC of the data in the file.
        computed: u32,
    },
    /// The record is intact but is not an `Event` protobuf.
    Decode(prost::DecodeError),
}

impl From<io::Error> for ReadErrorKind {
    fn from(e: io::Error) -> Self {
        ReadErrorKind::Io(e)
    }
}

impl ReadError {
    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Byte offset of the start of the record at fault (0 when the file could not be opened).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// What went wrong.
    pub fn kind(&self) -> &ReadErrorKind {
        &self.kind
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (path, offset) = (self.path.display(), self.offset);
        match &self.kind {
            ReadErrorKind::Io(e) => write!(f, "{path}: reading at byte {offset}: {e}"),
            ReadErrorKind::Truncated { file_end } => write!(
                f,
                "{path}: record at byte {offset} is truncated: the file ends at byte \
                 {file_end} (was the writer killed?)"
            ),
            ReadErrorKind::LengthCrc { stored, computed } => write!(
                f,
                "{path}: record at byte {offset}: length CRC mismatch \
                 (stored {stored:#010x}, computed {computed:#010x})"
            ),
            ReadErrorKind::DataCrc { stored, computed } => write!(
                f,
                "{path}: record at byte {offset}: data CRC mismatch \
                 (stored {stored:#010x}, computed {computed:#010x})"
            ),
            ReadErrorKind::Decode(e) => {
                write!(f, "{path}: record at byte {offset} is not an Event: {e}")
            }
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ReadErrorKind::Io(e) => Some(e),
            ReadErrorKind::Decode(e) => Some(e),
            _ => None,
        }
    }
}

/// Reads every record of an event file back, checking both CRCs of each.
///
/// A truncated last record (a killed writer) is an error naming the file and the byte
/// offset of that record, as is a CRC mismatch or a record that is not an `Event`.
pub fn read_events(path: &Path) -> Result<Vec<Event>, ReadError> {
    let error = |offset, kind| ReadError { path: path.to_owned(), offset, kind };
    let file = File::open(path).map_err(|e| error(0, e.into()))?;
    let mut records = RecordReader::new(BufReader::new(file));
    let mut events = Vec::new();
    loop {
        let offset = records.offset();
        let data = match records.next_record() {
            Ok(Some(data)) => data,
            Ok(None) => return Ok(events),
            Err(RecordError { offset, kind }) => return Err(error(offset, kind)),
        };
        let event = proto::Event::decode(data.as_slice()).map_err(|e| error(offset, ReadErrorKind::Decode(e)))?;
        events.push(Event::from(event));
    }
}

impl From<proto::Event> for Event {
    fn from(e: proto::Event) -> Self {
        let what = match e.what {
            Some(event::What::FileVersion(v)) => What::FileVersion(v),
            Some(event::What::Summary(s)) => what_of_summary(s),
            None => What::Other,
        };
        Event { wall_time: e.wall_time, step: e.step, what }
    }
}

/// Classifies a summary by the shapes ouro writes: all scalars, or exactly one histogram
/// or text.
fn what_of_summary(summary: proto::Summary) -> What {
    let mut values = summary.value;
    let scalars: Option<Vec<(String, f64)>> = values
        .iter()
        .map(|v| match v.value {
            Some(Kind::SimpleValue(x)) => Some((v.tag.clone(), f64::from(x))),
            _ => None,
        })
        .collect();
    match scalars {
        Some(scalars) if !scalars.is_empty() => return What::Scalars(scalars),
        _ => {}
    }
    if values.len() != 1 {
        return What::Other;
    }
    let Some(value) = values.pop() else {
        return What::Other;
    };
    let is_text_plugin =
        value.metadata.as_ref().is_none_or(|m| m.plugin_data.as_ref().is_some_and(|p| p.plugin_name == "text"));
    match value.value {
        Some(Kind::Histo(h)) => What::Histogram { tag: value.tag, histogram: h.into() },
        // Writers may attach the plugin metadata only to a tag's first value, so a
        // string scalar without metadata is text too.
        Some(Kind::Tensor(t))
            if is_text_plugin
                && t.dtype == proto::DT_STRING
                && t.tensor_shape.as_ref().is_none_or(|s| s.dim.is_empty())
                && t.string_val.len() == 1 =>
        {
            let text = t.string_val.concat();
            What::Text {
                tag: value.tag,
                text: String::from_utf8(text).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            }
        }
        _ => What::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::write_record;
    use crate::test_util::TempDir;

    fn write_events(events: &[proto::Event]) -> (TempDir, PathBuf) {
        let dir = TempDir::new();
        let path = dir.path().join("events");
        let mut bytes = Vec::new();
        for e in events {
            write_record(&mut bytes, &e.encode_to_vec()).unwrap();
        }
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn foreign_events_are_other() {
        let graph = b"\x22\x03abc"; // field 4 (graph_def), bytes "abc"
        let mut bytes = Vec::new();
        write_record(&mut bytes, graph).unwrap();
        let dir = TempDir::new();
        let path = dir.path().join("events");
        std::fs::write(&path, bytes).unwrap();
        let events = read_events(&path).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].what, What::Other);
    }

    #[test]
    fn not_an_event_is_a_decode_error() {
        let mut bytes = Vec::new();
        write_record(&mut bytes, b"").unwrap();
        write_record(&mut bytes, b"\x0a\xff").unwrap(); // a string field running past the end
        let dir = TempDir::new();
        let path = dir.path().join("events");
        std::fs::write(&path, bytes).unwrap();
        let err = read_events(&path).unwrap_err();
        assert_eq!(err.offset(), 16);
        assert!(matches!(err.kind(), ReadErrorKind::Decode(_)));
        assert!(err.to_string().contains("at byte 16 is not an Event"), "{err}");
    }

    #[test]
    fn missing_file_names_the_file() {
        let path = Path::new("/nonexistent/ouro/events");
        let err = read_events(path).unwrap_err();
        assert!(err.to_string().starts_with("/nonexistent/ouro/events: "), "{err}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn mixed_summary_is_other_and_text_without_metadata_is_text() {
        use proto::summary::Value;
        let scalar = Value { tag: "a".into(), metadata: None, value: Some(Kind::SimpleValue(1.0)) };
        let text = Value {
            tag: "t".into(),
            metadata: None,
            value: Some(Kind::Tensor(proto::TensorProto {
                dtype: proto::DT_STRING,
                tensor_shape: None,
                string_val: vec![b"hi".to_vec()],
            })),
        };
        let summary = |value| proto::Event {
            wall_time: 0.0,
            step: 1,
            what: Some(event::What::Summary(proto::Summary { value })),
        };
        let (_dir, path) = write_events(&[summary(vec![scalar, text.clone()]), summary(vec![text]), summary(vec![])]);
        let whats: Vec<What> = read_events(&path).unwrap().into_iter().map(|e| e.what).collect();
        let hi = What::Text { tag: "t".into(), text: "hi".into() };
        assert_eq!(whats, [What::Other, hi, What::Other]);
    }
}
