//! TFRecord framing, the container format of event files.
//!
//! Each record is `u64 LE length`, `masked CRC-32C of those 8 bytes`, `data`,
//! `masked CRC-32C of data` (all CRCs little-endian `u32`).

use std::io::{self, Read, Write};

use crate::read::ReadErrorKind;

/// Added after rotating, as TensorFlow does, so that a CRC of data that itself contains
/// CRCs stays well distributed.
const MASK_DELTA: u32 = 0xa282_ead8;

/// The masked CRC-32C (Castagnoli) that TFRecord stores.
pub(crate) fn masked_crc(data: &[u8]) -> u32 {
    // `rotate_right(15)` is `(crc >> 15) | (crc << 17)`.
    crc32c::crc32c(data).rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Frames `data` as one record.
pub(crate) fn write_record(out: &mut impl Write, data: &[u8]) -> io::Result<()> {
    // usize always fits in u64 on supported targets.
    let len = (data.len() as u64).to_le_bytes();
    out.write_all(&len)?;
    out.write_all(&masked_crc(&len).to_le_bytes())?;
    out.write_all(data)?;
    out.write_all(&masked_crc(data).to_le_bytes())
}

/// A framing problem and the byte offset of the record it was found in.
#[derive(Debug)]
pub(crate) struct RecordError {
    pub offset: u64,
    pub kind: ReadErrorKind,
}

/// Reads records one at a time, tracking the byte offset for error messages.
pub(crate) struct RecordReader<R> {
    inner: R,
    offset: u64,
}

impl<R: Read> RecordReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        RecordReader { inner, offset: 0 }
    }

    /// The byte offset where the current record starts: where errors are reported, since
    /// it is where a reader (or a repair tool) would cut the file.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The next record's data, or `None` at a clean end of file.
    pub(crate) fn next_record(&mut self) -> Result<Option<Vec<u8>>, RecordError> {
        let start = self.offset;
        let fail = |kind| RecordError { offset: start, kind };
        let truncated = |got: u64| fail(ReadErrorKind::Truncated { file_end: start + got });

        let mut header = [0u8; 12];
        let got = read_up_to(&mut self.inner, &mut header).map_err(|e| fail(e.into()))?;
        if got == 0 {
            return Ok(None);
        }
        if got < header.len() {
            return Err(truncated(got as u64));
        }
        let (len_bytes, len_crc) = header.split_at(8);
        // Check the length before trusting it, so a corrupt length never drives a huge read.
        check_crc(len_bytes, len_crc)
            .map_err(|(stored, computed)| fail(ReadErrorKind::LengthCrc { stored, computed }))?;
        let mut len_le = [0u8; 8];
        len_le.copy_from_slice(len_bytes);
        let len = u64::from_le_bytes(len_le);

        // `take` + `read_to_end` grows the buffer as data arrives instead of allocating
        // `len` bytes up front, so a lying length costs no more memory than the file holds.
        let mut data = Vec::new();
        let got_data = (&mut self.inner).take(len).read_to_end(&mut data).map_err(|e| fail(e.into()))? as u64;
        if got_data < len {
            return Err(truncated(12 + got_data));
        }

        let mut data_crc = [0u8; 4];
        let got = read_up_to(&mut self.inner, &mut data_crc).map_err(|e| fail(e.into()))?;
        if got < data_crc.len() {
            return Err(truncated(12 + len + got as u64));
        }
        check_crc(&data, &data_crc).map_err(|(stored, computed)| fail(ReadErrorKind::DataCrc { stored, computed }))?;

        self.offset = start + 12 + len + 4;
        Ok(Some(data))
    }
}

/// Compares the stored little-endian masked CRC with that of `data`; on mismatch returns
/// `(stored, computed)`.
fn check_crc(data: &[u8], stored: &[u8]) -> Result<(), (u32, u32)> {
    let mut le = [0u8; 4];
    le.copy_from_slice(stored);
    let stored = u32::from_le_bytes(le);
    let computed = masked_crc(data);
    if stored == computed { Ok(()) } else { Err((stored, computed)) }
}

/// Like `read_exact`, but reports how many bytes arrived before end of file instead of
/// failing, so a clean end (0 bytes) can be told from a truncated record.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_known_vector() {
        // The standard CRC-32C check value.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn masking_matches_tensorboard() {
        // Values from tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c.
        assert_eq!(masked_crc(b"123456789"), 0xc78a_b0e5);
        assert_eq!(masked_crc(b""), 0xa282_ead8);
        // The length and data CRCs of a `brain.Event:2` header event (24 bytes).
        let event = b"\x09\x00\x00\x00\x00\x00\x00\xf8\x3f\x1a\x0dbrain.Event:2";
        assert_eq!(masked_crc(&24u64.to_le_bytes()), 0x224b_7fa3);
        assert_eq!(masked_crc(event), 0x6c64_282a);
    }

    fn framed(records: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            write_record(&mut out, r).unwrap();
        }
        out
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Vec<u8>>, RecordError> {
        let mut reader = RecordReader::new(bytes);
        let mut out = Vec::new();
        while let Some(r) = reader.next_record()? {
            out.push(r);
        }
        Ok(out)
    }

    #[test]
    fn round_trip() {
        let bytes = framed(&[b"hello", b"", b"world!"]);
        assert_eq!(bytes.len(), 3 * 16 + 11);
        let records = read_all(&bytes).unwrap();
        assert_eq!(records, [&b"hello"[..], b"", b"world!"]);
    }

    #[test]
    fn every_truncation_is_reported_at_the_last_record() {
        let bytes = framed(&[b"first", b"second"]);
        let second = 16 + 5;
        for cut in second + 1..bytes.len() {
            let err = read_all(&bytes[..cut]).unwrap_err();
            assert_eq!(err.offset, second as u64, "cut at {cut}");
            match err.kind {
                ReadErrorKind::Truncated { file_end } => assert_eq!(file_end, cut as u64),
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
        // Cutting exactly between records is a clean end.
        assert_eq!(read_all(&bytes[..second]).unwrap().len(), 1);
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let bytes = framed(&[b"first", b"second"]);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            let err = read_all(&bad).unwrap_err();
            let record_start = if i < 21 { 0 } else { 21 };
            assert_eq!(err.offset, record_start, "byte {i}");
            let in_header = (i - record_start as usize) < 12;
            match err.kind {
                ReadErrorKind::LengthCrc { .. } => assert!(in_header, "byte {i}"),
                ReadErrorKind::DataCrc { .. } => assert!(!in_header, "byte {i}"),
                other => panic!("byte {i}: {other:?}"),
            }
        }
    }

    #[test]
    fn huge_length_with_valid_crc_is_truncation_not_allocation() {
        let len = (u64::MAX / 2).to_le_bytes();
        let mut bytes = len.to_vec();
        bytes.extend_from_slice(&masked_crc(&len).to_le_bytes());
        bytes.extend_from_slice(b"tiny");
        let err = read_all(&bytes).unwrap_err();
        assert!(matches!(err.kind, ReadErrorKind::Truncated { file_end: 16 }));
    }
}
