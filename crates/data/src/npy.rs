//! `.npy` files: a reader that memory-maps the data and a writer whose bytes equal numpy's
//! `np.save` for the same array (format 1.0, header padded to 64 bytes).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{Error, Result};

const MAGIC: &[u8] = b"\x93NUMPY";

/// Integer element types ouro reads (any of them may hold token ids or indices).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum NpyDtype {
    Bool,
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
}

impl NpyDtype {
    /// numpy's `descr` string.
    pub fn descr(self) -> &'static str {
        match self {
            NpyDtype::Bool => "|b1",
            NpyDtype::I8 => "|i1",
            NpyDtype::U8 => "|u1",
            NpyDtype::I16 => "<i2",
            NpyDtype::U16 => "<u2",
            NpyDtype::I32 => "<i4",
            NpyDtype::U32 => "<u4",
            NpyDtype::I64 => "<i8",
            NpyDtype::U64 => "<u8",
        }
    }

    fn parse(descr: &str) -> Option<NpyDtype> {
        // `=` and `<` are little-endian on the machines ouro runs on; `|` is byte-sized.
        let d = descr.trim_start_matches(['<', '=', '|']);
        Some(match d {
            "b1" | "?" => NpyDtype::Bool,
            "i1" => NpyDtype::I8,
            "u1" => NpyDtype::U8,
            "i2" => NpyDtype::I16,
            "u2" => NpyDtype::U16,
            "i4" => NpyDtype::I32,
            "u4" => NpyDtype::U32,
            "i8" => NpyDtype::I64,
            "u8" => NpyDtype::U64,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            NpyDtype::Bool | NpyDtype::I8 | NpyDtype::U8 => 1,
            NpyDtype::I16 | NpyDtype::U16 => 2,
            NpyDtype::I32 | NpyDtype::U32 => 4,
            NpyDtype::I64 | NpyDtype::U64 => 8,
        }
    }

    fn read(self, b: &[u8]) -> i64 {
        match self {
            NpyDtype::Bool | NpyDtype::U8 => b[0] as i64,
            NpyDtype::I8 => b[0] as i8 as i64,
            NpyDtype::I16 => i16::from_le_bytes([b[0], b[1]]) as i64,
            NpyDtype::U16 => u16::from_le_bytes([b[0], b[1]]) as i64,
            NpyDtype::I32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            NpyDtype::U32 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            NpyDtype::I64 => i64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
            NpyDtype::U64 => u64::from_le_bytes(b[..8].try_into().expect("8 bytes")) as i64,
        }
    }
}

/// The bytes of an array: memory-mapped from its file, or owned.
enum Storage {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

/// A C-ordered integer array from a `.npy` file.
pub struct NpyArray {
    path: PathBuf,
    dtype: NpyDtype,
    shape: Vec<usize>,
    offset: usize,
    storage: Storage,
}

impl std::fmt::Debug for NpyArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NpyArray({}, {:?}, {:?})", self.path.display(), self.dtype, self.shape)
    }
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Format { path: path.to_path_buf(), message: message.into() }
}

/// Parses the header dict: `{'descr': '<i4', 'fortran_order': False, 'shape': (3, 4), }`.
fn parse_header(path: &Path, header: &str) -> Result<(NpyDtype, bool, Vec<usize>)> {
    let field = |key: &str| -> Result<&str> {
        let at =
            header.find(&format!("'{key}':")).ok_or_else(|| bad(path, format!("the .npy header has no '{key}'")))?;
        Ok(header[at + key.len() + 3..].trim_start())
    };
    let descr = field("descr")?;
    let descr =
        descr.strip_prefix('\'').and_then(|d| d.split('\'').next()).ok_or_else(|| bad(path, "unreadable 'descr'"))?;
    let dtype = NpyDtype::parse(descr).ok_or_else(|| {
        bad(path, format!("element type '{descr}' is not an integer type (ouro reads integer and bool arrays)"))
    })?;
    let fortran = field("fortran_order")?.starts_with("True");
    let shape = field("shape")?;
    let inner =
        shape.strip_prefix('(').and_then(|s| s.split(')').next()).ok_or_else(|| bad(path, "unreadable 'shape'"))?;
    let dims = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L').parse::<usize>().map_err(|_| bad(path, format!("bad dimension '{s}' in the shape")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((dtype, fortran, dims))
}

