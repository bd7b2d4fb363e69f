//! Extracting one file from a wheel (a zip archive), checked against its CRC and hashed.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Writes entry `name` of the zip at `archive` to `out`, checking its size and CRC (the zip
/// reader fails a read whose data does not match its CRC), and returns the sha256 of the
/// extracted bytes.
pub(crate) fn extract(archive: &Path, name: &str, out: &mut impl Write) -> io::Result<[u8; 32]> {
    let mut zip = zip::ZipArchive::new(BufReader::new(File::open(archive)?)).map_err(io::Error::other)?;
    let mut entry = match zip.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("{name} is not in the archive")));
        }
        Err(e) => return Err(io::Error::other(e)),
    };
    let size = entry.size();
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut written = 0u64;
    loop {
        let n = entry.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        written += n as u64;
    }
    if written != size {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{name} is corrupt in the archive ({written} of {size} bytes)"),
        ));
    }
    Ok(sha.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    /// A zip of `entries`, each stored or deflated.
    fn archive(entries: &[(&str, &[u8], zip::CompressionMethod)]) -> Vec<u8> {
        let mut z = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        for (name, data, method) in entries {
            z.start_file(*name, SimpleFileOptions::default().compression_method(*method)).unwrap();
            z.write_all(data).unwrap();
        }
        z.finish().unwrap().into_inner()
    }

    #[test]
    fn extracts_stored_and_deflated_entries_and_refuses_missing_or_corrupt_ones() {
        let path = std::env::temp_dir().join(format!("ouro-wheel-test-{}.zip", std::process::id()));
        let library = b"plugin bytes ".repeat(1000);
        let bytes = archive(&[
            ("pkg/lib.so", &library, zip::CompressionMethod::Deflated),
            ("pkg/METADATA", b"Name: pkg", zip::CompressionMethod::Stored),
        ]);
        std::fs::write(&path, &bytes).unwrap();
        for (name, data) in [("pkg/lib.so", &library[..]), ("pkg/METADATA", b"Name: pkg")] {
            let mut out = Vec::new();
            let sha = extract(&path, name, &mut out).unwrap();
            assert_eq!(out, data, "{name}");
            assert_eq!(sha.as_slice(), Sha256::digest(data).as_slice());
        }
        let missing = extract(&path, "pkg/other.so", &mut Vec::new()).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        // A flipped byte in the stored entry's data fails its CRC.
        let at = bytes.windows(9).position(|w| w == b"Name: pkg").unwrap();
        let mut corrupt = bytes.clone();
        corrupt[at] ^= 1;
        std::fs::write(&path, &corrupt).unwrap();
        assert!(extract(&path, "pkg/METADATA", &mut Vec::new()).is_err(), "a corrupt entry is refused");
        std::fs::write(&path, b"not a zip").unwrap();
        assert!(extract(&path, "pkg/lib.so", &mut Vec::new()).is_err());
        std::fs::remove_file(path).unwrap();
    }
}
