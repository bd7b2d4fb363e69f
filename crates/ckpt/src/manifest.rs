//! What a checkpoint holds: every tensor as its full logical array, stored as byte-range pieces
//! spread over shard files, each piece with its checksum.
//!
//! A tensor split over devices on its first dimension is, in row-major order, a run of
//! contiguous byte ranges, one per device: so each device's (or host's) part is written as its
//! own pieces, and a reader on any number of devices reads back the range it needs. Resharding
//! on load is arithmetic on byte offsets.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The format tag of every manifest this crate writes.
pub const FORMAT: &str = "ouro-checkpoint/1";

/// A contiguous byte range of a tensor, stored at `offset` in `file`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Piece {
    /// The shard file, relative to the step directory.
    pub file: String,
    /// Where the piece starts in that file.
    pub offset: u64,
    /// Its length in bytes.
    pub length: u64,
    /// Where it starts in the tensor's bytes.
    pub start: u64,
    /// CRC-32 (IEEE) of the piece's bytes.
    pub crc32: u32,
}

/// One tensor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorEntry {
    /// Its name (the train step's argument name, e.g. `params/inner.lm_head.weight`).
    pub name: String,
    /// Element type: `f32`, `bf16`, `i32`, ...
    pub dtype: String,
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Total bytes of the full tensor.
    pub bytes: u64,
    /// Pieces covering `[0, bytes)` exactly once, sorted by `start`.
    pub pieces: Vec<Piece>,
}

/// A shard file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the step directory.
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The host that wrote it.
    pub host: usize,
}

/// The manifest of one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The ouro that wrote it.
    pub ouro_version: String,
    /// The optimizer step the state is after.
    pub step: u64,
    /// Hosts that wrote shards.
    pub hosts: usize,
    /// Seconds since the Unix epoch when it was committed.
    pub created_unix: u64,
    /// Every tensor, sorted by name.
    pub tensors: Vec<TensorEntry>,
    /// Every shard file.
    pub files: Vec<FileEntry>,
    /// The trainer's own records: the resolved config, the sampler's position, the metrics so
    /// far. Opaque to this crate.
    pub run: serde_json::Value,
}

impl Manifest {
    /// The tensor `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorEntry> {
        self.tensors.binary_search_by(|t| t.name.as_str().cmp(name)).ok().map(|i| &self.tensors[i])
    }

    /// Total bytes of all tensors.
    pub fn total_bytes(&self) -> u64 {
        self.tensors.iter().map(|t| t.bytes).sum()
    }

    /// Parses and checks a manifest: format, sorted tensors, pieces that tile each tensor and
    /// lie inside their files.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Manifest> {
        let m: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| Error::Corrupt { what: what.to_string(), message: format!("unreadable manifest: {e}") })?;
        let bad = |message: String| Error::Corrupt { what: what.to_string(), message };
        if m.format != FORMAT {
            return Err(bad(format!("format {:?}, this ouro reads {FORMAT:?}", m.format)));
        }
        if !m.tensors.windows(2).all(|w| w[0].name < w[1].name) {
            return Err(bad("tensors are not sorted by name, or a name repeats".into()));
        }
        for t in &m.tensors {
            let mut at = 0;
            for p in &t.pieces {
                let file = m.files.iter().find(|f| f.name == p.file);
                let fits = file.is_some_and(|f| p.offset.checked_add(p.length).is_some_and(|end| end <= f.bytes));
                if p.start != at || !fits {
                    return Err(bad(format!(
                        "tensor {}: piece at byte {} does not fit its place or its file {}",
                        t.name, p.start, p.file
                    )));
                }
                at += p.length;
            }
            if at != t.bytes {
                return Err(bad(format!("tensor {}: pieces cover {at} of {} bytes", t.name, t.bytes)));
            }
        }
        Ok(m)
    }
}
