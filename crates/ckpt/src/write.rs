//! Writing a step: each host packs its tensor parts into shard files and uploads them in
//! parallel; host 0 then writes the manifest and, last, the commit marker.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ouro_store::Location;

use crate::error::{Error, Result};
use crate::manifest::{FORMAT, FileEntry, Manifest, Piece, TensorEntry};
use crate::steps::{MARKER, step_dir, sweep_staging_files};

/// A tensor, or this host's parts of it, in host memory.
#[derive(Clone, Debug)]
pub struct TensorData {
    /// Name.
    pub name: String,
    /// Element type name (`f32`, `bf16`, ...).
    pub dtype: String,
    /// Dimensions of the full tensor.
    pub shape: Vec<usize>,
    /// Bytes of the full tensor.
    pub bytes: u64,
    /// This host's parts: `(start in the tensor's bytes, bytes)`.
    pub parts: Vec<(u64, Vec<u8>)>,
}

/// How shards are cut.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// A piece is at most this long: larger parts are split, so they upload in parallel and a
    /// reader of one range fetches little beyond it.
    pub max_piece: u64,
    /// A file is closed once it reaches this size (several small tensors share one file).
    pub file_target: u64,
    /// Files in flight at once.
    pub parallel_uploads: usize,
    /// On an object store, a file larger than `file_target` (one a large piece took past its
    /// target) is sent as a multipart upload of parts this size (0: never); smaller files go
    /// in one request, faster against a loopback server (see docs/performance.md). Object stores
    /// take at least 5 MiB but the last part.
    pub multipart_part: u64,
    /// Parts of one multipart upload in flight at once.
    pub parallel_parts: usize,
}

impl Default for Layout {
    fn default() -> Layout {
        Layout {
            max_piece: 64 << 20,
            file_target: 64 << 20,
            parallel_uploads: 4,
            multipart_part: 16 << 20,
            parallel_parts: 4,
        }
    }
}

/// Runs `op` up to `attempts` times with exponential backoff; the error of the last attempt
/// is returned, saying how many were made.
pub(crate) fn retry<T>(what: &str, mut op: impl FnMut() -> ouro_store::Result<T>) -> Result<T> {
    const ATTEMPTS: u32 = 5;
    let mut wait = Duration::from_millis(100);
    for attempt in 1.. {
        match op() {
            Ok(v) => return Ok(v),
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(attempt, "{what} failed, retrying in {wait:?}: {e}");
                std::thread::sleep(wait);
                wait *= 2;
            }
            Err(e) => return Err(Error::Store { what: format!("{what} (after {attempt} attempts)"), source: e }),
        }
    }
    unreachable!("the loop returns")
}

/// Host `host`'s share of a step: its shard files, and the pieces of each tensor they hold.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct HostShards {
    /// Tensors with this host's pieces only (the full entry once every host's are merged).
    pub tensors: Vec<TensorEntry>,
    /// The files written.
    pub files: Vec<FileEntry>,
}

/// Packs `tensors` into shard files and uploads them under `step_N/`.
pub fn write_shards(
    location: &Location,
    step: u64,
    host: usize,
    mut tensors: Vec<TensorData>,
    layout: Layout,
) -> Result<HostShards> {
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    let dir = step_dir(step);
    // Files are lists of shared slices of the parts: nothing is copied before the store writes.
    let mut files: Vec<(String, Vec<Bytes>)> = Vec::new();
    let (mut current, mut current_len): (Vec<Bytes>, u64) = (Vec::new(), 0);
    let mut out = HostShards::default();
    let file_name = |k: usize| format!("host{host:03}-{k:05}.bin");
    for t in tensors {
        let mut entry =
            TensorEntry { name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.bytes, pieces: Vec::new() };
        for (start, bytes) in t.parts {
            if start + bytes.len() as u64 > t.bytes {
                return Err(Error::Mismatch(format!(
                    "tensor {}: a part at byte {start} of {} bytes overruns its {} bytes",
                    entry.name,
                    bytes.len(),
                    t.bytes
                )));
            }
            let bytes = Bytes::from(bytes);
            let piece = layout.max_piece.max(1) as usize;
            let mut at = 0;
            while at < bytes.len() {
                if current_len >= layout.file_target {
                    files.push((file_name(files.len()), std::mem::take(&mut current)));
                    current_len = 0;
                }
                let chunk = bytes.slice(at..(at + piece).min(bytes.len()));
                entry.pieces.push(Piece {
                    file: file_name(files.len()),
                    offset: current_len,
                    length: chunk.len() as u64,
                    start: start + at as u64,
                    crc32: crc32fast::hash(&chunk),
                });
                current_len += chunk.len() as u64;
                at += chunk.len();
                current.push(chunk);
            }
        }
        out.tensors.push(entry);
    }
    if current_len > 0 {
        files.push((file_name(files.len()), current));
    }
    out.files = files
        .iter()
        .map(|(name, parts)| FileEntry { name: name.clone(), bytes: parts.iter().map(|p| p.len() as u64).sum(), host })
        .collect();
    upload(location, &dir, files, layout)?;
    Ok(out)
}

