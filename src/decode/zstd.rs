//! The `zstd` content coding: every frame of the body in turn (as `MultiGzDecoder` does for
//! gzip members), skippable frames skipped, and a frame that asks for a window larger than
//! HTTP allows refused before anything is decoded. A decoder holds its whole window back
//! before it gives any output, so the window, not the output cap, is what bounds its memory.

use std::io::{self, Read};

use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

/// RFC 9659: the `zstd` content coding's window is at most 8 MiB.
pub const MAX_WINDOW: u64 = 8 * 1024 * 1024;
/// Most frames (skippable ones included) in one body: each costs a decoder reset, and a body
/// of empty frames would otherwise buy many of them for a few bytes each.
pub const MAX_FRAMES: usize = 4_096;

const MAGIC: u32 = 0xFD2F_B528;
/// Skippable frames carry any magic from `0x184D2A50` to `0x184D2A5F`.
const SKIPPABLE: u32 = 0x184D_2A50;
/// The longest frame header: magic, descriptor, window, dictionary id, content size.
const LONGEST_HEADER: usize = 4 + 1 + 1 + 4 + 8;

/// The body, with the bytes of a header read ahead and given back: one level, however many
/// frames there are.
struct Source<'a> {
    ahead: Vec<u8>,
    inner: Box<dyn Read + 'a>,
}

impl Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ahead.is_empty() {
            return self.inner.read(buf);
        }
        let n = buf.len().min(self.ahead.len());
        buf[..n].copy_from_slice(&self.ahead[..n]);
        self.ahead.drain(..n);
        Ok(n)
    }
}

impl Source<'_> {
    /// Up to `n` bytes from here on, without using them up.
    fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        while self.ahead.len() < n {
            let mut more = vec![0; n - self.ahead.len()];
            let read = self.inner.read(&mut more)?;
            if read == 0 {
                break;
            }
            self.ahead.extend_from_slice(&more[..read]);
        }
        Ok(&self.ahead[..self.ahead.len().min(n)])
    }
}

/// Decodes the frames of a zstd body one after the other, with one decoder.
pub struct Frames<'a> {
    source: Source<'a>,
    decoder: FrameDecoder,
    in_frame: bool,
    frames: usize,
    /// A failure met after some output was ready: reported once that output is read.
    failed: Option<io::Error>,
}

impl<'a> Frames<'a> {
    pub fn new(body: Box<dyn Read + 'a>) -> Frames<'a> {
        Frames {
            source: Source {
                ahead: Vec::new(),
                inner: body,
            },
            decoder: FrameDecoder::new(),
            in_frame: false,
            frames: 0,
            failed: None,
        }
    }

    /// Starts the next frame (skipping skippable ones); `false` at the end of the body.
    fn next_frame(&mut self) -> io::Result<bool> {
        loop {
            let head = self.source.peek(LONGEST_HEADER)?;
            if head.is_empty() {
                return Ok(false);
            }
            self.frames += 1;
            if self.frames > MAX_FRAMES {
                return Err(damaged(&format!(
                    "the body has more than {MAX_FRAMES} zstd frames"
                )));
            }
            let word = |at: usize| {
                head.get(at..at + 4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            };
            match word(0) {
                Some(magic) if magic & 0xFFFF_FFF0 == SKIPPABLE => {
                    let size = word(4).ok_or_else(|| damaged("a skippable frame is cut short"))?;
                    let skip = 8 + u64::from(size);
                    let skipped = io::copy(&mut (&mut self.source).take(skip), &mut io::sink())?;
                    if skipped < skip {
                        return Err(damaged("a skippable frame is cut short"));
                    }
                }
                Some(MAGIC) => {
                    let window = window_size(head)?;
                    if window > MAX_WINDOW {
                        return Err(damaged(&format!(
                            "a zstd frame asks for a {} MiB window; HTTP allows at most {} MiB",
                            window.div_ceil(1024 * 1024),
                            MAX_WINDOW / (1024 * 1024)
                        )));
                    }
                    self.decoder
                        .reset(&mut self.source)
                        .map_err(|err| damaged(&format!("a zstd frame is damaged: {err}")))?;
                    self.in_frame = true;
                    return Ok(true);
                }
                _ if self.frames > 1 => return Err(damaged("bytes after the last zstd frame")),
                _ => return Err(damaged("the body does not start a zstd frame")),
            }
        }
    }

    /// Decoded bytes of the current frame; 0 once it is done (as ruzstd's own streaming
    /// decoder reads, with the source borrowed instead of owned).
    fn read_frame(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let decoder = &mut self.decoder;
        while decoder.can_collect() < buf.len() && !decoder.is_finished() {
            let wanted = buf.len() - decoder.can_collect();
            if let Err(err) =
                decoder.decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBytes(wanted))
            {
                let err = damaged(&format!("a zstd frame is damaged: {err}"));
                if decoder.can_collect() == 0 {
                    return Err(err);
                }
                // What was decoded before the damage is still shown, as far as the decoder
                // lets it go: it keeps its last window's worth until the frame is whole.
                self.failed = Some(err);
                break;
            }
        }
        decoder.read(buf)
    }
}

impl Read for Frames<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.in_frame {
                let read = self.read_frame(buf)?;
                if read > 0 {
                    return Ok(read);
                }
                if let Some(err) = self.failed.take() {
                    return Err(err);
                }
                self.in_frame = false;
            }
            if !self.next_frame()? {
                return Ok(0);
            }
        }
    }
}