impl NpyArray {
    /// Opens and memory-maps `path` (the data is read lazily by the OS, never copied whole).
    pub fn open(path: &Path) -> Result<NpyArray> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: the file is mapped read-only; ouro never writes a dataset it is reading, and a
        // concurrent writer replaces files by rename rather than modifying them in place.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        NpyArray::from_storage(path, Storage::Mapped(map))
    }

    /// Parses `.npy` bytes held in memory.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<NpyArray> {
        NpyArray::from_storage(path, Storage::Owned(bytes))
    }

    fn from_storage(path: &Path, storage: Storage) -> Result<NpyArray> {
        let bytes: &[u8] = match &storage {
            Storage::Mapped(m) => m,
            Storage::Owned(v) => v,
        };
        if bytes.len() < 10 || !bytes.starts_with(MAGIC) {
            return Err(bad(path, "not a .npy file (no \\x93NUMPY magic)"));
        }
        let (major, header_start, header_len) = match bytes[6] {
            1 => (1, 10, u16::from_le_bytes([bytes[8], bytes[9]]) as usize),
            2 | 3 if bytes.len() >= 12 => {
                (bytes[6], 12, u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize)
            }
            v => return Err(bad(path, format!("unsupported .npy format version {v}"))),
        };
        let end = header_start + header_len;
        let header = bytes.get(header_start..end).ok_or_else(|| bad(path, "truncated .npy header"))?;
        let header =
            std::str::from_utf8(header).map_err(|_| bad(path, format!("the .npy (v{major}) header is not text")))?;
        let (dtype, fortran, shape) = parse_header(path, header)?;
        if fortran && shape.len() > 1 {
            return Err(bad(path, "Fortran-ordered arrays are not supported; save with np.ascontiguousarray"));
        }
        let expected = shape.iter().product::<usize>() * dtype.size();
        if bytes.len() - end < expected {
            return Err(bad(
                path,
                format!(
                    "the file holds {} data bytes but shape {shape:?} of {} needs {expected}",
                    bytes.len() - end,
                    dtype.descr()
                ),
            ));
        }
        Ok(NpyArray { path: path.to_path_buf(), dtype, shape, offset: end, storage })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Element type.
    pub fn dtype(&self) -> NpyDtype {
        self.dtype
    }

    /// Shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn data(&self) -> &[u8] {
        let bytes: &[u8] = match &self.storage {
            Storage::Mapped(m) => m,
            Storage::Owned(v) => v,
        };
        &bytes[self.offset..self.offset + self.len() * self.dtype.size()]
    }

    /// Element `i` (row-major) as i64.
    pub fn get(&self, i: usize) -> i64 {
        let s = self.dtype.size();
        self.dtype.read(&self.data()[i * s..(i + 1) * s])
    }

    /// All elements as i64 (for small index arrays).
    pub fn to_vec(&self) -> Vec<i64> {
        self.data().chunks_exact(self.dtype.size()).map(|c| self.dtype.read(c)).collect()
    }

    /// Copies elements `[start, start + out.len())` into `out` as i32 (ids fit in i32).
    pub fn copy_range_i32(&self, start: usize, out: &mut [i32]) {
        let s = self.dtype.size();
        let src = &self.data()[start * s..(start + out.len()) * s];
        if self.dtype == NpyDtype::U8 {
            for (o, &b) in out.iter_mut().zip(src) {
                *o = b as i32;
            }
        } else {
            for (o, c) in out.iter_mut().zip(src.chunks_exact(s)) {
                *o = self.dtype.read(c) as i32;
            }
        }
    }

    /// The smallest and largest element (None when empty).
    pub fn min_max(&self) -> Option<(i64, i64)> {
        if self.is_empty() {
            return None;
        }
        if self.dtype == NpyDtype::U8 {
            let d = self.data();
            return Some((*d.iter().min()? as i64, *d.iter().max()? as i64));
        }
        let v = self.data().chunks_exact(self.dtype.size()).map(|c| self.dtype.read(c));
        Some(v.fold((i64::MAX, i64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x))))
    }
}

