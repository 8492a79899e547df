//! Content-Encoding decoding for the inspect page. Bodies are stored exactly as sent; the
//! decoded view is computed only when asked for, from the stored bytes, and stops at a hard
//! output cap, so a compression bomb costs at most the cap in memory and time.

mod zstd;

use std::io::{self, Read};

/// Most decoded bytes shown.
pub const MAX_DECODED: usize = 1024 * 1024;
/// Most codings undone in a row (`gzip, gzip` is two).
pub const MAX_CODINGS: usize = 4;
/// Most bytes any one layer may hand to the next: a layer that expands into data the next one
/// turns into nothing (empty deflate blocks, say) stops here instead of spinning.
const MAX_INNER: u64 = 64 * 1024 * 1024;

/// A content coding binspector can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl Coding {
    /// Its name in `Content-Encoding`.
    pub fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }
}

/// The codings a `Content-Encoding` value names, in the order they were applied; `identity`
/// is skipped. `Err` names a coding binspector cannot undo.
pub fn codings(content_encoding: &str) -> Result<Vec<Coding>, String> {
    let mut codings = Vec::new();
    for name in content_encoding.split(',').map(str::trim) {
        let coding = match name.to_ascii_lowercase().as_str() {
            "" | "identity" => continue,
            "gzip" | "x-gzip" => Coding::Gzip,
            "deflate" => Coding::Deflate,
            "br" => Coding::Brotli,
            "zstd" => Coding::Zstd,
            _ => {
                let shown: String = name.chars().take(40).collect();
                return Err(format!("binspector cannot decode the coding `{shown}`"));
            }
        };
        codings.push(coding);
    }
    if codings.len() > MAX_CODINGS {
        return Err(format!(
            "binspector undoes at most {MAX_CODINGS} codings in a row, and this body has {}",
            codings.len()
        ));
    }
    Ok(codings)
}

/// A body with its codings undone, as far as it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The decoded bytes, at most the cap.
    pub bytes: Vec<u8>,
    /// The decoded body goes on beyond the cap.
    pub truncated: bool,
    /// Why decoding stopped before the end, if it did (the bytes decoded up to there are kept,
    /// except a damaged zstd frame's last window, which its decoder holds back).
    pub error: Option<String>,
}

/// Undoes `codings` (as [`codings`] lists them) on `body`, keeping at most `cap` bytes.
pub fn decode(codings: &[Coding], body: &[u8], cap: usize) -> Decoded {
    let mut reader: Box<dyn Read + '_> = Box::new(body);
    for coding in codings.iter().rev() {
        let bounded = Box::new(Bounded {
            inner: reader,
            left: MAX_INNER,
        });
        reader = match layer(*coding, bounded) {
            Ok(reader) => reader,
            Err(error) => {
                return Decoded {
                    bytes: Vec::new(),
                    truncated: false,
                    error: Some(error),
                }
            }
        };
    }
    // Room for the cap and the one byte that tells it was reached, so the buffer never doubles.
    let mut bytes = Vec::with_capacity(cap.saturating_add(1).min(MAX_DECODED + 1));
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    // The decoders are other people's code meeting hostile bytes (the fuzz target once found
    // ruzstd 0.8 indexing out of bounds): a panic is a damaged body, not a failed page.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        reader.take(limit).read_to_end(&mut bytes)
    }));
    let error = match read {
        Ok(Ok(_)) => None,
        Ok(Err(err)) => Some(format!("the encoded body is damaged: {err}")),
        Err(_) => Some("the decoder gave up on this body".to_owned()),
    };
    let truncated = bytes.len() > cap;
    bytes.truncate(cap);
    Decoded {
        bytes,
        truncated,
        error,
    }
}