/// The window a frame header asks for (RFC 8878, 3.1.1.1): from the window descriptor, or
/// for a single-segment frame, its content size.
fn window_size(head: &[u8]) -> io::Result<u64> {
    let short = || damaged("a zstd frame header is cut short");
    let descriptor = *head.get(4).ok_or_else(short)?;
    let single_segment = descriptor & 0x20 != 0;
    if !single_segment {
        let window = *head.get(5).ok_or_else(short)?;
        let log = 10 + u32::from(window >> 3);
        let base = 1u64 << log;
        return Ok(base + (base / 8) * u64::from(window & 7));
    }
    let dictionary_bytes = [0, 1, 2, 4][usize::from(descriptor & 3)];
    let size_bytes = [1, 2, 4, 8][usize::from(descriptor >> 6)];
    let start = 5 + dictionary_bytes;
    let field = head.get(start..start + size_bytes).ok_or_else(short)?;
    let mut size = [0u8; 8];
    size[..size_bytes].copy_from_slice(field);
    let size = u64::from_le_bytes(size);
    Ok(if size_bytes == 2 { size + 256 } else { size })
}

fn damaged(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// `printf hello | zstd -c`.
    const HELLO: [u8; 18] = [
        0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x29, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0xa3,
        0x6d, 0x9f, 0x88,
    ];

    fn decode(body: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Frames::new(Box::new(Cursor::new(body))).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn every_frame_is_decoded_and_skippable_ones_skipped() {
        let mut body = HELLO.to_vec();
        body.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, b'x', b'y', b'z']);
        body.extend_from_slice(&HELLO);
        assert_eq!(decode(body).unwrap(), b"hellohello");
    }

    #[test]
    fn a_window_larger_than_http_allows_is_refused() {
        // A frame header asking for a 2 GiB window (exponent 21, mantissa 0).
        let mut body = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3];
        body.extend_from_slice(&[0; 16]);
        let err = decode(body).unwrap_err();
        assert!(err.to_string().contains("2048 MiB window"), "{err}");
        assert_eq!(window_size(&HELLO).unwrap(), 2 * 1024 * 1024);
        // Single segment: the window is the content size (one byte, then two with 256 added).
        assert_eq!(window_size(&[0x28, 0xb5, 0x2f, 0xfd, 0x20, 5]).unwrap(), 5);
        assert_eq!(
            window_size(&[0x28, 0xb5, 0x2f, 0xfd, 0x60, 0, 1]).unwrap(),
            512
        );
    }

    #[test]
    fn many_frames_cost_one_level_and_are_capped() {
        // Empty skippable frames: eight bytes each.
        let skippable = [0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0];
        let mut body = skippable.repeat(MAX_FRAMES - 1);
        body.extend_from_slice(&HELLO);
        assert_eq!(decode(body).unwrap(), b"hello");
        let mut body = skippable.repeat(100_000);
        body.extend_from_slice(&HELLO);
        let err = decode(body).unwrap_err();
        assert!(
            err.to_string().contains("more than 4096 zstd frames"),
            "{err}"
        );
    }

    #[test]
    fn a_body_that_trips_the_decoder_is_damage_not_a_crash() {
        use base64::{engine::general_purpose::STANDARD, Engine as _};
        // fuzz/artifacts/decode/crash-8f1fb323…, without its first byte (the target's choice
        // of coding): ruzstd 0.8.3 indexed out of bounds on it.
        let crash = STANDARD
            .decode("Ayi1L/0EAAAAAAgAAAAAAAASCwKAbAAAAP7/K/8AL/0ACAAAAAAAABILAoBsAAAA/v8r/wAv/QQAAAAACAAAAAAAAAILAgILI4BoAAAAAAgAAAAAAAASCwKAbAAAAP7/////////////////////////////////////////////////////////////////////////////////////K/8AL/0EAAAAAAgAAAAAAAQAAAILAoBorq6urq6urgAAAAgAAK6urq6urq6urq6urq6urq6urq6urq6urq6uAAAACAAAAAAAABILAoBsAAAA/v///wAALwD9BAAACAAAAAAAAAILAgILI4BoAAAAAAplAAAvAABqAAAAAAplAgsQCmVsAAAAAAAAAAAAAAAAAAAEAAAAAFgEiA==")
            .unwrap();
        assert!(decode(crash[1..].to_vec()).is_err());
    }

    #[test]
    fn garbage_before_or_after_frames_is_damage() {
        assert!(decode(b"not zstd at all".to_vec()).is_err());
        let mut trailing = HELLO.to_vec();
        trailing.extend_from_slice(b"junk");
        assert!(decode(trailing).is_err());
        assert!(decode(HELLO[..10].to_vec()).is_err());
    }
}