/// The exact bytes `np.save` writes for a C-ordered array of `dtype` and `shape` with `data`
/// (little-endian element bytes).
pub fn encode(dtype: NpyDtype, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let shape_repr = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        dims => format!("({})", dims.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '{}', 'fortran_order': False, 'shape': {shape_repr}, }}", dtype.descr());
    // numpy pads with spaces so that magic + version + length + header + '\n' is a multiple of 64.
    let used = MAGIC.len() + 2 + 2 + header.len() + 1;
    header.push_str(&" ".repeat((64 - used % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Writes `values` as a `.npy` of `dtype` (values must fit; they are truncated to its width).
pub fn write(path: &Path, dtype: NpyDtype, shape: &[usize], values: impl IntoIterator<Item = i64>) -> Result<()> {
    let s = dtype.size();
    let mut data = Vec::with_capacity(shape.iter().product::<usize>() * s);
    for v in values {
        data.extend_from_slice(&v.to_le_bytes()[..s]);
    }
    let mut file = File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(&encode(dtype, shape, &data)).map_err(|e| Error::io(path, e))
}

/// Writes a `u8` array straight from bytes.
pub fn write_u8(path: &Path, shape: &[usize], data: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(&encode(NpyDtype::U8, shape, data)).map_err(|e| Error::io(path, e))
}

/// Writes a `u8` array row by row, for arrays too large to hold (the header carries the final
/// shape, so the row count must be known up front).
pub struct NpyWriter {
    path: PathBuf,
    out: std::io::BufWriter<File>,
    remaining: usize,
}

impl NpyWriter {
    /// Starts `path` as a `u8` array of `shape`.
    pub fn create_u8(path: &Path, shape: &[usize]) -> Result<NpyWriter> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        out.write_all(&encode(NpyDtype::U8, shape, &[])).map_err(|e| Error::io(path, e))?;
        Ok(NpyWriter { path: path.to_path_buf(), out, remaining: shape.iter().product() })
    }

    /// Appends elements.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        if data.len() > self.remaining {
            return Err(bad(&self.path, "more data than the declared shape"));
        }
        self.remaining -= data.len();
        self.out.write_all(data).map_err(|e| Error::io(&self.path, e))
    }

    /// Checks every element was written and flushes.
    pub fn finish(mut self) -> Result<()> {
        if self.remaining != 0 {
            return Err(bad(&self.path, format!("{} elements short of the declared shape", self.remaining)));
        }
        self.out.flush().map_err(|e| Error::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `np.save` of np.arange(3, dtype=np.int32): the header numpy 2.4 writes, byte for byte.
    #[test]
    fn headers_match_numpy() {
        let bytes = encode(NpyDtype::I32, &[3], &[0; 12]);
        let header = std::str::from_utf8(&bytes[10..10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize]).unwrap();
        assert_eq!(header.trim_end(), "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }");
        assert_eq!((10 + header.len()) % 64, 0);
        assert!(header.ends_with('\n'));
        let two_d = encode(NpyDtype::U8, &[1000, 81], &[]);
        assert!(
            std::str::from_utf8(&two_d[10..])
                .unwrap()
                .starts_with("{'descr': '|u1', 'fortran_order': False, 'shape': (1000, 81), }")
        );
    }

    #[test]
    fn round_trip_every_dtype() {
        let dir = std::env::temp_dir().join(format!("ouro-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for dtype in [
            NpyDtype::U8,
            NpyDtype::I8,
            NpyDtype::I16,
            NpyDtype::U16,
            NpyDtype::I32,
            NpyDtype::U32,
            NpyDtype::I64,
            NpyDtype::U64,
            NpyDtype::Bool,
        ] {
            let path = dir.join(format!("{dtype:?}.npy"));
            let values: Vec<i64> =
                if dtype == NpyDtype::Bool { vec![0, 1, 1, 0, 1, 0] } else { vec![0, 1, 7, 100, 2, 3] };
            write(&path, dtype, &[2, 3], values.clone()).unwrap();
            let a = NpyArray::open(&path).unwrap();
            assert_eq!((a.dtype(), a.shape()), (dtype, &[2usize, 3][..]));
            assert_eq!(a.to_vec(), values);
            let mut row = [0i32; 3];
            a.copy_range_i32(3, &mut row);
            assert_eq!(row, [values[3] as i32, values[4] as i32, values[5] as i32]);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_files_are_refused_with_their_path() {
        let p = Path::new("/x/bad.npy");
        assert!(NpyArray::from_bytes(p, b"not numpy".to_vec()).unwrap_err().to_string().contains("/x/bad.npy"));
        let mut truncated = encode(NpyDtype::I32, &[4], &[0; 16]);
        truncated.truncate(truncated.len() - 4);
        assert!(NpyArray::from_bytes(p, truncated).unwrap_err().to_string().contains("needs 16"));
        let mut float = encode(NpyDtype::I32, &[1], &[0; 4]);
        let at = float.windows(3).position(|w| w == b"<i4").unwrap();
        float[at + 1] = b'f';
        assert!(NpyArray::from_bytes(p, float).unwrap_err().to_string().contains("not an integer type"));
    }
}
