//! Writing a dataset directory atomically: everything goes to a temporary directory beside the
//! target, which is renamed into place only when complete, so a reader never sees a half-written
//! dataset and a failed build leaves nothing behind.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::metadata::Metadata;
use crate::npy::{self, NpyDtype};

/// The arrays of one split's `all` set, in the dtypes the official builders write.
#[derive(Clone, Debug, Default)]
pub struct SplitArrays {
    /// Metadata (`dataset.json`).
    pub metadata: Option<Metadata>,
    /// `[examples, seq_len]` tokens (uint8).
    pub inputs: Vec<u8>,
    /// `[examples, seq_len]` labels (uint8).
    pub labels: Vec<u8>,
    /// Per puzzle (int32).
    pub puzzle_identifiers: Vec<i32>,
    /// Puzzle offsets (int32).
    pub puzzle_indices: Vec<i32>,
    /// Group offsets (int32).
    pub group_indices: Vec<i32>,
    /// The dtype inputs and labels are stored as (uint8 unless reproducing a quirk).
    pub token_dtype: Option<NpyDtype>,
}

/// Everything a builder produces.
#[derive(Clone, Debug, Default)]
pub struct DatasetFiles {
    /// `(split name, arrays)`.
    pub splits: Vec<(String, SplitArrays)>,
    /// `identifiers.json`: the name of each puzzle identifier.
    pub identifiers: Vec<String>,
    /// Other files at the top level (`test_puzzles.json`).
    pub extra: Vec<(String, Vec<u8>)>,
}

impl DatasetFiles {
    /// A dataset of a `train` and a `test` split whose examples all have puzzle identifier 0
    /// (`<blank>`): the Sudoku and maze builders'.
    pub fn train_and_test(train: SplitArrays, test: SplitArrays) -> DatasetFiles {
        DatasetFiles {
            splits: vec![("train".into(), train), ("test".into(), test)],
            identifiers: vec!["<blank>".into()],
            extra: Vec::new(),
        }
    }
}

/// A JSON string literal as Python's `json.dumps` writes it (ASCII, escapes).
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON value as Python's `json.dumps` writes it (`, ` and `: ` separators, key order kept).
pub fn python_json(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => {
            if *b {
                "true".into()
            } else {
                "false".into()
            }
        }
        Value::Number(n) => n.to_string(),
        Value::String(s) => json_string(s),
        Value::Array(items) => format!("[{}]", items.iter().map(python_json).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter().map(|(k, v)| format!("{}: {}", json_string(k), python_json(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn write_split(dir: &Path, split: &SplitArrays) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let meta = split.metadata.as_ref().ok_or_else(|| Error::Config("a split without metadata".into()))?;
    let json = dir.join("dataset.json");
    std::fs::write(&json, meta.to_json()).map_err(|e| Error::io(&json, e))?;
    let rows = split.inputs.len() / meta.seq_len.max(1);
    match split.token_dtype.unwrap_or(NpyDtype::U8) {
        NpyDtype::U8 => {
            npy::write_u8(&dir.join("all__inputs.npy"), &[rows, meta.seq_len], &split.inputs)?;
            npy::write_u8(&dir.join("all__labels.npy"), &[rows, meta.seq_len], &split.labels)?;
        }
        dtype => {
            npy::write(
                &dir.join("all__inputs.npy"),
                dtype,
                &[rows, meta.seq_len],
                split.inputs.iter().map(|&v| v as i64),
            )?;
            npy::write(
                &dir.join("all__labels.npy"),
                dtype,
                &[rows, meta.seq_len],
                split.labels.iter().map(|&v| v as i64),
            )?;
        }
    }
    for (name, values) in [
        ("group_indices", &split.group_indices),
        ("puzzle_indices", &split.puzzle_indices),
        ("puzzle_identifiers", &split.puzzle_identifiers),
    ] {
        npy::write(
            &dir.join(format!("all__{name}.npy")),
            NpyDtype::I32,
            &[values.len()],
            values.iter().map(|&v| v as i64),
        )?;
    }
    Ok(())
}

/// A directory built beside its final path and renamed into place by [`AtomicDir::commit`];
/// dropped without committing, it is removed.
pub struct AtomicDir {
    out: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl AtomicDir {
    /// Prepares to write `out`; an existing `out` is an error unless `force`.
    pub fn create(out: &Path, force: bool) -> Result<AtomicDir> {
        if out.exists() && !force {
            return Err(Error::OutputExists(out.to_path_buf()));
        }
        let parent =
            out.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "dataset".into());
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(AtomicDir { out: out.to_path_buf(), tmp, committed: false })
    }

    /// Where to write meanwhile.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Moves the finished directory into place (replacing an existing one).
    pub fn commit(mut self) -> Result<()> {
        let out = self.out.clone();
        if out.exists() {
            let old = self.tmp.with_extension("old");
            std::fs::rename(&out, &old).map_err(|e| Error::io(&out, e))?;
            std::fs::rename(&self.tmp, &out).map_err(|e| Error::io(&out, e))?;
            std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        } else {
            std::fs::rename(&self.tmp, &out).map_err(|e| Error::io(&out, e))?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Writes `identifiers.json` as Python's `json.dump` of the list.
pub fn write_identifiers(dir: &Path, identifiers: &[String]) -> Result<()> {
    let ids: Vec<String> = identifiers.iter().map(|s| json_string(s)).collect();
    let path = dir.join("identifiers.json");
    std::fs::write(&path, format!("[{}]", ids.join(", "))).map_err(|e| Error::io(&path, e))
}

/// Writes `files` to `out`, atomically. An existing `out` is an error unless `force`.
pub fn write_dataset(out: &Path, files: &DatasetFiles, force: bool) -> Result<()> {
    let dir = AtomicDir::create(out, force)?;
    for (split_name, split) in &files.splits {
        write_split(&dir.path().join(split_name), split)?;
    }
    write_identifiers(dir.path(), &files.identifiers)?;
    for (file, bytes) in &files.extra {
        let path = dir.path().join(file);
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
    }
    dir.commit()
}
