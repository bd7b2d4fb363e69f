//! TensorBoard event files written (and read back) by ouro itself, without TensorFlow.
//!
//! An event file is a sequence of TFRecords (see `record.rs`), each holding one protobuf `Event`
//! (declared by hand with `prost` so the build needs no `protoc`). The first
//! event carries the file version; the others carry summaries: scalars, histograms and
//! text, which TensorBoard shows in its scalar, histogram and text dashboards.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use ouro_tboard::{EventWriter, Histogram, now};
//! let mut w = EventWriter::create(std::path::Path::new("runs/exp1"))?;
//! w.scalar("train/loss", 10, 0.42, now())?;
//! let halts = Histogram::from_counts(&[(1.0, 12.0), (2.0, 30.0), (3.0, 6.0)]);
//! w.histogram("train/halt_step", 10, now(), &halts)?;
//! w.flush()?;
//! # Ok(())
//! # }
//! ```

mod histogram;
mod proto;
mod read;
mod record;
#[cfg(test)]
mod test_util;
mod truncate;
mod write;

pub use histogram::Histogram;
pub use read::{Event, ReadError, ReadErrorKind, What, read_events};
pub use truncate::retain_events;
pub use write::{EventWriter, now};
