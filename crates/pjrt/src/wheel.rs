//! Extracting one file from a wheel (a zip archive) without a zip dependency.
//!
//! Wheels are plain zip files: an end-of-central-directory record, a central directory of
//! entries, and a local header before each entry's stored or deflated data. This reader handles
//! exactly that (no zip64, no encryption), which is what PyPI wheels of a few hundred MB are.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

const EOCD_SIGNATURE: u32 = 0x0605_4b50;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// A central-directory entry.
struct Entry {
    method: u16,
    crc32: u32,
    compressed_size: u64,
    size: u64,
    local_header_offset: u64,
}

fn find_entry(file: &mut File, name: &str) -> io::Result<Entry> {
    let len = file.metadata()?.len();
    // The EOCD record is 22 bytes plus a comment of at most 64 KiB at the end of the file.
    let tail_len = len.min(22 + 65_535);
    file.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = vec![0u8; tail_len as usize];
    file.read_exact(&mut tail)?;
    let eocd = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(&tail, i) == EOCD_SIGNATURE)
        .ok_or_else(|| invalid("not a zip archive (no end-of-central-directory record)".into()))?;
    let cd_size = u32_at(&tail, eocd + 12);
    let cd_offset = u32_at(&tail, eocd + 16);
    if cd_size == u32::MAX || cd_offset == u32::MAX {
        return Err(invalid("zip64 archives are not supported".into()));
    }
    file.seek(SeekFrom::Start(u64::from(cd_offset)))?;
    let mut cd = vec![0u8; cd_size as usize];
    file.read_exact(&mut cd)?;
    let mut at = 0usize;
    while at + 46 <= cd.len() {
        if u32_at(&cd, at) != CENTRAL_SIGNATURE {
            return Err(invalid(format!("bad central directory entry at offset {at}")));
        }
        let name_len = usize::from(u16_at(&cd, at + 28));
        let extra_len = usize::from(u16_at(&cd, at + 30));
        let comment_len = usize::from(u16_at(&cd, at + 32));
        let entry_name =
            cd.get(at + 46..at + 46 + name_len).ok_or_else(|| invalid("truncated central directory".into()))?;
        if entry_name == name.as_bytes() {
            let entry = Entry {
                method: u16_at(&cd, at + 10),
                crc32: u32_at(&cd, at + 16),
                compressed_size: u64::from(u32_at(&cd, at + 20)),
                size: u64::from(u32_at(&cd, at + 24)),
                local_header_offset: u64::from(u32_at(&cd, at + 42)),
            };
            if entry.compressed_size == u64::from(u32::MAX) || entry.size == u64::from(u32::MAX) {
                return Err(invalid("zip64 entries are not supported".into()));
            }
            return Ok(entry);
        }
        at += 46 + name_len + extra_len + comment_len;
    }
    Err(io::Error::new(io::ErrorKind::NotFound, format!("the archive has no entry {name}")))
}

/// Writes entry `name` of the zip at `archive` to `out`, checking its size and CRC, and
/// returns the sha256 of the extracted bytes.
pub(crate) fn extract(archive: &Path, name: &str, out: &mut impl Write) -> io::Result<[u8; 32]> {
    let mut file = File::open(archive)?;
    let entry = find_entry(&mut file, name)?;
    file.seek(SeekFrom::Start(entry.local_header_offset))?;
    let mut local = [0u8; 30];
    file.read_exact(&mut local)?;
    if u32_at(&local, 0) != LOCAL_SIGNATURE {
        return Err(invalid(format!("bad local header for {name}")));
    }
    let skip = u64::from(u16_at(&local, 26)) + u64::from(u16_at(&local, 28));
    file.seek(SeekFrom::Current(skip as i64))?;
    let data = (&mut file).take(entry.compressed_size);
    let mut reader: Box<dyn Read> = match entry.method {
        0 => Box::new(data),
        8 => Box::new(flate2::read::DeflateDecoder::new(data)),
        m => {
            return Err(invalid(format!(
                "{name} uses zip compression method {m}; only stored and deflate are supported"
            )));
        }
    };
    let mut sha = Sha256::new();
    let mut crc = flate2::Crc::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut written = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        crc.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        written += n as u64;
    }
    if written != entry.size || crc.sum() != entry.crc32 {
        return Err(invalid(format!(
            "{name} is corrupt in the archive ({written} of {} bytes, crc {:08x} vs {:08x})",
            entry.size,
            crc.sum(),
            entry.crc32
        )));
    }
    Ok(sha.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored (uncompressed) single-entry zip, built by hand.
    fn stored_zip(name: &str, data: &[u8]) -> Vec<u8> {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let mut z = Vec::new();
        let local = |z: &mut Vec<u8>| {
            z.extend(LOCAL_SIGNATURE.to_le_bytes());
            z.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            z.extend(crc.sum().to_le_bytes());
            z.extend((data.len() as u32).to_le_bytes());
            z.extend((data.len() as u32).to_le_bytes());
            z.extend((name.len() as u16).to_le_bytes());
            z.extend(0u16.to_le_bytes());
            z.extend(name.as_bytes());
            z.extend(data);
        };
        local(&mut z);
        let cd_offset = z.len() as u32;
        z.extend(CENTRAL_SIGNATURE.to_le_bytes());
        z.extend([20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        z.extend(crc.sum().to_le_bytes());
        z.extend((data.len() as u32).to_le_bytes());
        z.extend((data.len() as u32).to_le_bytes());
        z.extend((name.len() as u16).to_le_bytes());
        z.extend([0u8; 12]);
        z.extend(0u32.to_le_bytes());
        z.extend(name.as_bytes());
        let cd_size = z.len() as u32 - cd_offset;
        z.extend(EOCD_SIGNATURE.to_le_bytes());
        z.extend([0, 0, 0, 0, 1, 0, 1, 0]);
        z.extend(cd_size.to_le_bytes());
        z.extend(cd_offset.to_le_bytes());
        z.extend(0u16.to_le_bytes());
        z
    }

    #[test]
    fn extracts_a_stored_entry_and_rejects_missing_ones() {
        let path = std::env::temp_dir().join(format!("ouro-wheel-test-{}.zip", std::process::id()));
        std::fs::write(&path, stored_zip("pkg/lib.so", b"plugin bytes")).unwrap();
        let mut out = Vec::new();
        let sha = extract(&path, "pkg/lib.so", &mut out).unwrap();
        assert_eq!(out, b"plugin bytes");
        assert_eq!(sha.as_slice(), Sha256::digest(b"plugin bytes").as_slice());
        let missing = extract(&path, "pkg/other.so", &mut Vec::new()).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        std::fs::write(&path, b"not a zip").unwrap();
        assert!(extract(&path, "pkg/lib.so", &mut Vec::new()).is_err());
        std::fs::remove_file(path).unwrap();
    }
}