/// Uploads `files` under `dir`, `layout.parallel_uploads` at a time, large ones in parts; the
/// first error wins.
fn upload(location: &Location, dir: &str, files: Vec<(String, Vec<Bytes>)>, layout: Layout) -> Result<()> {
    let queue = std::sync::Mutex::new(files);
    let first_error = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..layout.parallel_uploads.max(1) {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
                    let Some((name, parts)) = next else { break };
                    let key = format!("{dir}/{name}");
                    let size: u64 = parts.iter().map(|p| p.len() as u64).sum();
                    // A local file gains nothing from parts (one sequential write is faster).
                    let part = if location.scheme_and_bucket.0 == "file" { 0 } else { layout.multipart_part };
                    let put = || {
                        if part > 0 && size > layout.file_target.max(part) {
                            location.put_multipart(&key, &parts, part as usize, layout.parallel_parts)
                        } else {
                            location.put_parts(&key, &parts)
                        }
                    };
                    if let Err(e) = retry(&format!("writing {}/{key}", location.url), put) {
                        first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
                        queue.lock().unwrap_or_else(|p| p.into_inner()).clear();
                    }
                }
            });
        }
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Host 0, once every host's shards are written: merges them into the manifest, writes it,
/// then the commit marker. Before the marker the step does not exist for readers.
pub fn commit(location: &Location, step: u64, hosts: Vec<HostShards>, run: serde_json::Value) -> Result<Manifest> {
    let num_hosts = hosts.len();
    let mut tensors: Vec<TensorEntry> = Vec::new();
    let mut files = Vec::new();
    for h in hosts {
        files.extend(h.files);
        for t in h.tensors {
            match tensors.iter_mut().find(|e| e.name == t.name) {
                Some(e) => {
                    if (&e.dtype, &e.shape, e.bytes) != (&t.dtype, &t.shape, t.bytes) {
                        return Err(Error::Mismatch(format!("hosts disagree on the type of tensor {}", t.name)));
                    }
                    e.pieces.extend(t.pieces);
                }
                None => tensors.push(t),
            }
        }
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    for t in &mut tensors {
        t.pieces.sort_by_key(|p| p.start);
        // Replicated parts written by several hosts: keep the first copy of each range.
        t.pieces.dedup_by(|b, a| a.start == b.start && a.length == b.length);
    }
    let manifest = Manifest {
        format: FORMAT.to_string(),
        ouro_version: env!("CARGO_PKG_VERSION").to_string(),
        step,
        hosts: num_hosts,
        created_unix: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        tensors,
        files,
        run,
    };
    let bytes = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
    let dir = step_dir(step);
    // The same checks a reader makes: a step that would not load is never committed.
    Manifest::parse(&bytes, &format!("{}/{dir}/manifest.json", location.url))?;
    sweep_staging_files(location, step)?;
    let marker = format!("crc32 {:08x}\n", crc32fast::hash(&bytes));
    retry(&format!("writing {}/{dir}/manifest.json", location.url), || {
        location.put(&format!("{dir}/manifest.json"), bytes.clone())
    })?;
    retry(&format!("writing {}/{dir}/{MARKER}", location.url), || {
        location.put(&format!("{dir}/{MARKER}"), marker.clone().into_bytes())
    })?;
    Ok(manifest)
}