/// One decoder around `inner`.
fn layer<'a>(coding: Coding, inner: Box<dyn Read + 'a>) -> Result<Box<dyn Read + 'a>, String> {
    Ok(match coding {
        Coding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(inner)),
        Coding::Deflate => {
            // HTTP's deflate is zlib-wrapped, but some senders send raw deflate: look at the
            // first two bytes for a zlib header.
            let mut inner = std::io::BufReader::new(inner);
            let start = std::io::BufRead::fill_buf(&mut inner).map_err(|e| e.to_string())?;
            let zlib = start.len() >= 2
                && start[0] & 0x0f == 8
                && (u16::from(start[0]) << 8 | u16::from(start[1])) % 31 == 0;
            if zlib {
                Box::new(flate2::bufread::ZlibDecoder::new(inner))
            } else {
                Box::new(flate2::bufread::DeflateDecoder::new(inner))
            }
        }
        Coding::Brotli => Box::new(brotli_decompressor::Decompressor::new(inner, 4096)),
        Coding::Zstd => Box::new(zstd::Frames::new(inner)),
    })
}

/// A layer's input, cut off with an error after [`MAX_INNER`] bytes.
struct Bounded<'a> {
    inner: Box<dyn Read + 'a>,
    left: u64,
}

impl Read for Bounded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::other(format!(
                "its layers expand past {} MiB",
                MAX_INNER / (1024 * 1024)
            )));
        }
        let most = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buf[..most])?;
        self.left -= read as u64;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn codings_are_listed_in_the_order_applied() {
        assert_eq!(codings("gzip"), Ok(vec![Coding::Gzip]));
        assert_eq!(
            codings("deflate, identity, BR"),
            Ok(vec![Coding::Deflate, Coding::Brotli])
        );
        assert_eq!(codings("identity"), Ok(vec![]));
        assert!(codings("gzip, compress")
            .unwrap_err()
            .contains("`compress`"));
    }

    #[test]
    fn each_coding_is_undone() {
        let text = b"{\"eventType\":\"TextMessageCreated\"}".repeat(10);
        assert_eq!(
            decode(&[Coding::Gzip], &gzip(&text), MAX_DECODED).bytes,
            text
        );

        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        zlib.write_all(&text).unwrap();
        assert_eq!(
            decode(&[Coding::Deflate], &zlib.finish().unwrap(), MAX_DECODED).bytes,
            text
        );
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        raw.write_all(&text).unwrap();
        assert_eq!(
            decode(&[Coding::Deflate], &raw.finish().unwrap(), MAX_DECODED).bytes,
            text
        );

        // "hello" as brotli and as zstd, made by the reference tools (brotli -c, zstd -c).
        let brotli = [0x0b, 0x02, 0x80, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x03];
        assert_eq!(
            decode(&[Coding::Brotli], &brotli, MAX_DECODED).bytes,
            b"hello"
        );
        let zstd = [
            0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x29, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
            0xa3, 0x6d, 0x9f, 0x88,
        ];
        let decoded = decode(&[Coding::Zstd], &zstd, MAX_DECODED);
        assert_eq!(
            (decoded.bytes.as_slice(), decoded.error),
            (&b"hello"[..], None)
        );

        // Layers come off in reverse order.
        let twice = gzip(&gzip(&text));
        assert_eq!(
            decode(&[Coding::Gzip, Coding::Gzip], &twice, MAX_DECODED).bytes,
            text
        );
    }

    #[test]
    fn output_stops_at_the_cap_and_damage_is_reported() {
        let zeros = gzip(&vec![0; 3 * MAX_DECODED]);
        let decoded = decode(&[Coding::Gzip], &zeros, MAX_DECODED);
        assert_eq!(
            (decoded.bytes.len(), decoded.truncated),
            (MAX_DECODED, true)
        );

        let mut damaged = gzip(b"hello hello hello");
        damaged.truncate(damaged.len() - 12);
        let decoded = decode(&[Coding::Gzip], &damaged, MAX_DECODED);
        assert!(decoded
            .error
            .unwrap()
            .starts_with("the encoded body is damaged"));
        assert!(decode(&[Coding::Zstd], b"not zstd", MAX_DECODED)
            .error
            .is_some());
    }
}
