//! Writing event files.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;

use crate::histogram::Histogram;
use crate::proto::{self, event, summary, summary::value::Kind};
use crate::record::write_record;

/// The version TensorBoard expects in the first record.
const FILE_VERSION: &str = "brain.Event:2";

/// Seconds since the UNIX epoch, the `wall_time` TensorBoard expects (0 if the clock is
/// before 1970).
pub fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Appends events to one new TensorBoard event file.
///
/// Writes are buffered; call [`flush`](EventWriter::flush) to make them visible to a
/// running TensorBoard. Dropping the writer flushes too, but ignores errors.
#[derive(Debug)]
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EventWriter {
    /// Creates `dir` if needed and a new file
    /// `events.out.tfevents.<unix secs>.<hostname>.<pid>.<n>` in it, writing the
    /// `brain.Event:2` file-version record first.
    ///
    /// `n` counts writers created by this process, so two writers created in the same
    /// second never collide; the file is opened with `create_new` so nothing is ever
    /// overwritten.
    pub fn create(dir: &Path) -> io::Result<EventWriter> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let with_path =
            |e: io::Error, what: &str, p: &Path| io::Error::new(e.kind(), format!("{what} {}: {e}", p.display()));
        fs::create_dir_all(dir).map_err(|e| with_path(e, "creating directory", dir))?;
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("events.out.tfevents.{secs}.{}.{}.{n}", hostname(), std::process::id());
        let path = dir.join(name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| with_path(e, "creating event file", &path))?;
        let mut writer = EventWriter { path, out: BufWriter::new(file) };
        writer.write_event(&proto::Event {
            wall_time: now(),
            step: 0,
            what: Some(event::What::FileVersion(FILE_VERSION.into())),
        })?;
        // A file that is visible but lacks its header would confuse a watching TensorBoard.
        writer.flush()?;
        Ok(writer)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Logs one scalar (stored as a 32-bit `simple_value`, as TensorBoard does).
    pub fn scalar(&mut self, tag: &str, step: i64, value: f64, wall_time: f64) -> io::Result<()> {
        self.write_summary(step, wall_time, vec![simple_value(tag, value)])
    }

    /// Logs several scalars of one step in one event (one record).
    pub fn scalars(&mut self, step: i64, wall_time: f64, values: &[(String, f64)]) -> io::Result<()> {
        let values = values.iter().map(|(tag, value)| simple_value(tag, *value)).collect();
        self.write_summary(step, wall_time, values)
    }

    /// Logs a histogram; see [`Histogram::from_counts`] for discrete data.
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] if TensorBoard could not display it
    /// (bucket lists of different lengths, or limits not strictly increasing).
    pub fn histogram(&mut self, tag: &str, step: i64, wall_time: f64, h: &Histogram) -> io::Result<()> {
        if let Some(problem) = h.problem() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("histogram {tag:?}: {problem}")));
        }
        let value = summary::Value { tag: tag.into(), metadata: None, value: Some(Kind::Histo(h.into())) };
        self.write_summary(step, wall_time, vec![value])
    }

    /// Logs text (Markdown) for TensorBoard's text plugin: a scalar string tensor tagged
    /// with the `text` plugin, as `tensorboard.summary.text` writes it.
    pub fn text(&mut self, tag: &str, step: i64, wall_time: f64, text: &str) -> io::Result<()> {
        let metadata = proto::SummaryMetadata {
            plugin_data: Some(proto::summary_metadata::PluginData {
                plugin_name: "text".into(),
                // A serialized `TextPluginData { version: 0 }`, which is empty.
                content: Vec::new(),
            }),
            ..Default::default()
        };
        let tensor = proto::TensorProto {
            dtype: proto::DT_STRING,
            // No dimensions: a scalar.
            tensor_shape: Some(proto::TensorShapeProto::default()),
            string_val: vec![text.as_bytes().to_vec()],
        };
        let value = summary::Value { tag: tag.into(), metadata: Some(metadata), value: Some(Kind::Tensor(tensor)) };
        self.write_summary(step, wall_time, vec![value])
    }

    /// Hands buffered events to the operating system, so readers see them.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn write_summary(&mut self, step: i64, wall_time: f64, value: Vec<summary::Value>) -> io::Result<()> {
        self.write_event(&proto::Event { wall_time, step, what: Some(event::What::Summary(proto::Summary { value })) })
    }

    fn write_event(&mut self, event: &proto::Event) -> io::Result<()> {
        write_record(&mut self.out, &event.encode_to_vec())
    }
}

fn simple_value(tag: &str, value: f64) -> summary::Value {
    summary::Value {
        tag: tag.into(),
        metadata: None,
        // Lossy on purpose: `simple_value` is a protobuf `float`.
        value: Some(Kind::SimpleValue(value as f32)),
    }
}

