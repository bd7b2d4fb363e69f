//! PNG back end, second half: encodes an RGB canvas as a PNG file (8-bit truecolor, no
//! interlace, filter type 0 on every row, zlib via flate2, CRCs via crc32fast).

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;

use crate::raster::Canvas;

/// The eight bytes every PNG file starts with.
pub(crate) const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Largest IDAT chunk written; decoders join consecutive ones.
const IDAT_CHUNK: usize = 1 << 20;

/// The PNG file for `canvas`.
pub(crate) fn encode(canvas: &Canvas) -> Vec<u8> {
    let (width, height) = (canvas.width(), canvas.height());
    let row = 3 * width;
    // Each scanline is prefixed by its filter type: 0, none. Charts are mostly flat color,
    // which deflate compresses well without filtering.
    let mut raw = Vec::with_capacity((row + 1) * height);
    for line in canvas.data().chunks_exact(row.max(1)).take(height) {
        raw.push(0);
        raw.extend_from_slice(line);
    }
    let mut zlib = ZlibEncoder::new(Vec::new(), Compression::default());
    let compressed = zlib.write_all(&raw).and_then(|()| zlib.finish()).expect("deflating into a Vec cannot fail");

    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&(width as u32).to_be_bytes());
    header.extend_from_slice(&(height as u32).to_be_bytes());
    // Bit depth 8, color type 2 (RGB), compression 0, filter method 0, no interlace.
    header.extend_from_slice(&[8, 2, 0, 0, 0]);

    let mut png = Vec::with_capacity(compressed.len() + 64);
    png.extend_from_slice(&SIGNATURE);
    chunk(&mut png, b"IHDR", &header);
    for part in compressed.chunks(IDAT_CHUNK) {
        chunk(&mut png, b"IDAT", part);
    }
    chunk(&mut png, b"IEND", &[]);
    png
}

/// Appends one chunk: length, type, data, and the CRC-32 of type and data.
fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    png.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// A minimal PNG reader for tests: checks the structure and every CRC, and returns the
/// width, height and RGB pixels of the 8-bit truecolor, unfiltered files written here.
#[cfg(test)]
pub(crate) mod decode {
    use std::io::Read;

    use super::SIGNATURE;

    /// A decoded image.
    pub(crate) struct Image {
        pub width: usize,
        pub height: usize,
        pub rgb: Vec<u8>,
    }

    impl Image {
        pub(crate) fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
            let i = 3 * (y * self.width + x);
            [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
        }

        pub(crate) fn contains(&self, color: [u8; 3]) -> bool {
            self.rgb.chunks_exact(3).any(|p| p == color)
        }
    }

    fn be32(bytes: &[u8]) -> u32 {
        u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    }

    /// Decodes `png`, panicking with a reason on anything malformed.
    pub(crate) fn decode(png: &[u8]) -> Image {
        assert_eq!(png[..8], SIGNATURE, "signature");
        let mut at = 8;
        let (mut header, mut idat, mut ended) = (None, Vec::new(), false);
        while at < png.len() {
            let len = be32(&png[at..]) as usize;
            let kind = &png[at + 4..at + 8];
            let data = &png[at + 8..at + 8 + len];
            let crc = be32(&png[at + 8 + len..]);
            assert_eq!(crc, crc32fast::hash(&png[at + 4..at + 8 + len]), "CRC of {kind:?}");
            match kind {
                b"IHDR" => header = Some(data.to_vec()),
                b"IDAT" => idat.extend_from_slice(data),
                b"IEND" => ended = true,
                other => panic!("unexpected chunk {other:?}"),
            }
            at += 12 + len;
        }
        assert!(ended, "IEND");
        let header = header.expect("IHDR");
        assert_eq!(header.len(), 13);
        assert_eq!(header[8..], [8, 2, 0, 0, 0], "8-bit RGB, no interlace");
        let (width, height) = (be32(&header[0..]) as usize, be32(&header[4..]) as usize);
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).expect("zlib");
        assert_eq!(raw.len(), height * (3 * width + 1), "scanline bytes");
        let mut rgb = Vec::with_capacity(3 * width * height);
        for line in raw.chunks_exact(3 * width + 1) {
            assert_eq!(line[0], 0, "filter type");
            rgb.extend_from_slice(&line[1..]);
        }
        Image { width, height, rgb }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::Rgb;

    #[test]
    fn round_trips_through_the_decoder() {
        let scene = crate::scene::Scene {
            width: 7,
            height: 5,
            title: String::new(),
            background: Rgb(255, 255, 255),
            shapes: vec![crate::scene::Shape::Rect { x: 1.0, y: 2.0, w: 1.0, h: 1.0, fill: Rgb(1, 2, 3) }],
        };
        let canvas = crate::raster::render(&scene);
        let png = encode(&canvas);
        assert_eq!(png[..8], SIGNATURE);
        // IHDR comes first, 13 bytes long.
        assert_eq!(png[8..16], [0, 0, 0, 13, b'I', b'H', b'D', b'R']);
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]));
        let image = decode::decode(&png);
        assert_eq!((image.width, image.height), (7, 5));
        assert_eq!(image.pixel(1, 2), [1, 2, 3]);
        assert_eq!(image.pixel(0, 0), [255, 255, 255]);
    }

    #[test]
    #[should_panic(expected = "CRC")]
    fn decoder_catches_a_bad_crc() {
        let mut png = encode(&Canvas::new(2, 2, Rgb(0, 0, 0)));
        // The last byte of IHDR's CRC.
        png[8 + 8 + 13 + 3] ^= 1;
        decode::decode(&png);
    }
}
