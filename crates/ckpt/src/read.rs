//! Reading a committed step: its manifest (checked against the marker), and any byte range of
//! any tensor, every piece checked against its checksum.

use ouro_store::Location;

use crate::error::{Error, Result};
use crate::manifest::{Manifest, Piece, TensorEntry};
use crate::steps::{MARKER, step_dir};
use crate::write::retry;

/// Pieces fetched at once by one read.
const PARALLEL_READS: usize = 4;

/// A committed step, open for reading.
pub struct Step {
    location: Location,
    dir: String,
    /// Its manifest.
    pub manifest: Manifest,
}

impl Step {
    /// Opens step `step`; it must be committed and its manifest must match the marker.
    pub fn open(location: &Location, step: u64) -> Result<Step> {
        let dir = step_dir(step);
        let where_ = format!("{}/{dir}", location.url);
        let marker = match location.get(&format!("{dir}/{MARKER}")) {
            Ok(m) => m,
            Err(_) if !location.exists(&format!("{dir}/{MARKER}")).unwrap_or(true) => {
                return Err(Error::NotFound(format!("{where_} is not a committed checkpoint (no {MARKER} marker)")));
            }
            Err(_) => retry(&format!("reading {where_}/{MARKER}"), || location.get(&format!("{dir}/{MARKER}")))?,
        };
        let bytes =
            retry(&format!("reading {where_}/manifest.json"), || location.get(&format!("{dir}/manifest.json")))?;
        let expected = String::from_utf8_lossy(&marker).trim().to_string();
        let actual = format!("crc32 {:08x}", crc32fast::hash(&bytes));
        if expected != actual {
            return Err(Error::Corrupt {
                what: format!("{where_}/manifest.json"),
                message: format!("checksum {actual} but the commit marker says {expected}"),
            });
        }
        let manifest = Manifest::parse(&bytes, &format!("{where_}/manifest.json"))?;
        if manifest.step != step {
            return Err(Error::Corrupt { what: where_, message: format!("the manifest is of step {}", manifest.step) });
        }
        Ok(Step { location: location.clone(), dir, manifest })
    }

    /// Where it is, for messages.
    pub fn url(&self) -> String {
        format!("{}/{}", self.location.url, self.dir)
    }

    fn entry(&self, name: &str) -> Result<&TensorEntry> {
        self.manifest.tensor(name).ok_or_else(|| Error::Mismatch(format!("{} has no tensor {name}", self.url())))
    }

    /// Bytes `[start, start + length)` of tensor `name`.
    pub fn read(&self, name: &str, start: u64, length: u64) -> Result<Vec<u8>> {
        let t = self.entry(name)?;
        let end = start + length;
        if end > t.bytes {
            return Err(Error::Mismatch(format!("tensor {name} has {} bytes; asked for [{start}, {end})", t.bytes)));
        }
        let pieces: Vec<&Piece> = t.pieces.iter().filter(|p| p.start < end && p.start + p.length > start).collect();
        // Pieces are fetched and checked in parallel (a large tensor spans several files).
        let fetched: Vec<Result<bytes::Bytes>> = std::thread::scope(|scope| {
            let handles: Vec<_> = pieces
                .chunks(pieces.len().div_ceil(PARALLEL_READS).max(1))
                .map(|group| scope.spawn(move || group.iter().map(|p| self.fetch(name, p)).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|_| vec![Err(Error::Thread("a read thread panicked".into()))]))
                .collect()
        });
        let mut out = Vec::with_capacity(length as usize);
        for (p, bytes) in pieces.iter().zip(fetched) {
            let bytes = bytes?;
            let lo = start.max(p.start) - p.start;
            let hi = end.min(p.start + p.length) - p.start;
            out.extend_from_slice(&bytes[lo as usize..hi as usize]);
        }
        Ok(out)
    }

    /// One piece of tensor `name`, checked against its checksum.
    fn fetch(&self, name: &str, p: &Piece) -> Result<bytes::Bytes> {
        let file = format!("{}/{}", self.dir, p.file);
        let bytes = retry(&format!("reading {}/{file}", self.location.url), || {
            self.location.get_range(&file, p.offset..p.offset + p.length)
        })?;
        if bytes.len() as u64 != p.length || crc32fast::hash(&bytes) != p.crc32 {
            return Err(Error::Corrupt {
                what: format!("{}/{file}", self.location.url),
                message: format!(
                    "tensor {name}, bytes [{}, {}): {}",
                    p.start,
                    p.start + p.length,
                    if bytes.len() as u64 != p.length { "the file is truncated" } else { "checksum mismatch" }
                ),
            });
        }
        Ok(bytes)
    }

    /// The whole of tensor `name`.
    pub fn read_all(&self, name: &str) -> Result<Vec<u8>> {
        let bytes = self.entry(name)?.bytes;
        self.read(name, 0, bytes)
    }

    /// Re-reads every piece of every tensor; the damaged ones, each as an error naming its
    /// tensor and file.
    pub fn verify(&self) -> Vec<Error> {
        let mut bad = Vec::new();
        for t in &self.manifest.tensors {
            if let Err(e) = self.read(&t.name, 0, t.bytes) {
                bad.push(e);
            }
        }
        bad
    }
}