/// The host name for file names, reduced to characters safe in one ("localhost" if unknown).
fn hostname() -> String {
    let raw = fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let safe: String = raw
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    if safe.is_empty() { "localhost".into() } else { safe }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::{ReadErrorKind, What, read_events};
    use crate::test_util::TempDir;

    #[test]
    fn round_trip() {
        let dir = TempDir::new();
        let mut w = EventWriter::create(&dir.path().join("run/sub")).unwrap();
        let halts = Histogram::from_counts(&[(1.0, 3.0), (2.0, 5.0), (4.0, 1.0)]);
        w.scalar("loss", 1, 0.5, 100.0).unwrap();
        let both = [("lr".to_string(), 1e-3), ("acc".to_string(), 0.25)];
        w.scalars(2, 101.0, &both).unwrap();
        w.histogram("halt_step", 2, 102.0, &halts).unwrap();
        w.text("sample", 3, 103.0, "**bold** ünïcode\nline 2").unwrap();
        w.flush().unwrap();

        let events = read_events(w.path()).unwrap();
        assert_eq!(events.len(), 5);
        assert_eq!(events[0].what, What::FileVersion("brain.Event:2".into()));
        assert!((events[0].wall_time - now()).abs() < 60.0);
        let rest: Vec<_> = events[1..].iter().map(|e| (e.step, e.wall_time, e.what.clone())).collect();
        let lr = f64::from(1e-3f32);
        assert_eq!(
            rest,
            [
                (1, 100.0, What::Scalars(vec![("loss".into(), 0.5)])),
                (2, 101.0, What::Scalars(vec![("lr".into(), lr), ("acc".into(), 0.25)])),
                (2, 102.0, What::Histogram { tag: "halt_step".into(), histogram: halts }),
                (3, 103.0, What::Text { tag: "sample".into(), text: "**bold** ünïcode\nline 2".into() }),
            ]
        );
    }

    #[test]
    fn two_writers_in_one_second_get_different_files() {
        let dir = TempDir::new();
        let a = EventWriter::create(dir.path()).unwrap();
        let b = EventWriter::create(dir.path()).unwrap();
        assert_ne!(a.path(), b.path());
        let name = a.path().file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("events.out.tfevents."), "{name}");
        assert!(name.contains(&format!(".{}.", std::process::id())), "{name}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn truncated_file_names_file_and_offset() {
        let dir = TempDir::new();
        let mut w = EventWriter::create(dir.path()).unwrap();
        w.scalar("loss", 1, 0.5, 100.0).unwrap();
        w.flush().unwrap();
        let path = w.path().to_owned();
        drop(w);
        let len = std::fs::metadata(&path).unwrap().len();
        let second = record_offsets(&path)[1];
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 3).unwrap();

        let err = read_events(&path).unwrap_err();
        assert_eq!(err.path(), path);
        assert_eq!(err.offset(), second);
        assert!(matches!(err.kind(), ReadErrorKind::Truncated { file_end } if *file_end == len - 3));
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains(&format!("at byte {second} is truncated")), "{msg}");
    }

    #[test]
    fn corrupted_byte_is_a_crc_error() {
        let dir = TempDir::new();
        let mut w = EventWriter::create(dir.path()).unwrap();
        w.text("t", 1, 1.0, "hello").unwrap();
        w.flush().unwrap();
        let path = w.path().to_owned();
        drop(w);
        let mut bytes = std::fs::read(&path).unwrap();
        let second = record_offsets(&path)[1];
        let idx = bytes.len() - 6; // inside the second record's data
        bytes[idx] ^= 1;
        std::fs::write(&path, bytes).unwrap();

        let err = read_events(&path).unwrap_err();
        assert_eq!(err.offset(), second);
        assert!(matches!(err.kind(), ReadErrorKind::DataCrc { .. }));
        assert!(err.to_string().contains("data CRC mismatch"), "{err}");
    }

    #[test]
    fn invalid_histogram_is_refused() {
        let dir = TempDir::new();
        let mut w = EventWriter::create(dir.path()).unwrap();
        let h = Histogram { bucket_limit: vec![2.0, 1.0], bucket: vec![1.0, 1.0], ..Histogram::default() };
        let err = w.histogram("h", 0, 0.0, &h).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn hostname_is_file_name_safe() {
        let h = hostname();
        assert!(!h.is_empty());
        assert!(!h.contains(['/', '\\', ' ']), "{h}");
    }

    /// Start offsets of the records in a well-formed file.
    fn record_offsets(path: &Path) -> Vec<u64> {
        let bytes = std::fs::read(path).unwrap();
        let mut offsets = Vec::new();
        let mut at = 0usize;
        while at < bytes.len() {
            offsets.push(at as u64);
            let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
            at += 16 + len as usize;
        }
        offsets
    }
}
